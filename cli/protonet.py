"""`tfinterp train protonet`: train a prototype network (Li et al. 2018) and draw its figures."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from tfinterp.cli.app import Strategy, app, train_app
from tfinterp.cli.common import out_help, unsafe_help
from tfinterp.training.protonet import DEFAULTS as D  # no TensorFlow: the defaults shown in --help


@train_app.command("protonet")
def train_protonet_cmd(
    out: Optional[Path] = typer.Option(None, "--out", help=out_help("train-protonet", "model, metrics JSON, "
                                       "figures, history, logs, backup; run again to resume an interrupted run")),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML config file (its protonet table); keys it "
                                          "leaves out keep the defaults, configs/protonet_fashion_mnist.toml."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="mnist, fashion_mnist, or a tfds name (default: "
                                          "fashion_mnist when its IDX files are installed, else mnist)."),
    prototypes: Optional[int] = typer.Option(None, "--prototypes", help=f"Number of prototypes ({D['prototypes']})."),
    latent_dim: Optional[int] = typer.Option(None, "--latent-dim", help=f"Latent code size ({D['latent_dim']})."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help=f"Training epochs ({D['epochs']})."),
    decoder: Optional[str] = typer.Option(None, "--decoder", help="deconv (transposed convs), upconv (upsample+conv), "
                                          "or dense-deconv (a Dense layer, then the last two transposed convs) "
                                          f"({D['decoder']})."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help=f"Batch size ({D['batch_size']})."),
    learning_rate: Optional[float] = typer.Option(None, "--lr", help=f"Adam learning rate ({D['learning_rate']:g}, "
                                                  f"{D['lr_schedule']} schedule)."),
    elastic: Optional[bool] = typer.Option(None, "--elastic/--no-elastic", help="Elastic deformation (Simard 2003) "
                                           f"({'on' if D['elastic'] else 'off'})."),
    seed: Optional[int] = typer.Option(None, "--seed"),
    limit: Optional[int] = typer.Option(None, "--limit", help="Use only N training examples (seeded random subset)."),
    strategy: Optional[Strategy] = typer.Option(None, "--strategy", help="tf.distribute strategy."),
    mixed_precision: Optional[bool] = typer.Option(None, "--mixed-precision/--no-mixed-precision",
                                                   help="mixed_float16 policy (for GPUs)."),
    fresh: bool = typer.Option(False, "--fresh", help="Discard the backup, history and logs in --out and train "
                               "from scratch (a finished run of the same config is otherwise left as it is)."),
    verbose: int = typer.Option(1, "--verbose", min=0, max=2, help="Keras progress: 0 silent, 1 bar, 2 line per epoch."),
):
    """Train a ProtoNet (encoder, decoder, prototypes; four-part loss). Resumes after an interruption.

    With no options it trains the documented default configuration, the shipped model's (configs/protonet_fashion_mnist.toml: 15 prototypes, 40-dim code, 32-64-64 encoder, dense-deconv decoder, 40 epochs, cosine-decayed Adam), on full Fashion-MNIST when its IDX files are installed, else on MNIST; one line says which.
    """  # noqa: E501
    from tfinterp.cli.common import merge, read_config, resolve_out, say

    cfg_values = merge(
        read_config(config, "protonet"), dataset=dataset, prototypes=prototypes, latent_dim=latent_dim,
        epochs=epochs, decoder=decoder, batch_size=batch_size,
        learning_rate=learning_rate, elastic=elastic, seed=seed, limit=limit,
        strategy=strategy.value if strategy else None, mixed_precision=mixed_precision)
    from tfinterp.runs.protonet import best_dataset, train
    from tfinterp.training.protonet import ProtoNetConfig

    line = None
    if "dataset" not in cfg_values:
        cfg_values["dataset"], line = best_dataset()
    cfg = ProtoNetConfig.from_dict(cfg_values)
    folder = resolve_out(out, "train-protonet", cfg.dataset)
    if line:  # after the options were checked: a bad option stays a one-line error
        say(f"tfinterp: {line}")
    result = train(cfg, folder, verbose=verbose, command="tfinterp " + " ".join(sys.argv[1:]), fresh=fresh)
    if result.get("already_finished"):
        from tfinterp.cli.commands import training_summary

        typer.echo(training_summary(result, folder))
        return
    m, p = result["metrics"], result["prototypes"]
    missing = ", ".join(str(c) for c in p["classes_without_prototype"]) or "none"
    typer.echo(f"test accuracy {m['test_accuracy']:.4f} ({result['data']['test_examples']} test examples), "
               f"reconstruction error {m['test_reconstruction_error']:.2f}; classes without a prototype: {missing}")
    typer.echo(f"model: {folder / (result['stem'] + '.keras')}; figures: "
               f"{', '.join(Path(f).name for f in result.get('figures', {}).values())}; written to {folder}/")


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
    model: str = typer.Argument(..., help="A ProtoNet or an encoder-classifier-decoder: shipped stem or .keras path."),
    out: Optional[Path] = typer.Option(None, "--out", help=out_help("latent-attack", "figure PNG and JSON")),
    dataset: str = typer.Option("mnist", "--dataset", help="Test images come from this data set."),
    untargeted: str = typer.Option("6,3", "--untargeted", help="Classes to attack untargeted (comma-separated)."),
    targeted: str = typer.Option("8:0", "--targeted", help="source:target class pairs (comma-separated)."),
    steps: str = typer.Option("0,10,20,50,100", "--steps", help="PGD iteration counts, one column each."),
    eps: float = typer.Option(0.3, "--eps", help="L-inf radius."),
    step_size: float = typer.Option(0.01, "--step-size", help="PGD step size per iteration."),
    unsafe_deserialization: bool = typer.Option(False, "--unsafe-deserialization", help=unsafe_help()),
):
    """Decode PGD-attacked latent codes of a ProtoNet or an encoder-classifier-decoder for increasing
    iteration counts (Zheng et al., Fig. 3)."""
    from tfinterp.cli.common import model_stem, resolve_out

    steps_l, unt, tgt = _int_list(steps, "--steps"), _int_list(untargeted, "--untargeted"), _pairs(targeted)
    from tfinterp.runs.latent_attack import latent_attack

    folder = resolve_out(out, "latent-attack", model_stem(model), dataset)
    res = latent_attack(model, folder, dataset=dataset, untargeted=unt, targeted=tgt, steps=steps_l,
                        eps=eps, step_size=step_size, command="tfinterp " + " ".join(sys.argv[1:]),
                        unsafe_deserialization=unsafe_deserialization)
    typer.echo("predictions per iteration count: "
               + "; ".join(f"row {i}: {list(map(int, p))}" for i, p in enumerate(res["predicted"]))
               + f"; figure {Path(res['figure']).name} written to {folder}/")
