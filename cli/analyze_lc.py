"""Commands of Dong et al. 2017's neuron analysis: `analyze dataset-examples`, `analyze lc`,
`analyze consistency`, `analyze lc-agreement build|score`, and `setup-wordnet`. Thin: parse,
call `tfinterp.runs.analysis_lc`, print."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from tfinterp.cli.app import analyze_app, app
from tfinterp.cli.common import out_help, unsafe_help

_MODEL = "Shipped model stem, zoo name or .keras path."
_LAYER = "Layer: an alias (last_conv, pool5, ...), a path (outer/inner) or a unique layer name."
_Q = "Top q % of the images per neuron, q in (0, 100] (the paper: 1)."
_REDUCE = "A channel's activation on an image: the spatial max or mean of its map."
_MAPPING = ("Class -> WordNet synset mapping: a shipped name (fashion_mnist, mnist, cifar10, imagenet), a JSON "
            "file of synsets, or a .npy / JSON distance matrix (default: the data set's shipped mapping).")


def _reduce(v: str) -> str:
    from tfinterp.errors import UserError

    if v not in ("max", "mean"):
        raise UserError(f"--reduce must be max or mean, got '{v}'")
    return v


@analyze_app.command("dataset-examples")
def dataset_examples_cmd(
    model: str = typer.Argument(..., help=_MODEL),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Real images (default: the adversarial set's)."),
    layer: str = typer.Option("last_conv", "--layer", help=_LAYER),
    split: str = typer.Option("test", "--split"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Use the first N images of the split."),
    q: float = typer.Option(1.0, "--q", help=_Q),
    reduce: str = typer.Option("max", "--reduce", help=_REDUCE),
    adversarial_set: Optional[Path] = typer.Option(None, "--adversarial-set",
                                                   help="Adversarial set (.npz) whose top images go beside the real ones."),
    successful_only: bool = typer.Option(False, "--successful-only", help="Only adversarial images that reach their target."),
    neurons: Optional[str] = typer.Option(None, "--neurons", help="Channels to draw: 0,3,7 or all (default: the first 16)."),
    show: int = typer.Option(6, "--show", min=1, help="Top images drawn per neuron."),
    discrepancy: bool = typer.Option(True, "--discrepancy/--no-discrepancy",
                                     help="Draw discrepancy maps (occlusion of the neuron) over the images."),
    batch_size: int = typer.Option(256, "--batch-size", min=1),
    out: Optional[Path] = typer.Option(None, "--out", help=out_help("dataset-examples", "examples.json, examples.png")),
    unsafe_deserialization: bool = typer.Option(False, "--unsafe-deserialization", help=unsafe_help()),
):
    """Each neuron's top-q % images, real and adversarial side by side, with discrepancy maps (Dong et al. Figs. 2, 7)."""
    from tfinterp.cli.common import model_stem, resolve_out
    from tfinterp.errors import UserError
    from tfinterp.runs.analysis_lc import run_dataset_examples

    if dataset is None and adversarial_set is None:
        raise UserError("give --dataset (or --adversarial-set, whose data set is used)")
    folder = resolve_out(out, "dataset-examples", model_stem(model), dataset or Path(adversarial_set).stem, layer)
    r = run_dataset_examples(model, dataset, layer, split=split, limit=limit, q=q, reduce=_reduce(reduce),
                             adversarial_set=adversarial_set, successful_only=successful_only, neurons=neurons,
                             show=show, discrepancy=discrepancy, batch_size=batch_size, out=folder,
                             unsafe_deserialization=unsafe_deserialization)
    adv = f", {r['adversarial']['k']} of {r['adversarial']['images']} adversarial" if "adversarial" in r else ""
    typer.echo(f"{r['channels']} channels of '{layer}': top {r['k']} of {r['images']} real images{adv} per channel; "
               f"{len(r['figures'])} figure(s) and examples.json written to {folder}/")


