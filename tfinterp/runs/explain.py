"""`tfinterp explain`: explain image files end to end (overlay PNG, raw .npy map and a JSON
summary per image and method; a comparison figure for ``--method all``; ProtoNet's own
prototype explanation for ``--method prototypes``)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from tfinterp.errors import UserError


def read_inputs(items, model):
    """(names, batch): image files are read for the model; .npy files hold [H,W,C] or [N,H,W,C]."""
    from tfinterp.checks import check_images, model_image_shape
    from tfinterp.data.imageio import expand_image_paths, read_image

    shape = model_image_shape(model)
    names, arrays = [], []
    for p in expand_image_paths(items):
        if p.suffix.lower() == ".npy":
            if not p.is_file():
                raise UserError(f"file not found: {p}")
            try:
                a = np.load(p, allow_pickle=False)
            except Exception as e:
                raise UserError(f"{p} is not a readable .npy array ({type(e).__name__})")
            a = check_images(a, model=model, allow_empty=True)
            names += [f"{p.stem}_{i}" if len(a) > 1 else p.stem for i in range(len(a))]
            arrays.append(a)
        else:
            arrays.append(read_image(p, size=shape[:2], channels=shape[2])[None])
            names.append(p.stem)
    if not arrays or not names:
        raise UserError("no images given")
    return names, np.concatenate(arrays)


def build_explainer(method: str, model, params: dict | None = None, layer: str | None = None,
                    batch_size: int = 32):
    """An explainer for `method`: `params` (strings as typed after --param, or values) are
    converted and checked by the method's declared parameter table; `layer` goes to methods
    that take one (see `tfinterp.explain.get_explainer`)."""
    from tfinterp.explain import get_explainer

    return get_explainer(method, model, layer=layer, **{"batch_size": batch_size, **(params or {})})


def explain_files(items, method: str, model: str, target=None, layer=None, batch_size=32, out=Path("."),
                  alpha: float = 1.0, params: dict | None = None):
    """Explain every image in `items` with `method` (or ``"all"``).

    Per image and method: an overlay PNG (heatmap on the image, predicted class and
    probability, the thresholded box), the raw map (.npy) and a JSON summary. With
    ``"all"``: one comparison figure per image with every method side by side.
    Guided inversion also writes its stage-1 (class-agnostic) map. `params` are the
    method's parameters, as typed (strings) or as values.
    """
    if method == "prototypes":  # ProtoNet's own explanation (tfinterp.explain.prototypes)
        return explain_prototype_files(items, model, target=target, batch_size=batch_size, out=out)
    import tensorflow as tf

    from tfinterp.checks import check_classes
    from tfinterp.explain import list_methods
    from tfinterp.metrics import box_from_map
    from tfinterp.models import load_model
    from tfinterp.utils import atomic_path, write_json
    from tfinterp.viz import save_comparison, save_overlay

    available = list_methods()
    if method != "all" and method not in available:
        raise UserError(f"unknown explanation method '{method}'; available: {', '.join(available)} or all")
    methods = available if method == "all" else [method]
    if method == "all" and params:
        raise UserError("--param applies to a single method, not to --method all")
    net = load_model(model)
    names, x = read_inputs(items, net)
    probs = np.concatenate([tf.nn.softmax(tf.cast(net(x[i:i + 256], training=False), tf.float32)).numpy()
                            for i in range(0, len(x), 256)])
    targets = probs.argmax(-1) if target is None else check_classes(target, len(x), probs.shape[-1])
    class_names = getattr(net, "class_names", None)
    label = lambda c: f"{c} ({class_names[c]})" if class_names else str(c)  # noqa: E731

    results = {}
    for meth in methods:
        explainer = build_explainer(meth, net, params if method != "all" else None,
                                    layer if method != "all" else None, batch_size)
        t0 = time.perf_counter()
        maps, extra = _with_progress(explainer, x, targets, batch_size, meth)
        results[meth] = (maps, extra, (time.perf_counter() - t0) / len(x), explainer.params)

    written = []
    for i, (name, img, t, p) in enumerate(zip(names, x, targets, probs)):
        pred, t = int(p.argmax()), int(t)
        title = f"target {label(t)}, p={p[t]:.3f}\npredicted {label(pred)}, p={p[pred]:.3f}"
        per_method = {}
        for meth, (maps, extra, sec, prm) in results.items():
            stem = f"{name}_{meth}"
            box = box_from_map(maps[i], alpha=alpha)
            with atomic_path(out / f"{stem}.npy") as tmp:
                with open(tmp, "wb") as f:
                    np.save(f, maps[i])
            entry = {"method": meth, "params": prm, "box": list(box) if box else None,
                     "runtime_seconds_per_image": sec, "map": str(out / f"{stem}.npy")}
            if extra is not None:
                with atomic_path(out / f"{stem}_stage1.npy") as tmp:
                    with open(tmp, "wb") as f:
                        np.save(f, extra[i])
                entry["stage1_map"] = str(out / f"{stem}_stage1.npy")
            if method != "all":
                panels = {"stage 1 (salient object)": extra[i]} if extra is not None else {}
                entry["overlay"] = str(save_overlay(out / f"{stem}.png", img, maps[i], title=f"{meth}: {title}",
                                                    box=box, extra=panels))
            per_method[meth] = entry
        summary = {"image": name, "model": model, "target": t,
                   "target_name": class_names[t] if class_names else None, "probability": float(p[t]),
                   "predicted": pred, "predicted_probability": float(p[pred]), "box_threshold": f"{alpha} * mean"}
        if method == "all":
            fig = save_comparison(out / f"{name}_all.png", img, {m: results[m][0][i] for m in methods},
                                  title=title)
            summary.update({"methods": per_method, "overlay": str(fig)})
            write_json(out / f"{name}_all.json", summary)
        else:
            summary.update(per_method[method])
            write_json(out / f"{name}_{method}.json", summary)
        written.append(summary)
    return written


def _with_progress(explainer, x, targets, batch_size, label):
    """(maps, stage-1 maps or None), in batches, with a progress bar when there is more than one batch."""
    both = hasattr(explainer, "explain_both")
    run = (lambda a, b: explainer.explain_both(a, b, batch_size=batch_size)) if both else \
        (lambda a, b: (explainer.explain(a, b, batch_size=batch_size), None))
    if len(x) <= batch_size:
        return run(x, targets)
    import keras

    print(f"{label}:", file=sys.stderr)
    bar = keras.utils.Progbar(len(x), unit_name="image")
    parts, extras = [], []
    for i in range(0, len(x), batch_size):
        maps, extra = run(x[i:i + batch_size], targets[i:i + batch_size])
        parts.append(maps)
        extras.append(extra)
        bar.add(len(maps))
    return np.concatenate(parts), (np.concatenate(extras) if both else None)


def explain_prototype_files(items, model: str, target=None, batch_size=32, out=Path("."), k: int = 3):
    """`tfinterp explain --method prototypes` (Li et al. 2018): per image, a figure of the input,
    its reconstruction and its `k` nearest prototypes, and a JSON summary, under `out`."""
    from tfinterp.explain.prototypes import explain_prototypes
    from tfinterp.models import load_model
    from tfinterp.utils import write_json
    from tfinterp.viz.protonet import save_prototype_explanation

    net = load_model(model)
    if not hasattr(net, "prototype_distances"):
        raise UserError(f"--method prototypes needs a ProtoNet model; '{model}' is a {type(net).__name__} "
                        "(train one with `tfinterp train protonet`)")
    names, x = read_inputs(items, net)
    if target is not None:
        raise UserError("--method prototypes explains the predicted class; drop --target")
    res = explain_prototypes(net, x, k=k, batch_size=max(batch_size, 1))
    classes = net.class_names or [str(c) for c in range(net.num_classes)]
    proto_labels = [classes[c] for c in res["prototype_class"]]
    written = []
    for i, name in enumerate(names):
        p = res["probabilities"][i]
        pred = int(p.argmax())
        ids = res["nearest"][i]
        dists = res["distances"][i][ids]
        title = f"{name}: predicted {classes[pred]} (p={p[pred]:.3f})"
        fig = save_prototype_explanation(out / f"{name}_prototypes.png", x[i], res["reconstructions"][i],
                                         res["prototype_images"], ids, dists, p, classes, proto_labels, title)
        summary = {"image": name, "method": "prototypes", "model": model, "target": pred,
                   "target_name": classes[pred], "probability": float(p[pred]), "predicted": pred,
                   "probabilities": [float(v) for v in p],
                   "reconstruction_error": float(np.sum((res["reconstructions"][i] - x[i]) ** 2)),
                   "nearest_prototypes": [{"prototype": int(j), "distance": float(d),
                                           "votes_for": proto_labels[int(j)]} for j, d in zip(ids, dists)],
                   "distances": [float(v) for v in res["distances"][i]],
                   "overlay": str(fig)}
        write_json(out / f"{name}_prototypes.json", summary)
        written.append(summary)
    return written
