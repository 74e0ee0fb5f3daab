"""`tfinterp report neurons`: the neuron report of Baek, Jang & Cho ("Can we interpret the black
box?", sec. 4.2, Fig. 3) as static HTML pages.

Per neuron (a channel of a layer): its 2 top dataset examples (`tfinterp.analysis.examples.top_examples`),
2 feature visualizations (one from noise with the Lucid-style recipe, `tfinterp.featureviz.render`;
one from the neuron's top dataset example with the seed's "Madry" method,
`tfinterp.featureviz.madry_style.madry_render`), and Grid-CAM views of each of the 4 images at 4 crop
sizes. The Grid-CAM used is the neuron's own: `tfinterp.explain` method ``gridcam`` with
``neuron=(layer, channel)`` scores each sliding crop by the channel's mean activation on it
(the crop resized to the input), so a cell shows how strongly the crops containing it drive
this channel (not a class). The HTML is written by `tfinterp.viz.report_html`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from tfinterp.errors import UserError

GRID = 8  # Grid-CAM cells per side; the 4 crop sizes are gridcam's default levels (2, 3, 4, 5 cells)


def report_channels(spec, count: int, layer: str = "layer") -> list[int]:
    """The channels of the report: `spec` as `tfinterp.runs.featureviz.parse_channels` reads it
    (``"0-15"``, ``"0,3,8-11"``, ``"all"``, a list), checked against the layer's `count`
    channels; None means the first 16 (or all when fewer)."""
    from tfinterp.runs.featureviz import parse_channels

    if spec is None:
        return list(range(min(16, int(count))))
    if isinstance(spec, (int, np.integer)):
        spec = [int(spec)]
    return parse_channels(spec, int(count), layer)


def resolve_dataset(model_spec, dataset) -> str:
    """The data set of the dataset examples: `dataset`, else the one a shipped model was trained on."""
    from tfinterp.models import shipped_dataset

    dataset = dataset or shipped_dataset(model_spec)
    if dataset:
        return dataset
    raise UserError("give --dataset (the images to find the neuron's top examples in); only a shipped model "
                    "knows its own")


def load_model_and_images(model_spec, dataset, split, images, unsafe_deserialization=False):
    """(model, name, dataset, x [N, H, W, C]) for a job over a model's dataset examples."""
    from tfinterp.checks import check_images, model_image_shape
    from tfinterp.data import load_arrays
    from tfinterp.models import load_model

    model = (load_model(model_spec, unsafe_deserialization=unsafe_deserialization)
             if isinstance(model_spec, str) else model_spec)
    name = Path(model_spec).stem if isinstance(model_spec, str) else getattr(model, "name", "model")
    dataset = resolve_dataset(model_spec, dataset)
    if images is not None and int(images) < 1:
        raise UserError(f"--images must be >= 1, got {images}")
    x, _ = load_arrays(dataset, split, images, materialize=True)
    x = check_images(x, model_image_shape(model))
    return model, name, dataset, x


def render_layer(model, layer: str, pre: bool = True) -> str:
    """The layer name the render from noise maximizes: the pre-activation ``layer:pre`` (lucid's
    ``*_pre_relu``: a ReLU channel that is 0 on the noise image has no gradient, its
    pre-activation does) when `pre` and the layer has one (a Conv or Dense layer), else `layer`."""
    if not pre:
        return layer
    from tfinterp.featureviz.render import PRE, activation_fn

    try:
        activation_fn(model, [layer + PRE])
    except UserError:  # no fused activation to look under (a pooling layer, say): the layer itself
        return layer
    return layer + PRE


