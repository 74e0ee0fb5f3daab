"""The NumPy + Pillow overlay (tfinterp.viz.overlay): colours, box, layout, files, imports."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tfinterp.viz import overlay
from tfinterp.viz.overlay import (box_border, jet, jet_lut, render_overlay, save_overlay_fast,
                                  save_overlays)


def _panel(fig, k, h=64, w=64, s=4, titles=None):
    """The k-th panel (0 = input) of a figure rendered with all titles one line wide or less.

    Found by layout: panels start below the title band and follow each other left to right."""
    top = overlay.MARGIN + overlay._line_height() * (titles or 1) + 4
    left = overlay.MARGIN + k * (w * s + overlay.GAP)
    return fig[top:top + h * s, left:left + w * s]


def test_jet_lookup_matches_matplotlib():
    import matplotlib

    ref = matplotlib.colormaps["jet"]
    v = np.concatenate([np.linspace(-0.2, 1.2, 3001), np.arange(256) / 255.0, np.arange(257) / 256.0])
    ours = jet(v)
    theirs = np.asarray(ref(v))[:, :3]
    assert np.abs(ours - theirs).max() <= 1 / 255
    # the table itself, entry by entry (matplotlib's 256-entry jet)
    assert np.abs(jet_lut() - np.asarray(ref(np.arange(256)))[:, :3]).max() <= 1 / 255


def test_jet_known_values():
    # jet by hand from its knots: 0 -> dark blue (0, 0, 0.5), 1 -> dark red (0.5, 0, 0),
    # 0.5 -> red 0.15/0.31, green 1, blue 0.15/0.31 on the two falling/rising ramps
    np.testing.assert_allclose(jet(0.0), [0, 0, 0.5], atol=1e-6)
    np.testing.assert_allclose(jet(1.0), [0.5, 0, 0], atol=1e-6)
    np.testing.assert_allclose(jet(2.0), [0.5, 0, 0], atol=1e-6)   # over: the end colour
    np.testing.assert_allclose(jet(-1.0), [0, 0, 0.5], atol=1e-6)  # under: the end colour
    mid = jet(0.5)  # bin 128, i.e. jet(128/255)
    x = 128 / 255
    np.testing.assert_allclose(mid, [(x - 0.35) / 0.31, 1.0, 1 - (x - 0.34) / 0.31], atol=1e-6)


def test_all_ones_map_blends_jet1_half_with_the_image():
    rng = np.random.default_rng(0)
    img = rng.random((64, 64, 1)).astype(np.float32)
    fig = render_overlay(img, np.ones((64, 64), np.float32), title="t", scale=4)
    heat = _panel(fig, 1).astype(np.float64)
    grey = np.repeat(np.repeat(img[..., 0], 4, 0), 4, 1)
    expect = 0.5 * np.array([0.5, 0.0, 0.0]) * 255 + 0.5 * grey[..., None] * 255
    assert np.abs(heat - expect).max() <= 0.5 + 1e-9   # rounding to uint8 only
    # the input panel is the image itself, each pixel a 4x4 block
    assert np.abs(_panel(fig, 0).astype(np.float64) - grey[..., None] * 255).max() <= 0.5 + 1e-9


def test_known_pixels_of_a_tiny_map():
    img = np.zeros((8, 8), np.float32)
    img[:, 4:] = 1.0                                   # left half black, right half white
    m = np.zeros((8, 8), np.float32)
    m[2, 1] = 1.0                                      # one hot pixel on black
    m[5, 6] = 0.5                                      # one mid pixel on white
    m[0, 7] = np.nan                                   # a non-finite value shows the image
    fig = render_overlay(img, m, title="", scale=10)
    heat = _panel(fig, 1, 8, 8, 10, titles=0)
    assert tuple(heat[25, 15]) == (64, 0, 0)           # 0.5 * (0.5, 0, 0) on black
    assert tuple(heat[0, 0]) == (0, 0, 64)             # 0.5 * jet(0) = (0, 0, 0.25) on black
    r, g, b = jet(0.5) * 0.5 + 0.5
    assert tuple(heat[55, 65]) == tuple(np.round(np.array([r, g, b]) * 255).astype(int))
    assert tuple(heat[5, 75]) == (255, 255, 255)       # NaN: the white image pixel alone
    # each image pixel is a 10x10 block
    assert (heat[20:30, 10:20] == heat[25, 15]).all() and (heat[30, 15] != heat[25, 15]).any()


@pytest.mark.parametrize("box,scale", [((10, 20, 30, 50), 4), ((0, 0, 64, 64), 4), ((3, 5, 4, 9), 3)])
def test_box_pixels_lie_on_the_scaled_border(box, scale):
    rng = np.random.default_rng(1)
    img = rng.random((64, 64, 1)).astype(np.float32)
    m = rng.random((64, 64)).astype(np.float32)
    fig = render_overlay(img, m, title="x", box=box, scale=scale)
    heat = _panel(fig, 1, s=scale)
    white = (heat == 255).all(axis=-1)  # a 50 % jet blend is never white: only the box is
    y0, x0, y1, x1 = (v * scale for v in box)
    t = max(1, scale // 2)
    expect = np.zeros_like(white)
    expect[y0:y1, x0:x1] = True
    expect[y0 + t:y1 - t, x0 + t:x1 - t] = False
    assert white.sum() > 0
    np.testing.assert_array_equal(white, expect)
    np.testing.assert_array_equal(box_border(box, 64, 64, scale), expect)
    # without a box, no white pixel
    assert not (_panel(render_overlay(img, m, title="x", scale=scale), 1, s=scale) == 255).all(-1).any()


def test_extra_panels_colour_bar_and_titles():
    img = np.zeros((64, 64, 1), np.float32)
    m = np.full((64, 64), 0.25, np.float32)
    stage1 = np.ones((64, 64), np.float32)
    one = render_overlay(img, m, title="a\nb")
    two = render_overlay(img, m, title="a\nb", extra={"stage 1": stage1})
    # one more 256-pixel panel and gap; the same height
    assert two.shape[1] - one.shape[1] == 256 + overlay.GAP and two.shape[0] == one.shape[0]
    assert _panel(two, 1, titles=2)[100, 100].tolist() == [64, 0, 0]        # the extra: jet(1) / 2
    assert (_panel(two, 2, titles=2)[100, 100] == np.round(jet(0.25) * 127.5)).all()  # the main map
    # the colour bar right of the last panel runs from jet(1) at the top to jet(0) at the bottom
    top = overlay.MARGIN + 2 * overlay._line_height() + 4
    bar_x = overlay.MARGIN + 3 * 256 + 2 * overlay.GAP + overlay.BAR_GAP
    column = two[top + 1:top + 255, bar_x + overlay.BAR_WIDTH // 2]
    np.testing.assert_array_equal(column[0], np.round(jet(1 - 1.5 / 256) * 255))
    np.testing.assert_array_equal(column[-1], np.round(jet(1.5 / 256) * 255))
    assert len({tuple(c) for c in column}) > 100
    # title text is drawn (dark ink) in the band above the panels, nowhere on a blank title
    band = two[:top - 2, overlay.MARGIN:]
    assert (band < 100).any()
    blank = render_overlay(img, m, title="")
    assert not (blank[:overlay.MARGIN + overlay._line_height() - 6, 300:] < 250).any()


def test_map_of_another_size_is_stretched_and_colour_images_are_kept():
    img = np.zeros((64, 64, 3), np.float32)
    img[..., 1] = 1.0                                  # pure green
    m = np.zeros((16, 16), np.float32)
    m[:8] = 1.0                                        # top half hot
    heat = _panel(render_overlay(img, m), 1)
    assert heat[10, 10].tolist() == [64, 128, 0]       # 0.5 * (0.5, 0, 0) + 0.5 * (0, 1, 0)
    assert heat[200, 10].tolist() == [0, 128, 64]      # 0.5 * (0, 0, 0.5) + 0.5 * (0, 1, 0)
    assert _panel(render_overlay(img, m), 0)[5, 5].tolist() == [0, 255, 0]
    with pytest.raises(ValueError, match="saliency map"):
        render_overlay(img, np.zeros((2, 64, 64, 1)))


def test_written_png_has_the_rendered_size(tmp_path):
    img = np.random.default_rng(2).random((64, 64, 1)).astype(np.float32)
    m = np.random.default_rng(3).random((64, 64)).astype(np.float32)
    fig = render_overlay(img, m, "gradient: target 3, p=0.5\npredicted 3", box=(1, 2, 30, 40))
    path = save_overlay_fast(tmp_path / "sub" / "o.png", img, m, "gradient: target 3, p=0.5\npredicted 3",
                             box=(1, 2, 30, 40))
    with Image.open(path) as im:
        assert im.format == "PNG" and im.mode == "RGB"
        assert im.size == (fig.shape[1], fig.shape[0])
        np.testing.assert_array_equal(np.asarray(im), fig)   # lossless
    # two 256-pixel panels, gap, margins and the colour bar; 256 + title band + margins high
    assert 2 * 256 + overlay.GAP + overlay.BAR_GAP + overlay.BAR_WIDTH < fig.shape[1] < 2 * 256 + 120
    assert 256 + 2 * overlay._line_height() < fig.shape[0] < 256 + 80
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["o.png"]  # no temporary left


def test_save_overlay_engines(tmp_path):
    from tfinterp.viz import save_overlay

    img = np.zeros((64, 64, 1), np.float32)
    m = np.full((64, 64), 0.5, np.float32)
    fast = save_overlay(tmp_path / "fast.png", img, m, "t", box=(1, 1, 9, 9), extra={"s1": m})  # the default
    slow = save_overlay(tmp_path / "slow.png", img, m, "t", box=(1, 1, 9, 9), extra={"s1": m},
                        engine="matplotlib")
    with Image.open(fast) as a:
        np.testing.assert_array_equal(np.asarray(a), render_overlay(img, m, "t", box=(1, 1, 9, 9), extra={"s1": m}))
    with Image.open(slow) as b:
        assert b.size[0] > 400
    with pytest.raises(ValueError, match="engine"):
        save_overlay(tmp_path / "x.png", img, m, engine="svg")


def test_save_overlays_batch(tmp_path):
    rng = np.random.default_rng(4)
    x = rng.random((3, 64, 64, 1)).astype(np.float32)
    maps = rng.random((3, 64, 64)).astype(np.float32)
    paths = [tmp_path / f"{i}.png" for i in range(3)]
    extras = [None, {"stage 1": maps[1]}, None]
    out = save_overlays(paths, x, maps, titles=["a", "b", "c"], boxes=[None, (0, 0, 5, 5), None], extras=extras)
    assert out == paths
    for i, p in enumerate(paths):
        with Image.open(p) as im:
            ref = render_overlay(x[i], maps[i], "abc"[i], box=[None, (0, 0, 5, 5), None][i], extra=extras[i])
            np.testing.assert_array_equal(np.asarray(im), ref)
    with pytest.raises(ValueError, match="titles"):
        save_overlays(paths, x, maps, titles=["a"])


def test_fast_path_imports_neither_tensorflow_nor_matplotlib(tmp_path):
    code = f"""