@analyze_app.command("lc")
def lc_cmd(
    model: str = typer.Argument(..., help=_MODEL),
    dataset: str = typer.Option(..., "--dataset", help="Real images (their labels give each neuron's class histogram)."),
    layer: str = typer.Option("last_conv", "--layer", help=_LAYER),
    mapping: Optional[str] = typer.Option(None, "--mapping", help=_MAPPING),
    sigma: List[float] = typer.Option([1.0, 2.0], "--sigma", help="Decay of C = exp(-d^2 / 2 sigma^2); repeatable."),
    split: str = typer.Option("test", "--split"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1),
    q: float = typer.Option(1.0, "--q", help=_Q),
    reduce: str = typer.Option("max", "--reduce", help=_REDUCE),
    bootstrap: int = typer.Option(1000, "--bootstrap", min=10, help="Bootstrap resamples for the intervals."),
    seed: int = typer.Option(0, "--seed", min=0),
    batch_size: int = typer.Option(256, "--batch-size", min=1),
    out: Optional[Path] = typer.Option(None, "--out", help=out_help("lc", "lc.json, lc.png")),
    unsafe_deserialization: bool = typer.Option(False, "--unsafe-deserialization", help=unsafe_help()),
):
    """LC = p^T C p of every neuron on WordNet (Dong et al. Eq. 3), raw and over the class-prior null, with intervals."""
    from tfinterp.cli.common import model_stem, resolve_out
    from tfinterp.runs.analysis_lc import run_lc

    folder = resolve_out(out, "lc", model_stem(model), dataset, layer)
    r = run_lc(model, dataset, layer, split=split, limit=limit, q=q, reduce=_reduce(reduce), mapping=mapping,
               sigmas=tuple(sigma), n_boot=bootstrap, seed=seed, batch_size=batch_size, out=folder,
               unsafe_deserialization=unsafe_deserialization)
    for s in r["sigmas"].values():
        lo, hi = s["mean_lc_interval"]
        nlo, nhi = s["mean_normalized_interval"]
        label = f"sigma {s['sigma']:g}" if s["sigma"] is not None else "given C"
        typer.echo(f"{label}: mean LC {s['mean_lc']:.4f} [{lo:.4f}, {hi:.4f}], prior null {s['null']:.4f}, "
                   f"normalised {s['mean_normalized']:.3f} [{nlo:.3f}, {nhi:.3f}] over {r['neurons']} neurons "
                   f"(top {r['k']} of {r['images']} images each)")
    typer.echo(f"lc.json and lc.png written to {folder}/")


@analyze_app.command("consistency")
def consistency_cmd(
    model: str = typer.Argument(..., help=_MODEL),
    adversarial_set: Path = typer.Option(..., "--adversarial-set", help="Adversarial set (.npz) made for MODEL."),
    layer: List[str] = typer.Option(["last_conv"], "--layer", help=_LAYER + " Repeatable: the channels of "
                                    "several layers are pooled (the paper pools all conv layers)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Real images (default: the set's source)."),
    split: Optional[str] = typer.Option(None, "--split", help="Default: the set's split."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1),
    mapping: Optional[str] = typer.Option(None, "--mapping", help=_MAPPING),
    sigma: List[float] = typer.Option([1.0, 2.0], "--sigma", help="Decay of C; repeatable."),
    q: float = typer.Option(1.0, "--q", help=_Q),
    reduce: str = typer.Option("max", "--reduce", help=_REDUCE),
    bins: int = typer.Option(10, "--bins", min=1, help="LC bins of the CS1 / CS2 curves."),
    successful_only: bool = typer.Option(False, "--successful-only"),
    batch_size: int = typer.Option(256, "--batch-size", min=1),
    out: Optional[Path] = typer.Option(None, "--out", help=out_help("consistency", "consistency.json, consistency.png")),
    unsafe_deserialization: bool = typer.Option(False, "--unsafe-deserialization", help=unsafe_help()),
):
    """CS1 / CS2 of real vs adversarial top images against LC (Dong et al. Eqs. 4-5, Figs. 4, 8)."""
    from tfinterp.cli.common import model_stem, resolve_out
    from tfinterp.runs.analysis_lc import run_consistency

    folder = resolve_out(out, "consistency", model_stem(model), Path(adversarial_set).stem, "+".join(layer))
    r = run_consistency(model, adversarial_set, list(layer), dataset=dataset, split=split, limit=limit, q=q,
                        reduce=_reduce(reduce), mapping=mapping, sigmas=tuple(sigma), bins=bins,
                        successful_only=successful_only, batch_size=batch_size, out=folder,
                        unsafe_deserialization=unsafe_deserialization)
    for s in r["sigmas"].values():
        c1, c2 = s["corr_lc_cs1"], s["corr_lc_cs2"]
        typer.echo(f"sigma {s['sigma']:g}: mean LC {s['mean_lc']:.4f}, CS1 {s['mean_cs1']:.4f}, CS2 {s['mean_cs2']:.4f}; "
                   f"corr(LC, CS1) {'n/a' if c1 is None else f'{c1:+.3f}'}, "
                   f"corr(LC, CS2) {'n/a' if c2 is None else f'{c2:+.3f}'} over {r['neurons']} neurons")
    typer.echo(f"consistency.json and consistency.png written to {folder}/")


