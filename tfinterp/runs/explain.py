"""`tfinterp explain`: explain image files end to end (overlay PNG, raw .npy map and a JSON
summary per image and method; a comparison figure for ``--method all``; ProtoNet's own
prototype explanation for ``--method prototypes``).

A model whose JSON has an ``"explain"`` section (the shipped ``vggsmall_clutter64`` and
``madry_fashion_mnist``) runs each method with the parameters and box threshold alpha tuned for it
(a section tuned without boxes, like madry_fashion_mnist's by faithfulness, has no alpha: the
default 1.0 applies and the line printed says "alpha not tuned") (``preset`` "tuned"; the
user's ``--param`` keys and ``--alpha`` win; ``--param preset=paper`` restores the method's
paper defaults); image files that differ from the model's input are converted and said so.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from tfinterp.errors import UserError
from tfinterp.metrics.benchmark import make_explainer as build_explainer  # noqa: F401  (the one builder)


BOX_CONVENTION = ("pixel indices of the map (rows y, columns x from the top-left corner): ymin and xmin "
                  "inclusive, ymax and xmax exclusive, so the box is map[ymin:ymax, xmin:xmax]")
PRESETS = ("tuned", "paper")


def box_dict(box) -> dict | None:
    """A (ymin, xmin, ymax, xmax) box of `tfinterp.metrics.box_from_map` (max exclusive) as the
    JSON summary's ``{"ymin", "xmin", "ymax", "xmax"}`` (None stays None); see `BOX_CONVENTION`."""
    if box is None:
        return None
    return dict(zip(("ymin", "xmin", "ymax", "xmax"), (int(v) for v in box)))


# ---- reading ----------------------------------------------------------------------------

def load_inputs(items, model):
    """(names, batch, originals): image files are read for the model (size, channels and value
    range from its input); .npy files hold [H,W,C] or [N,H,W,C] exactly as the model takes them.
    ``originals[i]`` is the (h, w, c) an image file had before it was converted for the model,
    or None when it was taken as it is (a .npy array, or a file of the model's own shape)."""
    from tfinterp.checks import check_images, model_image_shape
    from tfinterp.data.imageio import expand_image_paths, read_image

    shape = tuple(model_image_shape(model))
    value_range = tuple(getattr(model, "input_range", (0.0, 1.0)))
    names, arrays, originals = [], [], []
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
            originals += [None] * len(a)
            arrays.append(a)
        else:
            img, original = read_image(p, size=shape[:2], channels=shape[2], value_range=value_range,
                                       return_shape=True)
            arrays.append(img[None])
            names.append(p.stem)
            originals.append((p.name, original) if tuple(original) != shape else None)
    if not arrays or not names:
        raise UserError("no images given")
    return names, np.concatenate(arrays), originals


def read_inputs(items, model):
    """(names, batch) of `load_inputs`, without the record of conversions."""
    names, x, _ = load_inputs(items, model)
    return names, x


def conversion_lines(originals, target, most: int = 3) -> list[str]:
    """What reading the image files in `originals` ((file name, (h, w, c)) or None, as from
    `load_inputs`) for a model taking `target` (H, W, C) converted: one line per distinct source
    shape (the file itself when it is the only one, else "3 images converted: ..."); with more
    than `most` distinct shapes, one line per kind (source channels, resized or not) instead, so a
    folder of photos of many sizes gives a line or two, not one per file."""
    from tfinterp.data.imageio import describe_conversion

    th, tw, tc = (int(v) for v in target)
    files = [(name, tuple(int(v) for v in shape)) for name, shape in (o for o in originals if o is not None)]
    by_shape: dict = {}
    for name, shape in files:
        by_shape.setdefault(shape, []).append(name)
    takes = f"(the model takes {th}x{tw}x{tc})"
    if len(by_shape) <= most:
        return [f"{names[0]}: {describe_conversion(shape, target)} {takes}" if len(names) == 1 else
                f"{len(names)} images converted: {describe_conversion(shape, target)} {takes}"
                for shape, names in by_shape.items()]
    by_kind: dict = {}
    for name, shape in files:
        by_kind.setdefault((shape[2], shape[:2] != (th, tw)), []).append(shape)
    lines = []
    for shapes in by_kind.values():
        sizes = sorted(set(shapes), key=lambda s: (s[0] * s[1], s))
        text = describe_conversion(sizes[-1], target)
        if len(sizes) > 1:
            lo, hi = sizes[0], sizes[-1]
            text = f"{len(sizes)} sizes from {lo[0]}x{lo[1]} to {hi[0]}x{hi[1]} " + text.split(" ", 1)[1]
        lines.append(f"{len(shapes)} images converted: {text} {takes}")
    return lines


