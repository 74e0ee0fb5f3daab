"""`tfinterp analyze adversarial-set | ratios | detect | trace` (Dong et al. 2017): thin: parse,
call `tfinterp.runs.analysis`, print. Default output folder: runs/analyze-<command>/<name>/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import List, Optional

import typer

from tfinterp.cli.app import analyze_app
from tfinterp.cli.common import unsafe_help


def _out(out, command, *parts) -> Path:
    from tfinterp.cli.common import out_dir

    if out is None:
        name = "_".join(re.sub(r"[^A-Za-z0-9._-]+", "_", str(p)).strip("._") or "out" for p in parts if p)
        out = Path("runs") / f"analyze-{command}" / name
    return out_dir(out)


def _stem(spec) -> str:
    from tfinterp.cli.common import model_stem

    return model_stem(spec)


def _help(command, rule, holds):
    return f"Output folder ({holds}). Default: runs/analyze-{command}/{rule}/ in the current folder."


SET_HELP = "An adversarial set (.npz, or its folder) from `tfinterp analyze adversarial-set` for this model."


@analyze_app.command("adversarial-set")
def adversarial_set_cmd(
    model: str = typer.Argument(..., help="Shipped model stem, zoo name or .keras path (decides success)."),
    models: Optional[str] = typer.Option(None, "--models", help="Further models of the ensemble attack "
                                         "(comma-separated); targets are least likely over all of them."),
    dataset: str = typer.Option(..., "--dataset", help="Data set of the real images (fashion_mnist, mnist, ...)."),
    split: str = typer.Option("test", "--split"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="The first N real images (default all)."),
    k: int = typer.Option(10, "--k", min=1, help="Targets per real image: its k least-likely classes."),
    attack: str = typer.Option("ensemble", "--attack", help="ensemble (Dong et al.) or pgd (targeted)."),
    eps: Optional[float] = typer.Option(None, "--eps", help="L-inf radius (pgd: default 0.3; ensemble: none)."),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="Iterations (ensemble 20, pgd 40)."),
    step_size: Optional[float] = typer.Option(None, "--step-size", help="Step (ensemble: Adam's 5/255)."),
    lam: Optional[float] = typer.Option(None, "--lam", help="ensemble: the weight of the L2 distance (0.05)."),
    chunk_size: int = typer.Option(100, "--chunk-size", min=1, help="Real images per resumable chunk."),
    batch_size: int = typer.Option(256, "--batch-size", min=1),
    seed: int = typer.Option(0, "--seed", min=0),
    fresh: bool = typer.Option(False, "--fresh", help="Replace a set (or unfinished build) of other settings."),
    out: Optional[Path] = typer.Option(None, "--out", help=_help("adversarial-set", "<model stem>_<dataset>_<attack>",
                                       "adversarial_set.npz, summary.json, examples.png")),
    unsafe_deserialization: bool = typer.Option(False, "--unsafe-deserialization", help=unsafe_help()),
):
    """The adversarial validation set: k targeted adversarial images per real image, resumable."""
    from tfinterp.runs.analysis import run_adversarial_set

    folder = _out(out, "adversarial-set", _stem(model), dataset, attack)
    s = run_adversarial_set(model, models=models, dataset=dataset, split=split, limit=limit, k=k, attack=attack,
                            eps=eps, steps=steps, step_size=step_size, lam=lam, chunk_size=chunk_size,
                            batch_size=batch_size, seed=seed, fresh=fresh, out=folder,
                            unsafe_deserialization=unsafe_deserialization)
    typer.echo(f"{s['attack']}: {s['adversarial_images']} adversarial images for {s['real_images']} real ones "
               f"(k={s['k']}), target reached {s['success_rate']:.4f}, mean L-inf {s['mean_linf']:.4f}, "
               f"L2 {s['mean_l2']:.3f} ({s['seconds']:.1f} s); adversarial_set.npz written to {folder}/")


@analyze_app.command("ratios")
def ratios_cmd(
    model: str = typer.Argument(..., help="Shipped model stem, zoo name or .keras path."),
    adversarial_set: Path = typer.Option(..., "--adversarial-set", help=SET_HELP),
    layer: str = typer.Option("last_conv", "--layer", help="Representation layer (alias or path)."),
    bank_limit: Optional[int] = typer.Option(None, "--bank-limit", min=2, help="Class banks from the first N "
                                             "images of the set's split (default: the set's own real images)."),
    all_examples: bool = typer.Option(False, "--all", help="Use every adversarial image, not only successful ones."),
    batch_size: int = typer.Option(256, "--batch-size", min=1),
    out: Optional[Path] = typer.Option(None, "--out", help=_help("ratios", "<model stem>_<layer>",
                                                                 "ratios.json, ratios.png")),
    unsafe_deserialization: bool = typer.Option(False, "--unsafe-deserialization", help=unsafe_help()),
):
    """Representation distance ratios r1 / r2 (Dong et al. Eqs. 6-7) per adversarial image."""
    from tfinterp.runs.analysis import run_ratios

    folder = _out(out, "ratios", _stem(model), layer)
    r = run_ratios(model, adversarial_set, layer=layer, bank_limit=bank_limit, successful_only=not all_examples,
                   batch_size=batch_size, out=folder, unsafe_deserialization=unsafe_deserialization)
    def num(v):
        return "n/a (no class with two real images)" if v is None else f"{v:.4f}"

    typer.echo(f"{layer}: mean r1 {num(r['mean_r1'])}, mean r2 {num(r['mean_r2'])} over {r['n']} adversarial images "
               f"({r['bank_images']} real images in the class banks); ratios.json and ratios.png written to {folder}/")


@analyze_app.command("detect")
def detect_cmd(
    model: str = typer.Argument(..., help="Shipped model stem, zoo name or .keras path."),
    adversarial_set: Path = typer.Option(..., "--adversarial-set", help=SET_HELP),
    layer: str = typer.Option("last_conv", "--layer", help="Representation layer (the paper: the last conv)."),
    pool: str = typer.Option("mean", "--pool", help="Conv maps to vectors: mean, max (over positions) or flatten."),
    fit_limit: int = typer.Option(10000, "--fit-limit", min=2, help="Training images that fit the Gaussians."),
    all_examples: bool = typer.Option(False, "--all", help="Score every adversarial image, not only successful ones."),
    batch_size: int = typer.Option(256, "--batch-size", min=1),
    out: Optional[Path] = typer.Option(None, "--out", help=_help("detect", "<model stem>_<layer>",
                                                                 "detector.json, roc.png")),
    unsafe_deserialization: bool = typer.Option(False, "--unsafe-deserialization", help=unsafe_help()),
):
    """The class-conditional Gaussian detector on a conv layer: ROC AUC of real vs adversarial images."""
    from tfinterp.runs.analysis import run_detect

    folder = _out(out, "detect", _stem(model), layer)
    r = run_detect(model, adversarial_set, layer=layer, pool=pool, fit_limit=fit_limit,
                   successful_only=not all_examples, batch_size=batch_size, out=folder,
                   unsafe_deserialization=unsafe_deserialization)
    typer.echo(f"detector on '{layer}' ({r['pool']}, {r['dim']} dims): ROC AUC {r['auc']:.4f} ({r['natural']} real "
               f"vs {r['adversarial']} adversarial images); detector.json and roc.png written to {folder}/")


@analyze_app.command("trace")
def trace_cmd(
    model: str = typer.Argument(..., help="Shipped model stem, zoo name or .keras path."),
    images: Optional[List[Path]] = typer.Argument(None, help="Image files (or .npy arrays) to trace."),
    adversarial_set: Optional[Path] = typer.Option(None, "--adversarial-set",
                                                   help=SET_HELP + " Traces one adversarial image and its source."),
    layer: str = typer.Option("last_conv", "--layer", help="The layer whose channels are traced."),
    pick: Optional[int] = typer.Option(None, "--pick", min=0, help="Which successful adversarial image (default 0)."),
    top: int = typer.Option(2, "--top", min=1, help="Top channels per image."),
    examples: int = typer.Option(6, "--examples", min=1, help="Dataset examples shown per channel."),
    similarity: Optional[Path] = typer.Option(None, "--similarity", help="A [K, K] class-similarity matrix "
                                              "(.npy or .json) for the C-weighted norm (default: identity)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="With image files: the data set whose test "
                                          "images give the dataset examples."),
    bank_limit: int = typer.Option(2000, "--bank-limit", min=1, help="Search dataset examples among N images."),
    batch_size: int = typer.Option(256, "--batch-size", min=1),
    out: Optional[Path] = typer.Option(None, "--out", help=_help("trace", "<model stem>_<layer>",
                                                                 "trace.json, trace.png")),
    unsafe_deserialization: bool = typer.Option(False, "--unsafe-deserialization", help=unsafe_help()),
):
    """Prediction-difference tracing: the channels a prediction rests on, with their dataset examples."""
    from tfinterp.runs.analysis import run_trace

    folder = _out(out, "trace", _stem(model), layer)
    r = run_trace(model, images=images or None, adversarial_set=adversarial_set, layer=layer, pick=pick, top=top,
                  examples=examples, similarity=similarity, dataset=dataset, bank_limit=bank_limit,
                  batch_size=batch_size, out=folder, unsafe_deserialization=unsafe_deserialization)
    for im in r["images"]:
        chans = ", ".join(f"#{c} ({p:.3g})" for c, p in zip(im["top_channels"], im["top_pd"]))
        typer.echo(f"{im['name']}: pred {im['pred']} ({im['prob']:.3f}); top channels of {layer} by PD: {chans}")
    typer.echo(f"trace.json and trace.png written to {folder}/")
