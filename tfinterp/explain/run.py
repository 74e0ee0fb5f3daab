"""Explaining image files end to end (what `tfinterp explain` calls)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from tfinterp.errors import UserError


def read_inputs(items, model):
    """(paths, batch): image files are read for the model; .npy files hold [H,W,C] or [N,H,W,C]."""
    from tfinterp.data.imageio import expand_image_paths, model_input_shape, read_image
    from tfinterp.explain.base import check_images

    shape = model_input_shape(model)
    names, arrays = [], []
    for p in expand_image_paths(items):
        if p.suffix.lower() == ".npy":
            if not p.is_file():
                raise UserError(f"file not found: {p}")
            try:
                a = np.load(p, allow_pickle=False)
            except Exception as e:
                raise UserError(f"{p} is not a readable .npy array ({type(e).__name__})")
            a = check_images(a, model)
            names += [f"{p.stem}_{i}" if len(a) > 1 else p.stem for i in range(len(a))]
            arrays.append(a)
        else:
            arrays.append(read_image(p, size=shape[:2], channels=shape[2])[None])
            names.append(p.stem)
    if not arrays:
        raise UserError("no images given")
    return names, np.concatenate(arrays)


def explain_files(items, method: str, model: str, target=None, layer=None, batch_size=32, out=Path("."),
                  alpha: float = 1.0):
    """Explain every image in `items`; write overlay PNG, raw .npy map and JSON per image."""
    if method == "prototypes":  # ProtoNet's own explanation (tfinterp.explain.prototypes)
        from tfinterp.explain.prototypes import explain_prototype_files
        return explain_prototype_files(items, model, target=target, batch_size=batch_size, out=out)
    import tensorflow as tf

    from tfinterp.explain.base import check_targets, get_explainer, list_methods
    from tfinterp.metrics import box_from_map
    from tfinterp.models import load_model
    from tfinterp.utils import atomic_path, write_json
    from tfinterp.viz import save_overlay

    if method not in list_methods():
        raise UserError(f"unknown explanation method '{method}'; available: {', '.join(list_methods())}")
    net = load_model(model)
    names, x = read_inputs(items, net)
    params = {"batch_size": batch_size}
    if layer is not None:
        params["layer"] = layer
    try:
        explainer = get_explainer(method, net, **params)
    except TypeError:
        raise UserError(f"method '{method}' takes no --layer option")
    probs = []
    for i in range(0, len(x), 256):
        probs.append(tf.nn.softmax(net(x[i:i + 256], training=False)).numpy())
    probs = np.concatenate(probs)
    targets = probs.argmax(-1) if target is None else check_targets(target, len(x), probs.shape[-1])
    t0 = time.perf_counter()
    maps = _with_progress(explainer, x, targets, batch_size)
    seconds = time.perf_counter() - t0
    class_names = getattr(net, "class_names", None)
    written = []
    for name, img, m, t, p in zip(names, x, maps, targets, probs):
        stem = f"{name}_{method}"
        pred = int(p.argmax())
        box = box_from_map(m, alpha=alpha)
        label = lambda c: f"{c} ({class_names[c]})" if class_names else str(c)  # noqa: E731
        title = f"{method}: target {label(int(t))}, p={p[int(t)]:.3f}\npredicted {label(pred)}, p={p[pred]:.3f}"
        overlay = save_overlay(out / f"{stem}.png", img, m, title=title, box=box)
        with atomic_path(out / f"{stem}.npy") as tmp:
            with open(tmp, "wb") as f:
                np.save(f, m)
        summary = {"image": name, "method": method, "params": explainer.params, "model": model,
                   "target": int(t), "target_name": class_names[int(t)] if class_names else None,
                   "probability": float(p[int(t)]), "predicted": pred, "predicted_probability": float(p[pred]),
                   "box": list(box) if box else None, "box_threshold": f"{alpha} * mean",
                   "runtime_seconds_per_image": seconds / len(x), "map": str(out / f"{stem}.npy"),
                   "overlay": str(overlay)}
        write_json(out / f"{stem}.json", summary)
        written.append(summary)
    return written


def _with_progress(explainer, x, targets, batch_size):
    """Explain in batches with a progress bar when there is more than one batch."""
    if len(x) <= batch_size:
        return explainer.explain(x, targets, batch_size=batch_size)
    import keras

    bar = keras.utils.Progbar(len(x), unit_name="image")
    parts = []
    for i in range(0, len(x), batch_size):
        parts.append(explainer.explain(x[i:i + batch_size], targets[i:i + batch_size], batch_size=batch_size))
        bar.add(len(parts[-1]))
    return np.concatenate(parts)
