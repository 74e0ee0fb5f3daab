"""`tfinterp visualize invert IMAGE --model M --layer L`: model inversion (Mahendran & Vedaldi
2015). Thin: parse, call `tfinterp.runs.inversion`, print."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from tfinterp.cli.app import visualize_app
from tfinterp.cli.common import unsafe_help


@visualize_app.command("invert")
def invert_cmd(
    image: Path = typer.Argument(..., help="The image whose representation is inverted (PNG, JPEG, BMP, GIF)."),
    model: str = typer.Option(..., "--model", help="Shipped model stem, zoo name or .keras path."),
    layer: List[str] = typer.Option([], "--layer", help="Layer to invert: an alias, a path or a unique name "
                                    "(name:pre for the pre-activation); repeatable, one grid row each "
                                    "(default: last_conv)."),
    seeds: int = typer.Option(4, "--seeds", help="Reconstructions from different random starts, in one batch."),
    steps: int = typer.Option(400, "--steps", help="Adam steps (>= 1)."),
    param: str = typer.Option("pixel", "--param", help="Parameterization: pixel (the paper's) or fourier."),
    lr: float = typer.Option(0.1, "--lr", help="Adam learning rate (divided by 10 for the last fifth)."),
    tv_weight: str = typer.Option("auto", "--tv-weight", help="lambda of the TV^2 prior: paper (1, 10, 100 for "
                                  "shallow, middle, deep layers, set for 227-px images), auto (those scaled by "
                                  "(size/227)^2) or a number >= 0."),
    transforms: str = typer.Option("none", "--transforms", help="none (the paper) or lucid (random jitter etc.)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Data set for a colour model's decorrelation "
                                          "(default: the shipped model's)."),
    seed: int = typer.Option(0, "--seed", help="Base seed of the starting noise."),
    convert: bool = typer.Option(False, "--convert", help="Convert a grey image for an RGB model (or back) "
                                 "instead of refusing it."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (grid.png, original.png, one PNG per "
                                       "reconstruction, inversion.json). Default: "
                                       "runs/visualize/invert_<model stem>_<image stem>/."),
    unsafe_deserialization: bool = typer.Option(False, "--unsafe-deserialization", help=unsafe_help()),
):
    """Reconstruct images whose representation at a layer matches IMAGE's (Mahendran & Vedaldi 2015)."""
    from tfinterp.cli.common import _safe, model_stem, out_dir
    from tfinterp.errors import UserError
    from tfinterp.runs.inversion import run_invert

    for name, v in (("--steps", steps), ("--seeds", seeds)):
        if v < 1:
            raise UserError(f"{name} must be a positive integer, got {v}")
    if param not in ("pixel", "fourier"):
        raise UserError(f"--param must be pixel or fourier, got '{param}'")
    if transforms not in ("none", "lucid"):
        raise UserError(f"--transforms must be none or lucid, got '{transforms}'")
    if not lr > 0:
        raise UserError(f"--lr must be > 0, got {lr}")
    tvw = tv_weight
    if tv_weight not in ("auto", "paper"):
        try:
            tvw = float(tv_weight)
        except ValueError:
            raise UserError(f"--tv-weight must be auto, paper or a number >= 0, got '{tv_weight}'")
        if not tvw >= 0:
            raise UserError(f"--tv-weight must be auto, paper or a number >= 0, got '{tv_weight}'")
    if not image.exists():
        raise UserError(f"image not found: {image}")
    folder = out_dir(out if out is not None else Path("runs") / "visualize" /
                     f"invert_{_safe(model_stem(model))}_{_safe(image.stem)}")
    r = run_invert(image, model, layers=tuple(layer) or ("last_conv",), seeds=seeds, steps=steps, param=param,
                   lr=lr, tv_weight=tvw, transforms=transforms, dataset=dataset, seed=seed, convert=convert,
                   out=folder, unsafe_deserialization=unsafe_deserialization)
    if r["conversion"]:
        typer.echo(f"note: {r['conversion']}", err=True)
    for d in r["layers"]:
        errs = ", ".join(f"{e:.3f}" for e in d["rel_error"])
        typer.echo(f"{d['layer']}: relative representation error {errs} (mean {d['rel_error_mean']:.3f}); "
                   f"pixel RMSE mean {d['pixel_rmse_mean']:.3f}; {d['seconds']:.1f} s")
    typer.echo(f"grid.png, {len(r['files']['reconstructions'])} reconstruction PNG(s) and inversion.json "
               f"written to {folder}/")
