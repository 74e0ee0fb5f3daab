"""ProtoNet figures: loss curves, decoded prototypes, classifier weights, explanations,
adversarial latent reconstructions (Li et al. 2018; Zheng et al., Figs. 2-3)."""

from __future__ import annotations

import math

import numpy as np

from tfinterp.viz.figures import _plt, _save


def _gray(ax, img, title=None, fontsize=8):
    img = np.asarray(img, np.float32)
    img = img[..., 0] if img.ndim == 3 and img.shape[-1] == 1 else img
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=fontsize)


def save_loss_curves(path, history: dict):
    """One panel per loss term (total, CE, AE, R1, R2) and accuracy, train and validation."""
    plt = _plt()
    keys = [k for k in ("loss", "ce", "ae", "r1", "r2", "accuracy") if k in history]
    fig, axes = plt.subplots(1, len(keys), figsize=(2.6 * len(keys), 2.6))
    axes = np.atleast_1d(axes)
    epochs = np.arange(1, len(history[keys[0]]) + 1)
    for ax, k in zip(axes, keys):
        ax.plot(epochs, history[k], label="train")
        if f"val_{k}" in history:
            ax.plot(epochs, history[f"val_{k}"], label="val")
        ax.set_title(k, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=7)
        if k != "accuracy" and min(history[k]) > 0:
            ax.set_yscale("log")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def save_prototype_grid(path, images, labels=None, title="", cols=5):
    """The decoded prototypes as a grid, each titled (e.g. with the class it votes for)."""
    plt = _plt()
    n = len(images)
    cols = min(cols, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.5 * cols, 1.65 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < n:
            _gray(ax, images[i], labels[i] if labels else f"P{i}", fontsize=7)
        else:
            ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def save_weight_heatmap(path, weights, class_names):
    """Classifier weights [prototypes, classes]: which prototype votes for which class."""
    plt = _plt()
    w = np.asarray(weights)
    m, k = w.shape
    lim = float(np.abs(w).max()) or 1.0
    fig, ax = plt.subplots(figsize=(1.2 + 0.55 * k, 1.0 + 0.33 * m))
    im = ax.imshow(w, cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(k), class_names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(m), [f"P{j}" for j in range(m)], fontsize=7)
    for j, c in enumerate((-w).argmax(axis=1)):
        ax.add_patch(plt.Rectangle((c - 0.5, j - 0.5), 1, 1, fill=False, ec="black", lw=1.2))
    ax.set_title("classifier weights (boxed: the class each prototype votes for)", fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return _save(fig, path)


def save_prototype_explanation(path, image, reconstruction, protos, proto_ids, proto_dists, probs,
                               class_names, proto_labels, title=""):
    """Input, its reconstruction, its nearest prototypes with distances, and class scores."""
    plt = _plt()
    k = len(proto_ids)
    fig = plt.figure(figsize=(1.7 * (2 + k) + 3.2, 2.6))
    gs = fig.add_gridspec(1, 3 + k, width_ratios=[1] * (2 + k) + [2.2])
    _gray(fig.add_subplot(gs[0, 0]), image, "input")
    _gray(fig.add_subplot(gs[0, 1]), reconstruction, "reconstruction")
    for i, (j, d) in enumerate(zip(proto_ids, proto_dists)):
        _gray(fig.add_subplot(gs[0, 2 + i]), protos[j], f"P{j} ({proto_labels[j]})\nd={d:.2f}", fontsize=7)
    ax = fig.add_subplot(gs[0, 2 + k])
    order = np.arange(len(probs))
    ax.barh(order, probs, color=["tab:red" if c == int(np.argmax(probs)) else "tab:gray" for c in order])
    ax.set_yticks(order, class_names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_title("class probabilities", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def save_latent_grid(path, rows, col_titles, row_titles, cell_titles):
    """Grid of images: one row per input, one column per setting (Zheng et al., Fig. 3)."""
    plt = _plt()
    r, c = len(rows), len(rows[0])
    fig, axes = plt.subplots(r, c, figsize=(1.45 * c + 0.8, 1.6 * r), squeeze=False)
    for i in range(r):
        for j in range(c):
            _gray(axes[i, j], rows[i][j], cell_titles[i][j], fontsize=7)
            if i == 0:
                axes[i, j].set_title(f"{col_titles[j]}\n{cell_titles[i][j]}", fontsize=7)
        axes[i, 0].set_ylabel(row_titles[i], fontsize=7)
    fig.tight_layout()
    return _save(fig, path)
