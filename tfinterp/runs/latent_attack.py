"""`tfinterp latent-attack`: decode PGD-attacked latent codes of a ProtoNet (or of an
encoder-classifier-decoder, `tfinterp.models.EncoderDecoder`) for increasing iteration counts (Zheng et al., "Insights from Attacking Interpretable Models", Fig. 3),
written as adversarial_latents.png and adversarial_latents.json."""

from __future__ import annotations

from pathlib import Path

from tfinterp.errors import UserError


def latent_attack(model_spec: str, out, dataset: str = "mnist", untargeted=(6, 3), targeted=((8, 0),),
                  steps=(0, 10, 20, 50, 100), eps: float = 0.3, step_size: float = 0.01,
                  command: str | None = None, unsafe_deserialization: bool = False) -> dict:
    """Pick the first correctly classified test image of each `untargeted` class and of each
    source class of the (source, target) pairs `targeted`, attack them with PGD for each count
    in `steps`, decode the adversarial codes; write the figure and the JSON under `out`.
    Returns the JSON summary. `unsafe_deserialization` loads a `.keras` file with Keras' safe
    mode off."""
    untargeted, targeted, steps = list(untargeted), [tuple(p) for p in targeted], list(steps)
    if not untargeted and not targeted:
        raise UserError("nothing to attack: give --untargeted classes and/or --targeted pairs")
    if not (0 < eps <= 1) or step_size <= 0:
        raise UserError(f"--eps must be in (0, 1] and --step-size positive, got {eps} and {step_size}")
    from tfinterp.data import load_arrays
    from tfinterp.explain.adversarial_latents import adversarial_latents, pick_examples, require_protonet
    from tfinterp.models import load_model
    from tfinterp.utils import write_json

    net = load_model(model_spec, unsafe_deserialization=unsafe_deserialization)
    require_protonet(net)
    k = int(getattr(net, "num_classes", 0) or 0)
    bad = [c for c in untargeted + [c for p in targeted for c in p] if not 0 <= c < k]
    if bad:
        raise UserError(f"class {bad[0]} is out of range: the model has {k} classes (0..{k - 1})")
    x, y = load_arrays(dataset, "test", materialize=True)
    idx, targets = pick_examples(net, x, y, untargeted, targeted)
    res = adversarial_latents(net, x[idx], y[idx], targets, steps=steps, eps=eps, step_size=step_size)
    names = net.class_names or [str(c) for c in range(k)]
    out = Path(out)
    fig = save_adversarial_latent_figure(out / "adversarial_latents.png", res, names)
    summary = {
        "command": command, "model": model_spec, "dataset": dataset,
        "test_indices": idx, "labels": res["labels"], "targets": res["targets"], "steps": steps,
        "eps": eps, "step_size": step_size, "predicted": res["predicted"], "probability": res["probability"],
        "target_or_true_probability": res["target_probability"], "linf": res["linf"], "figure": str(fig)}
    write_json(out / "adversarial_latents.json", summary)
    return summary


def save_adversarial_latent_figure(path, result, class_names, show_inputs=True):
    """Figure: per image a row of decoded adversarial codes (and, optionally, a row of the
    adversarial inputs), one column per PGD iteration count, prediction and probability above."""
    from tfinterp.viz.protonet import save_latent_grid

    rows, row_titles, cells = [], [], []
    for i in range(len(result["labels"])):
        y, t = int(result["labels"][i]), int(result["targets"][i])
        what = f"{class_names[y]}->{class_names[t]}" if t >= 0 else f"{class_names[y]}, untargeted"
        cap = [f"pred {class_names[p]} ({q:.2f})" for p, q in zip(result["predicted"][i], result["probability"][i])]
        if show_inputs:
            rows.append(list(result["adversarial"][i]))
            row_titles.append(f"{what}\nadv. input")
            cells.append([f"Linf {v:.2f}" for v in result["linf"][i]])
        rows.append(list(result["decoded"][i]))
        row_titles.append(f"{what}\ndecoded latent")
        cells.append(cap)
    return save_latent_grid(path, rows, [f"{s} PGD iter." for s in result["steps"]], row_titles, cells)