def neuron_visualizations(model, layer, channels, starts, steps=256, madry_steps=200, madry_eps=None,
                          param="fourier", pre=True, images=None, seed=0, batch_size=32, progress=True) -> dict:
    """The report's two feature visualizations per channel, as the seed makes them (sec. 5.1.3):
    ``noise``: the Lucid-style render from noise (`featureviz.render`, lucid transforms,
    Fourier parameterization; of the pre-activation, `render_layer`); ``dataset``: the
    Madry-style render from `starts` (one dataset example per channel, where the channel is
    active, `featureviz.madry_style.madry_render`). A colour model's render from noise uses
    the colour decorrelation fitted from `images` (the data set, `featureviz.param.fit_decorrelation`).
    Arrays [n, H, W, C] in [0, 1], and ``render_layer``."""
    from tfinterp.featureviz import objectives_for_channels, render
    from tfinterp.featureviz.madry_style import madry_render

    chans = [int(c) for c in channels]
    objective = objectives_for_channels(layer, chans)
    noise_layer = render_layer(model, layer, pre)
    decor = None
    if images is not None and np.shape(images)[-1] == 3:
        from tfinterp.featureviz.param import fit_decorrelation

        decor = fit_decorrelation(images, seed=seed)
    noise = render(model, objectives_for_channels(noise_layer, chans), param=param, steps=int(steps), seed=seed,
                   decorrelation=decor, batch_size=batch_size, progress=progress).images
    kw = {} if madry_eps is None else {"eps": float(madry_eps)}
    data = madry_render(model, objective, np.asarray(starts, np.float32), steps=int(madry_steps),
                        batch_size=batch_size, progress=progress, **kw).images
    return {"noise": np.clip(np.asarray(noise, np.float32), 0, 1),
            "dataset": np.clip(np.asarray(data, np.float32), 0, 1), "render_layer": noise_layer}


def gridcam_levels(model, layer, channel, images, grid=GRID, batch_size=8) -> tuple[np.ndarray, list[int]]:
    """Grid-CAM maps of `images` for neuron (`layer`, `channel`) at each of gridcam's crop sizes:
    [levels, N, H, W] in [0, 1], and the sizes in cells."""
    from tfinterp.explain import get_explainer

    sizes = list(get_explainer("gridcam", model, grid=grid, batch_size=batch_size).sizes)
    maps = [get_explainer("gridcam", model, grid=grid, level=k + 1, neuron=[layer, int(channel)],
                          batch_size=batch_size).explain(images) for k in range(len(sizes))]
    return np.stack(maps), sizes


