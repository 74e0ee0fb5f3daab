"""`tfinterp analyze adversarial-set | ratios | detect | trace`: the representation analysis of
Dong, Su, Zhu, Bao (2017), "Towards Interpretable Deep Neural Networks by Leveraging
Adversarial Examples", as end-to-end jobs that write JSON and PNG figures under `out`.

- `run_adversarial_set`: the adversarial validation set (k least-likely targets per real
  image; ensemble attack or targeted PGD), built in resumable chunks;
- `run_ratios`: r1 / r2 (Eqs. 6-7) per adversarial image, their means and histograms;
- `run_detect`: the class-conditional Gaussian detector on the last conv layer, ROC AUC;
- `run_trace`: prediction-difference tracing of a real and an adversarial image to the
  channels of a layer, with each top channel's dataset examples (Fig. 10).

Each returns its summary dict, so a report job can call them in turn.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from tfinterp.errors import UserError


def _bar(label: str, total: int):
    """A progress callback ``(done, total)`` printing a Keras progress bar on stderr (from its
    first call, so a run refused before any work prints nothing)."""
    bar = []

    def update(done, _total=None):
        if not bar:
            import keras

            print(f"{label}:", file=sys.stderr)
            bar.append(keras.utils.Progbar(total, unit_name="image"))
        bar[0].update(done)
    return update


def _load(spec, unsafe):
    from tfinterp.models import load_model

    return load_model(spec, unsafe_deserialization=unsafe)


def _features(model, layer, images, batch_size, label):
    """phi(images) at `layer`, batched, with a progress bar when there is more than one batch."""
    from tfinterp.analysis.ratios import layer_features

    bar = _bar(label, len(images)) if len(images) > batch_size else None
    return layer_features(model, layer, images, batch_size, progress=bar)


def _class_names(model, dataset):
    from tfinterp.data import dataset_info

    names = getattr(model, "class_names", None)
    if names:
        return list(names)
    try:
        return dataset_info(dataset)["class_names"] if dataset else None
    except Exception:
        return None


def run_adversarial_set(model_spec, models=None, dataset="fashion_mnist", split="test", limit=None, k=10,
                        attack="ensemble", eps=None, steps=None, step_size=None, lam=None, chunk_size=100,
                        batch_size=256, seed=0, fresh=False, out=None, unsafe_deserialization=False) -> dict:
    """The adversarial validation set of the first `limit` images of `dataset`/`split` (Dong et
    al. 2017, sec. 4.1): out/adversarial_set.npz, summary.json, examples.png. `models` (a
    comma-separated string or a list) are further models of the ensemble attack."""
    from tfinterp.analysis.advset import build_adversarial_set
    from tfinterp.checks import check_fit
    from tfinterp.data import load_arrays
    from tfinterp.utils import set_seed, write_json

    if out is None:
        raise UserError("give an output folder (--out)")
    set_seed(seed)
    model = _load(model_spec, unsafe_deserialization)
    extra = [s.strip() for s in models.split(",") if s.strip()] if isinstance(models, str) else list(models or [])
    ensemble = [model] + [_load(s, unsafe_deserialization) for s in extra]
    x, y = load_arrays(dataset, split, limit, materialize=True)
    for m in ensemble:
        check_fit(m, x, y)
    params = {"eps": eps, "steps": steps, "step_size": step_size}
    if attack == "ensemble":
        params["lam"] = lam
    elif lam is not None:
        raise UserError("--lam is the ensemble attack's L2 weight; drop it for --attack pgd")
    meta = {"model": str(model_spec), "models": [str(model_spec), *extra], "dataset": dataset, "split": split,
            "limit": limit}
    out = Path(out)
    t0 = time.perf_counter()
    aset = build_adversarial_set(out / "adversarial_set.npz", ensemble, x, y, k=k, attack=attack, params=params,
                                 chunk_size=chunk_size, batch_size=batch_size, seed=seed, meta=meta, fresh=fresh,
                                 progress=_bar(f"adversarial set ({attack}, k={k})", len(x)))
    seconds = time.perf_counter() - t0
    from tfinterp.attacks.evaluate import predict_classes

    pred_real = predict_classes(model, x, batch_size)
    delta = (aset.images - x[aset.index]).reshape(len(aset), -1)
    summary = {"model": str(model_spec), "models": meta["models"], "dataset": dataset, "split": split,
               "real_images": int(len(x)), "adversarial_images": int(len(aset)), "k": int(k), "attack": attack,
               "attack_config": aset.meta.get("attack_config"), "clean_accuracy": float((pred_real == y).mean()),
               "success_rate": aset.success_rate,
               "success_rate_of_correct": float(aset.success[(pred_real == y)[aset.index]].mean())
               if (pred_real == y).any() else None,
               "mean_linf": float(np.abs(delta).max(1).mean()), "mean_l2": float(np.linalg.norm(delta, axis=1).mean()),
               "seconds": seconds, "file": str(out / "adversarial_set.npz")}
    write_json(out / "summary.json", summary)
    from tfinterp.viz.attacks import save_adversarial_grid

    show = np.arange(min(8, len(aset)))
    pred_adv = predict_classes(model, aset.images[show], batch_size)
    save_adversarial_grid(out / "examples.png", x[aset.index[show]], aset.images[show], aset.labels[show],
                          pred_real[aset.index[show]], pred_adv, _class_names(model, dataset),
                          title=f"{attack} (k={k} least-likely targets) on {model_spec}: "
                                f"target reached {aset.success_rate:.3f}")
    return summary


def _set_and_real(model, adversarial_set):
    """(adversarial set validated for `model`, the real images and labels it was made from)."""
    from tfinterp.analysis.advset import load_adversarial_set
    from tfinterp.data import load_arrays

    aset = load_adversarial_set(adversarial_set, model)
    dataset, split = aset.meta.get("dataset"), aset.meta.get("split", "test")
    if not dataset:
        raise UserError(f"{adversarial_set} does not name its data set (meta 'dataset'); "
                        "make it with `tfinterp analyze adversarial-set`")
    if len(aset) == 0:
        raise UserError(f"{adversarial_set} holds no adversarial images")
    x, y = load_arrays(dataset, split, aset.meta.get("limit"), materialize=True)
    need = int(aset.index.max()) + 1
    if need > len(x):
        raise UserError(f"{adversarial_set} refers to image {need - 1} of {dataset}/{split}, which has {len(x)}")
    if np.any(y[aset.index] != aset.labels):
        raise UserError(f"{adversarial_set}: its labels do not match {dataset}/{split}; was it made from another "
                        "data set?")
    return aset, x, y


def _bank(aset, x, y, bank_limit):
    """The real images of the class banks: the set's own source images, or the first
    `bank_limit` images of its split."""
    from tfinterp.data import load_arrays

    if bank_limit is None:
        return x, y
    return load_arrays(aset.meta["dataset"], aset.meta.get("split", "test"), bank_limit, materialize=True)


def run_ratios(model_spec, adversarial_set, layer="last_conv", bank_limit=None, successful_only=True,
               batch_size=256, out=None, unsafe_deserialization=False) -> dict:
    """r1 / r2 (Dong et al. 2017, Eqs. 6-7) of an adversarial set at `layer`: out/ratios.json
    (means, medians, per-image arrays) and out/ratios.png (histograms, their Figs. 5 and 9).

    The class banks X_c are the real images the set was made from, or the first `bank_limit`
    images of its split."""
    from tfinterp.analysis.ratios import ratios_from_features
    from tfinterp.checks import model_num_classes
    from tfinterp.models.layers import resolve_layer
    from tfinterp.utils import write_json

    model = _load(model_spec, unsafe_deserialization)
    resolve_layer(model, layer)
    aset, x, y = _set_and_real(model, adversarial_set)
    x, y = _bank(aset, x, y, bank_limit)
    use = aset.successful() if successful_only else aset
    if len(use) == 0:
        raise UserError(f"{adversarial_set} has no successful adversarial image; pass --all to use every one")
    t0 = time.perf_counter()
    f = _features(model, layer, x, batch_size, f"real images at {layer}")
    fa = _features(model, layer, use.images, batch_size, f"adversarial images at {layer}")
    r = ratios_from_features(fa, use.labels, use.targets, f, y, num_classes=model_num_classes(model))
    result = {"model": str(model_spec), "adversarial_set": str(adversarial_set), "layer": layer,
              "attack": aset.meta.get("attack"), "successful_only": bool(successful_only), "bank_images": int(len(x)),
              **r.summary(), "seconds": time.perf_counter() - t0,
              "paper": {"r1_natural": [1.07, 1.34], "r2_natural": [0.73, 0.80], "r1_consistent": [0.98, 0.99],
                        "r2_consistent": [0.87, 0.92]},
              "within_class_distance": r.within.tolist(), "counts": r.counts.tolist(),
              "index": use.index.tolist(), "labels": use.labels.tolist(), "targets": use.targets.tolist(),
              "r1": r.r1.tolist(), "r2": r.r2.tolist()}
    if out is not None:
        from tfinterp.viz.representation import save_ratio_histograms

        out = Path(out)
        write_json(out / "ratios.json", result)
        save_ratio_histograms(out / "ratios.png", {Path(str(model_spec)).stem: (r.r1, r.r2)},
                              title=f"r1 / r2 at {layer}: {len(use)} {aset.meta.get('attack')} images")
    return result


def run_detect(model_spec, adversarial_set, layer="last_conv", pool="mean", fit_limit=10000, successful_only=True,
               batch_size=256, out=None, unsafe_deserialization=False) -> dict:
    """The Gaussian detector at `layer` (Dong et al. 2017, sec. 4.4), fitted on `fit_limit`
    training images of the set's data set: ROC AUC of the set's real images vs its (successful)
    adversarial images; out/detector.json and out/roc.png."""
    from tfinterp.analysis.detection import detector_roc
    from tfinterp.data import load_arrays
    from tfinterp.models.layers import resolve_layer
    from tfinterp.utils import write_json

    model = _load(model_spec, unsafe_deserialization)
    resolve_layer(model, layer)
    aset, x, y = _set_and_real(model, adversarial_set)
    use = aset.successful() if successful_only else aset
    if len(use) == 0:
        raise UserError(f"{adversarial_set} has no successful adversarial image; nothing to detect (pass --all)")
    xtr, ytr = load_arrays(aset.meta["dataset"], "train", fit_limit, materialize=True)
    real = x[np.unique(aset.index)]
    t0 = time.perf_counter()
    r = detector_roc(model, xtr, ytr, real, use.images, layer=layer, pool=pool, batch_size=batch_size)
    r.update(model=str(model_spec), adversarial_set=str(adversarial_set), attack=aset.meta.get("attack"),
             successful_only=bool(successful_only), seconds=time.perf_counter() - t0,
             paper_auc=[0.82, 0.93])
    if out is not None:
        from tfinterp.viz.attacks import save_roc

        out = Path(out)
        write_json(out / "detector.json", r)
        save_roc(out / "roc.png", {f"{aset.meta.get('attack')} ({pool} of {layer})": r},
                 title=f"Gaussian detector on {layer} of {Path(str(model_spec)).name}")
    return r


def channel_examples(model, layer, images, channels, k: int = 6, batch_size: int = 256):
    """[len(channels), k] indices into `images` of the images whose spatial-max activation of
    each channel is largest (best first): `tfinterp.analysis.examples.top_examples` when it is
    available, else one pass here over the layer's activations."""
    try:
        from tfinterp.analysis.examples import top_examples
    except ImportError:
        top_examples = None
    channels = np.asarray(channels, np.int64)
    if top_examples is not None:
        te = top_examples(model, layer, images, k=k, reduce="max", batch_size=batch_size)
        return np.asarray(te.indices)[channels, :k]
    f = _features(model, layer, images, batch_size, f"dataset examples at {layer}")
    act = f.reshape(len(f), -1, f.shape[-1]).max(1)[:, channels]  # [N, len(channels)]
    return np.argsort(-act, axis=0, kind="stable")[:k].T


