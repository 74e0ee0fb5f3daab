"""The Typer application objects that every command module registers on."""

from __future__ import annotations

import enum

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Interpretable and adversarially robust image classifiers (Keras 3 / TensorFlow).")
train_app = typer.Typer(no_args_is_help=True, help="Train models.")
app.add_typer(train_app, name="train")
analyze_app = typer.Typer(no_args_is_help=True, help="Analyse a model's representation (Dong et al. 2017): "
                          "dataset examples, LC, consistency, ratios, detector, tracing.")
app.add_typer(analyze_app, name="analyze")


class Strategy(str, enum.Enum):
    default = "default"
    mirrored = "mirrored"
    multiworker = "multiworker"


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors.")):
    """tfinterp: model zoo, training, explanations, attacks and export."""
