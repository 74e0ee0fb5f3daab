"""Figures for attacks and defences: adversarial grids, robustness curves, ROC, pixel statistics."""

from __future__ import annotations

import numpy as np

from tfinterp.viz.figures import _plt, _save


def _show(ax, img, **kw):
    img = np.asarray(img, np.float32)
    img = img[..., 0] if img.shape[-1] == 1 else img
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None, **kw)
    ax.axis("off")


def save_adversarial_grid(path, images, adversarial, labels, pred_clean, pred_adv, class_names=None,
                          title: str = "", max_images: int = 8):
    """Rows: originals (with predictions), adversarials (with predictions), perturbations."""
    plt = _plt()
    n = min(len(images), max_images)
    names = class_names or [str(i) for i in range(int(max(np.max(labels), np.max(pred_adv))) + 1)]
    fig, axes = plt.subplots(3, n, figsize=(1.6 * n + 0.4, 5.4), squeeze=False)
    delta = np.asarray(adversarial[:n], np.float32) - np.asarray(images[:n], np.float32)
    scale = float(np.abs(delta).max()) or 1.0
    for i in range(n):
        _show(axes[0, i], images[i], vmin=0, vmax=1)
        axes[0, i].set_title(f"true {names[labels[i]]}\npred {names[pred_clean[i]]}", fontsize=7)
        _show(axes[1, i], adversarial[i], vmin=0, vmax=1)
        ok = "OK" if pred_adv[i] == labels[i] else "fooled"
        axes[1, i].set_title(f"pred {names[pred_adv[i]]}\n({ok})", fontsize=7,
                             color="black" if ok == "OK" else "red")
        d = delta[i].mean(axis=-1) if delta.shape[-1] > 1 else delta[i][..., 0]
        axes[2, i].imshow(d, cmap="seismic", vmin=-scale, vmax=scale)
        axes[2, i].axis("off")
        axes[2, i].set_title(f"max |d| {np.abs(delta[i]).max():.3f}", fontsize=7)
    axes[0, 0].text(-0.15, 0.5, "original", transform=axes[0, 0].transAxes, rotation=90, va="center", ha="right")
    axes[1, 0].text(-0.15, 0.5, "adversarial", transform=axes[1, 0].transAxes, rotation=90, va="center",
                    ha="right")
    axes[2, 0].text(-0.15, 0.5, "perturbation", transform=axes[2, 0].transAxes, rotation=90, va="center",
                    ha="right")
    if title:
        fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def save_robustness_curve(path, curves: dict, title: str = "", xlabel: str = "eps (L-inf)"):
    """Accuracy against eps; `curves` maps a label to (eps list, accuracy list), eps 0 = clean."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.8, 3.6))
    for label, (eps, acc) in curves.items():
        ax.plot(eps, acc, marker="o", label=label)
        for e, a in zip(eps, acc):
            ax.annotate(f"{a:.3f}", (e, a), textcoords="offset points", xytext=(0, 5), fontsize=7, ha="center")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.02, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def save_roc(path, rocs: dict, title: str = ""):
    """ROC curves; `rocs` maps a label to a dict with fpr, tpr, auc."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    for label, r in rocs.items():
        ax.plot(r["fpr"], r["tpr"], label=f"{label} (AUC {r['auc']:.3f})")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=0.8)
    ax.set_xlabel("false positive rate (natural flagged)")
    ax.set_ylabel("true positive rate (adversarial flagged)")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def save_pixel_stats(path, stats: dict, title: str = ""):
    """Fraction of black pixels and grey-level histograms, natural vs adversarial (Zheng et al. Fig. 7)."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.4), gridspec_kw={"width_ratios": [1, 2.4]})
    labels = list(stats["sets"])
    fr = [stats["sets"][k]["black_fraction"] for k in labels]
    axes[0].bar(labels, fr, color=["tab:blue", "tab:red", "tab:green"][:len(labels)])
    for i, f in enumerate(fr):
        axes[0].text(i, f + 0.01, f"{100 * f:.2f} %", ha="center", fontsize=8)
    axes[0].set_ylim(0, 1.05)
    axes[0].set_ylabel("fraction of black pixels")
    edges = np.asarray(stats["bin_edges"])
    centers = (edges[:-1] + edges[1:]) / 2
    width = edges[1] - edges[0]
    for i, k in enumerate(labels):
        h = np.asarray(stats["sets"][k]["grey_histogram"])
        axes[1].bar(centers + (i - (len(labels) - 1) / 2) * width / len(labels), h, width=width / len(labels),
                    label=k, alpha=0.85)
    axes[1].set_xlabel("grey level (black pixels excluded)")
    axes[1].set_ylabel("fraction of grey pixels")
    axes[1].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    return _save(fig, path)
