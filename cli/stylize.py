"""`tfinterp train style-decoder`: the AdaIN decoder of the ``adain`` stylizer."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from tfinterp.cli.app import train_app
from tfinterp.cli.common import OUT_RULES, out_help

OUT_RULES.setdefault("train-style-decoder", "<encoder>_<dataset>")


@train_app.command("style-decoder")
def train_style_decoder_cmd(
    out: Optional[Path] = typer.Option(None, "--out", help=out_help("train-style-decoder", "style_decoder.keras, "
                                       ".json and .png")),
    dataset: str = typer.Option("fashion_mnist", "--dataset", help="Content images: a data set's training split."),
    limit: Optional[int] = typer.Option(2000, "--limit", min=1, help="Content images used."),
    epochs: int = typer.Option(2, "--epochs", min=1),
    batch_size: int = typer.Option(32, "--batch-size", min=1),
    learning_rate: float = typer.Option(1e-3, "--lr"),
    style_weight: float = typer.Option(1.0, "--style-weight", min=0.0, help="lambda of Huang & Belongie's loss."),
    encoder: str = typer.Option("random", "--encoder", help="random (offline, Ustyuzhaninov et al. 2017) or vgg19 "
                                "(ImageNet weights)."),
    style_dir: Optional[Path] = typer.Option(None, "--style-dir", help="Folder of style images (default: "
                                             "scikit-image textures + seeded textures)."),
    seed: int = typer.Option(0, "--seed", min=0),
    verbose: int = typer.Option(1, "--verbose", min=0, max=2),
):
    """Train the AdaIN decoder (Huang & Belongie 2017) for `--stylize adain`."""
    from tfinterp.cli.common import resolve_out
    from tfinterp.runs.style_decoder import train_style_decoder_run

    folder = resolve_out(out, "train-style-decoder", encoder, dataset)
    s = train_style_decoder_run(dataset, folder, limit, epochs, batch_size, learning_rate, style_weight, encoder,
                                style_dir=style_dir, seed=seed, verbose=verbose,
                                command="tfinterp " + " ".join(sys.argv[1:]))
    typer.echo(f"decoder ({s['encoder']}): {s['decoder']}; final loss {s['history']['loss'][-1]:.4f} "
               f"(content {s['history']['content'][-1]:.4f}, style {s['history']['style'][-1]:.4f}); "
               f"written to {folder}/")
