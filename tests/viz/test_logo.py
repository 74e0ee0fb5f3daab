"""Sequence logos: letter heights are information content (bits) or signed values, checked
on the drawn glyphs' extents."""

import numpy as np
import pytest

from tfinterp.viz.logo import (DNA, PROTEIN, column_heights, draw_logo, information_content, save_attribution_strip,
                               save_logo, save_logo_grid)


def _ax():
    from tfinterp.viz.figures import _plt

    plt = _plt()
    fig, ax = plt.subplots()
    return plt, fig, ax


def _extents(patches):
    out = []
    for g in patches:
        e = g.get_extents()
        out.append((g.letter, e.x0, e.x1, e.y0, e.y1))
    return out


def test_certain_column_is_two_bits_and_uniform_column_zero():
    ppm = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0.25, 0.25, 0.25, 0.25], [0, 0, 0, 1]], float)
    plt, fig, ax = _ax()
    patches = draw_logo(ax, ppm, mode="information")
    ext = _extents(patches)
    drawn = [a for a in ax.patches if a.get_facecolor()[3] > 0]
    assert len(drawn) == 3          # one compound artist per colour (A, G, T)
    plt.close(fig)
    # one glyph per certain column, none for the uniform one
    assert [e[0] for e in ext] == ["A", "G", "T"]
    for (letter, x0, x1, y0, y1), col in zip(ext, (0, 1, 3)):
        assert y0 == pytest.approx(0.0, abs=1e-6)
        assert y1 == pytest.approx(2.0, abs=1e-6)   # log2(4) bits
        assert (x0 + x1) / 2 == pytest.approx(col, abs=1e-6)
    assert information_content(ppm) == pytest.approx([2, 2, 0, 2])


def test_information_heights_split_by_probability():
    # p = (0.5, 0.5, 0, 0): H = 1 bit, IC = 1 bit, each letter 0.5 tall, stacked to 1
    plt, fig, ax = _ax()
    patches = draw_logo(ax, np.array([[0.5, 0.5, 0, 0]]), mode="information")
    plt.close(fig)
    ext = sorted(_extents(patches), key=lambda e: e[3])
    assert [e[0] for e in ext] == ["A", "C"]   # equal heights: stable order
    assert ext[0][3] == pytest.approx(0) and ext[0][4] == pytest.approx(0.5)
    assert ext[1][3] == pytest.approx(0.5) and ext[1][4] == pytest.approx(1.0)


def test_signed_letters_below_the_axis():
    m = np.array([[0.7, -0.3, 0.0, -0.5]])
    plt, fig, ax = _ax()
    patches = draw_logo(ax, m, mode="signed")
    plt.close(fig)
    ext = {e[0]: e[3:] for e in _extents(patches)}
    assert set(ext) == {"A", "C", "T"}   # the zero G is not drawn
    assert ext["A"] == pytest.approx((0.0, 0.7))
    assert ext["C"] == pytest.approx((-0.3, 0.0))      # nearest 0 first below the axis
    assert ext["T"] == pytest.approx((-0.8, -0.3))


def test_colours_and_protein_alphabet(tmp_path):
    plt, fig, ax = _ax()
    patches = draw_logo(ax, np.eye(4), mode="probability")
    plt.close(fig)
    from matplotlib.colors import to_hex

    colours = {g.letter: to_hex(g.color) for g in patches}
    assert colours == {"A": "#109648", "C": "#255c99", "G": "#f7a020", "T": "#d62839"}
    ppm = np.full((5, 20), 1 / 20)
    ppm[2] = 0
    ppm[2, PROTEIN.index("W")] = 1
    plt, fig, ax = _ax()
    patches = draw_logo(ax, ppm)
    plt.close(fig)
    assert [g.letter for g in patches] == ["W"]
    assert patches[0].get_extents().y1 == pytest.approx(np.log2(20))
    assert column_heights(ppm)[2].sum() == pytest.approx(np.log2(20))
    with pytest.raises(ValueError):
        column_heights(-np.eye(4), "information")


def test_figures_are_written(tmp_path):
    rng = np.random.default_rng(0)
    ppm = rng.dirichlet(np.ones(4), size=8)
    save_logo(tmp_path / "l.png", ppm, title="x")
    save_logo_grid(tmp_path / "g.png", [[("planted", ppm, "information"), ("found", ppm[::-1], "information")],
                                        [("pssm", ppm - 0.25, "signed"), None]])
    attr = rng.normal(size=(230, 4)) * np.eye(4)[rng.integers(0, 4, 230)]
    save_attribution_strip(tmp_path / "s.png", attr, highlight=[(20, 30), (95, 110)], title="seq 0")
    for f in ("l.png", "g.png", "s.png"):
        assert (tmp_path / f).stat().st_size > 1000
    assert DNA == "ACGT"
