"""`tfinterp train protonet`: train a prototype network (Li et al. 2018) and draw its figures."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from tfinterp.cli.app import Strategy, app, train_app


@train_app.command("protonet")
def train_protonet_cmd(
    out: Path = typer.Option(..., "--out", help="Output folder (model, metrics JSON, figures, logs, backups)."),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML config file (its protonet table)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="mnist, fashion_mnist, or a tfds name."),
    prototypes: Optional[int] = typer.Option(None, "--prototypes", help="Number of prototypes (15)."),
    latent_dim: Optional[int] = typer.Option(None, "--latent-dim", help="Latent code size (40)."),
    epochs: Optional[int] = typer.Option(None, "--epochs"),
    decoder: Optional[str] = typer.Option(None, "--decoder", help="deconv (transposed convs), upconv (upsample+conv), "
                                          "or dense-deconv (a Dense layer, then the last two transposed convs)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size"),
    learning_rate: Optional[float] = typer.Option(None, "--lr", help="Adam learning rate (0.002)."),
    elastic: Optional[bool] = typer.Option(None, "--elastic/--no-elastic", help="Elastic deformation (Simard 2003)."),
    seed: Optional[int] = typer.Option(None, "--seed"),
    limit: Optional[int] = typer.Option(None, "--limit", help="Use only N training examples (seeded random subset)."),
    strategy: Optional[Strategy] = typer.Option(None, "--strategy", help="tf.distribute strategy."),
    mixed_precision: Optional[bool] = typer.Option(None, "--mixed-precision/--no-mixed-precision",
                                                   help="mixed_float16 policy (for GPUs)."),
    verbose: int = typer.Option(1, "--verbose", min=0, max=2, help="Keras progress: 0 silent, 1 bar, 2 line per epoch."),
):
    """Train a ProtoNet (encoder, decoder, prototypes; four-part loss). Resumes after an interruption."""
    from tfinterp.cli.common import merge, out_dir, quiet_tensorflow, read_config

    cfg_values = merge(
        read_config(config, "protonet"), dataset=dataset, prototypes=prototypes, latent_dim=latent_dim,
        epochs=epochs, decoder=decoder, batch_size=batch_size,
        learning_rate=learning_rate, elastic=elastic, seed=seed, limit=limit,
        strategy=strategy.value if strategy else None, mixed_precision=mixed_precision)
    quiet_tensorflow()
    from tfinterp.runs.protonet import train
    from tfinterp.training.protonet import ProtoNetConfig

    cfg = ProtoNetConfig.from_dict(cfg_values)
    folder = out_dir(out)
    result = train(cfg, folder, verbose=verbose, command="tfinterp " + " ".join(sys.argv[1:]))
    m, p = result["metrics"], result["prototypes"]
    missing = ", ".join(str(c) for c in p["classes_without_prototype"]) or "none"
    typer.echo(f"test accuracy {m['test_accuracy']:.4f} ({result['data']['test_examples']} test examples), "
               f"reconstruction error {m['test_reconstruction_error']:.2f}; classes without a prototype: {missing}")
    typer.echo(f"model: {folder / (result['stem'] + '.keras')}; metrics: {folder / (result['stem'] + '.json')}; "
               f"figures: {', '.join(result.get('figures', {}).values())}")


def _int_list(text: str, what: str) -> list[int]:
    from tfinterp.errors import UserError

    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UserError(f"{what} must be comma-separated integers, got '{text}'")


def _pairs(text: str) -> list[tuple[int, int]]:
    from tfinterp.errors import UserError

    out = []
    for item in (v.strip() for v in text.split(",") if v.strip()):
        a, sep, b = item.partition(":")
        if not sep or not a.strip().isdigit() or not b.strip().isdigit():
            raise UserError(f"--targeted takes source:target class pairs like 8:0, got '{item}'")
        out.append((int(a), int(b)))
    return out


@app.command("latent-attack")
def latent_attack_cmd(
    model: str = typer.Argument(..., help="A ProtoNet: shipped stem or .keras path."),
    out: Path = typer.Option(..., "--out", help="Output folder (figure PNG and JSON)."),
    dataset: str = typer.Option("mnist", "--dataset", help="Test images come from this data set."),
    untargeted: str = typer.Option("6,3", "--untargeted", help="Classes to attack untargeted (comma-separated)."),
    targeted: str = typer.Option("8:0", "--targeted", help="source:target class pairs (comma-separated)."),
    steps: str = typer.Option("0,10,20,50,100", "--steps", help="PGD iteration counts, one column each."),
    eps: float = typer.Option(0.3, "--eps", help="L-inf radius."),
    step_size: float = typer.Option(0.01, "--step-size", help="PGD step size per iteration."),
):
    """Decode PGD-attacked latent codes of a ProtoNet for increasing iteration counts (Zheng et al., Fig. 3)."""
    from tfinterp.cli.common import out_dir, quiet_tensorflow

    steps_l, unt, tgt = _int_list(steps, "--steps"), _int_list(untargeted, "--untargeted"), _pairs(targeted)
    quiet_tensorflow()
    from tfinterp.runs.latent_attack import latent_attack

    res = latent_attack(model, out_dir(out), dataset=dataset, untargeted=unt, targeted=tgt, steps=steps_l,
                        eps=eps, step_size=step_size, command="tfinterp " + " ".join(sys.argv[1:]))
    typer.echo(f"figure: {res['figure']}; predictions per iteration count: "
               + "; ".join(f"row {i}: {list(map(int, p))}" for i, p in enumerate(res["predicted"])))