@analyze_app.command("lc-agreement")
def lc_agreement_cmd(
    action: str = typer.Argument(..., help="build (MODEL: write the page) or score (RESPONSES.json ...)."),
    args: List[str] = typer.Argument(..., help="build: MODEL; score: the response JSON files the page downloaded."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="build: real images."),
    layer: str = typer.Option("last_conv", "--layer", help="build: " + _LAYER),
    pairs: int = typer.Option(50, "--pairs", min=1, help="build: pairs of neurons to judge."),
    show: int = typer.Option(9, "--show", min=1, help="build: top images per neuron (the paper: 9)."),
    mapping: Optional[str] = typer.Option(None, "--mapping", help="build: " + _MAPPING),
    sigma: float = typer.Option(1.0, "--sigma", help="build: sigma of the LC the answers are scored against."),
    q: float = typer.Option(1.0, "--q", help="build: " + _Q),
    reduce: str = typer.Option("max", "--reduce", help="build: " + _REDUCE),
    split: str = typer.Option("test", "--split"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1),
    discrepancy: bool = typer.Option(True, "--discrepancy/--no-discrepancy"),
    pairs_file: Optional[Path] = typer.Option(None, "--pairs-file", help="score: the build's pairs.json "
                                              "(default: the one the responses name)."),
    seed: int = typer.Option(0, "--seed", min=0),
    out: Optional[Path] = typer.Option(None, "--out", help=out_help("lc-agreement", "build: index.html, pairs.json; "
                                       "score: agreement.json")),
    unsafe_deserialization: bool = typer.Option(False, "--unsafe-deserialization", help=unsafe_help()),
):
    """LC human check (Dong et al. appendix B): build a static page of neuron pairs, or score its answers against LC."""
    from tfinterp.cli.common import model_stem, resolve_out
    from tfinterp.errors import UserError
    from tfinterp.runs.analysis_lc import build_lc_agreement, score_lc_agreement

    if action == "build":
        if len(args) != 1:
            raise UserError("lc-agreement build takes one MODEL")
        if dataset is None:
            raise UserError("lc-agreement build needs --dataset")
        folder = resolve_out(out, "lc-agreement", model_stem(args[0]), layer)
        r = build_lc_agreement(args[0], dataset, layer, pairs=pairs, show=show, split=split, limit=limit, q=q,
                               reduce=_reduce(reduce), mapping=mapping, sigma=sigma, discrepancy=discrepancy,
                               seed=seed, out=folder, unsafe_deserialization=unsafe_deserialization)
        typer.echo(f"{r['pairs']} pairs of {r['neurons']} neurons: open {r['page']} in a browser (no server needed); "
                   f"score the downloaded answers with `tfinterp analyze lc-agreement score FILE.json ...`")
    elif action == "score":
        folder = resolve_out(out, "lc-agreement", "score")
        r = score_lc_agreement(args, pairs_file=pairs_file, out=folder)
        for rt in r["raters"]:
            rate = "n/a" if rt["rate"] is None else f"{rt['rate']:.3f} [{rt['interval'][0]:.3f}, {rt['interval'][1]:.3f}]"
            typer.echo(f"{rt['rater']}: agrees with LC on {rt['agree']}/{rt['answered']} pairs, {rate}")
        if r["rate"] is not None:
            typer.echo(f"pooled: {r['agree']}/{r['answered']} = {r['rate']:.3f} [{r['interval'][0]:.3f}, "
                       f"{r['interval'][1]:.3f}] (Wilson 95 %); skipped {r['skipped']['unsure']} 'cannot tell', "
                       f"{r['skipped']['tie']} LC ties; agreement.json written to {folder}/")
        else:
            typer.echo("no answered pairs to score")
    else:
        raise UserError(f"lc-agreement takes build or score, got '{action}'")


@app.command("setup-wordnet")
def setup_wordnet_cmd(
    source: Optional[Path] = typer.Option(None, "--source", help="Debian's WordNet files (default /usr/share/wordnet, "
                                          "or $TFINTERP_WORDNET_SOURCE)."),
    root: Optional[Path] = typer.Option(None, "--root", help="nltk_data root to prepare (default: "
                                        "<tfinterp cache>/nltk_data, or $TFINTERP_NLTK_DATA)."),
    download: bool = typer.Option(True, "--download/--no-download", help="Fall back to nltk.download('wordnet')."),
    force: bool = typer.Option(False, "--force", help="Copy again over an existing preparation."),
):
    """Prepare nltk's WordNet offline (Debian's wordnet-base + lexnames), or download it; for LC and tracing."""
    from tfinterp.runs.analysis_lc import run_setup_wordnet

    r = run_setup_wordnet(source, root, download=download, force=force)
    typer.echo(f"WordNet {r['version']} ready in {r['path']} ({r['route']}); {r['check']}")
