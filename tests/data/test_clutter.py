import numpy as np
import pytest
from conftest import needs_fashion

from tfinterp.data import ClutterSpec, load_clutter, make_canvases
from tfinterp.errors import UserError


def _square_items(n=40, side=10):
    items = np.zeros((n, 28, 28), np.uint8)
    items[:, 9:9 + side, 9:9 + side] = 255
    return items, np.arange(n) % 10


def test_reproducible_and_seed_dependent():
    items, labels = _square_items()
    a = make_canvases(items, labels, seed=3)
    b = make_canvases(items, labels, seed=3)
    c = make_canvases(items, labels, seed=4)
    for k in a:
        assert np.array_equal(a[k], b[k])
    assert not np.array_equal(a["images"], c["images"])


def test_boxes_masks_and_scale_match_by_hand():
    items, labels = _square_items()
    spec = ClutterSpec()
    out = make_canvases(items, labels, seed=0, spec=spec)
    assert out["images"].shape == (40, 64, 64, 1)
    for img, box, mask in zip(out["images"][..., 0], out["boxes"], out["masks"]):
        y0, x0, y1, x1 = box
        h, w = y1 - y0, x1 - x0
        # a 10px square scaled by 0.8..1.6 is 8..16 px (bilinear edges add at most 1 px a side)
        assert 7 <= h <= 18 and 7 <= w <= 18 and abs(h - w) <= 1
        ys, xs = np.nonzero(mask)
        assert (ys.min(), xs.min(), ys.max() + 1, xs.max() + 1) == tuple(box)
        assert np.all(img[mask] > 0.1)
        # clutter never enters the item's box: inside it, only the item's pixels are bright
        inside = np.zeros_like(mask)
        inside[y0:y1, x0:x1] = True
        assert np.all(img[inside & ~mask] <= 0.1 + 1e-6)
    assert (out["images"][..., 0][~out["masks"]] > 0.1).any()  # there is clutter outside


def test_labels_follow_their_items():
    items, _ = _square_items()
    labels = np.arange(40)
    out = make_canvases(items, labels, seed=1, n=10)
    assert len(set(out["labels"].tolist())) == 10


def test_too_large_scale_is_an_error():
    items, labels = _square_items()
    with pytest.raises(UserError):
        make_canvases(items, labels, seed=0, spec=ClutterSpec(size=32, scale_max=1.6))


@needs_fashion
def test_splits_are_disjoint_and_cached():
    a = load_clutter("test", n=50)
    b = load_clutter("test", n=50)  # from the cache
    assert np.array_equal(a["images"], b["images"]) and np.array_equal(a["boxes"], b["boxes"])
    t = load_clutter("tune", n=50)
    assert not np.array_equal(a["images"], t["images"])
    with pytest.raises(UserError, match="unknown split"):
        load_clutter("valid")


def test_textured_background_keeps_the_layout_and_black_canvases_unchanged():
    from dataclasses import asdict

    items, labels = _square_items()
    black = make_canvases(items, labels, seed=5, n=6)
    spec = ClutterSpec(background="texture", texture_gain_min=0.2, texture_gain_max=0.3)
    tex = make_canvases(items, labels, seed=5, spec=spec, n=6)
    # same items, boxes and masks: the texture has its own random stream
    for k in ("labels", "boxes", "masks"):
        np.testing.assert_array_equal(tex[k], black[k])
    img, blk = tex["images"][..., 0], black["images"][..., 0]
    empty = blk == 0.0                     # pixels with neither item nor clutter
    assert empty.any() and img[empty].max() <= 0.3 + 1e-6 and img[empty].std() > 0.02
    opaque = blk >= 0.1                    # item and clutter pixels above the mask threshold stay as they were
    np.testing.assert_allclose(img[opaque], blk[opaque], atol=1e-6)
    # the default spec's cache key is what it was before the texture fields existed
    old = {k: v for k, v in asdict(ClutterSpec()).items()
           if k not in ("background", "texture_gain_min", "texture_gain_max")}
    assert ClutterSpec().cache_fields() == old and "background" in spec.cache_fields()
    with pytest.raises(UserError, match="background"):
        make_canvases(items, labels, seed=5, spec=ClutterSpec(background="plaid"), n=2)


def test_load_clutter_refuses_a_spec_that_contradicts_size_or_background():
    """A spec carries its own size and background; a different one passed beside it is an error
    (it used to be silently ignored). Checked before any data is read."""
    with pytest.raises(UserError, match="set them in the spec only"):
        load_clutter("tune", n=2, spec=ClutterSpec(), background="texture")
    with pytest.raises(UserError, match="set them in the spec only"):
        load_clutter("tune", n=2, spec=ClutterSpec(size=64), size=96)
