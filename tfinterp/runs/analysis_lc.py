"""End-to-end jobs of Dong, Su, Zhu, Bao 2017 ("Towards Interpretable Deep Neural Networks by
Leveraging Adversarial Examples"), sections 2.2 and appendix B: dataset examples with
discrepancy maps (`run_dataset_examples`), the LC metric (`run_lc`), real-vs-adversarial
consistency CS1 / CS2 (`run_consistency`), the LC human check (`build_lc_agreement`,
`score_lc_agreement`) and the offline WordNet set-up (`run_setup_wordnet`).

Each returns a dict of results with the paths of what it wrote (JSON + PNG under `out`), so a
report can call them in turn.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from tfinterp.errors import UserError

# data sets whose shipped WordNet mapping is known by name
_DEFAULT_MAPPING = {"fashion_mnist": "fashion_mnist", "mnist": "mnist", "cifar10": "cifar10",
                    "imagenet2012": "imagenet", "imagenet": "imagenet"}


# ---- shared pieces ----------------------------------------------------------------------

def _load(model_spec, unsafe_deserialization=False):
    from tfinterp.models import load_model

    return load_model(model_spec, unsafe_deserialization=unsafe_deserialization) \
        if isinstance(model_spec, str) else model_spec


def _spec_name(model_spec) -> str:
    return model_spec if isinstance(model_spec, str) else getattr(model_spec, "name", "model")


def _real_set(model, dataset, split, limit):
    from tfinterp.checks import check_fit
    from tfinterp.data import load_arrays

    x, y = load_arrays(dataset, split, limit, materialize=True)
    check_fit(model, x, y)
    return x, np.asarray(y, np.int64)


def _class_names(model, dataset, k):
    from tfinterp.data import dataset_info

    names = getattr(model, "class_names", None) or (dataset_info(dataset)["class_names"] if dataset else None)
    return list(names) if names and len(names) == k else [str(i) for i in range(k)]


def load_adversarial_set(path, model):
    """The adversarial set at `path` checked against `model` (the shared .npz format of issue 16:
    images, index, labels, targets, success, meta). Uses `tfinterp.analysis.advset` when it is
    installed; otherwise reads the npz keys with the same checks."""
    try:
        from tfinterp.analysis.advset import load_adversarial_set as load
    except ImportError:
        load = None
    if load is not None:
        s = load(path, model=model)
        return {"images": s.images, "index": s.index, "labels": s.labels, "targets": s.targets,
                "success": s.success, "meta": dict(s.meta)}
    return _read_npz_set(path, model)


def _read_npz_set(path, model):
    from tfinterp.checks import model_image_shape, model_num_classes

    path = Path(path)
    if path.is_dir() and (path / "adversarial_set.npz").is_file():
        path = path / "adversarial_set.npz"
    if not path.is_file():
        raise UserError(f"adversarial set not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as e:
        raise UserError(f"could not read adversarial set {path}: not a valid .npz file ({type(e).__name__})")
    need = ("images", "index", "labels", "targets", "success")
    missing = [a for a in need if a not in data]
    if missing:
        raise UserError(f"{path} is not an adversarial set: it lacks {', '.join(missing)}")
    meta = {}
    if "meta" in data:
        raw = data["meta"]
        raw = raw.reshape(-1)[0] if raw.size == 1 else raw
        try:
            meta = json.loads(str(raw))
        except json.JSONDecodeError:
            raise UserError(f"{path}: its meta is not valid JSON")
        meta = meta if isinstance(meta, dict) else {}
    images = data["images"].astype(np.float32, copy=False)
    n = len(images)
    if images.ndim != 4 or any(data[a].shape != (n,) for a in need[1:]):
        raise UserError(f"{path}: images must be [M, H, W, C] and index, labels, targets, success [M]")
    shape, k = model_image_shape(model), model_num_classes(model)
    made_for = meta.get("model", "another model")
    if tuple(images.shape[1:]) != tuple(shape):
        raise UserError(f"{path} was made for {made_for}, which takes {tuple(images.shape[1:])} images, but model "
                        f"'{model.name}' takes {tuple(shape)}; make a set for this model")
    top = int(max(data["labels"].max(initial=0), data["targets"].max(initial=0))) + 1
    set_k = meta.get("num_classes")
    if (set_k is not None and int(set_k) != k) or top > k:
        raise UserError(f"{path} was made for {made_for} with {set_k if set_k is not None else top} classes, but "
                        f"model '{model.name}' has {k}; make a set for this model")
    return {"images": images, "index": data["index"].astype(np.int64), "labels": data["labels"].astype(np.int64),
            "targets": data["targets"].astype(np.int64), "success": data["success"].astype(bool), "meta": meta}


def _adv_subset(adv, successful_only):
    if not successful_only:
        return adv
    keep = adv["success"]
    if not keep.any():
        raise UserError("no adversarial image of the set reached its target; drop --successful-only")
    return {**{k: v[keep] for k, v in adv.items() if k != "meta"}, "meta": adv["meta"]}


def _dataset_of(adv, dataset):
    d = adv["meta"].get("dataset")
    if dataset is None:
        if d is None:
            raise UserError("the adversarial set does not name its data set; give --dataset")
        return d, adv["meta"].get("split", "test")
    if d is not None and d != dataset:
        raise UserError(f"the adversarial set was made from {d}, not {dataset}")
    return dataset, adv["meta"].get("split", "test")


def resolve_mapping(mapping, dataset, num_classes, sigmas):
    """(name, class names or None, {sigma: C}, distances or None) for a mapping name / file, or the
    shipped mapping of `dataset`."""
    from tfinterp.analysis.wordnet import class_distances, correlation_matrix

    if mapping is None:
        if dataset not in _DEFAULT_MAPPING:
            raise UserError(f"no shipped class mapping for data set '{dataset}'; give --mapping NAME|FILE")
        mapping = _DEFAULT_MAPPING[dataset]
    m = class_distances(mapping, num_classes)
    if "correlation" in m:
        return m["name"], m.get("classes"), {float(s): np.asarray(m["correlation"]) for s in sigmas}, None, m
    return m["name"], m.get("classes"), {float(s): correlation_matrix(m["distances"], s) for s in sigmas}, \
        m["distances"], m


def _sigmas(sigmas):
    s = [float(v) for v in (sigmas if isinstance(sigmas, (list, tuple)) else [sigmas])]
    if not s or any(not v > 0 for v in s):
        raise UserError(f"sigma must be > 0, got {sigmas}")
    return s


# ---- dataset examples ---------------------------------------------------------------------

def _neuron_list(neurons, channels, default=16):
    if neurons is None:
        return list(range(min(default, channels)))
    if isinstance(neurons, str):
        if neurons == "all":
            return list(range(channels))
        try:
            neurons = [int(v) for v in neurons.split(",") if v.strip()]
        except ValueError:
            raise UserError(f"--neurons takes 'all' or channel numbers like 0,3,7; got '{neurons}'")
    out = [int(v) for v in neurons]
    bad = [v for v in out if not 0 <= v < channels]
    if bad:
        raise UserError(f"neuron {bad[0]} is out of range: the layer has {channels} channels (0..{channels - 1})")
    return out


def discrepancy_maps(model, layer, neuron_images: dict, patch=None, stride=None, reduce="max",
                     batch_size=32) -> dict:
    """{channel: [k, H, W] maps}: occlusion with the neuron as the target (Zhou et al. 2015's
    discrepancy map, Dong et al. sec. 2.2) over each neuron's images."""
    from tfinterp.explain.base import get_explainer

    out = {}
    for c, imgs in neuron_images.items():
        ex = get_explainer("occlusion", model, patch=patch, stride=stride, neuron=[layer, int(c)],
                           neuron_reduce=reduce, batch_size=batch_size)
        out[c] = ex.explain(imgs, np.zeros(len(imgs), np.int64))
    return out


