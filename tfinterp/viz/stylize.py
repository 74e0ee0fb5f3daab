"""Figures of stylized augmentation: rows of images (originals, each stylizer's output)."""

from __future__ import annotations

import numpy as np

from tfinterp.viz.figures import _gray, _plt, _save


def save_image_rows(path, rows: dict, title: str = "", col_titles=None):
    """One row per entry of `rows` (name -> [K, H, W, C] images in [0, 1]), K columns."""
    plt = _plt()
    names = list(rows)
    k = max(len(v) for v in rows.values())
    fig, axes = plt.subplots(len(names), k, figsize=(1.3 * k + 1.2, 1.35 * len(names) + 0.5), squeeze=False)
    for r, name in enumerate(names):
        for c in range(k):
            ax = axes[r, c]
            ax.axis("off")
            if c < len(rows[name]):
                img, cmap = _gray(np.clip(rows[name][c], 0, 1))
                ax.imshow(img, cmap=cmap, vmin=0, vmax=1)
                if col_titles is not None and r == 0 and c < len(col_titles):
                    ax.set_title(str(col_titles[c]), fontsize=7)
        axes[r, 0].text(-0.1, 0.5, name, transform=axes[r, 0].transAxes, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=8)
    return _save(fig, path)
