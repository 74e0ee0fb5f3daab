"""`tfinterp imetric build|participant|score`: the I-metric study kit of Baek, Jang & Cho ("Can we
interpret the black box?", sec. 5). Thin: parse, call `tfinterp.runs.imetric`, print."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from tfinterp.cli.app import imetric_app
from tfinterp.cli.common import unsafe_help

_MODEL = "Shipped model stem, zoo name or .keras path."
_LAYER = "Layer: an alias (last_conv, pool5, ...), a path (outer/inner) or a unique layer name."


@imetric_app.command("build")
def build_cmd(
    model: str = typer.Argument(..., help=_MODEL),
    layer: str = typer.Option("last_conv", "--layer", help=_LAYER),
    questions: int = typer.Option(10, "--questions", help="Questions (admissible neurons) per quiz (the seed: 10)."),
    images: int = typer.Option(2000, "--images", help="Dataset images the top / bottom groups come from."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Images (default: a shipped model's own data set)."),
    split: str = typer.Option("test", "--split"),
    top_k: int = typer.Option(100, "--top-k", help="Answer group: each neuron's top-k images (the seed: 100)."),
    bottom_k: int = typer.Option(100, "--bottom-k", help="Distractor group: its bottom-k images (the seed: 100)."),
    top_quantile: float = typer.Option(0.9, "--top-quantile", help="The top group's minimum must reach this quantile "
                                       "of the layer's activations."),
    bottom_quantile: float = typer.Option(0.5, "--bottom-quantile", help="Required ratio top-min / bottom-max: "
                                          "Q(top) / Q(bottom) of the layer."),
    eps_quantile: float = typer.Option(0.05, "--eps-quantile", help="Floor of the ratio's denominator: this quantile "
                                       "of the layer's positive activations (ReLU zeros)."),
    top_min: Optional[float] = typer.Option(None, "--top-min", help="Absolute top-group minimum instead (seed: 0.11)."),
    min_ratio: Optional[float] = typer.Option(None, "--min-ratio", help="Absolute ratio instead (seed: 1e4)."),
    steps: int = typer.Option(256, "--steps", help="Steps of the Lucid-style render from noise."),
    madry_steps: int = typer.Option(200, "--madry-steps", help="L2 steps of the Madry-style render."),
    pre: bool = typer.Option(True, "--pre/--no-pre", help="The render from noise maximizes the channel's "
                             "pre-activation (lucid's pre_relu; a dead ReLU has no gradient) where the layer has one."),
    reduce: str = typer.Option("mean", "--reduce", help="A channel's activation: the spatial mean or max of its map."),
    seed: int = typer.Option(0, "--seed", min=0),
    batch_size: int = typer.Option(32, "--batch-size", min=1),
    out: Path = typer.Option(..., "--out", help="Output folder: quiz_<condition>.html, index.html, key.json, img/."),
    unsafe_deserialization: bool = typer.Option(False, "--unsafe-deserialization", help=unsafe_help()),
):
    """Build the I-metric quizzes: 9 options (3 top, 6 bottom) per admissible neuron, 3 conditions."""
    from tfinterp.cli.common import out_dir
    from tfinterp.errors import UserError
    from tfinterp.runs.imetric import build_quiz

    if reduce not in ("mean", "max"):
        raise UserError(f"--reduce must be mean or max, got '{reduce}'")
    criteria = {"top_k": top_k, "bottom_k": bottom_k, "top_quantile": top_quantile, "bottom_quantile": bottom_quantile,
                "eps_quantile": eps_quantile, "top_min": top_min, "min_ratio": min_ratio}
    r = build_quiz(model, layer=layer, dataset=dataset, split=split, images=images, questions=questions,
                   criteria={k: v for k, v in criteria.items() if v is not None}, reduce=reduce, steps=steps,
                   madry_steps=madry_steps, pre=pre, seed=seed, batch_size=batch_size, out=out_dir(out),
                   unsafe_deserialization=unsafe_deserialization)
    t = r["thresholds"]
    typer.echo(f"{r['admissible']} of {r['channels']} neurons admissible (top-min >= {t['top_min']:.4g}, "
               f"ratio >= {t['min_ratio']:.4g}, eps {t['eps']:.3g}); {len(r['neurons'])} questions: "
               f"open {r['index']} (one condition per participant); the answer key is {r['key']}")


@imetric_app.command("participant")
def participant_cmd(
    quiz: Path = typer.Argument(..., help="The quiz folder (with key.json) of `tfinterp imetric build`."),
    features_model: Optional[str] = typer.Option(None, "--features-model", help="Model whose features decide "
                                                 "(default: the quiz's own model; 'pixels': the raw pixels)."),
    features_layer: str = typer.Option("features", "--features-layer", help="Its layer (default: the penultimate, "
                                       "alias 'features')."),
    reduce: str = typer.Option("max", "--reduce", help="An option's score: max or mean cosine to the shown images."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder of the response files (default: QUIZ/responses)."),
    unsafe_deserialization: bool = typer.Option(False, "--unsafe-deserialization", help=unsafe_help()),
):
    """A scripted participant: picks the 3 options nearest to the shown images in a feature space."""
    from tfinterp.errors import UserError
    from tfinterp.runs.imetric import run_machine_participant

    if reduce not in ("mean", "max"):
        raise UserError(f"--reduce must be mean or max, got '{reduce}'")
    r = run_machine_participant(quiz, features_model=features_model, features_layer=features_layer, reduce=reduce,
                                out=out, unsafe_deserialization=unsafe_deserialization)
    for cond, s in r["conditions"].items():
        typer.echo(f"{cond}: {s['total']} of {s['max']} answers found (chance {s['max'] / 3:g}) -> {s['file']}")


@imetric_app.command("score")
def score_cmd(
    responses: List[Path] = typer.Argument(None, help="Response JSON files (the pages' downloads)."),
    key: Optional[Path] = typer.Option(None, "--key", help="The quiz's key.json or folder (default: the one the "
                                       "responses name)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for imetric.json and imetric.png (default: "
                                       "QUIZ/score, beside the key)."),
):
    """The I-metric per participant and condition (answers found among the 3 top options), a histogram and JSON."""
    from tfinterp.cli.common import out_dir
    from tfinterp.errors import UserError
    from tfinterp.runs.imetric import score_responses

    if not responses:
        raise UserError("give the response JSON files (e.g. responses/*.json)")
    r = score_responses(list(responses), key=key, out=out_dir(out) if out is not None else None,
                        out_beside_key=out is None)
    folder = Path(r["json"]).parent
    for s in r["participants"]:
        typer.echo(f"{s['participant']} ({s['condition']}): {s['total']} of {s['max']}")
    for cond, c in r["conditions"].items():
        typer.echo(f"{cond} ({c['title']}): mean {c['mean_total']:.2f} of {c['max']} over {c['participants']} "
                   f"participant(s); chance {c['chance_total']:g}")
    typer.echo(f"imetric.json and imetric.png written to {folder}/")