def run_dataset_examples(model_spec, dataset, layer, split="test", limit=None, q=1.0, reduce="max",
                         adversarial_set=None, successful_only=False, neurons=None, show=6,
                         discrepancy=True, patch=None, stride=None, batch_size=256, out=None,
                         unsafe_deserialization=False, progress=True) -> dict:
    """Dong et al. Figs. 2 / 7: every channel's top-q % real images of `dataset` (and top-q %
    adversarial images of `adversarial_set`), written to examples.json; the `neurons` drawn
    (default the first 16; "all" for every channel, 16 per page) to examples[_NN].png with
    discrepancy maps over the top `show` images."""
    from tfinterp.analysis.consistency import class_histograms
    from tfinterp.analysis.examples import check_q, top_examples
    from tfinterp.checks import model_num_classes
    from tfinterp.utils import write_json

    q = check_q(q)
    model = _load(model_spec, unsafe_deserialization)
    adv = None
    if adversarial_set is not None:
        adv = _adv_subset(load_adversarial_set(adversarial_set, model), successful_only)
        dataset = _dataset_of(adv, dataset)[0]
    x, y = _real_set(model, dataset, split, limit)
    k_cls = model_num_classes(model)
    names = _class_names(model, dataset, k_cls)
    from tfinterp.analysis.examples import layer_channels

    drawn = _neuron_list(neurons, layer_channels(model, layer))  # bad input before the pass
    top = top_examples(model, layer, x, q=q, reduce=reduce, batch_size=batch_size, progress=progress)
    result = {"model": _spec_name(model_spec), "dataset": dataset, "split": split, "images": int(len(x)),
              "layer": layer, "reduce": reduce, "q": q, "k": top.k, "channels": top.channels,
              "real": {"indices": top.indices.tolist(), "values": np.round(top.values, 6).tolist(),
                       "histograms": class_histograms(top.labels(y), k_cls).tolist()}}
    atop = None
    if adv is not None:
        atop = top_examples(model, layer, adv["images"], q=q, reduce=reduce, batch_size=batch_size,
                            progress=progress)
        result["adversarial"] = {
            "file": str(adversarial_set), "images": int(len(adv["images"])), "k": atop.k,
            "successful_only": bool(successful_only), "indices": atop.indices.tolist(),
            "values": np.round(atop.values, 6).tolist(),
            "histograms_original": class_histograms(adv["labels"][atop.indices], k_cls).tolist(),
            "histograms_target": class_histograms(adv["targets"][atop.indices], k_cls).tolist()}
    figures = []
    if out is not None:
        out = Path(out)
        figures = _draw_examples(model, layer, drawn, top, atop, x, y, adv, names, show, discrepancy, patch, stride,
                                 reduce, out, f"{_spec_name(model_spec)} / {layer}: top {q:g} % of {len(x)} "
                                 f"{dataset}/{split} images ({reduce})", progress)
        result["figures"] = [str(f) for f in figures]
        result["neurons_drawn"] = drawn
        result["json"] = str(write_json(out / "examples.json", result))
    return result


