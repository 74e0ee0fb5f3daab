"""`tfinterp visualize channels` (also `tfinterp visualize MODEL ...`): feature visualization
of a layer's channels (Olah et al. 2017; Baek et al.'s Lucid- and Madry-style). Thin: parse,
call `tfinterp.runs.featureviz`, print."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from tfinterp.cli.app import visualize_app
from tfinterp.cli.common import unsafe_help

_OBJECTIVE = ("An objective expression instead of one channel per image: channel, neuron, layer, logit, prob, "
              "direction, interpolate, diversity, combined with + - * and numbers; the word c stands for each "
              "image's channel of --channels, e.g. 'channel(last_conv, c) + 0.5*diversity(last_conv)' or 'logit(3)'.")


@visualize_app.command("channels")
def channels_cmd(
    model: str = typer.Argument(..., help="Shipped model stem, zoo name or .keras path."),
    layer: Optional[str] = typer.Option(None, "--layer", help="Layer: an alias, a path or a unique name "
                                        "(default: the model's last_conv)."),
    channels: Optional[str] = typer.Option(None, "--channels", help="Channels, one image each: ranges and lists "
                                           "(0-31, 0,3,7, 0-3,8) or all (default: 0-31, or all when fewer)."),
    objective: Optional[str] = typer.Option(None, "--objective", help=_OBJECTIVE),
    n: int = typer.Option(1, "--n", help="Images of an --objective without c (with diversity, several)."),
    param: str = typer.Option("fourier", "--param", help="Parameterization: fourier or pixel (lucid method)."),
    steps: int = typer.Option(512, "--steps", help="Optimization steps (>= 1)."),
    lr: float = typer.Option(0.05, "--lr", help="Adam learning rate (lucid method)."),
    method: str = typer.Option("lucid", "--method", help="lucid (Fourier, transforms, Adam) or madry "
                               "(L2 steps from the best dataset example; for robust models)."),
    thresholds: Optional[str] = typer.Option(None, "--thresholds", help="Steps kept as grid rows: 30,60,120 or "
                                             "every=30 (default: 4 evenly spaced)."),
    transforms: str = typer.Option("lucid", "--transforms", help="lucid (the default recipe) or none."),
    regularizer: List[str] = typer.Option([], "--regularizer", help="tv=0.05, l1=0.01, l2=0.01, blur=4 "
                                          "(every 4 steps), bilateral=8; repeatable."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Dataset examples for --method madry and the "
                                          "colour decorrelation (default: the shipped model's data set)."),
    limit: int = typer.Option(1000, "--limit", help="Test images searched for the starting examples."),
    eps: float = typer.Option(1000.0, "--eps", help="L2 radius around the start (madry; large: unconstrained)."),
    step_size: Optional[float] = typer.Option(None, "--step-size", help="L2 step (madry; default sqrt(HWC)/400)."),
    batch_size: int = typer.Option(32, "--batch-size", help="Images optimized together."),
    seed: int = typer.Option(0, "--seed", help="Seed of the starting noise and the transforms."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (grid.png, channel_*.png, featureviz.json). "
                                       "Default: runs/visualize/<model stem>_<layer>/ in the current folder."),
    unsafe_deserialization: bool = typer.Option(False, "--unsafe-deserialization", help=unsafe_help()),
):
    """Render what each channel of a layer responds to: a thresholds x channels grid PNG, one PNG per channel, JSON."""
    from tfinterp.cli.common import _safe, model_stem, out_dir
    from tfinterp.errors import UserError
    from tfinterp.runs.featureviz import parse_thresholds, run_visualize_channels

    for name, v in (("--steps", steps), ("--batch-size", batch_size), ("--n", n), ("--limit", limit)):
        if v < 1:
            raise UserError(f"{name} must be a positive integer, got {v}")
    if param not in ("fourier", "pixel"):
        raise UserError(f"--param must be fourier or pixel, got '{param}'")
    if method not in ("lucid", "madry"):
        raise UserError(f"--method must be lucid or madry, got '{method}'")
    if transforms not in ("lucid", "none"):
        raise UserError(f"--transforms must be lucid or none, got '{transforms}'")
    if not lr > 0 or not eps > 0 or (step_size is not None and not step_size > 0):
        raise UserError("--lr, --eps and --step-size must be > 0")
    ths = parse_thresholds(thresholds, steps)
    folder = out_dir(out if out is not None else
                     Path("runs") / "visualize" / "_".join(_safe(p) for p in (model_stem(model), layer or "last_conv")))
    r = run_visualize_channels(model, layer=layer, channels=channels, objective=objective, n=n, param=param,
                               steps=steps, lr=lr, method=method, thresholds=ths, transforms=transforms,
                               regularizers=tuple(regularizer), dataset=dataset, limit=limit, eps=eps,
                               step_size=step_size, batch_size=batch_size, seed=seed, out=folder,
                               unsafe_deserialization=unsafe_deserialization)
    v = r["values"]
    what = f"{len(r['channels'])} channels of '{r['layer']}'" if r["channels"] and len(r["channels"]) == len(v) \
        else f"{len(v)} image(s) of {r['objective']}"
    typer.echo(f"{what} ({r['method']}, {steps} steps, {r['seconds']:.1f} s): objective mean {sum(v) / len(v):.4g}, "
               f"min {min(v):.4g}, max {max(v):.4g}; grid.png, {len(r['files']['images'])} PNG(s) and "
               f"featureviz.json written to {folder}/")
    if r.get("stuck_channels"):
        stuck = r["stuck_channels"]
        typer.echo(f"note: {len(stuck)} channel(s) stayed at 0 ({', '.join(map(str, stuck[:12]))}"
                   f"{', ...' if len(stuck) > 12 else ''}): their ReLU is dead on the whole start image, so there "
                   f"is no gradient; --layer {r['layer']}:pre maximizes the pre-activation instead")