# ---- the explanation setting -------------------------------------------------------------

def tuned_settings(model: str) -> dict | None:
    """The explanation settings tuned for `model`, from the ``"explain"`` section of its JSON:
    a shipped stem's (`tfinterp.models.shipped_models`), or the JSON beside a ``.keras`` path.

    Returns ``{"model": name, "on": "<dataset>/<split>", "found_by": ..., "criterion": ... or None,
    "methods": {method: {"params": {...}, "alpha": float (optional), ...}}}``, or None (zoo names,
    files without such a JSON). ``alpha`` may be absent (or null) for settings tuned without boxes
    (`explanation_setting` then uses the default 1.0); when present it must be a number.
    """
    import json

    from tfinterp.models import shipped_models

    spec = str(model)
    shipped = shipped_models()
    if spec in shipped:
        meta, name, where = shipped[spec], spec, Path(shipped[spec]["path"]).with_suffix(".json")
    else:
        path = Path(spec)
        where = path.with_suffix(".json")
        if path.suffix != ".keras" or not path.is_file() or not where.is_file():
            return None
        try:
            meta = json.loads(where.read_text())
        except (OSError, UnicodeDecodeError, ValueError):
            return None  # a JSON beside the file that is not a tfinterp model record
        name = (meta.get("stem") if isinstance(meta, dict) else None) or path.stem
    section = meta.get("explain") if isinstance(meta, dict) else None
    if not isinstance(section, dict):
        return None
    methods = section.get("methods")
    if not isinstance(methods, dict) or not all(
            isinstance(m, dict) and isinstance(m.get("params", {}), dict) and _alpha_ok(m.get("alpha"))
            for m in methods.values()):
        raise UserError(f"{where}: the \"explain\" section needs \"methods\": {{name: {{\"params\": {{...}}, "
                        "\"alpha\": number (optional)}}}}")
    on = f"{meta.get('dataset', '?')}/{section.get('split', 'tune')}"  # bench_localization tunes on 'tune'
    return {"model": name, "on": on, "found_by": section.get("found_by"), "criterion": section.get("criterion"),
            "methods": methods}


def _alpha_ok(alpha) -> bool:
    """A tuned alpha is a number, or absent (None): not tuned."""
    return alpha is None or (isinstance(alpha, (int, float)) and not isinstance(alpha, bool))


