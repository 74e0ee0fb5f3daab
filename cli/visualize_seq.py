"""`tfinterp visualize filters MODEL` and `tfinterp visualize class-optimize MODEL`: the
model-level views of a one-hot sequence model (first-layer filters as PSSM logos, Fontal
2017; convolution-activation motifs, Alipanahi et al. 2015; class optimization to a motif,
Simonyan et al. 2014 as Fontal applies it). Thin: parse, call
`tfinterp.runs.sequence_views`, print."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from tfinterp.cli.app import visualize_app
from tfinterp.cli.common import unsafe_help

_MOTIFS = ("Known PWMs to match: planted (the planted generator's GATA, TATA, EBOX, AP1), none, or a JSON file "
           "{name: [[pA, pC, pG, pT], ...]} (default: planted for a model or data set of planted sequences).")


def _folder(out, command, model):
    from tfinterp.cli.common import _safe, model_stem, out_dir

    return out_dir(out if out is not None else Path("runs") / "visualize" / f"{_safe(model_stem(model))}_{command}")


@visualize_app.command("filters")
def filters_cmd(
    model: str = typer.Argument(..., help="Shipped model stem, zoo name or .keras path of a one-hot sequence model "
                                "whose first layer is a Conv1D."),
    data: Optional[str] = typer.Option(None, "--data", help="Sequences for the activation motifs: planted[:n=..,"
                                       "length=..,seed=..] or a FASTA / sequence,label file (default: the shipped "
                                       "model's data set, else planted, seed 1: not the training sequences)."),
    motifs: Optional[str] = typer.Option(None, "--motifs", help=_MOTIFS),
    limit: int = typer.Option(2000, "--limit", help="Sequences read for the activation motifs."),
    threshold: float = typer.Option(0.5, "--threshold", help="A window counts when its activation is at least this "
                                    "fraction of the filter's maximum (Alipanahi et al.; 0.5 as Basset)."),
    all_windows: bool = typer.Option(False, "--all-windows", help="Every window above the threshold counts, not "
                                     "only each sequence's best (DeepBind's rule)."),
    both_strands: bool = typer.Option(False, "--both-strands", help="Also match the reverse complement (DNA)."),
    draws: int = typer.Option(200, "--draws", help="Shuffled-PWM draws of the chance level."),
    batch_size: int = typer.Option(256, "--batch-size", help="Sequences per forward pass."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (filters_pssm.png, activation_motifs.png, "
                                       "motifs.png, filters.json). Default: runs/visualize/<model stem>_filters/."),
    unsafe_deserialization: bool = typer.Option(False, "--unsafe-deserialization", help=unsafe_help()),
):
    """First-layer Conv1D filters as PSSM logos and as convolution-activation motifs, matched to known PWMs."""
    from tfinterp.errors import UserError
    from tfinterp.runs.sequence_views import run_filters

    for name, v in (("--limit", limit), ("--draws", draws), ("--batch-size", batch_size)):
        if v < 1:
            raise UserError(f"{name} must be a positive integer, got {v}")
    if not 0 <= threshold <= 1:
        raise UserError(f"--threshold must be in [0, 1] (a fraction of each filter's maximum), got {threshold}")
    folder = _folder(out, "filters", model)
    r = run_filters(model, data=data, motifs=motifs, limit=limit, threshold=threshold,
                    per_sequence="all" if all_windows else "max", both_strands=both_strands, draws=draws,
                    batch_size=batch_size, out=folder, unsafe_deserialization=unsafe_deserialization)
    typer.echo(f"{len(r['filters'])} filters of '{r['layer']}' (width {r['kernel_size']}), activation motifs over "
               f"{r['sequences']} sequences ({r['seconds']:.1f} s)")
    for name, pm in r["per_motif"].items():
        parts = []
        for key, label in (("pssm", "filter logo"), ("activation", "activation motif")):
            m = pm[key]
            if m is not None:
                parts.append(f"{label} {m['filter']} r={m['pearson']:.2f} (chance p95 "
                             f"{m['chance']['pearson']['p95']:.2f}), KL {m['kl']:.2f} bits")
        typer.echo(f"  {name}: " + "; ".join(parts))
    typer.echo(f"{', '.join(r['files'].values())} and filters.json written to {folder}/")


@visualize_app.command("class-optimize")
def class_optimize_cmd(
    model: str = typer.Argument(..., help="Shipped model stem, zoo name or .keras path of a one-hot sequence model."),
    classes: str = typer.Option("all", "--classes", help="Classes, one PPM each: all, 1,3 or 0-2."),
    steps: int = typer.Option(300, "--steps", help="Projected Adam steps (>= 1)."),
    lr: float = typer.Option(0.05, "--lr", help="Adam learning rate."),
    gamma: float = typer.Option(0.01, "--gamma", help="L2 weight: score - gamma ||X||^2 (> 0 keeps positions the "
                                "score ignores uniform; < 0 pushes rows to one-hot)."),
    width: Optional[int] = typer.Option(None, "--width", help="Width of the motif window (default: the first "
                                        "Conv1D's kernel size, else 8)."),
    motifs: Optional[str] = typer.Option(None, "--motifs", help=_MOTIFS),
    both_strands: bool = typer.Option(False, "--both-strands", help="Also match the reverse complement (DNA)."),
    draws: int = typer.Option(200, "--draws", help="Shuffled-PWM draws of the chance level."),
    seed: int = typer.Option(0, "--seed", help="Seed of the starting noise."),
    restarts: int = typer.Option(4, "--restarts", help="Random starts per class; the best final score is kept."),
    batch_size: int = typer.Option(32, "--batch-size", help="Starts optimized together."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (class_<c>.png, class_optimization.png, "
                                       "class_optimize.json). Default: runs/visualize/<model stem>_class-optimize/."),
    unsafe_deserialization: bool = typer.Option(False, "--unsafe-deserialization", help=unsafe_help()),
):
    """Class optimization (pre-softmax score minus L2, kept a PPM by projection) to one motif logo per class."""
    from tfinterp.errors import UserError
    from tfinterp.runs.sequence_views import run_class_optimize

    for name, v in (("--steps", steps), ("--draws", draws), ("--batch-size", batch_size), ("--restarts", restarts)):
        if v < 1:
            raise UserError(f"{name} must be a positive integer, got {v}")
    if not lr > 0:
        raise UserError(f"--lr must be > 0, got {lr}")
    if width is not None and width < 1:
        raise UserError(f"--width must be a positive integer, got {width}")
    folder = _folder(out, "class-optimize", model)
    r = run_class_optimize(model, classes=classes, motifs=motifs, steps=steps, lr=lr, gamma=gamma, width=width,
                           seed=seed, both_strands=both_strands, draws=draws, batch_size=batch_size, restarts=restarts,
                           out=folder,
                           unsafe_deserialization=unsafe_deserialization)
    typer.echo(f"{len(r['classes'])} class(es), {steps} steps ({r['seconds']:.1f} s):")
    for e in r["classes"]:
        m = e["match"]
        line = f"  class {e['class']} ({e['name']}): score {e['score']:.3g}, window {e['window'][0]}-{e['window'][1]}"
        if m:
            line += (f"; best match {m['motif']} r={m['pearson']:.2f} (chance p95 {m['chance']['pearson']['p95']:.2f}),"
                     f" KL {m['kl']:.2f} bits")
        typer.echo(line)
    typer.echo(f"{', '.join(r['files'].values())} and class_optimize.json written to {folder}/")