def _draw_examples(model, layer, drawn, top, atop, x, y, adv, names, show, discrepancy, patch, stride, reduce,
                   out, title, progress):
    from tfinterp.viz.neurons import save_neuron_examples

    show = max(1, int(show))
    pages = [drawn[i:i + 16] for i in range(0, len(drawn), 16)] or [[]]
    figures = []
    bar = None
    if progress and discrepancy and drawn:
        import keras

        print("discrepancy maps:", file=sys.stderr)
        bar = keras.utils.Progbar(len(drawn), unit_name="neuron")
    for p, page in enumerate(pages):
        rows = []
        for c in page:
            ri = top.indices[c, :show]
            row = {"label": f"#{c}", "real": x[ri], "real_captions": [names[int(y[i])][:10] for i in ri]}
            if atop is not None:
                ai = atop.indices[c, :show]
                row["adv"] = adv["images"][ai]
                row["adv_captions"] = [f"{names[int(adv['labels'][i])][:6]}>{names[int(adv['targets'][i])][:6]}"
                                       for i in ai]
            if discrepancy:
                both = row["real"] if atop is None else np.concatenate([row["real"], row["adv"]])
                maps = discrepancy_maps(model, layer, {c: both}, patch, stride, reduce)[c]
                row["real_maps"] = maps[:len(ri)]
                if atop is not None:
                    row["adv_maps"] = maps[len(ri):]
                if bar is not None:
                    bar.add(1)
            rows.append(row)
        if not rows:
            continue
        name = "examples.png" if len(pages) == 1 else f"examples_{p:02d}.png"
        figures.append(save_neuron_examples(out / name, rows, title + (f" (page {p + 1}/{len(pages)})"
                                                                          if len(pages) > 1 else "")))
    return figures