import json, sys
import numpy as np
from tfinterp.viz.overlay import save_overlays
x = np.random.default_rng(0).random((2, 64, 64, 1)).astype(np.float32)
save_overlays([{str(tmp_path / 'a.png')!r}, {str(tmp_path / 'b.png')!r}], x, x[..., 0], titles=["a", "b"],
              boxes=[(1, 1, 5, 5), None], extras=[{{"s": x[0, ..., 0]}}, None])
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "matplotlib"))))
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.strip().splitlines()[-1]) == []
    assert (tmp_path / "a.png").stat().st_size > 1000 and (tmp_path / "b.png").exists()


@pytest.mark.parametrize("shape", [(1, 1, 3), (7, 13, 3), (65, 300, 3)])
def test_png_writer_is_lossless(shape, tmp_path):
    import io

    from tfinterp.viz.overlay import png_bytes, write_figure

    rng = np.random.default_rng(sum(shape))
    a = rng.integers(0, 256, shape, dtype=np.uint8)
    a[shape[0] // 2:] = a[:1]          # repeated rows (what the Up filter turns into zeros)
    with Image.open(io.BytesIO(png_bytes(a))) as im:
        assert im.format == "PNG" and im.mode == "RGB" and im.size == (shape[1], shape[0])
        np.testing.assert_array_equal(np.asarray(im), a)
    with Image.open(write_figure(tmp_path / "f.png", a)) as im:
        np.testing.assert_array_equal(np.asarray(im), a)
    with pytest.raises(ValueError, match="uint8"):
        png_bytes(a[..., 0])
