"""`tfinterp train protonet`: train a prototype network (Li et al. 2018) and draw its figures."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Optional

import typer

from tfinterp.cli.app import Strategy, train_app


class Decoder(str, enum.Enum):
    deconv = "deconv"
    upconv = "upconv"


@train_app.command("protonet")
def train_protonet_cmd(
    out: Path = typer.Option(..., "--out", help="Output folder (model, metrics JSON, figures, logs, backups)."),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML config file with a [protonet] table."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="mnist, fashion_mnist, or a tfds name."),
    prototypes: Optional[int] = typer.Option(None, "--prototypes", min=1, help="Number of prototypes (15)."),
    latent_dim: Optional[int] = typer.Option(None, "--latent-dim", min=1, help="Latent code size (40)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1),
    decoder: Optional[Decoder] = typer.Option(None, "--decoder", help="Transposed convs or upsample+conv."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1),
    learning_rate: Optional[float] = typer.Option(None, "--lr", help="Adam learning rate (0.002)."),
    elastic: Optional[bool] = typer.Option(None, "--elastic/--no-elastic", help="Elastic deformation (Simard 2003)."),
    seed: Optional[int] = typer.Option(None, "--seed"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Use only the first N training examples."),
    strategy: Optional[Strategy] = typer.Option(None, "--strategy", help="tf.distribute strategy."),
    mixed_precision: Optional[bool] = typer.Option(None, "--mixed-precision/--no-mixed-precision",
                                                   help="mixed_float16 policy (for GPUs)."),
    verbose: int = typer.Option(1, "--verbose", min=0, max=2, help="Keras progress: 0 silent, 1 bar, 2 line per epoch."),
):
    """Train a ProtoNet (encoder, decoder, prototypes; four-part loss). Resumes after an interruption."""
    from tfinterp.cli.common import merge, out_dir, quiet_tensorflow, read_config

    quiet_tensorflow()
    from tfinterp.training.protonet import ProtoNetConfig, train_protonet

    cfg = ProtoNetConfig.from_dict(merge(
        read_config(config, "protonet"), dataset=dataset, prototypes=prototypes, latent_dim=latent_dim,
        epochs=epochs, decoder=decoder.value if decoder else None, batch_size=batch_size,
        learning_rate=learning_rate, elastic=elastic, seed=seed, limit=limit,
        strategy=strategy.value if strategy else None, mixed_precision=mixed_precision))
    folder = out_dir(out)
    result = train_protonet(cfg, folder, verbose=verbose, command="tfinterp " + " ".join(sys.argv[1:]))
    m, p = result["metrics"], result["prototypes"]
    missing = ", ".join(str(c) for c in p["classes_without_prototype"]) or "none"
    typer.echo(f"test accuracy {m['test_accuracy']:.4f} ({result['data']['test_examples']} test examples), "
               f"reconstruction error {m['test_reconstruction_error']:.2f}; classes without a prototype: {missing}")
    typer.echo(f"model: {folder / (result['stem'] + '.keras')}; metrics: {folder / (result['stem'] + '.json')}; "
               f"figures: {', '.join(result.get('figures', {}).values())}")
