"""Figures of feature visualization (Olah et al. 2017; the seed's iteration study, Baek et al.):
a grid of rendered images, one row per threshold (step count) and one column per image."""

from __future__ import annotations

import numpy as np

from tfinterp.viz.figures import _plt, _save


def mosaic(rows: list[np.ndarray], gap: int = 2, fill: float = 1.0) -> np.ndarray:
    """One RGB array [R*(H+gap)-gap, N*(W+gap)-gap, 3] of R rows of N images (grey repeated to RGB)."""
    rows = [np.asarray(r, np.float32) for r in rows]
    n, h, w, c = rows[0].shape
    out = np.full((len(rows) * (h + gap) - gap, n * (w + gap) - gap, 3), fill, np.float32)
    for i, r in enumerate(rows):
        for j, img in enumerate(r):
            img = np.repeat(img, 3, axis=-1) if c == 1 else img
            out[i * (h + gap):i * (h + gap) + h, j * (w + gap):j * (w + gap) + w] = np.clip(img, 0, 1)
    return out


def save_render_grid(path, snapshots: dict, labels=None, title: str = "", values: dict | None = None,
                     row_label: str = "step"):
    """The thresholds x images grid: `snapshots` {step: [N, H, W, C]} (rows in step order),
    `labels` a caption per column (e.g. the channel), `values` {step: [N]} objective values
    drawn under the last row. Returns `path`."""
    plt = _plt()
    steps = sorted(snapshots)
    rows = [snapshots[s] for s in steps]
    n, h, w, _ = rows[0].shape
    gap = max(1, h // 14)
    grid = mosaic(rows, gap=gap)
    cell = 0.62 if h <= 32 else 0.9
    fig_w = min(40.0, max(3.0, n * cell + 1.0))
    fig_h = max(1.6, len(rows) * cell * (fig_w - 1.0) / max(n * cell, 1e-6) + 0.9)
    fig, ax = plt.subplots(figsize=(fig_w, fig_h))
    ax.imshow(grid, interpolation="nearest")
    ax.set_yticks([i * (h + gap) + h / 2 for i in range(len(rows))])
    ax.set_yticklabels([f"{row_label} {s}" for s in steps], fontsize=7)
    ax.set_xticks([j * (w + gap) + w / 2 for j in range(n)])
    labels = list(labels) if labels is not None else [str(j) for j in range(n)]
    if values is not None and steps[-1] in values:
        v = np.asarray(values[steps[-1]])
        labels = [f"{lab}\n{x:.2g}" for lab, x in zip(labels, v)]
    ax.set_xticklabels(labels, fontsize=6 if n > 16 else 7)
    ax.tick_params(length=0)
    for s in ax.spines.values():
        s.set_visible(False)
    if title:
        ax.set_title(title, fontsize=8.5)
    return _save(fig, path)


__all__ = ["mosaic", "save_render_grid"]
