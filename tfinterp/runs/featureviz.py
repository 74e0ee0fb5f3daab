"""`tfinterp visualize channels`: render the channels of a layer (Olah et al., "Feature
Visualization", Distill 2017), Lucid-style (`tfinterp.featureviz.render`) or Madry-style from
dataset examples on a robust model (`tfinterp.featureviz.madry_style`, Baek et al.), and
write a thresholds x images grid PNG, one PNG per image and a JSON of the objective values
and settings under `out`."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from tfinterp.errors import UserError


def parse_channels(text, count: int | None = None, layer: str | None = "layer", what: str = "channel") -> list[int]:
    """``"0-31"``, ``"0,3,7"``, ``"0-3,8,10-11"`` or ``"all"`` -> sorted list of ints,
    checked against `count` channels (`UserError` naming the range); `what` names the items in
    messages (``"class"``: ``--classes``, "class 9 is out of range ... (4 classes: 0-3)"); `layer`
    None is the model's output."""
    opt, plural = f"--{what}es" if what.endswith("s") else f"--{what}s", f"{what}es" if what.endswith("s") else f"{what}s"
    if text is None:
        raise UserError(f"give the {plural}, e.g. {opt} 0-31 or {opt} 0,3,7")
    if isinstance(text, (list, tuple, range)):
        chans = [int(c) for c in text]
    else:
        s = str(text).replace(" ", "")
        if s == "all":
            if count is None:
                raise UserError(f"{opt} all needs the layer's {what} count")
            chans = list(range(count))
        else:
            chans = []
            for part in s.split(","):
                m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
                if not m:
                    raise UserError(f"{opt}: cannot read '{part}' in '{text}'; use ranges and lists like 0-31 or 0,3,7")
                a = int(m.group(1))
                b = int(m.group(2)) if m.group(2) is not None else a
                if b < a:
                    raise UserError(f"{opt}: the range '{part}' runs backwards")
                chans.extend(range(a, b + 1))
    if not chans:
        raise UserError(f"{opt}: no {plural} given")
    if min(chans) < 0:
        raise UserError(f"{opt}: {what} {min(chans)} is negative")
    if count is not None and max(chans) >= count:
        where = "the model's output" if layer is None else f"layer '{layer}'"
        raise UserError(f"{what} {max(chans)} is out of range for {where} ({count} {plural}: 0-{count - 1})")
    seen, out = set(), []
    for c in chans:
        if c not in seen:
            seen.add(c)
            out.append(c)
    return out


def parse_thresholds(text, steps: int) -> list[int]:
    """``"30,60,120"``, ``"every=30"`` (30, 60, ... up to `steps`) or None (4 evenly spaced);
    the last step is always included."""
    if steps < 1:
        raise UserError(f"--steps must be a positive integer, got {steps}")
    if text is None or str(text).strip() == "":
        ts = sorted({max(1, round(steps * k / 4)) for k in (1, 2, 3, 4)})
    else:
        s = str(text).replace(" ", "")
        try:
            if s.startswith("every="):
                k = int(s[len("every="):])
                if k < 1:
                    raise ValueError
                ts = list(range(k, steps + 1, k))
            else:
                ts = [int(v) for v in s.split(",") if v]
        except ValueError:
            raise UserError(f"--thresholds: cannot read '{text}'; use 30,60,120 or every=30")
        bad = [t for t in ts if t < 1 or t > steps]
        if bad:
            raise UserError(f"--thresholds: {bad[0]} is outside 1..{steps} (the step count)")
    return sorted(set(ts) | {int(steps)})


def layer_channels(model, layer: str) -> tuple[str, int]:
    """(resolved path, channel count) of `layer` in `model` (unknown layer: `UserError`);
    ``name:pre`` is the layer's pre-activation (`tfinterp.featureviz.render.activation_fn`)."""
    from tfinterp.featureviz.render import PRE
    from tfinterp.models.layers import feature_model, resolve_layer

    base = layer[:-len(PRE)] if layer.endswith(PRE) else layer
    path = "/".join(resolve_layer(model, base)) or "@output"
    fm = feature_model(model, [base])
    shape = fm.output[base].shape if isinstance(fm.output, dict) else fm.output.shape
    return path + (PRE if base != layer else ""), int(shape[-1])