def _load_similarity(similarity, num_classes):
    if similarity is None:
        return None
    from tfinterp.analysis.tracing import similarity_matrix

    p = Path(similarity)
    if not p.is_file():
        raise UserError(f"similarity matrix file not found: {p} (a .npy or .json [K, K] matrix)")
    try:
        c = np.load(p) if p.suffix == ".npy" else np.asarray(__import__("json").loads(p.read_text()), np.float32)
    except Exception as e:
        raise UserError(f"could not read the similarity matrix {p}: {type(e).__name__}") from None
    return similarity_matrix(c, num_classes)


def run_trace(model_spec, images=None, adversarial_set=None, layer="last_conv", pick=None, top=2, examples=6,
              similarity=None, dataset=None, bank_limit=2000, batch_size=256, out=None,
              unsafe_deserialization=False) -> dict:
    """Prediction-difference tracing (Dong et al. 2017, sec. 6) at `layer`: PD of every channel
    for a real and an adversarial image (the set's `pick`-th successful example and its source;
    default the first) or for image files, the `top` channels of each, and a figure with each
    top channel's `examples` dataset examples among the first `bank_limit` images of the set's
    split (or of `dataset`'s test split for image files; none without it) (Fig. 10):
    out/trace.json, out/trace.png."""
    from tfinterp.analysis.tracing import trace_predictions
    from tfinterp.checks import model_num_classes
    from tfinterp.models.layers import resolve_layer
    from tfinterp.utils import write_json

    if (images is None) == (adversarial_set is None):
        raise UserError("give image files or --adversarial-set (one of the two)")
    model = _load(model_spec, unsafe_deserialization)
    resolve_layer(model, layer)
    sim = _load_similarity(similarity, model_num_classes(model))
    if adversarial_set is not None:
        aset, x, y = _set_and_real(model, adversarial_set)
        ok = np.flatnonzero(aset.success)
        pool = ok if len(ok) else np.arange(len(aset))
        if len(aset) == 0:
            raise UserError(f"{adversarial_set} is empty")
        p = 0 if pick is None else int(pick)
        if not 0 <= p < len(pool):
            raise UserError(f"--pick must be in 0..{len(pool) - 1} ({'successful' if len(ok) else 'all'} examples)")
        j = pool[p]
        src = int(aset.index[j])
        inputs = np.stack([x[src], aset.images[j]])
        cn = _class_names(model, aset.meta.get("dataset"))
        tgt = int(aset.targets[j])
        names = [f"real #{src}", f"adversarial\ntarget {cn[tgt] if cn else tgt}"]
        true = [int(y[src]), int(y[src])]
        dataset = aset.meta.get("dataset")
        bank, bank_y = _bank(aset, x, y, bank_limit)
    else:
        from tfinterp.data import load_arrays
        from tfinterp.runs.explain import load_inputs

        names, inputs, _ = load_inputs([str(i) for i in images], model)
        true = [None] * len(inputs)
        bank, bank_y = load_arrays(dataset, "test", bank_limit, materialize=True) if dataset else (None, None)
    t = trace_predictions(model, layer, inputs, similarity=sim, top=top, batch_size=batch_size)
    class_names = _class_names(model, dataset)
    result = {"model": str(model_spec), "layer": layer, "channels": int(t.pd.shape[1]),
              "similarity": str(similarity) if similarity is not None else "identity",
              "outputs": "softmax probabilities of g", "images": []}
    for i, name in enumerate(names):
        result["images"].append({"name": str(name).replace("\n", ", "), "true": true[i], "pred": int(t.pred[i]),
                                 "prob": float(t.probs[i, t.pred[i]]), "top_channels": t.top[i].tolist(),
                                 "top_pd": t.pd[i, t.top[i]].tolist(), "pd": t.pd[i].tolist()})
    if out is not None:
        from tfinterp.viz.representation import save_trace_figure

        out = Path(out)
        write_json(out / "trace.json", result)
        rows = []
        if bank is not None:
            chans = np.unique(t.top.reshape(-1))
            ex = dict(zip(chans.tolist(), channel_examples(model, layer, bank, chans, examples, batch_size)))
            result["dataset_examples"] = {str(c): v.tolist() for c, v in ex.items()}
            write_json(out / "trace.json", result)
        for i, name in enumerate(names):
            label = class_names[t.pred[i]] if class_names else str(t.pred[i])
            neurons = []
            for c in t.top[i]:
                idx = ex[int(c)] if bank is not None else np.zeros(0, np.int64)
                neurons.append({"channel": int(c), "pd": float(t.pd[i, c]), "examples": bank[idx] if bank is not None
                                else np.zeros((0, *inputs.shape[1:])),
                                "example_labels": bank_y[idx] if bank is not None else None})
            rows.append({"image": inputs[i], "title": f"{name}\npred {label} ({t.probs[i, t.pred[i]]:.2f})",
                         "neurons": neurons})
        save_trace_figure(out / "trace.png", rows, class_names,
                          title=f"top-{top} channels of {layer} by prediction difference, "
                                f"with their top-{examples} dataset examples")
    return result
