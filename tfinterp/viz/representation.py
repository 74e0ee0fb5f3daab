"""Figures of the representation analysis (Dong et al. 2017): histograms of the distance ratios
r1 / r2 (their Figures 5 and 9) and prediction-difference tracing with each top neuron's
dataset examples (their Figure 10). Draws arrays it is given."""

from __future__ import annotations

import numpy as np

from tfinterp.viz.figures import _gray, _plt, _save


def save_ratio_histograms(path, sets: dict, title: str = "", bins: int = 30):
    """Histograms of r1 (left) and r2 (right); `sets` maps a label (a model) to (r1, r2) arrays.
    A dashed line marks 1 (as far as the real images of the class are from each other)."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.4))
    for ax, j, name in ((axes[0], 0, "r1 (to the original class)"), (axes[1], 1, "r2 (to the target class)")):
        vals = [np.asarray(v[j], np.float64) for v in sets.values()]
        vals = [v[np.isfinite(v)] for v in vals]
        pooled = np.concatenate(vals) if vals else np.zeros(0)
        lo, hi = (float(pooled.min()), float(pooled.max())) if pooled.size else (0.0, 2.0)
        lo, hi = min(lo, 0.9), max(hi, 1.1)
        edges = np.linspace(lo, hi, bins + 1)
        for label, v in zip(sets, vals):
            ax.hist(v, bins=edges, alpha=0.55, label=f"{label} (mean {v.mean():.3f})" if v.size else label)
        ax.axvline(1.0, ls="--", color="black", lw=0.8)
        ax.set_xlabel(name)
        ax.set_ylabel("adversarial images")
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def save_trace_figure(path, rows, class_names=None, title: str = ""):
    """Prediction-difference tracing (Dong et al. 2017, Fig. 10): one row per traced image.

    Each row is a dict with ``image`` [H, W, C], ``title`` and ``neurons``, a list of dicts
    with ``channel``, ``pd`` and ``examples`` ([k, H, W, C] images that activate the channel
    most, best first) and optionally ``example_labels`` [k] (class indices).
    """
    plt = _plt()
    rows = list(rows)
    neurons = max((len(r["neurons"]) for r in rows), default=0)
    k = max((len(n["examples"]) for r in rows for n in r["neurons"]), default=0)
    cols = 1 + neurons * k
    fig, axes = plt.subplots(len(rows), cols, figsize=(1.25 * cols + 0.6, 1.6 * len(rows) + 0.5), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, r in enumerate(rows):
        img, cmap = _gray(r["image"])
        axes[i, 0].imshow(img, cmap=cmap, vmin=0, vmax=1)
        axes[i, 0].set_title(r.get("title", ""), fontsize=7)
        for j, n in enumerate(r["neurons"]):
            labels = n.get("example_labels")
            for e, ex in enumerate(n["examples"][:k]):
                ax = axes[i, 1 + j * k + e]
                im, cm = _gray(ex)
                ax.imshow(im, cmap=cm, vmin=0, vmax=1)
                head = f"#{n['channel']} PD {n['pd']:.3g}\n" if e == 0 else "\n"
                cls = "" if labels is None else (class_names[labels[e]] if class_names else str(labels[e]))
                ax.set_title(head + cls, fontsize=6, loc="left" if e == 0 else "center")
            if j:  # a gap line between neurons
                axes[i, 1 + j * k].axvline(-0.5, color="grey", lw=2)
    if title:
        fig.suptitle(title, fontsize=9)
    return _save(fig, path)
