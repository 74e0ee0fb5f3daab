"""Sequence logos (Schneider & Stephens 1990) drawn with matplotlib alone.

One drawer, `draw_logo`, stacks one scaled letter glyph per alphabet letter in each column
of a (length, alphabet) matrix. The glyphs are the outlines of DejaVu Sans Bold letters
(`matplotlib.textpath.TextPath`), stretched by an affine transform to exactly the column's
width and the letter's height, so a letter's drawn extent *is* its height in data units:

- ``mode="information"``: a position probability matrix (PPM) drawn as an information-content
  logo: each column's height is its information content ``log2(A) - H(p)`` bits (relative
  entropy to a given background), shared among the letters by their probability. A column
  with one certain DNA letter is 2 bits tall; a uniform column is 0 bits tall.
- ``mode="probability"``: the probabilities themselves (each column 1 tall).
- ``mode="signed"``: the values as they are, for attribution maps and PSSMs: positive
  letters stacked upwards from 0, negative ones downwards below the axis.

Colours: DNA A green, C blue, G orange, T red; the 20 amino acids by chemistry (acidic red,
basic blue, polar green, hydrophobic black, G/P/A-like neutral purple/orange).

Why not logomaker (Tareen & Kinney 2020, on PyPI, maintained): it draws the same glyph
logos but takes pandas DataFrames and adds pandas as a dependency of the plotting layer; the
glyph stacking here is ~100 lines of matplotlib, which tfinterp already depends on, and
returns plain artists whose extents tests can check.

`save_logo` writes one logo, `save_logo_grid` a grid of titled logos (planted PWM beside
found motifs), and `save_attribution_strip` a long (length, alphabet) attribution map
wrapped into rows, with highlighted spans (a planted or found motif), for per-sequence
figures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tfinterp.viz.figures import _plt


def _save(fig, path):
    """Write `fig` as PNG atomically: the layout is fixed by the caller (no tight bounding box,
    which would draw the thousands of glyphs twice)."""
    from tfinterp.utils import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    _plt().close(fig)
    return path


def _layout(fig, rows: int, width: float, height: float, title: bool):
    """Fixed margins in inches (cheap, unlike tight_layout over many glyph patches)."""
    top = 0.45 if title else 0.3
    fig.subplots_adjust(left=0.55 / width, right=1 - 0.15 / width, bottom=0.3 / height, top=1 - top / height,
                        hspace=0.75 if rows > 1 else 0.2, wspace=0.25)

DNA = "ACGT"
PROTEIN = "ACDEFGHIKLMNPQRSTVWY"

DNA_COLORS = {"A": "#109648", "C": "#255C99", "G": "#F7A020", "T": "#D62839", "U": "#D62839"}
_PROTEIN_GROUPS = {
    "#D62839": "DE",        # acidic
    "#255C99": "KRH",       # basic
    "#109648": "STYCNQ",    # polar
    "#202020": "AVLIMFW",   # hydrophobic
    "#8E44AD": "G",
    "#F7A020": "P",
}
PROTEIN_COLORS = {aa: c for c, group in _PROTEIN_GROUPS.items() for aa in group}

_GLYPHS: dict = {}


def default_alphabet(size: int) -> str:
    """``"ACGT"`` for 4 columns, the 20 amino acids for 20; otherwise a `ValueError`."""
    if size == 4:
        return DNA
    if size == 20:
        return PROTEIN
    raise ValueError(f"no default alphabet for {size} letters; pass alphabet= (4: ACGT, 20: amino acids)")


def default_colors(alphabet: str) -> dict:
    """Letter -> colour: DNA colours for ACGT(U), chemistry colours for amino acids, grey otherwise."""
    table = DNA_COLORS if set(alphabet) <= set("ACGTU") else PROTEIN_COLORS
    return {a: table.get(a, "#777777") for a in alphabet}


def information_content(ppm, background=None) -> np.ndarray:
    """Information content (bits) of each column of a (length, alphabet) PPM: the relative
    entropy ``sum_a p_a log2(p_a / q_a)`` to `background` q (default uniform, which gives
    ``log2(A) - H(p)``). Rows are normalised to sum to 1 first."""
    p = _normalise(ppm)
    q = np.full(p.shape[1], 1.0 / p.shape[1]) if background is None else np.asarray(background, np.float64)
    q = q / q.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log2(p / q[None, :]), 0.0)
    return np.maximum(terms.sum(axis=1), 0.0)


def column_heights(matrix, mode: str = "information", background=None) -> np.ndarray:
    """The (length, alphabet) letter heights a logo draws for `matrix` in `mode`
    (``information``: p times the column's information content; ``probability``: p;
    ``signed``: the values unchanged)."""
    m = np.asarray(matrix, np.float64)
    if m.ndim != 2:
        raise ValueError(f"a logo needs a (length, alphabet) matrix, got shape {m.shape}")
    if mode == "information":
        p = _normalise(m)
        return p * information_content(p, background)[:, None]
    if mode == "probability":
        return _normalise(m)
    if mode == "signed":
        return m
    raise ValueError(f"mode must be information, probability or signed, got {mode!r}")


def _normalise(m) -> np.ndarray:
    m = np.asarray(m, np.float64)
    if (m < -1e-9).any():
        raise ValueError("a position probability matrix has no negative entries; use mode='signed'")
    m = np.clip(m, 0.0, None)
    s = m.sum(axis=1, keepdims=True)
    return np.where(s > 0, m / np.where(s > 0, s, 1.0), 1.0 / m.shape[1])


def _glyph_path(letter: str):
    """The outline of `letter` (DejaVu Sans Bold) translated to start at (0, 0), and its size."""
    if letter not in _GLYPHS:
        from matplotlib.font_manager import FontProperties
        from matplotlib.textpath import TextPath

        path = TextPath((0, 0), letter, size=1, prop=FontProperties(family="DejaVu Sans", weight="bold"))
        ext = path.get_extents()
        _GLYPHS[letter] = (path, ext.x0, ext.y0, max(ext.width, 1e-6), max(ext.height, 1e-6))
    return _GLYPHS[letter]


@dataclass
class Glyph:
    """One drawn letter: its outline `path` in data coordinates (filling exactly its box),
    the letter and its colour. `draw_logo` returns these; the axes hold one compound patch
    per colour (thousands of letters then render fast)."""

    letter: str
    color: str
    path: object

    def get_extents(self):
        return self.path.get_extents()


def glyph_path(letter: str, x: float, y: float, width: float, height: float, flip: bool = False):
    """The outline of `letter` filling exactly the box [x, x+width] x [y, y+height] in data
    coordinates (upside down with `flip`), a matplotlib `Path`."""
    from matplotlib.transforms import Affine2D

    path, x0, y0, w, h = _glyph_path(letter)
    t = Affine2D().translate(-x0, -y0).scale(width / w, height / h)
    if flip:
        t = t.scale(1, -1).translate(0, height)
    return t.translate(x, y).transform_path(path)


def glyph(letter: str, x: float, y: float, width: float, height: float, color, flip: bool = False, **kw):
    """A `PathPatch` of `letter` filling exactly the box [x, x+width] x [y, y+height] in data
    coordinates (upside down with `flip`). Its ``gid`` is the letter."""
    from matplotlib.patches import PathPatch

    patch = PathPatch(glyph_path(letter, x, y, width, height, flip), facecolor=color, edgecolor="none", lw=0, **kw)
    patch.set_gid(letter)
    return patch


def draw_logo(ax, matrix, alphabet: str | None = None, mode: str = "information", colors: dict | None = None,
              background=None, start: int = 0, width: float = 0.92, highlight=None, highlight_color="#FFE066",
              flip_below: bool = False, min_height: float = 1e-4, xticks: bool = True, ylabel: bool = True):
    """Draw the logo of a (length, alphabet) `matrix` on `ax`; returns the letters as `Glyph`s.

    Column i is centred at ``start + i``; in each column positive heights stack upwards from
    0 (largest on top) and negative ones downwards (largest magnitude at the bottom).
    `highlight` is a (begin, end) span or a list of spans of column indices (end exclusive)
    shaded behind the letters. See the module docstring for the modes.
    """
    heights = column_heights(matrix, mode, background)
    alphabet = alphabet or default_alphabet(heights.shape[1])
    if len(alphabet) != heights.shape[1]:
        raise ValueError(f"alphabet {alphabet!r} has {len(alphabet)} letters, the matrix {heights.shape[1]} columns")
    colors = {**default_colors(alphabet), **(colors or {})}
    spans = [] if highlight is None else ([highlight] if np.isscalar(highlight[0]) else list(highlight))
    for b, e in spans:
        ax.axvspan(start + b - 0.5, start + e - 0.5, color=highlight_color, alpha=0.45, lw=0, zorder=0)
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path

    patches = []
    for i, col in enumerate(heights):
        x = start + i - width / 2
        up, down = 0.0, 0.0
        for j in np.argsort(col, kind="stable"):  # positives, smallest at the bottom
            v = col[j]
            if v > min_height:
                patches.append(Glyph(alphabet[j], colors[alphabet[j]], glyph_path(alphabet[j], x, up, width, v)))
                up += v
        for j in np.argsort(-col, kind="stable"):  # negatives, the one nearest 0 just below the axis
            v = col[j]
            if v < -min_height:
                down += v
                patches.append(Glyph(alphabet[j], colors[alphabet[j]],
                                     glyph_path(alphabet[j], x, down, width, -v, flip=flip_below)))
    by_color: dict = {}
    for g in patches:
        by_color.setdefault(g.color, []).append(g.path)
    for color, paths in by_color.items():   # one artist per colour; limits are set below
        ax.add_artist(PathPatch(Path.make_compound_path(*paths), facecolor=color, edgecolor="none", lw=0))
    lo = min(0.0, float(np.minimum(heights, 0).sum(axis=1).min())) if len(heights) else 0.0
    hi = max(0.0, float(np.maximum(heights, 0).sum(axis=1).max())) if len(heights) else 1.0
    if mode == "information":
        hi = max(hi, float(np.log2(heights.shape[1])))
    elif mode == "probability":
        hi = 1.0
    pad = 0.04 * max(hi - lo, 1e-6)
    ax.set_xlim(start - 0.5, start + len(heights) - 0.5)
    ax.set_ylim(lo - (pad if lo < 0 else 0), hi + pad)
    if lo < 0:
        ax.axhline(0, color="#444444", lw=0.6, zorder=3)
    if xticks:
        n = len(heights)
        step = max(1, int(np.ceil(n / (20 if n > 24 else 6))))   # few tick labels: text dominates drawing
        ax.set_xticks(range(start, start + n, step))
        ax.tick_params(axis="x", labelsize=6, length=2)
    else:
        ax.set_xticks([])
    ax.tick_params(axis="y", labelsize=6, length=2)
    if ylabel:
        ax.set_ylabel({"information": "bits", "probability": "probability", "signed": "score"}[mode], fontsize=7)
    for s in ("top", "right"):
        ax.spines[s].set_visible(False)
    return patches


def save_logo(path, matrix, alphabet: str | None = None, mode: str = "information", title: str = "",
              highlight=None, colors=None, background=None):
    """One logo of `matrix` as a PNG at `path` (width grows with the length). Returns `path`."""
    plt = _plt()
    n = len(matrix)
    w, h = max(2.2, 0.32 * n + 0.8), 1.7
    fig, ax = plt.subplots(figsize=(w, h))
    draw_logo(ax, matrix, alphabet=alphabet, mode=mode, highlight=highlight, colors=colors, background=background)
    if title:
        ax.set_title(title, fontsize=8)
    _layout(fig, 1, w, h, bool(title))
    return _save(fig, path)


def save_logo_grid(path, rows, alphabet: str | None = None, title: str = "", cell_width: float = 0.28):
    """A grid of logos: `rows` is a list of rows, each a list of ``(caption, matrix, mode)``
    (``None`` leaves a cell empty), e.g. a planted PWM beside the best filter logo, activation
    motif and class-optimization motif. Returns `path`."""
    plt = _plt()
    ncols = max(len(r) for r in rows)
    longest = max((len(c[1]) for r in rows for c in r if c is not None), default=8)
    w = max(2.0, cell_width * longest + 0.7)
    W, H = w * ncols, 1.55 * len(rows) + (0.3 if title else 0.0)
    fig, axes = plt.subplots(len(rows), ncols, figsize=(W, H), squeeze=False)
    for i, row in enumerate(rows):
        for j in range(ncols):
            ax = axes[i][j]
            cell = row[j] if j < len(row) else None
            if cell is None:
                ax.axis("off")
                continue
            caption, matrix, mode = cell
            draw_logo(ax, matrix, alphabet=alphabet, mode=mode, ylabel=(j == 0))
            if j > 0:
                ax.tick_params(axis="y", labelleft=False)
            ax.set_title(caption, fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    _layout(fig, len(rows), W, H, bool(title))
    fig.subplots_adjust(top=1 - (0.75 if title else 0.4) / H)
    return _save(fig, path)


def save_attribution_strip(path, attribution, alphabet: str | None = None, highlight=None, title: str = "",
                           row_length: int = 100, sequence: str | None = None, mode: str = "signed",
                           highlight_color="#FFE066"):
    """A (length, alphabet) attribution map (e.g. saliency x one-hot input: one signed letter
    per position) as a logo wrapped into rows of `row_length` positions, with `highlight`
    spans ((begin, end) position pairs, end exclusive, e.g. the planted motif or the top
    window) shaded; `sequence` (a string) is printed under short strips. All rows share one
    y-scale. Returns `path`."""
    plt = _plt()
    a = np.asarray(attribution, np.float64)
    if a.ndim != 2:
        raise ValueError(f"an attribution strip needs a (length, alphabet) map, got shape {a.shape}")
    L = len(a)
    rows = max(1, -(-L // row_length))
    spans = [] if highlight is None else ([tuple(highlight)] if np.isscalar(highlight[0]) else
                                          [tuple(s) for s in highlight])
    heights = column_heights(a, mode)
    lo = min(0.0, float(np.minimum(heights, 0).sum(axis=1).min()))
    hi = max(1e-6, float(np.maximum(heights, 0).sum(axis=1).max()))
    W, H = max(4.0, 0.13 * min(L, row_length) + 1.0), 1.35 * rows + 0.3
    fig, axes = plt.subplots(rows, 1, figsize=(W, H), squeeze=False)
    for r in range(rows):
        b, e = r * row_length, min(L, (r + 1) * row_length)
        local = [(max(s0, b) - b, min(s1, e) - b) for s0, s1 in spans if s1 > b and s0 < e]
        ax = axes[r][0]
        draw_logo(ax, a[b:e], alphabet=alphabet, mode=mode, start=b, highlight=local or None,
                  highlight_color=highlight_color, ylabel=(r == 0))
        pad = 0.04 * (hi - lo)
        ax.set_ylim(lo - (pad if lo < 0 else 0), hi + pad)
        if rows > 1:
            ax.set_xlim(b - 0.5, b + row_length - 0.5)   # a short last row keeps the others' scale
        if sequence is not None and e - b <= 60:
            ax.set_xticks(range(b, e))
            ax.set_xticklabels(list(sequence[b:e]), fontsize=5)
    if title:
        axes[0][0].set_title(title, fontsize=8)
    _layout(fig, rows, W, H, bool(title))
    return _save(fig, path)


__all__ = ["DNA", "PROTEIN", "DNA_COLORS", "PROTEIN_COLORS", "default_alphabet", "default_colors",
           "information_content", "column_heights", "Glyph", "glyph", "glyph_path", "draw_logo", "save_logo", "save_logo_grid",
           "save_attribution_strip"]
