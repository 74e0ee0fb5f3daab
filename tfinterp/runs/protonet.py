"""The ``train protonet`` job: train a ProtoNet (Li, Liu, Chen & Rudin, AAAI 2018), then draw
its figures (loss curves, decoded prototypes as in Fig. 2 of Zheng et al., classifier weights).

Training itself is `tfinterp.training.protonet.train_protonet` (model + JSON); this run adds
the figures and records their paths in the JSON.
"""

from __future__ import annotations

from pathlib import Path


def train(cfg, out, callbacks=(), verbose=1, command=None, figures=True) -> dict:
    """Train a ProtoNet by `cfg` (a `ProtoNetConfig`) under `out`, draw its figures; return the JSON dict."""
    from tfinterp.training.protonet import fit_protonet, read_history
    from tfinterp.utils import write_json

    result, model = fit_protonet(cfg, out, callbacks=callbacks, verbose=verbose, command=command)
    if figures:
        out = Path(out)
        result["figures"] = write_figures(model, read_history(out / "history.csv"), out, result["stem"])
        write_json(out / f"{result['stem']}.json", result)
    return result


def write_figures(model, history, out, stem) -> dict:
    """Loss curves, decoded prototype grid and classifier-weight heatmap PNGs; returns their paths."""
    import numpy as np

    from tfinterp.viz.protonet import save_loss_curves, save_prototype_grid, save_weight_heatmap

    protos = model.decoded_prototypes().numpy()
    w = np.asarray(model.classifier.kernel)
    names = model.class_names or [str(c) for c in range(model.num_classes)]
    top = (-w).argmax(axis=1)
    labels = [f"P{j}: {names[c]}" for j, c in enumerate(top)]
    return {
        "loss_curves": str(save_loss_curves(Path(out) / f"{stem}_losses.png", history)),
        "prototypes": str(save_prototype_grid(Path(out) / f"{stem}_prototypes.png", protos, labels,
                                              title=f"decoded prototypes of {stem}")),
        "weights": str(save_weight_heatmap(Path(out) / f"{stem}_weights.png", w, names)),
    }
