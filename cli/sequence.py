"""`tfinterp train sequence`: train a DeepBind-like CNN or a conv + BiLSTM on one-hot sequences."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from tfinterp.cli.app import train_app
from tfinterp.cli.common import out_help


@train_app.command("sequence")
def train_sequence_cmd(
    data: Optional[str] = typer.Option(None, "--data", help="'planted' (the planted-motif benchmark; "
                                       "'planted:n=4000,length=100' to size it) or a FASTA (label=K in the "
                                       "headers) / sequence,label TSV or CSV file."),
    model: Optional[str] = typer.Option(None, "--model", help="seqcnn (DeepBind-like CNN, default) or seqlstm "
                                        "(conv + BiLSTM)."),
    out: Optional[Path] = typer.Option(None, "--out", help=out_help("train-sequence", "model, JSON summary, "
                                       "history, logs, backup; run again to resume an interrupted run")),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML config file with a [sequence] table "
                                          "(e.g. configs/sequence_seqcnn_planted.toml)."),
    alphabet: Optional[str] = typer.Option(None, "--alphabet", help="dna (ACGT, N uniform; default), protein "
                                           "(20 amino acids, X uniform) or custom letters."),
    window: Optional[int] = typer.Option(None, "--window", help="Pad or cut every sequence to this length "
                                         "(needed when the lengths differ)."),
    pad: Optional[str] = typer.Option(None, "--pad", help="right (keep the start), left (keep the end) or center."),
    n: Optional[int] = typer.Option(None, "--n", help="Planted data: number of sequences (4000)."),
    length: Optional[int] = typer.Option(None, "--length", help="Planted data: sequence length (100)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Training epochs (15)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Batch size (64)."),
    learning_rate: Optional[float] = typer.Option(None, "--lr", help="Adam learning rate (0.003)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seeds the planted data, the split, the shuffle and "
                                       "the weights (0)."),
    test_fraction: Optional[float] = typer.Option(None, "--test-fraction", help="Held-out test share (0.2)."),
    arch: Optional[List[str]] = typer.Option(None, "--arch", help="Architecture option KEY=VALUE (filters, "
                                             "kernel_size, pool_size, dense, units, dropout; repeatable)."),
    fresh: bool = typer.Option(False, "--fresh", help="Discard the backup, history and logs in --out and train "
                               "from scratch (a finished run of the same config is otherwise left as it is)."),
    verbose: int = typer.Option(1, "--verbose", min=0, max=2, help="Keras progress: 0 silent, 1 bar, 2 line per epoch."),
):
    """Train a sequence model on one-hot DNA or protein (resumes after an interruption).

    Held-out accuracy (and per class) goes to <out>/<model>_<data>.json beside the .keras model.
    """
    from tfinterp.cli.common import merge, read_config, resolve_out
    from tfinterp.params import parse_assignments

    table = read_config(config, "sequence")
    if arch:
        table["arch_kwargs"] = {**(table.get("arch_kwargs") or {}), **{k: _number(v) for k, v in parse_assignments(arch, "--arch").items()}}
    values = merge(table, data=data, model=model, alphabet=alphabet, window=window, pad=pad, n=n, length=length,
                   epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=seed,
                   test_fraction=test_fraction)
    from tfinterp.runs.sequence import SequenceTrainConfig, train_sequence

    cfg = SequenceTrainConfig.from_dict(values)
    folder = resolve_out(out, "train-sequence", cfg.model, cfg.data_name)
    result = train_sequence(cfg, folder, verbose=verbose, command="tfinterp " + " ".join(sys.argv[1:]),
                            fresh=fresh)
    typer.echo(summary_line(result, folder))


def summary_line(result: dict, folder: Path) -> str:
    """The last line of `train sequence`: held-out accuracy against chance, and where the files went."""
    m = result.get("metrics") or {}
    acc, chance = m.get("test_accuracy"), m.get("chance_accuracy")
    acc_s = (f"held-out accuracy {acc:.4f} (chance {chance:.2f}, {result['data']['test_examples']} sequences)"
             if isinstance(acc, (int, float)) else "no held-out test part")
    if result.get("already_finished"):
        return (f"{folder}/ holds a finished run of this configuration ({acc_s}); nothing to do "
                "(pass --fresh to train again from scratch)")
    return f"{acc_s}; model: {folder / (result['stem'] + '.keras')}; written to {folder}/"


def _number(text: str):
    """'8' -> 8, '0.2' -> 0.2, 'none' -> None: --arch values for the builders."""
    if text.strip().lower() in ("none", "null", "global"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
