"""The colour cluttered canvases (clutter64rgb): seeded, shaped, really colour, the grey
generator's layouts and labels, tints independent of the label, registered as a data set."""

import numpy as np
import pytest

from tfinterp.data import ClutterSpec, dataset_info, load_arrays, make_canvases
from tfinterp.data.clutter_rgb import TintSpec, hsv_tints, load_clutter_rgb, make_rgb_canvases


def _items(n=30, seed=0):
    rng = np.random.default_rng(seed)
    items = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):
        top, left = rng.integers(2, 10, size=2)
        items[i, top:top + 14, left:left + 12] = rng.integers(120, 255)
    return items, (np.arange(n) % 10).astype(np.int64)


def test_seeded_shapes_and_range():
    items, labels = _items()
    a = make_rgb_canvases(items, labels, seed=5, n=6)
    b = make_rgb_canvases(items, labels, seed=5, n=6)
    c = make_rgb_canvases(items, labels, seed=6, n=6)
    assert a["images"].shape == (6, 64, 64, 3) and a["images"].dtype == np.float32
    assert a["images"].min() >= 0.0 and a["images"].max() <= 1.0
    np.testing.assert_array_equal(a["images"], b["images"])
    assert np.abs(a["images"] - c["images"]).mean() > 0.01


def test_really_colour_and_grey_when_tints_are_white():
    items, labels = _items()
    rgb = make_rgb_canvases(items, labels, seed=5, n=8)
    x = rgb["images"]
    assert np.abs(x[..., 0] - x[..., 1]).mean() > 0.02 and np.abs(x[..., 1] - x[..., 2]).mean() > 0.02
    # per canvas the channel means differ (tinted), and the item tints vary across canvases
    assert np.ptp(rgb["tints"], axis=0).min() > 0.3
    white = make_rgb_canvases(items, labels, seed=5, n=8, tint=TintSpec(white=True))
    grey = make_canvases(items, labels, seed=5, spec=ClutterSpec(background="texture"), n=8)
    np.testing.assert_allclose(white["images"], np.repeat(grey["images"], 3, axis=-1), atol=1e-6)
    for k in ("labels", "boxes", "masks"):
        np.testing.assert_array_equal(rgb[k], grey[k])


def test_item_pixels_carry_the_item_tint():
    items, labels = _items()
    rgb = make_rgb_canvases(items, labels, seed=7, n=4)
    grey = make_canvases(items, labels, seed=7, spec=ClutterSpec(background="black"), n=4)
    for i in range(4):
        on = rgb["masks"][i] & (grey["images"][i, ..., 0] > 0.2)
        ratio = rgb["images"][i][on] / grey["images"][i, ..., 0][on][:, None]
        np.testing.assert_allclose(ratio, np.broadcast_to(rgb["tints"][i], ratio.shape), atol=1e-4)


def test_colour_carries_no_label_information():
    items, labels = _items()
    a = make_rgb_canvases(items, labels, seed=3, n=6)
    b = make_rgb_canvases(items, np.random.default_rng(1).permutation(labels), seed=3, n=6)
    np.testing.assert_array_equal(a["images"], b["images"])  # the labels do not enter the drawing
    assert not np.array_equal(a["labels"], b["labels"])


def test_hsv_tints_bright_and_saturated():
    t = hsv_tints(np.random.default_rng(0), 500, 0.5, 1.0)
    assert t.shape == (500, 3) and np.allclose(t.max(axis=1), 1.0)  # value 1
    sat = 1.0 - t.min(axis=1)
    assert sat.min() >= 0.5 - 1e-6 and sat.max() <= 1.0 + 1e-6
    assert np.all(np.bincount(t.argmin(axis=1), minlength=3) > 100)  # every hue family occurs


def test_registered_as_a_data_set(fashion_env):
    assert dataset_info("clutter64rgb")["shape"] == (64, 64, 3)
    x, y = load_arrays("clutter64rgb", "test", limit=5)
    assert x.shape == (5, 64, 64, 3) and y.shape == (5,)
    from tfinterp.data import load_clutter

    grey = load_clutter("test", n=5, background="texture")
    np.testing.assert_array_equal(y, grey["labels"])
    d = load_clutter_rgb("test", n=5)  # the cache gives back what was generated
    np.testing.assert_allclose(d["images"], x, atol=1e-6)
    with pytest.raises(Exception, match="unknown split"):
        load_clutter_rgb("val")