def explanation_setting(method: str, settings: dict | None, params: dict | None = None,
                        alpha: float | None = None, layer: str | None = None) -> dict:
    """The parameters and alpha `method` runs with, and where they came from.

    With a tuned setting for `method` in `settings` (`tuned_settings`), its parameters and
    alpha (1.0 when the setting has none: ``"alpha_tuned"`` False) are used, except each parameter the user gives in `params` (or through `layer`, for
    the method's layer parameter) and `alpha` when it is not None. ``params["preset"]`` =
    ``"paper"`` uses the method's own (paper) defaults and alpha 1.0 instead; ``"tuned"``
    insists on the tuned setting. Returns ``{"params", "alpha", "preset": "tuned"|"paper"|"none",
    "tuned_from", "applied" (the tuned values in force), "overridden" (tuned keys the user set)}``,
    and ``"alpha_tuned"`` (whether the setting carries an alpha) with a tuned setting.
    """
    from tfinterp.explain.base import EXPLAINERS
    from tfinterp.params import Param

    user = dict(params or {})
    preset = user.pop("preset", None)
    if preset is not None:
        preset = Param("tuned", str, choices=PRESETS).coerce("preset", preset.strip().lower()
                                                            if isinstance(preset, str) else preset, method)
    tuned = (settings or {}).get("methods", {}).get(method)
    if preset == "tuned" and tuned is None:
        has = f"; it has tuned settings for {', '.join(settings['methods'])}" if settings else ""
        what = f"'{settings['model']}'" if settings else "this model"
        raise UserError(f"--param preset=tuned: {what} has no tuned setting for {method}{has} "
                        "(models carry them in their JSON's \"explain\" section)")
    if preset == "paper" or tuned is None:
        return {"params": user, "alpha": 1.0 if alpha is None else float(alpha),
                "preset": "paper" if preset == "paper" else "none", "tuned_from": None, "applied": {},
                "overridden": []}
    cls = EXPLAINERS.get(method)
    mine = set(user)
    if layer is not None and cls.layer_param in cls.param_spec():
        mine.add(cls.layer_param)
    tuned_params = dict(tuned.get("params") or {})
    applied = {k: v for k, v in tuned_params.items() if k not in mine}
    overridden = sorted(k for k in tuned_params if k in mine) + (["alpha"] if alpha is not None else [])
    alpha_tuned = tuned.get("alpha") is not None
    if alpha is None:
        alpha = tuned["alpha"] if alpha_tuned else 1.0
    return {"params": {**applied, **user}, "alpha": float(alpha), "preset": "tuned",
            "tuned_from": settings.get("found_by"), "applied": applied, "overridden": overridden,
            "alpha_tuned": alpha_tuned}


def setting_line(settings: dict, chosen: dict) -> str | None:
    """The one stderr line saying which tuned settings are in force ({method: setting}), or None
    (no tuned setting, or the user's values replace every tuned value that is not a default)."""
    in_force = {m: _in_force(m, s) for m, s in chosen.items() if s["preset"] == "tuned"}
    in_force = {m: shown for m, shown in in_force.items() if shown}
    if not in_force:
        return None
    head = f"using the setting tuned for {settings['model']} on {settings['on']}"
    tail = "--param preset=paper for the paper's defaults"
    if len(chosen) > 1:
        each = "your --alpha kept" if any("alpha" in s["overridden"] for s in chosen.values()) else \
            "each its own alpha" if any(chosen[m].get("alpha_tuned", True) for m in in_force) else "alpha not tuned"
        return f"{head} for {', '.join(sorted(in_force))} ({each}, the other methods their defaults; {tail})"
    (method, shown), = in_force.items()
    kept = [f"--param {k}" if k != "alpha" else "--alpha" for k in chosen[method]["overridden"]]
    mine = f"your {', '.join(kept)} kept; " if kept else ""
    if not chosen[method].get("alpha_tuned", True) and "alpha" not in chosen[method]["overridden"]:
        mine += "alpha not tuned; "
    return f"{head}: {' '.join(shown)} ({mine}{tail})"


def _in_force(method: str, setting: dict) -> list[str]:
    """The tuned values a setting applies that differ from the method's defaults, as words."""
    from tfinterp.explain.base import EXPLAINERS

    spec = EXPLAINERS.get(method).param_spec()
    shown = [f"{k}={_word(v)}" for k, v in setting["applied"].items() if k not in spec or v != spec[k].default]
    if "alpha" not in setting["overridden"] and setting.get("alpha_tuned", True):
        shown.append(f"alpha {_word(setting['alpha'])}")
    return shown


