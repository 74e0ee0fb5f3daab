"""The model-inversion figure (Mahendran & Vedaldi 2015): one row per layer, the original image
then one reconstruction per seed, the relative representation error under each."""

from __future__ import annotations

import numpy as np

from tfinterp.viz.featureviz import mosaic
from tfinterp.viz.figures import _plt, _save


def save_inversion_grid(path, original, rows, layers, errors=None, title: str = ""):
    """Save the grid: `original` [H, W, C], `rows` a list (one per layer) of [S, H, W, C]
    reconstructions, `layers` their names, `errors` a list of [S] relative errors. Returns `path`."""
    plt = _plt()
    original = np.asarray(original, np.float32)
    full = [np.concatenate([original[None], np.asarray(r, np.float32)]) for r in rows]
    n, h, w, _ = full[0].shape
    gap = max(1, h // 14)
    grid = mosaic(full, gap=gap)
    cell = 0.9 if h <= 32 else 1.2
    fig_w = min(40.0, max(3.0, n * cell + 1.6))
    fig_h = max(1.6, len(full) * (cell + 0.25) * (fig_w - 1.6) / max(n * cell, 1e-6) + 0.9)
    fig, ax = plt.subplots(figsize=(fig_w, fig_h))
    ax.imshow(grid, interpolation="nearest")
    ax.set_yticks([i * (h + gap) + h / 2 for i in range(len(full))])
    ax.set_yticklabels([str(layer) for layer in layers], fontsize=7)
    ax.set_xticks([j * (w + gap) + w / 2 for j in range(n)])
    ax.set_xticklabels(["original"] + [f"seed {j}" for j in range(n - 1)], fontsize=7)
    ax.tick_params(length=0)
    if errors is not None:
        for i, errs in enumerate(errors):
            for j, e in enumerate(errs):
                ax.text((j + 1) * (w + gap) + w / 2, i * (h + gap) + h - 1, f"{e:.2f}", ha="center", va="bottom",
                        fontsize=6, color="white", bbox={"facecolor": "black", "alpha": 0.5, "pad": 0.5,
                                                         "linewidth": 0})
    for s in ax.spines.values():
        s.set_visible(False)
    if title:
        ax.set_title(title, fontsize=8)
    return _save(fig, path)


__all__ = ["save_inversion_grid"]
