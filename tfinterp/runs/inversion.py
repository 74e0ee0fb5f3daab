"""`tfinterp visualize invert`: invert an image's representation at one or more layers
(Mahendran & Vedaldi, "Understanding deep image representations by inverting them", CVPR
2015; `tfinterp.featureviz.inversion`) from several seeds, and write a grid PNG (the original,
then one reconstruction per seed; one row per layer), one PNG per reconstruction and
inversion.json (per layer and seed: the relative representation error, the pixel distance,
the objective, the model's prediction) under `out`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tfinterp.errors import UserError


def read_image_for_inversion(path, model, convert: bool = False):
    """(image [H, W, C] in [0, 1] shaped for `model`, conversion note or None). A file whose
    colour (grey vs RGB) differs from the model's input is refused unless `convert`; a size
    difference is resized (and noted)."""
    from tfinterp.checks import model_image_shape
    from tfinterp.data.imageio import CHANNEL_WORDS, describe_conversion, read_image

    h, w, c = model_image_shape(model)
    path = Path(path)
    img, original = read_image(path, size=(h, w), channels=c, return_shape=True)
    fc = original[2] - (1 if original[2] in (2, 4) else 0)  # alpha does not count
    if fc != c and not convert:
        raise UserError(f"{path.name} is {CHANNEL_WORDS.get(original[2], str(original[2]) + '-channel')} but the model "
                        f"takes {CHANNEL_WORDS[c]} {h}x{w}x{c} images; pass --convert to convert it")
    return img.astype(np.float32), describe_conversion(original, (h, w, c))


def run_invert(image, model_spec, layers=("last_conv",), seeds: int = 4, steps: int = 400, param: str = "pixel",
               lr: float = 0.1, tv_weight="auto", transforms: str = "none", dataset: str | None = None,
               seed: int = 0, convert: bool = False, out=Path("."), unsafe_deserialization: bool = False) -> dict:
    """Invert `image` (a path, or an [H, W, C] array) at each of `layers` of `model_spec` from
    `seeds` seeded starts (one batch per layer); write grid.png, original.png,
    ``<layer>_seed<k>.png`` and inversion.json under `out`; return the summary.

    A colour model's decorrelation is fitted from `dataset` (default: the shipped model's),
    when one is known.
    """
    from tfinterp.featureviz.inversion import Inverter
    from tfinterp.models import load_model, shipped_dataset
    from tfinterp.utils import write_json

    if isinstance(steps, bool) or int(steps) < 1:
        raise UserError(f"--steps must be a positive integer, got {steps}")
    if isinstance(seeds, bool) or int(seeds) < 1:
        raise UserError(f"--seeds must be a positive integer, got {seeds}")
    if param not in ("pixel", "fourier"):
        raise UserError(f"--param must be pixel or fourier, got '{param}'")
    layers = list(layers) or ["last_conv"]
    model = load_model(model_spec, unsafe_deserialization=unsafe_deserialization) \
        if isinstance(model_spec, (str, Path)) else model_spec
    from tfinterp.models.layers import resolve_layer

    for layer in layers:  # every layer checked before any work
        from tfinterp.featureviz.render import PRE

        resolve_layer(model, layer[:-len(PRE)] if layer.endswith(PRE) else layer)
    if isinstance(image, (str, Path)):
        img, conversion = read_image_for_inversion(image, model, convert)
        image_name = str(image)
    else:
        img, conversion, image_name = np.asarray(image, np.float32), None, "array"
    decor = None
    dataset = dataset or (shipped_dataset(model_spec) if isinstance(model_spec, (str, Path)) else None)
    if dataset is not None and img.shape[-1] == 3:
        from tfinterp.data import load_arrays
        from tfinterp.featureviz.param import fit_decorrelation

        decor = fit_decorrelation(load_arrays(dataset, "test", 500, materialize=True)[0])
    out = Path(out)
    import tensorflow as tf

    def predict(x):
        return np.asarray(model(tf.constant(np.asarray(x, np.float32)), training=False))

    p0 = predict(img[None])[0]
    rows, per_layer, files = [], [], []
    from tfinterp.data.imageio import write_png

    write_png(out / "original.png", img)
    for layer in layers:
        inv = Inverter(model, layer, param=param, steps=int(steps), lr=lr, tv_weight=tv_weight,
                       transforms=transforms, decorrelation=decor, seed=seed)
        r = inv.run(img, int(seeds))
        pred = predict(r.images)
        names = []
        for k, (rec, s) in enumerate(zip(r.images, r.settings["seeds"])):
            name = f"{_safe(layer)}_seed{s}.png"
            write_png(out / name, rec)
            names.append(name)
        files += names
        rows.append(r.images)
        spread = _pairwise_rms(r.images)
        per_layer.append({
            "layer": layer, "settings": r.settings, "seconds": round(r.seconds, 3),
            "rel_error": _rounded(r.rel_error), "loss": _rounded(r.loss), "pixel_rmse": _rounded(r.pixel_rmse),
            "rel_error_mean": float(np.mean(r.rel_error)), "pixel_rmse_mean": float(np.mean(r.pixel_rmse)),
            "seed_spread_rmse": spread, "predicted": pred.argmax(-1).tolist(), "files": names})
    from tfinterp.viz.inversion import save_inversion_grid

    stem = Path(str(model_spec)).stem if isinstance(model_spec, (str, Path)) else model.name
    save_inversion_grid(out / "grid.png", img, rows, layers, [d["rel_error"] for d in per_layer],
                        title=f"{stem}: inversion of {Path(image_name).name} ({param}, {int(steps)} steps); "
                              "columns: original, seeds; under each: relative representation error")
    summary = {"image": image_name, "conversion": conversion, "model": str(model_spec) if isinstance(
        model_spec, (str, Path)) else model.name, "untrained": bool(getattr(model, "untrained", False)),
        "seeds": int(seeds), "steps": int(steps), "param": param, "dataset": dataset,
        "original_predicted": int(np.argmax(p0)),
        "rel_error_definition": "||Phi(x) - Phi(x0)|| / ||Phi(x0)|| at the layer (no transforms)",
        "pixel_rmse_definition": "root-mean-square of x - x0 over pixels and channels, images in [0, 1]",
        "seed_spread_definition": "mean over pairs of seeds of the RMS pixel distance between their reconstructions",
        "layers": per_layer, "files": {"grid": "grid.png", "original": "original.png", "reconstructions": files}}
    write_json(out / "inversion.json", summary)
    return {**summary, "out": str(out)}


def _safe(part) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(part)).strip("._") or "layer"


def _rounded(v):
    return [float(f"{x:.6g}") for x in np.asarray(v, np.float64)]


def _pairwise_rms(images) -> float | None:
    n = len(images)
    if n < 2:
        return None
    d = [float(np.sqrt(((images[i] - images[j]) ** 2).mean())) for i in range(n) for j in range(i + 1, n)]
    return float(np.mean(d))


__all__ = ["run_invert", "read_image_for_inversion"]