# ---- LC ---------------------------------------------------------------------------------

def run_lc(model_spec, dataset, layer, split="test", limit=None, q=1.0, reduce="max", mapping=None,
           sigmas=(1.0, 2.0), n_boot=1000, seed=0, batch_size=256, out=None, unsafe_deserialization=False,
           progress=True, top=None) -> dict:
    """LC(n) = p^T C p for every channel of `layer` (Dong et al. Eq. 3), p the class histogram of
    its top-q % images of `dataset`, at each sigma; raw, normalised by the class-prior null
    pi^T C pi, with seeded bootstrap intervals. Writes lc.json and lc.png."""
    from tfinterp.analysis.consistency import lc_report
    from tfinterp.analysis.examples import check_q, top_examples
    from tfinterp.checks import model_num_classes
    from tfinterp.utils import write_json

    q = check_q(q)
    sigmas = _sigmas(sigmas)
    model = _load(model_spec, unsafe_deserialization)
    k_cls = model_num_classes(model)
    name, mapped_classes, Cs, distances, m = resolve_mapping(mapping, dataset, k_cls, sigmas)
    x, y = _real_set(model, dataset, split, limit)
    if top is None:
        top = top_examples(model, layer, x, q=q, reduce=reduce, batch_size=batch_size, progress=progress)
    prior = np.bincount(y, minlength=k_cls) / len(y)
    labels = top.labels(y)
    if distances is not None:
        rep = lc_report(labels, k_cls, distances, sigmas=sigmas, prior=prior, n_boot=n_boot, seed=seed)
    else:  # a ready correlation matrix: one "sigma"
        from tfinterp.analysis.consistency import bootstrap_lc, lc_null

        C = next(iter(Cs.values()))
        b = bootstrap_lc(labels, k_cls, C, n_boot=n_boot, seed=seed)
        null = lc_null(prior, C)
        rep = {"neurons": top.channels, "k": top.k, "prior": prior.tolist(), "sigmas": {"given": {
            "sigma": None, "null": null, "null_at_k": lc_null(prior, C, top.k), "lc": b["lc"].tolist(),
            "lc_low": b["low"].tolist(), "lc_high": b["high"].tolist(), "normalized": (b["lc"] / null).tolist(),
            "mean_lc": b["mean"], "mean_lc_interval": [b["mean_low"], b["mean_high"]],
            "mean_normalized": b["mean"] / null, "mean_normalized_interval": [b["mean_low"] / null,
                                                                             b["mean_high"] / null],
            "level": b["level"], "n_boot": b["n_boot"], "seed": b["seed"]}}}
    result = {"model": _spec_name(model_spec), "dataset": dataset, "split": split, "images": int(len(x)),
              "layer": layer, "reduce": reduce, "q": q, "k": top.k, "mapping": name,
              "synsets": m.get("synsets"), "distances": None if distances is None else distances.tolist(),
              **rep}
    if out is not None:
        from tfinterp.viz.neurons import save_lc_distribution

        out = Path(out)
        panels = {(f"sigma={s['sigma']:g}" if s["sigma"] is not None else "given C"):
                  {"lc": s["lc"], "null": s["null"], "mean": s["mean_lc"]} for s in rep["sigmas"].values()}
        fig = save_lc_distribution(out / "lc.png", panels, f"LC of {top.channels} channels of {layer} "
                                   f"({_spec_name(model_spec)}, top {q:g} % of {len(x)} {dataset} images)")
        result["figures"] = [str(fig)]
        result["json"] = str(write_json(out / "lc.json", result))
    return result


# ---- consistency CS1 / CS2 ------------------------------------------------------------------

