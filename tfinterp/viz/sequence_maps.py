"""The per-sequence explanation figure of `tfinterp explain seqs.fa`: importance logos.

One panel per method, each the sequence drawn as a logo whose letter heights are the
per-position importance (Lanchantin et al. 2016's saliency logos: the present letter scaled
by its score, below the axis when negative), wrapped into rows of ``row_length`` positions.
The given or planted motif is shaded; the best-scoring window of the map (the found motif)
is a bar above the letters. Letters are drawn by the one logo drawer,
`tfinterp.viz.logo.draw_logo`.
"""

from __future__ import annotations

import numpy as np

from tfinterp.viz.figures import _plt, _save
from tfinterp.viz.logo import draw_logo

WINDOW_COLOR = "#1F5FBF"


def importance_letters(onehot, scores) -> np.ndarray:
    """(length, alphabet) letter heights: the one-hot rows scaled by the per-position `scores`."""
    return np.asarray(onehot, np.float64) * np.asarray(scores, np.float64)[:, None]


def save_sequence_explanation(path, onehot, scores: dict, alphabet: str, motifs=(), windows: dict | None = None,
                              title: str = "", row_length: int = 100):
    """A PNG at `path`: one importance logo per method of `scores` ({method: (length,) scores}).

    `motifs`: (begin, end) spans (0-based, end exclusive) shaded in every panel; `windows`:
    {method: (begin, end)} the top window, drawn as a bar above the letters. Returns `path`.
    """
    plt = _plt()
    onehot = np.asarray(onehot, np.float64)
    length = len(onehot)
    rows = max(1, -(-length // row_length))
    methods = list(scores)
    fig, axes = plt.subplots(rows * len(methods), 1, squeeze=False,
                             figsize=(max(4.0, 0.12 * min(length, row_length) + 1.2), 1.25 * rows * len(methods) + 0.4))
    for k, method in enumerate(methods):
        letters = importance_letters(onehot, scores[method])
        lo = min(0.0, float(letters.min()))
        hi = max(1e-9, float(letters.max()))
        pad = 0.18 * (hi - lo)
        win = (windows or {}).get(method)
        for r in range(rows):
            ax = axes[k * rows + r][0]
            b, e = r * row_length, min(length, (r + 1) * row_length)
            local = [(max(s0, b) - b, min(s1, e) - b) for s0, s1 in motifs if s1 > b and s0 < e]
            draw_logo(ax, letters[b:e], alphabet=alphabet, mode="signed", start=b, highlight=local or None,
                      ylabel=False)
            ax.set_ylim(lo - (0.04 * (hi - lo) if lo < 0 else 0), hi + pad)
            if rows > 1:
                ax.set_xlim(b - 0.5, b + row_length - 0.5)
            if win is not None and win[1] > b and win[0] < e:
                x0, x1 = max(win[0], b) - 0.5, min(win[1], e) - 0.5
                ax.plot([x0, x1], [hi + 0.6 * pad] * 2, color=WINDOW_COLOR, lw=2.5, solid_capstyle="butt")
            if r == 0:
                ax.set_ylabel(method, fontsize=7)
    handles = [plt.Rectangle((0, 0), 1, 1, color="#FFE066", alpha=0.45, label="given / planted motif"),
               plt.Line2D([0], [0], color=WINDOW_COLOR, lw=2.5, label="top window of the map")]
    axes[0][0].legend(handles=handles if motifs else handles[1:], fontsize=6, loc="upper right", frameon=False,
                      ncol=2, bbox_to_anchor=(1.0, 1.45))
    if title:
        axes[0][0].set_title(title, fontsize=8, loc="left")
    fig.tight_layout()
    return _save(fig, path)
