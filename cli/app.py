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
visualize_app = typer.Typer(no_args_is_help=True, help="Feature visualization (Olah et al. 2017): `tfinterp visualize "
                            "MODEL --layer L --channels 0-31` renders channels (the `channels` sub-command, the "
                            "default); `invert` inverts a representation; `filters` / `class-optimize` for "
                            "sequence models.")
app.add_typer(visualize_app, name="visualize")
report_app = typer.Typer(no_args_is_help=True, help="Static HTML reports (the neuron report of Baek et al.).")
app.add_typer(report_app, name="report")
imetric_app = typer.Typer(no_args_is_help=True, help="The I-metric user-study kit (Baek et al.): build quizzes, "
                          "score responses.")
app.add_typer(imetric_app, name="imetric")

# A group whose first word may be omitted: `tfinterp visualize MODEL ...` means
# `tfinterp visualize channels MODEL ...` (`cli.main.default_subcommand` rewrites the words).
DEFAULT_SUBCOMMANDS = {"visualize": "channels"}


class Strategy(str, enum.Enum):
    default = "default"
    mirrored = "mirrored"
    multiworker = "multiworker"


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors.")):
    """tfinterp: model zoo, training, explanations, attacks and export."""
