"""`tfinterp report neurons`: the neuron report of Baek, Jang & Cho ("Can we interpret the black
box?", sec. 4.2) as static HTML. Thin: parse, call `tfinterp.runs.report`, print."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from tfinterp.cli.app import report_app
from tfinterp.cli.common import unsafe_help

_MODEL = "Shipped model stem, zoo name or .keras path."
_LAYER = "Layer: an alias (last_conv, pool5, ...), a path (outer/inner) or a unique layer name."


@report_app.command("neurons")
def neurons_cmd(
    model: str = typer.Argument(..., help=_MODEL),
    layer: str = typer.Option("last_conv", "--layer", help=_LAYER),
    channels: Optional[str] = typer.Option(None, "--channels",
                                           help="Channels: 0-15, 0,3,8-11, all (default: the first 16)."),
    images: int = typer.Option(2000, "--images", help="Dataset images searched for the top examples."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Images (default: a shipped model's own data set)."),
    split: str = typer.Option("test", "--split"),
    steps: int = typer.Option(256, "--steps", help="Steps of the Lucid-style render from noise."),
    madry_steps: int = typer.Option(200, "--madry-steps", help="L2 steps of the Madry-style render (the seed: 200)."),
    param: str = typer.Option("fourier", "--param", help="Parameterization of the render from noise: fourier|pixel."),
    pre: bool = typer.Option(True, "--pre/--no-pre", help="The render from noise maximizes the channel's "
                             "pre-activation (lucid's pre_relu; a dead ReLU has no gradient) where the layer has one."),
    reduce: str = typer.Option("mean", "--reduce", help="A channel's activation: the spatial mean or max of its map."),
    seed: int = typer.Option(0, "--seed", min=0),
    batch_size: int = typer.Option(32, "--batch-size", min=1),
    out: Path = typer.Option(..., "--out", help="Output folder: index.html, neuron_<c>.html, img/, report.json."),
    unsafe_deserialization: bool = typer.Option(False, "--unsafe-deserialization", help=unsafe_help()),
):
    """Neuron report (Baek et al.): per neuron 2 top examples, 2 feature visualizations, Grid-CAM at 4 crop sizes."""
    from tfinterp.cli.common import out_dir
    from tfinterp.errors import UserError
    from tfinterp.runs.report import run_neuron_report

    if reduce not in ("mean", "max"):
        raise UserError(f"--reduce must be mean or max, got '{reduce}'")
    if param not in ("fourier", "pixel"):
        raise UserError(f"--param must be fourier or pixel, got '{param}'")
    r = run_neuron_report(model, layer=layer, channels=channels, dataset=dataset, split=split, images=images,
                          steps=steps, madry_steps=madry_steps, param=param, pre=pre, reduce=reduce, seed=seed,
                          batch_size=batch_size, out=out_dir(out), unsafe_deserialization=unsafe_deserialization)
    typer.echo(f"{len(r['channels'])} neuron pages of {r['layer']} ({r['model']}): open {r['index']} in a browser "
               f"(no server needed); report.json beside it")