def run_neuron_report(model_spec, layer="last_conv", channels=None, dataset=None, split="test", images=2000,
                      steps=256, madry_steps=200, madry_eps=None, param="fourier", pre=True, reduce="mean",
                      grid=GRID, seed=0, batch_size=32, out=None, progress=True,
                      unsafe_deserialization=False) -> dict:
    """Write the neuron report (Baek et al. sec. 4.2) of `channels` of `layer` into `out`:
    ``index.html``, ``neuron_<c>.html`` each, ``img/``, and ``report.json`` (what each panel
    is, the activations, the timings). `images` dataset images of `split` are searched for
    the top examples (activation: the channel map's spatial `reduce`, ``mean`` as the seed's
    pooled representation); the Lucid-style render takes `steps`, the Madry-style one
    `madry_steps` (the seed: 200, and "larger than 150"); `pre`: the render from noise
    maximizes the channel's pre-activation (`render_layer`)."""
    from tfinterp.analysis.examples import layer_activations, layer_channels, top_examples
    from tfinterp.utils import write_json
    from tfinterp.viz.report_html import write_neuron_report

    if out is None:
        raise UserError("give an output folder (--out)")
    for name, v in (("steps", steps), ("madry_steps", madry_steps)):
        if int(v) < 1:
            raise UserError(f"{name} must be >= 1, got {v}")
    t0 = time.perf_counter()
    model, model_name, dataset, x = load_model_and_images(model_spec, dataset, split, images, unsafe_deserialization)
    chans = report_channels(channels, layer_channels(model, layer), layer)
    if len(x) < 2:
        raise UserError(f"the report needs at least 2 dataset images, got {len(x)}")
    top = top_examples(model, layer, x, k=2, reduce=reduce, batch_size=max(64, batch_size), progress=progress)
    starts = x[top.indices[chans, 0]]
    t1 = time.perf_counter()
    fv = neuron_visualizations(model, layer, chans, starts, steps=steps, madry_steps=madry_steps,
                               madry_eps=madry_eps, param=param, pre=pre, images=x, seed=seed, batch_size=batch_size,
                               progress=progress)
    noise_layer = fv.pop("render_layer")
    t2 = time.perf_counter()
    fv_acts = {k: layer_activations(model, layer, v, reduce=reduce) for k, v in fv.items()}
    bar = None
    if progress:
        import keras

        print(f"Grid-CAM of {len(chans)} neurons at 4 crop sizes:", file=sys.stderr)
        bar = keras.utils.Progbar(len(chans), unit_name="neuron")
    neurons, record = [], []
    sizes = None
    for i, c in enumerate(chans):
        idx = [int(v) for v in top.indices[c, :2]]
        imgs = np.stack([x[idx[0]], x[idx[1]], fv["noise"][i], fv["dataset"][i]])
        maps, sizes = gridcam_levels(model, layer, c, imgs, grid=grid)
        acts = [float(top.values[c, 0]), float(top.values[c, 1]), float(fv_acts["noise"][i, c]),
                float(fv_acts["dataset"][i, c])]
        titles = [f"dataset example 1 (image {idx[0]})", f"dataset example 2 (image {idx[1]})",
                  "feature visualization from noise (Lucid-style)",
                  f"feature visualization from image {idx[0]} (Madry-style)"]
        panels = [{"title": t, "image": im, "maps": [maps[k, j] for k in range(len(sizes))],
                   "caption": f"activation {a:.4g}"} for j, (t, im, a) in enumerate(zip(titles, imgs, acts))]
        neurons.append({"channel": c, "panels": panels,
                        "stats": {"top activation": acts[0], "noise render": acts[2], "Madry render": acts[3]}})
        record.append({"channel": c, "examples": idx, "activations": dict(zip(
            ["example_1", "example_2", "fv_noise", "fv_dataset"], acts))})
        if bar is not None:
            bar.add(1)
    t3 = time.perf_counter()
    pooled = " (the seed's average-pooled representation)" if reduce == "mean" else ""
    notes = (f"Activation: the channel map's spatial {reduce}{pooled}. Dataset "
             f"examples: the top 2 of {len(x)} {dataset} {split} images. Feature visualizations: Lucid-style from "
             f"noise ({param} parameterization, lucid transforms, {steps} steps, maximizing {noise_layer}); "
             f"Madry-style from the neuron's top "
             f"example ({madry_steps} L2 steps). Grid-CAM: the neuron's own (each sliding crop scored by the "
             f"channel's mean activation), a {grid}x{grid} grid, crops of {', '.join(map(str, sizes))} cells; "
             f"maps are scaled to [0, 1] per image.")
    pages = write_neuron_report(Path(out), neurons, layer=layer, model=model_name, grid=grid, sizes=sizes,
                                notes=notes, extra={"data set": f"{dataset} {split}, {len(x)} images",
                                                    "channels": f"{len(chans)} of {top.channels}"})
    summary = {"model": model_name, "layer": layer, "dataset": dataset, "split": split, "images": int(len(x)),
               "channels": chans, "reduce": reduce, "steps": int(steps), "madry_steps": int(madry_steps),
               "param": param, "render_layer": noise_layer, "grid": grid, "gridcam_sizes": sizes,
               "gridcam": "neuron Grid-CAM: each crop scored by the channel's mean activation",
               "neurons": record, "seconds": {"examples": round(t1 - t0, 2), "feature_visualization": round(t2 - t1, 2),
                                              "gridcam": round(t3 - t2, 2)},
               "index": pages["index"], "pages": pages["pages"]}
    summary["json"] = str(write_json(Path(out) / "report.json", summary))
    return summary