def _word(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "+".join(str(x) for x in v)
    return str(v)


# ---- the job ------------------------------------------------------------------------------

def parse_figures(spec) -> int | None:
    """`--figures`: ``all`` (None: a figure for every image), ``none`` (0) or ``first:N`` (N)."""
    if spec is None or isinstance(spec, int):
        return spec
    text = str(spec).strip().lower()
    if text == "all":
        return None
    if text == "none":
        return 0
    head, sep, tail = text.partition(":")
    if head == "first" and sep and tail.strip().isdigit():
        return int(tail)
    raise UserError(f"--figures takes all, none or first:N (e.g. first:20), got '{spec}'")


def explain_files(items, method: str, model: str, target=None, layer=None, batch_size=32, out=Path("."),
                  alpha: float | None = None, params: dict | None = None, unsafe_deserialization: bool = False,
                  figures="all"):
    """Explain every image in `items` with `method` (or ``"all"``).

    Per image and method: an overlay PNG (heatmap on the image, predicted class and
    probability, the thresholded box), the raw map (.npy) and a JSON summary. With
    ``"all"``: one comparison figure per image with every method side by side.
    Guided inversion also writes its stage-1 (class-agnostic) map. `params` are the
    method's parameters, as typed (strings) or as values.

    A model whose JSON carries tuned explanation settings (`tuned_settings`) runs each method
    with its tuned parameters and alpha unless the user gives them (`explanation_setting`;
    ``params={"preset": "paper"}`` for the paper's defaults); `alpha` None means "not given"
    (the tuned alpha, else 1.0). One line on stderr says which setting is used, one per kind
    of conversion says how image files were converted for the model. The JSON summary records
    ``preset``, ``tuned_from``, ``alpha``, ``box`` as ``{"ymin", "xmin", "ymax", "xmax"}``
    (`BOX_CONVENTION`: max exclusive), ``converted_from`` ([h, w, c] of the file, or None) and
    ``untrained``.

    `figures` (``all``, ``none``, ``first:N``) says for how many images the overlay PNG (or, with
    ``"all"``, the comparison figure) is drawn; the maps and JSON are written for every image.
    Overlays are composited with NumPy / Pillow (`tfinterp.viz.save_overlays`), a few ms each.
    """
    n_figures = parse_figures(figures)
    if method == "prototypes":  # ProtoNet's own explanation (tfinterp.explain.prototypes)
        return explain_prototype_files(items, model, target=target, batch_size=batch_size, out=out,
                                       unsafe_deserialization=unsafe_deserialization)
    import tensorflow as tf

    from tfinterp.checks import check_classes, model_image_shape
    from tfinterp.explain import list_methods
    from tfinterp.explain.base import methods_for
    from tfinterp.metrics import box_from_map
    from tfinterp.models import load_model
    from tfinterp.utils import atomic_path, write_json
    from tfinterp.viz import save_comparison, save_overlays

    available = list_methods()
    if method != "all" and method not in available:
        raise UserError(f"unknown explanation method '{method}'; available: {', '.join(available)}, "
                        "prototypes (ProtoNet models) or all")
    methods = methods_for("images") if method == "all" else [method]  # all: every method that explains images
    if method == "all" and set(params or {}) - {"preset"}:
        raise UserError("--param applies to a single method, not to --method all (only --param preset=... does)")
    settings = tuned_settings(model)
    chosen = {m: explanation_setting(m, settings, params, alpha, layer if method != "all" else None)
              for m in methods}
    net = load_model(model, unsafe_deserialization=unsafe_deserialization)
    untrained = bool(getattr(net, "untrained", False))
    names, x, originals = load_inputs(items, net)
    explainers = {m: build_explainer(m, net, chosen[m]["params"], batch_size,
                                    layer if method != "all" else None)
                  for m in methods}
    probs = np.concatenate([tf.nn.softmax(tf.cast(net(x[i:i + 256], training=False), tf.float32)).numpy()
                            for i in range(0, len(x), 256)])
    targets = probs.argmax(-1) if target is None else check_classes(target, len(x), probs.shape[-1])
    for line in conversion_lines(originals, model_image_shape(net)):
        print(line, file=sys.stderr)
    line = setting_line(settings, chosen) if settings else None
    if line:
        print(line, file=sys.stderr)
    sys.stderr.flush()
    class_names = getattr(net, "class_names", None)
    label = lambda c: f"{c} ({class_names[c]})" if class_names else str(c)  # noqa: E731

    results = {}
    for meth, explainer in explainers.items():
        t0 = time.perf_counter()
        maps, extra = _with_progress(explainer, x, targets, batch_size, meth)
        results[meth] = (maps, extra, (time.perf_counter() - t0) / len(x), explainer.params)

    written, pending = [], []  # pending overlays: drawn together once the maps are written
    draw = (lambda i: True) if n_figures is None else (lambda i: i < n_figures)
    for i, (name, img, t, p) in enumerate(zip(names, x, targets, probs)):
        pred, t = int(p.argmax()), int(t)
        title = f"target {label(t)}, p={p[t]:.3f}\npredicted {label(pred)}, p={p[pred]:.3f}"
        per_method = {}
        for meth, (maps, extra, sec, prm) in results.items():
            stem = f"{name}_{meth}"
            a = chosen[meth]["alpha"]
            box = box_from_map(maps[i], alpha=a)
            with atomic_path(out / f"{stem}.npy") as tmp:
                with open(tmp, "wb") as f:
                    np.save(f, maps[i])
            entry = {"method": meth, "params": prm, "preset": chosen[meth]["preset"],
                     "tuned_from": chosen[meth]["tuned_from"], "overridden": chosen[meth]["overridden"],
                     "alpha": a, "box_threshold": f"{a:g} * mean",
                     "box": box_dict(box), "runtime_seconds_per_image": sec, "map": str(out / f"{stem}.npy")}
            if extra is not None:
                with atomic_path(out / f"{stem}_stage1.npy") as tmp:
                    with open(tmp, "wb") as f:
                        np.save(f, extra[i])
                entry["stage1_map"] = str(out / f"{stem}_stage1.npy")
            if method != "all":
                entry["overlay"] = None
                if draw(i):
                    panels = {"stage 1 (salient object)": extra[i]} if extra is not None else {}
                    pending.append((out / f"{stem}.png", img, maps[i], f"{meth}: {title}", box, panels))
                    entry["overlay"] = str(out / f"{stem}.png")
            per_method[meth] = entry
        summary = {"image": name, "model": model, "untrained": untrained, "target": t,
                   "target_name": class_names[t] if class_names else None, "probability": float(p[t]),
                   "predicted": pred, "predicted_probability": float(p[pred]),
                   "converted_from": list(originals[i][1]) if originals[i] else None,
                   "box_convention": BOX_CONVENTION}
        if method == "all":
            fig = save_comparison(out / f"{name}_all.png", img, {m: results[m][0][i] for m in methods},
                                  title=title) if draw(i) else None
            summary.update({"methods": per_method, "overlay": str(fig) if fig else None})
            write_json(out / f"{name}_all.json", summary)
        else:
            summary.update(per_method[method])
            write_json(out / f"{name}_{method}.json", summary)
        written.append(summary)
    if pending:
        save_overlays(*zip(*pending))
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


def explain_prototype_files(items, model: str, target=None, batch_size=32, out=Path("."), k: int = 3,
                            unsafe_deserialization: bool = False):
    """`tfinterp explain --method prototypes` (Li et al. 2018): per image, a figure of the input,
    its reconstruction and its `k` nearest prototypes, and a JSON summary, under `out`."""
    from tfinterp.checks import model_image_shape
    from tfinterp.explain.prototypes import explain_prototypes
    from tfinterp.models import load_model
    from tfinterp.utils import write_json
    from tfinterp.viz.protonet import save_prototype_explanation

    net = load_model(model, unsafe_deserialization=unsafe_deserialization)
    if not hasattr(net, "prototype_distances"):
        raise UserError(f"--method prototypes needs a ProtoNet model; '{model}' is a {type(net).__name__} "
                        "(train one with `tfinterp train protonet`)")
    if target is not None:
        raise UserError("--method prototypes explains the predicted class; drop --target")
    names, x, originals = load_inputs(items, net)
    for line in conversion_lines(originals, model_image_shape(net)):
        print(line, file=sys.stderr)
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
        summary = {"image": name, "method": "prototypes", "model": model,
                   "untrained": bool(getattr(net, "untrained", False)),
                   "converted_from": list(originals[i][1]) if originals[i] else None, "target": pred,
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
