"""Attack commands: `tfinterp attack` (adversarial examples, figure, pixel statistics) and
`tfinterp detect` (the Gaussian detector's ROC). Thin: parse, call `tfinterp.runs.attack`, print."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from tfinterp.cli.app import app
from tfinterp.cli.common import out_help, unsafe_help


@app.command("attack")
def attack_cmd(
    model: str = typer.Argument(..., help="Shipped model stem, zoo name or .keras path."),
    method: str = typer.Option("pgd", "--method", help="pgd, fgsm, ifgs (iterative targeted FGS), ensemble, cw."),
    dataset: str = typer.Option(..., "--dataset", help="Data set whose images are attacked (mnist, fashion_mnist, ...)."),
    split: str = typer.Option("test", "--split"),
    limit: int = typer.Option(100, "--limit", min=1, help="Attack the first N images."),
    eps: Optional[float] = typer.Option(None, "--eps", help="Radius of the eps ball (L-inf, or L2 with --norm l2)."),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="Iterations."),
    step_size: Optional[float] = typer.Option(None, "--step-size", help="Step size (PGD default 2.5 * eps / steps)."),
    norm: Optional[str] = typer.Option(None, "--norm", help="pgd: inf or l2."),
    loss: Optional[str] = typer.Option(None, "--loss", help="pgd / fgsm: ce or margin (C&W)."),
    restarts: Optional[int] = typer.Option(None, "--restarts", min=1, help="pgd: random restarts (worst case kept)."),
    target: Optional[str] = typer.Option(None, "--target",
                                         help="Targeted attack: random, least_likely or a class index."),
    ensemble: Optional[str] = typer.Option(None, "--ensemble",
                                           help="ensemble: extra models (comma-separated) attacked with MODEL."),
    defense: Optional[str] = typer.Option(None, "--defense", help="threshold or threshold:MU (BPDA attack through it)."),
    batch_size: int = typer.Option(256, "--batch-size", min=1),
    seed: int = typer.Option(0, "--seed", min=0),
    out: Optional[Path] = typer.Option(None, "--out", help=out_help("attack", "adversarial.npz, examples.png, "
                                       "summary.json, pixel_stats")),
    unsafe_deserialization: bool = typer.Option(False, "--unsafe-deserialization",
                                                help=unsafe_help(".keras files (the model and any --ensemble ones)")),
):
    """Craft adversarial examples: .npz, a figure of originals / adversarials / perturbations, pixel statistics."""
    from tfinterp.cli.common import model_stem, resolve_out
    from tfinterp.runs.attack import run_attack

    folder = resolve_out(out, "attack", model_stem(model), dataset, method)
    s = run_attack(model, method=method, dataset=dataset, split=split, limit=limit, eps=eps, steps=steps,
                   step_size=step_size, norm=norm, loss=loss, restarts=restarts, target=target,
                   ensemble=ensemble, defense=defense, batch_size=batch_size, seed=seed, out=folder,
                   command="tfinterp " + " ".join(sys.argv[1:]), unsafe_deserialization=unsafe_deserialization)
    typer.echo(f"{s['method']}: accuracy {s['clean_accuracy']:.4f} -> {s['adversarial_accuracy']:.4f} on "
               f"{s['examples']} images"
               + (f", target reached {s['target_success']:.4f}" if s.get("target_success") is not None else "")
               + f" ({s['seconds']:.2f} s); adversarial.npz and examples.png written to {folder}/")


@app.command("detect")
def detect_cmd(
    model: str = typer.Argument(..., help="Shipped model stem, zoo name or .keras path."),
    dataset: str = typer.Option(..., "--dataset", help="Training images fit the Gaussians; test images are scored."),
    layer: str = typer.Option("features", "--layer", help="Representation layer (alias or path)."),
    method: str = typer.Option("pgd", "--method", help="Attack producing the adversarial inputs (pgd, ensemble, ...)."),
    eps: Optional[float] = typer.Option(None, "--eps"),
    steps: Optional[int] = typer.Option(None, "--steps", min=1),
    limit: int = typer.Option(1000, "--limit", min=1, help="Test images to score (natural and attacked)."),
    fit_limit: Optional[int] = typer.Option(None, "--fit-limit", min=1, help="Training images for the fit."),
    batch_size: int = typer.Option(256, "--batch-size", min=1),
    seed: int = typer.Option(0, "--seed", min=0),
    out: Optional[Path] = typer.Option(None, "--out", help=out_help("detect", "detector.json, roc.png")),
    unsafe_deserialization: bool = typer.Option(False, "--unsafe-deserialization",
                                                help=unsafe_help()),
):
    """Class-conditional Gaussian detector (Dong et al.): ROC AUC of natural vs adversarial inputs."""
    from tfinterp.cli.common import model_stem, resolve_out
    from tfinterp.runs.attack import run_detector

    folder = resolve_out(out, "detect", model_stem(model), dataset)
    r = run_detector(model, dataset=dataset, layer=layer, method=method, eps=eps, steps=steps, limit=limit,
                     fit_limit=fit_limit, batch_size=batch_size, seed=seed, out=folder,
                     unsafe_deserialization=unsafe_deserialization)
    typer.echo(f"detector on '{layer}': ROC AUC {r['auc']:.4f} ({r['natural']} natural vs {r['adversarial']} "
               f"successful {method} examples); detector.json and roc.png written to {folder}/")
