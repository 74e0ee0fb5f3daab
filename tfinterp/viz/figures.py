"""Figures a person would rather look at than JSON."""

from __future__ import annotations

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    from tfinterp.utils import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return path


def _gray(image):
    img = np.asarray(image, np.float32)
    img = img[..., 0] if img.shape[-1] == 1 else img
    return img, ("gray" if img.ndim == 2 else None)


def _heat(ax, img, cmap, saliency, box=None):
    ax.imshow(img, cmap=cmap, vmin=0, vmax=1)
    im = ax.imshow(saliency, cmap="jet", alpha=0.5, vmin=0, vmax=1)
    if box is not None:
        y0, x0, y1, x1 = box
        ax.add_patch(_plt().Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, ec="white", lw=1.5))
    ax.axis("off")
    return im


def save_overlay(path, image: np.ndarray, saliency: np.ndarray, title: str = "", box=None, extra=None,
                 engine: str = "pil"):
    """Image beside the same image with the heatmap over it (and the map's box, if given).

    `extra` ({title: map}) adds panels, e.g. guided inversion's stage-1 map. `engine="pil"`
    (the default) composites the figure with NumPy + Pillow in a few milliseconds
    (`tfinterp.viz.overlay`); `engine="matplotlib"` draws the same content as a matplotlib
    figure (about 0.3 s each; the figure of earlier versions).
    """
    if engine == "pil":
        from tfinterp.viz.overlay import save_overlay_fast

        return save_overlay_fast(path, image, saliency, title=title, box=box, extra=extra)
    if engine != "matplotlib":
        raise ValueError(f"save_overlay: engine must be 'pil' or 'matplotlib', got {engine!r}")
    plt = _plt()
    img, cmap = _gray(image)
    extra = extra or {}
    fig, axes = plt.subplots(1, 2 + len(extra), figsize=(3.2 * (2 + len(extra)), 3.4))
    axes[0].imshow(img, cmap=cmap, vmin=0, vmax=1)
    axes[0].set_title("input", fontsize=9)
    axes[0].axis("off")
    for ax, (name, m) in zip(axes[1:], extra.items()):
        _heat(ax, img, cmap, m)
        ax.set_title(name, fontsize=9)
    im = _heat(axes[-1], img, cmap, saliency, box)
    axes[-1].set_title(title, fontsize=9)
    fig.colorbar(im, ax=axes[-1], fraction=0.046, pad=0.04)
    return _save(fig, path)


def save_comparison(path, image: np.ndarray, maps: dict, title: str = ""):
    """The input and every method's heatmap side by side (`--method all`)."""
    plt = _plt()
    img, cmap = _gray(image)
    n = 1 + len(maps)
    cols = min(n, 5)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.8 * rows), squeeze=False)
    flat = axes.ravel()
    flat[0].imshow(img, cmap=cmap, vmin=0, vmax=1)
    flat[0].set_title("input", fontsize=9)
    for ax, (name, m) in zip(flat[1:], maps.items()):
        _heat(ax, img, cmap, m)
        ax.set_title(name, fontsize=9)
    for ax in flat:
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def save_confusion(path, matrix: np.ndarray, class_names=None, title: str = ""):
    """Row-normalised confusion matrix with counts."""
    plt = _plt()
    m = np.asarray(matrix)
    k = len(m)
    names = class_names or [str(i) for i in range(k)]
    norm = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * k, 1.0 + 0.55 * k))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(int(m[i, j])), ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xticks(range(k), names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(k), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    return _save(fig, path)
