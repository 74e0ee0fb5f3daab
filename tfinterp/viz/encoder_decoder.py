"""The encoder-classifier-decoder figure (Zheng et al., "Insights from Attacking Interpretable
Models", Figure 6): originals, adversarial examples and their reconstructions through a
natural and a robust model, side by side. Draws the arrays it is given."""

from __future__ import annotations

import numpy as np

from tfinterp.viz.figures import _plt, _save


def save_reconstruction_comparison(path, rows, row_titles, cell_titles, title=None):
    """A grid with one row per kind of image (original, adversarial, reconstruction, ... ) and
    one column per test image; `cell_titles[i][j]` goes above cell (i, j) (a prediction, an
    error), `row_titles[i]` left of row i. Images are [H, W, C] in [0, 1]."""
    plt = _plt()
    r, c = len(rows), len(rows[0])
    fig, axes = plt.subplots(r, c, figsize=(0.95 * c + 1.3, 1.12 * r + (0.3 if title else 0)), squeeze=False)
    for i in range(r):
        for j in range(c):
            ax = axes[i, j]
            img = np.asarray(rows[i][j], np.float32)
            img = img[..., 0] if img.ndim == 3 and img.shape[-1] == 1 else img
            ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if cell_titles[i][j]:
                ax.set_title(cell_titles[i][j], fontsize=6.5, pad=2)
        axes[i, 0].set_ylabel(row_titles[i], fontsize=7, rotation=0, ha="right", va="center", labelpad=4)
    if title:
        fig.suptitle(title, fontsize=8)
    fig.tight_layout(h_pad=0.4, w_pad=0.2)
    return _save(fig, path)