def run_visualize_channels(model_spec, layer: str | None = None, channels=None, objective: str | None = None,
                           n: int = 1, param: str = "fourier", steps: int = 512, lr: float = 0.05,
                           method: str = "lucid", thresholds=None, transforms: str = "lucid", regularizers=(),
                           dataset: str | None = None, limit: int = 1000, eps: float = 1000.0,
                           step_size: float | None = None, batch_size: int = 32, seed: int = 0, out=Path("."),
                           progress: bool = True, unsafe_deserialization: bool = False) -> dict:
    """Render each channel of `layer` (default: the model's ``last_conv``), one image per
    channel, or the objective expression `objective` (``c`` in it stands for each image's
    channel: ``"channel(last_conv, c) + 0.5*diversity(last_conv)"``; without ``c``, `n`
    images; `channels` None: the first 32 or all when fewer), and write grid.png, one PNG per image and featureviz.json under `out`.

    ``method="lucid"``: `render` (Fourier or pixel `param`, lucid transforms, Adam `lr`);
    ``method="madry"``: `madry_render` from each image's best example of `dataset` (its
    first `limit` test images; default: the shipped model's data set) with L2 steps
    (`eps`, `step_size`). A colour model's decorrelation is fitted from `dataset` when one is
    known.
    """
    from tfinterp.featureviz.objectives import objectives_for_channels, parse_objective
    from tfinterp.models import load_model, shipped_dataset
    from tfinterp.utils import write_json

    if method not in ("lucid", "madry"):
        raise UserError(f"--method must be lucid or madry, got '{method}'")
    if isinstance(steps, bool) or int(steps) < 1:
        raise UserError(f"--steps must be a positive integer, got {steps}")
    steps = int(steps)
    ths = parse_thresholds(thresholds, steps) if not isinstance(thresholds, (list, tuple)) else \
        parse_thresholds(",".join(map(str, thresholds)), steps)
    model = load_model(model_spec, unsafe_deserialization=unsafe_deserialization) \
        if isinstance(model_spec, (str, Path)) else model_spec
    layer = layer or "last_conv"
    path, count = layer_channels(model, layer)
    uses_c = objective is not None and re.search(r"\bc\b", objective) is not None
    if channels is None:
        channels = f"0-{min(count, 32) - 1}"
    chans = parse_channels(channels, count, layer) if (objective is None or uses_c) else None
    if objective is None:
        obj = objectives_for_channels(layer, chans)
    else:
        obj = parse_objective(objective, default_layer=layer, variables={"c": chans} if uses_c else None)
    total = obj.batch if obj.batch is not None else int(n)
    if total < 1:
        raise UserError(f"--n must be >= 1, got {n}")
    dataset = dataset or shipped_dataset(model_spec)
    data = None
    if dataset is not None and (method == "madry" or model.input_shape[-1] == 3):
        from tfinterp.data import load_arrays

        loaded = load_arrays(dataset, "test", limit, materialize=True)
        data = np.asarray(loaded[0], np.float32)
    info = {"model": str(model_spec) if isinstance(model_spec, (str, Path)) else model.name,
            "untrained": bool(getattr(model, "untrained", False)), "layer": layer, "layer_path": path,
            "layer_channels": count, "channels": chans, "objective": obj.name, "expression": objective,
            "method": method, "dataset": dataset}
    if method == "lucid":
        from tfinterp.featureviz.param import fit_decorrelation
        from tfinterp.featureviz.render import render

        decor = fit_decorrelation(data) if (data is not None and model.input_shape[-1] == 3) else None
        result = render(model, obj, n=None if obj.batch else total, param=param, steps=steps, lr=lr,
                        transforms=transforms, regularizers=regularizers, thresholds=ths, decorrelation=decor,
                        seed=seed, batch_size=batch_size, progress=progress)
    else:
        from tfinterp.featureviz.madry_style import best_start_images, madry_render

        if data is None:
            raise UserError("--method madry starts from dataset examples: give --dataset (e.g. fashion_mnist)")
        start, start_idx = best_start_images(model, obj, total, data, batch_size=max(batch_size, 128))
        result = madry_render(model, obj, start, eps=eps, steps=steps, step_size=step_size, thresholds=ths,
                              batch_size=batch_size, progress=progress)
        info["start_indices"] = start_idx.tolist()
        result.snapshots = {0: start, **result.snapshots}
    out = Path(out)
    written = _write(result, info, chans, out)
    summary = {**info, "settings": result.settings, "seconds": round(result.seconds, 3),
               "values": result.values.tolist(), "stuck_channels": stuck_channels(result.values, chans, layer, objective),
               "history": {str(k): v.tolist() for k, v in sorted(result.history.items())},
               "files": written}
    write_json(out / "featureviz.json", summary)
    return {**summary, "images": result.images, "out": str(out)}


def stuck_channels(values, chans, layer: str, objective: str | None) -> list[int]:
    """Channels of a one-channel-per-image render of a post-activation `layer` that ended at
    exactly 0: a ReLU dead on the whole start image has no gradient, so the image never moves
    (the reason lucid maximizes ``*_pre_relu``; here ``layer:pre``)."""
    from tfinterp.featureviz.render import PRE

    if objective is not None or chans is None or layer.endswith(PRE) or len(chans) != len(values):
        return []
    return [int(c) for c, v in zip(chans, np.asarray(values).ravel()) if float(v) == 0.0]


def _write(result, info, chans, out: Path) -> dict:
    from tfinterp.data.imageio import write_png
    from tfinterp.viz.featureviz import save_render_grid

    labels = [f"ch {c}" for c in chans] if chans is not None and len(chans) == len(result.images) else \
        [str(i) for i in range(len(result.images))]
    names = [f"channel_{c:04d}.png" for c in chans] if chans is not None and len(chans) == len(result.images) else \
        [f"image_{i:04d}.png" for i in range(len(result.images))]
    for img, name in zip(result.images, names):
        write_png(out / name, img)
    snaps = dict(result.snapshots)
    title = (f"{info['model']} {info['layer']}: {info['objective']} ({info['method']}"
             f"{', untrained' if info['untrained'] else ''}); rows: step (0 = dataset start)"
             if 0 in snaps else
             f"{info['model']} {info['layer']}: {info['objective']} ({info['method']}"
             f"{', untrained' if info['untrained'] else ''}); rows: step")
    values = {max(snaps): result.values}
    save_render_grid(out / "grid.png", snaps, labels=labels, title=title, values=values)
    return {"grid": "grid.png", "images": names}


__all__ = ["run_visualize_channels", "parse_channels", "parse_thresholds", "layer_channels", "stuck_channels"]
