"""Figures of Dong et al. 2017 ("Towards Interpretable Deep Neural Networks by Leveraging
Adversarial Examples"): each neuron's top real and adversarial images side by side (Figs. 2 /
7), with discrepancy maps over them; LC distributions; CS1 / CS2 against LC (Figs. 4 / 8).
Draws the arrays it is given."""

from __future__ import annotations

import numpy as np

from tfinterp.viz.figures import _plt, _save


def _rgb(img, heat=None):
    from tfinterp.viz.overlay import heat_rgb

    img = np.asarray(img, np.float32)
    if heat is not None:
        return heat_rgb(img, heat, alpha=0.4)
    return np.repeat(img, 3, axis=-1) if img.shape[-1] == 1 else img


def save_neuron_examples(path, rows: list[dict], title: str = ""):
    """One row per neuron: its top real images, then (when given) its top adversarial images.

    Each row is a dict with ``label`` (the row's caption), ``real`` [k, H, W, C], optional
    ``real_captions``, ``real_maps`` [k, H, W] (discrepancy maps drawn over the images),
    ``adv``, ``adv_captions``, ``adv_maps``."""
    plt = _plt()
    k_real = max(len(r["real"]) for r in rows)
    k_adv = max((len(r.get("adv", [])) for r in rows), default=0)
    cols = k_real + (1 + k_adv if k_adv else 0)
    fig, axes = plt.subplots(len(rows), cols, figsize=(0.95 * cols + 1.2, 1.15 * len(rows) + 0.6), squeeze=False)
    for i, r in enumerate(rows):
        for j in range(cols):
            axes[i, j].axis("off")
        for j, img in enumerate(r["real"]):
            maps = r.get("real_maps")
            axes[i, j].imshow(np.clip(_rgb(img, None if maps is None else maps[j]), 0, 1))
            if r.get("real_captions"):
                axes[i, j].set_title(r["real_captions"][j], fontsize=5.5, pad=1.5)
        if k_adv and len(r.get("adv", [])):
            for j, img in enumerate(r["adv"]):
                ax = axes[i, k_real + 1 + j]
                maps = r.get("adv_maps")
                ax.imshow(np.clip(_rgb(img, None if maps is None else maps[j]), 0, 1))
                if r.get("adv_captions"):
                    ax.set_title(r["adv_captions"][j], fontsize=5.5, pad=1.5, color="firebrick")
        axes[i, 0].text(-0.12, 0.5, r["label"], transform=axes[i, 0].transAxes, rotation=90, va="center",
                        ha="right", fontsize=6.5)
    if k_adv:
        axes[0, 0].annotate("real (top activations)", (0, 1.45), xycoords="axes fraction", fontsize=7)
        axes[0, k_real + 1].annotate("adversarial (top activations; original -> target)", (0, 1.45),
                                     xycoords="axes fraction", fontsize=7, color="firebrick")
    if title:
        fig.suptitle(title, fontsize=8.5)
    fig.subplots_adjust(wspace=0.05, hspace=0.45, left=0.06, right=0.99, top=1 - 0.9 / (1.15 * len(rows) + 0.6), bottom=0.02)
    return _save(fig, path)


def save_lc_distribution(path, per_sigma: dict, title: str = ""):
    """Histograms of the neurons' LC (one panel per sigma), the class-prior null marked.

    `per_sigma` maps a label (``"sigma=1"``) to {"lc": values, "null": float, "mean": float}."""
    plt = _plt()
    n = len(per_sigma)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.0), squeeze=False)
    for ax, (label, d) in zip(axes[0], per_sigma.items()):
        v = np.asarray(d["lc"], np.float64)
        ax.hist(v, bins=min(30, max(5, len(v) // 4)), color="steelblue", alpha=0.85)
        ax.axvline(d["null"], color="black", ls="--", lw=1, label=f"prior null {d['null']:.3f}")
        ax.axvline(d["mean"], color="firebrick", lw=1.2, label=f"mean {d['mean']:.3f}")
        ax.set_xlabel("LC = p^T C p")
        ax.set_ylabel("neurons")
        ax.set_title(f"{label} ({len(v)} neurons)", fontsize=8.5)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def save_consistency_curves(path, panels: dict, title: str = ""):
    """CS1 and CS2 against LC (Dong et al. Figs. 4 / 8): per panel (a sigma) the bin means of
    CS1 and CS2 over the neurons around each LC value, each point labelled with its neuron count.

    `panels` maps a label to the dict of `tfinterp.analysis.consistency.binned`."""
    plt = _plt()
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(4.0 * n, 3.3), squeeze=False)
    for ax, (label, b) in zip(axes[0], panels.items()):
        x = np.asarray(b["centers"])
        counts = b["count"]
        for name, colour in (("cs1", "tab:blue"), ("cs2", "tab:red")):
            y = np.array([np.nan if v is None else v for v in b["mean"][name]], np.float64)
            ok = np.isfinite(y)
            ax.plot(x[ok], y[ok], marker="o", color=colour, label=name.upper())
            if name == "cs1":
                for xi, yi, c in zip(x[ok], y[ok], np.asarray(counts)[ok]):
                    ax.annotate(str(c), (xi, yi), textcoords="offset points", xytext=(0, 5), fontsize=6,
                                ha="center", color="dimgray")
        ax.set_xlabel("LC (bin centre; grey: neurons per point)")
        ax.set_ylabel("C-weighted cosine similarity")
        ax.set_ylim(-0.02, 1.05)
        ax.set_title(label, fontsize=8.5)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)