def run_consistency(model_spec, adversarial_set, layer, dataset=None, split=None, limit=None, q=1.0,
                    reduce="max", mapping=None, sigmas=(1.0, 2.0), bins=10, successful_only=False,
                    batch_size=256, out=None, unsafe_deserialization=False, progress=True) -> dict:
    """CS1 / CS2 of every channel of `layer` (a name or a list whose channels are pooled, as the
    paper pools all conv layers) (Dong et al. Eqs. 4-5) between its top-q % real
    images (of the adversarial set's source data set) and its top-q % adversarial images
    (original / target classes), against LC; the binned curves of Figs. 4 / 8 with the number
    of neurons per point. Writes consistency.json and consistency.png."""
    from tfinterp.analysis.consistency import binned, consistency
    from tfinterp.analysis.examples import check_q, top_examples
    from tfinterp.checks import model_num_classes
    from tfinterp.utils import write_json

    q = check_q(q)
    sigmas = _sigmas(sigmas)
    model = _load(model_spec, unsafe_deserialization)
    adv = _adv_subset(load_adversarial_set(adversarial_set, model), successful_only)
    dataset, set_split = _dataset_of(adv, dataset)
    split = split or set_split
    k_cls = model_num_classes(model)
    name, _, Cs, _, _ = resolve_mapping(mapping, dataset, k_cls, sigmas)
    x, y = _real_set(model, dataset, split, limit)
    layers = [layer] if isinstance(layer, str) else list(layer)
    if not layers:
        raise UserError("give at least one --layer")
    real_idx, adv_idx, owner = [], [], []
    for ly in layers:  # the paper pools the neurons of all conv layers: one pass per layer and set
        rtop = top_examples(model, ly, x, q=q, reduce=reduce, batch_size=batch_size, progress=progress)
        atop = top_examples(model, ly, adv["images"], q=q, reduce=reduce, batch_size=batch_size, progress=progress)
        real_idx.append(rtop.indices)
        adv_idx.append(atop.indices)
        owner += [ly] * rtop.channels
    real_idx, adv_idx = np.concatenate(real_idx), np.concatenate(adv_idx)
    real_labels = y[real_idx]
    layer = layers[0] if len(layers) == 1 else layers
    per_sigma, panels = {}, {}
    for s, C in Cs.items():
        r = consistency(real_labels, adv["labels"][adv_idx], adv["targets"][adv_idx], k_cls, C)
        b = binned(r["lc"], {"cs1": r["cs1"], "cs2": r["cs2"]}, bins=bins)
        per_sigma[str(s)] = {"sigma": s, "lc": r["lc"].tolist(), "cs1": r["cs1"].tolist(), "cs2": r["cs2"].tolist(),
                             "mean_cs1": float(np.nanmean(r["cs1"])), "mean_cs2": float(np.nanmean(r["cs2"])),
                             "mean_lc": float(r["lc"].mean()),
                             "mean_lc_adversarial_original": float(r["lc_adv_original"].mean()),
                             "mean_lc_adversarial_target": float(r["lc_adv_target"].mean()),
                             "corr_lc_cs1": _corr(r["lc"], r["cs1"]), "corr_lc_cs2": _corr(r["lc"], r["cs2"]),
                             "binned": b}
        panels[f"sigma={s:g} ({len(real_idx)} neurons)"] = b
    result = {"model": _spec_name(model_spec), "adversarial_set": str(adversarial_set), "dataset": dataset,
              "split": split, "images": int(len(x)), "adversarial_images": int(len(adv["images"])),
              "success_rate": float(adv["success"].mean()) if len(adv["success"]) else None,
              "layer": layer, "reduce": reduce, "q": q, "k_real": rtop.k, "k_adversarial": atop.k,
              "mapping": name, "neurons": int(len(real_idx)), "neuron_layers": owner, "sigmas": per_sigma}
    if out is not None:
        from tfinterp.viz.neurons import save_consistency_curves

        out = Path(out)
        fig = save_consistency_curves(out / "consistency.png", panels,
                                      f"CS1 / CS2 vs LC, {'+'.join(layers)} of {_spec_name(model_spec)} "
                                      f"(top {q:g} %: {rtop.k} real, {atop.k} adversarial images per neuron)")
        result["figures"] = [str(fig)]
        result["json"] = str(write_json(out / "consistency.json", result))
    return result


def _corr(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or a[ok].std() == 0 or b[ok].std() == 0:
        return None
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


# ---- LC human check (appendix B) ------------------------------------------------------------

def build_lc_agreement(model_spec, dataset, layer, pairs=50, show=9, split="test", limit=None, q=1.0,
                       reduce="max", mapping=None, sigma=1.0, discrepancy=True, seed=0, batch_size=256, out=None,
                       unsafe_deserialization=False, progress=True) -> dict:
    """Dong et al. appendix B: a static page (index.html, works from file://) showing pairs of
    neurons, each by its `show` top images with discrepancy maps; the person clicks the one that
    consistently shows a higher-level concept and downloads a JSON of answers. The neurons' LC
    stays out of the page (pairs.json beside it holds it, for `score_lc_agreement`)."""
    import base64
    import io
    import uuid

    from PIL import Image

    from tfinterp.analysis.examples import check_q, top_examples
    from tfinterp.utils import atomic_path, write_json
    from tfinterp.viz.overlay import heat_rgb

    if out is None:
        raise UserError("build_lc_agreement needs an output folder")
    q = check_q(q)
    model = _load(model_spec, unsafe_deserialization)
    x, y = _real_set(model, dataset, split, limit)
    top = top_examples(model, layer, x, q=q, reduce=reduce, batch_size=batch_size, progress=progress)
    lcr = run_lc(model, dataset, layer, split=split, limit=limit, q=q, reduce=reduce, mapping=mapping,
                 sigmas=(sigma,), n_boot=10, seed=seed, batch_size=batch_size, out=None, progress=False, top=top)
    lc_vals = np.asarray(next(iter(lcr["sigmas"].values()))["lc"])
    C = top.channels
    if C < 2:
        raise UserError(f"layer '{layer}' has {C} channel; the check compares pairs of neurons")
    rng = np.random.default_rng(seed)
    all_pairs = [(i, j) for i in range(C) for j in range(i + 1, C)]
    pick = rng.choice(len(all_pairs), size=min(int(pairs), len(all_pairs)), replace=False)
    chosen = [all_pairs[i] for i in pick]
    chosen = [(a, b) if rng.random() < 0.5 else (b, a) for a, b in chosen]  # random sides
    neurons = sorted({n for p in chosen for n in p})
    show = max(1, min(int(show), top.k))
    bar = None
    if progress:
        import keras

        print("neuron panels:", file=sys.stderr)
        bar = keras.utils.Progbar(len(neurons), unit_name="neuron")
    panels = {}
    for c in neurons:
        imgs = x[top.indices[c, :show]]
        maps = discrepancy_maps(model, layer, {c: imgs}, reduce=reduce)[c] if discrepancy else [None] * len(imgs)
        tiles = []
        for img, mp in zip(imgs, maps):
            rgb = heat_rgb(img, mp, alpha=0.35) if mp is not None else _rgb3(img)
            tiles.append(rgb)
        panels[c] = _png_data_uri(_tile(tiles), base64, io, Image)
        if bar is not None:
            bar.add(1)
    build_id = uuid.UUID(int=int(rng.integers(0, 2 ** 63)) << 64 | int(rng.integers(0, 2 ** 63))).hex
    out = Path(out)
    pairs_doc = {"build": build_id, "model": _spec_name(model_spec), "dataset": dataset, "layer": layer,
                 "q": q, "reduce": reduce, "sigma": float(sigma), "mapping": lcr["mapping"],
                 "pairs": [{"pair": i, "left": int(a), "right": int(b), "lc_left": float(lc_vals[a]),
                            "lc_right": float(lc_vals[b])} for i, (a, b) in enumerate(chosen)]}
    pairs_path = write_json(out / "pairs.json", pairs_doc)
    page = _agreement_html(build_id, [(i, int(a), int(b)) for i, (a, b) in enumerate(chosen)], panels, show,
                           str(pairs_path.resolve()))
    with atomic_path(out / "index.html") as tmp:
        tmp.write_text(page, encoding="utf-8")
    return {"page": str(out / "index.html"), "pairs_file": str(pairs_path), "pairs": len(chosen),
            "neurons": len(neurons), "build": build_id, "model": pairs_doc["model"], "layer": layer}


def _rgb3(img):
    img = np.clip(np.asarray(img, np.float32), 0, 1)
    return np.repeat(img, 3, axis=-1) if img.shape[-1] == 1 else img


def _tile(tiles, cols=3, scale=None):
    h, w, _ = tiles[0].shape
    scale = scale or max(1, 84 // max(h, w))
    rows = (len(tiles) + cols - 1) // cols
    pad = 2
    canvas = np.ones((rows * (h * scale + pad) + pad, cols * (w * scale + pad) + pad, 3), np.float32)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        big = np.kron(np.clip(t, 0, 1), np.ones((scale, scale, 1), np.float32))
        y0, x0 = pad + r * (h * scale + pad), pad + c * (w * scale + pad)
        canvas[y0:y0 + h * scale, x0:x0 + w * scale] = big
    return (canvas * 255).round().astype(np.uint8)


def _png_data_uri(arr, base64, io, Image):
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Which neuron is more consistent?</title>
<style>
body { font-family: sans-serif; max-width: 880px; margin: 1.5em auto; color: #222; }
.pair { display: flex; gap: 2em; justify-content: center; margin: 1em 0; }
.side { text-align: center; }
.side img { border: 3px solid #ccc; cursor: pointer; image-rendering: pixelated; }
.side img:hover { border-color: #48c; }
button { font-size: 1em; margin: 0.3em; }
#done { display: none; }
</style></head>
<body>
<h2>Which neuron consistently shows a higher-level concept?</h2>
<p>Each neuron is shown by the images that activate it most (coloured: the region that matters to
it). Click the neuron whose images more consistently show the same <em>object or part</em>
(rather than a colour, a texture or a mix of things). Pair <span id="num"></span> of __N__.</p>
<p>Your name or initials: <input id="rater" size="12"></p>
<div class="pair">
 <div class="side"><img id="left" alt="left neuron"><br><button onclick="answer('left')">left</button></div>
 <div class="side"><img id="right" alt="right neuron"><br><button onclick="answer('right')">right</button></div>
</div>
<p style="text-align:center"><button onclick="answer('unsure')">cannot tell</button>
<button onclick="back()">back</button></p>
<div id="done"><p>All pairs answered. <button onclick="download()">download responses (JSON)</button></p></div>
<p><button onclick="download()">download the answers so far</button></p>
<script>
const BUILD = "__BUILD__";
const PAIRS_FILE = __PAIRS_FILE__;
const PAIRS = __PAIRS__;
const PANELS = __PANELS__;
let i = 0;
const answers = {};
function show() {
  if (i >= PAIRS.length) { document.getElementById("done").style.display = "block"; i = PAIRS.length; return; }
  const p = PAIRS[i];
  document.getElementById("left").src = PANELS[p[1]];
  document.getElementById("right").src = PANELS[p[2]];
  document.getElementById("num").textContent = (i + 1);
}
function answer(choice) {
  if (i >= PAIRS.length) return;
  const p = PAIRS[i];
  answers[p[0]] = {pair: p[0], left: p[1], right: p[2], choice: choice, time: new Date().toISOString()};
  i += 1; show();
}
function back() { if (i > 0) { i -= 1; document.getElementById("done").style.display = "none"; show(); } }
function download() {
  const doc = {build: BUILD, pairs_file: PAIRS_FILE, rater: document.getElementById("rater").value,
               show: __SHOW__, responses: Object.values(answers)};
  const blob = new Blob([JSON.stringify(doc, null, 1)], {type: "application/json"});
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = "lc_responses_" + (doc.rater || "anonymous").replace(/[^A-Za-z0-9_-]/g, "_") + ".json";
  document.body.appendChild(a); a.click(); a.remove();
}
show();
</script>
</body></html>
"""


def _agreement_html(build_id, pairs, panels, show, pairs_file) -> str:
    return (_PAGE.replace("__BUILD__", build_id).replace("__N__", str(len(pairs)))
            .replace("__PAIRS_FILE__", json.dumps(pairs_file)).replace("__SHOW__", str(int(show)))
            .replace("__PAIRS__", json.dumps([list(p) for p in pairs]))
            .replace("__PANELS__", json.dumps({str(k): v for k, v in panels.items()})))


def score_lc_agreement(responses, pairs_file=None, out=None, z: float = 1.959964) -> dict:
    """Agreement of human choices with LC (Dong et al. appendix B): a pair agrees when the
    chosen neuron has the higher LC; "cannot tell" answers and LC ties are left out. Per rater
    and pooled, with Wilson (binomial) intervals. `responses` are JSON files from the page."""
    from tfinterp.metrics.localization import wilson_interval
    from tfinterp.utils import write_json

    files = [Path(r) for r in (responses if isinstance(responses, (list, tuple)) else [responses])]
    if not files:
        raise UserError("give the response JSON files the page downloaded")
    docs = []
    for f in files:
        if not f.is_file():
            raise UserError(f"response file not found: {f}")
        try:
            d = json.loads(f.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise UserError(f"{f} is not valid JSON: {e}")
        if not isinstance(d, dict) or not isinstance(d.get("responses"), list):
            raise UserError(f"{f} is not a response file of the LC check (no 'responses' list)")
        docs.append((f, d))
    pf = Path(pairs_file) if pairs_file else None
    if pf is None:
        named = {d.get("pairs_file") for _, d in docs}
        if len(named) != 1 or None in named:
            raise UserError("the responses do not name one pairs.json; give --pairs")
        pf = Path(named.pop())
        if not pf.is_file():
            cand = files[0].parent / "pairs.json"
            if not cand.is_file():
                raise UserError(f"pairs file {pf} not found; give --pairs")
            pf = cand
    if not pf.is_file():
        raise UserError(f"pairs file not found: {pf}")
    try:
        pdoc = json.loads(pf.read_text())
        lc_of = {int(p["pair"]): (int(p["left"]), int(p["right"]), float(p["lc_left"]), float(p["lc_right"]))
                 for p in pdoc["pairs"]}
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise UserError(f"{pf} is not a pairs file of `lc-agreement build` ({e})")
    raters, pooled = [], [0, 0]
    skipped = {"unsure": 0, "tie": 0}
    for f, d in docs:
        if d.get("build") and pdoc.get("build") and d["build"] != pdoc["build"]:
            raise UserError(f"{f} answers another page (build {d['build']}) than {pf} ({pdoc['build']})")
        agree = n = 0
        for r in d["responses"]:
            try:
                pid = int(r["pair"])
                choice = r["choice"]
            except (KeyError, TypeError, ValueError):
                raise UserError(f"{f}: a response lacks 'pair' or 'choice'")
            if pid not in lc_of:
                raise UserError(f"{f}: pair {pid} is not in {pf}")
            left, right, lc_l, lc_r = lc_of[pid]
            if (r.get("left", left), r.get("right", right)) != (left, right):
                raise UserError(f"{f}: pair {pid} shows neurons {r.get('left')}/{r.get('right')}, "
                                f"but {pf} has {left}/{right}")
            if choice not in ("left", "right"):
                skipped["unsure"] += 1
                continue
            if lc_l == lc_r:
                skipped["tie"] += 1
                continue
            n += 1
            agree += int((choice == "left") == (lc_l > lc_r))
        lo, hi = wilson_interval(agree, n, z) if n else (None, None)
        raters.append({"file": str(f), "rater": d.get("rater") or f.stem, "answered": n, "agree": agree,
                       "rate": agree / n if n else None, "interval": [lo, hi]})
        pooled[0] += agree
        pooled[1] += n
    lo, hi = wilson_interval(pooled[0], pooled[1], z) if pooled[1] else (None, None)
    result = {"pairs_file": str(pf), "model": pdoc.get("model"), "layer": pdoc.get("layer"),
              "sigma": pdoc.get("sigma"), "raters": raters, "answered": pooled[1], "agree": pooled[0],
              "rate": pooled[0] / pooled[1] if pooled[1] else None, "interval": [lo, hi],
              "interval_method": "Wilson score, 95 %", "skipped": skipped,
              "paper": "Dong et al. 2017 appendix B: 83.65-88.6 % per volunteer (VGG-16, 2000 pairs)"}
    if out is not None:
        result["json"] = str(write_json(Path(out) / "agreement.json", result))
    return result


# ---- WordNet ------------------------------------------------------------------------------

def run_setup_wordnet(source=None, root=None, download=True, force=False) -> dict:
    """Prepare nltk's WordNet offline (`tfinterp.analysis.wordnet.setup_wordnet`) and check it
    loads: the sandal-sneaker distance as a smoke test."""
    from tfinterp.analysis.wordnet import load_wordnet, setup_wordnet

    info = setup_wordnet(source, root, download=download, force=force)
    wn = load_wordnet(source, root, download=download)
    a, b = wn.synset("sandal.n.01"), wn.synset("gym_shoe.n.01")
    info["check"] = f"d(sandal, sneaker) = {a.shortest_path_distance(b)}"
    info["version"] = wn.get_version()
    return info
