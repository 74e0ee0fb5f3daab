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
    # the default spec's cache key is what it was before the texture (and generator) fields existed
    old = {k: v for k, v in asdict(ClutterSpec()).items()
           if k not in ("background", "texture_gain_min", "texture_gain_max", "generator")}
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


# --- the second canvas family: 10x10 fragments of other items (issue 14, item 4) -----------------

def _valued_items(n=30):
    """Items that are uniform squares of distinct brightness: a pixel's value names its source item."""
    values = 40 + 6 * np.arange(n)                      # 40..214: all above the mask threshold, all distinct
    items = np.broadcast_to(values[:, None, None], (n, 28, 28)).astype(np.uint8)
    return items, np.arange(n) % 10, values / 255.0


def test_fragments10_deterministic_per_seed_and_unlike_the_first_family():
    from tfinterp.data import fragments10_spec

    items, labels, _ = _valued_items()
    spec = fragments10_spec()
    a = make_canvases(items, labels, seed=11, spec=spec)
    b = make_canvases(items, labels, seed=11, spec=spec)
    c = make_canvases(items, labels, seed=12, spec=spec)
    for k in a:
        assert np.array_equal(a[k], b[k])
    assert not np.array_equal(a["images"], c["images"])
    first = make_canvases(items, labels, seed=11)
    assert not np.array_equal(a["images"], first["images"])
    # the generator enters the cache key; the first family's key is unchanged by the option
    assert spec.cache_fields()["generator"] == "fragments10" and "generator" not in ClutterSpec().cache_fields()


def test_fragments10_item_box_mask_scale_and_fragments_by_construction():
    from tfinterp.data import fragments10_spec

    items, labels, value = _valued_items()
    out = make_canvases(items, labels, seed=0, spec=fragments10_spec(), return_layout=True)
    sides = []
    n_fragments = 0
    for img, box, mask, lay in zip(out["images"][..., 0], out["boxes"], out["masks"], out["layout"]):
        own = lay["source"]
        # the item is a uniform 28x28 square scaled by 0.9..1.5: a square of round(28 s) px, 25..42
        y0, x0, y1, x1 = box
        assert (y0, x0, y1 - y0, x1 - x0) == (lay["top"], lay["left"], lay["side"], lay["side"])
        assert 25 <= lay["side"] <= 42
        sides.append(lay["side"])
        # box and mask are exactly the placed item, its pixels its own value, nothing else in its box
        expect = np.zeros_like(mask)
        expect[y0:y1, x0:x1] = True
        assert np.array_equal(mask, expect)
        np.testing.assert_allclose(img[mask], value[own], atol=1 / 255)
        # every fragment is 10x10 and cut from another item; the canvas outside the item is exactly
        # the brightest fragment covering each pixel, and black where none does
        cover = np.zeros_like(img)
        for src, py, px, fs in lay["fragments"]:
            assert fs == 10 and src != own
            assert py + fs <= y0 or py >= y1 or px + fs <= x0 or px >= x1   # off the item's box
            cover[py:py + fs, px:px + fs] = np.maximum(cover[py:py + fs, px:px + fs], value[src])
        np.testing.assert_allclose(img[~mask], cover[~mask], atol=1e-6)
        assert not np.isin(np.round(img[~mask & (img > 0)] * 255), [round(value[own] * 255)]).any()
        n_fragments += len(lay["fragments"])
    assert n_fragments >= 4 * len(sides) * 0.8     # 4..8 tried per canvas, nearly all placed
    assert min(sides) <= 30 and max(sides) >= 37   # the scale range is used, not one size


def test_fragments10_refuses_other_fragment_sizes_and_unknown_generators():
    from dataclasses import replace

    from tfinterp.data import fragments10_spec

    items, labels, _ = _valued_items()
    with pytest.raises(UserError, match="10x10"):
        make_canvases(items, labels, seed=0, spec=replace(fragments10_spec(), fragment_max=12), n=2)
    with pytest.raises(UserError, match="generator"):
        make_canvases(items, labels, seed=0, spec=ClutterSpec(generator="swirl"), n=2)
    with pytest.raises(UserError, match="generator"):
        load_clutter("tune", n=2, generator="swirl")
    with pytest.raises(UserError, match="set them in the spec only"):
        load_clutter("tune", n=2, spec=ClutterSpec(), generator="fragments10")


def test_split_source_items_are_disjoint():
    from tfinterp.data.clutter import SOURCE_ITEMS

    sizes = {"train": 60000, "test": 10000}  # Fashion-MNIST's two files
    used = {base: np.zeros(n, int) for base, n in sizes.items()}
    for base, start, end in SOURCE_ITEMS.values():
        used[base][start:end] += 1
    assert all((u == 1).all() for u in used.values())   # every item in exactly one split


@needs_fashion
def test_clutter64frag_splits_cached_disjoint_and_registered():
    from tfinterp.data import dataset_info, fragments10_spec, load_arrays
    from tfinterp.data.clutter import SOURCE_ITEMS, _source_items

    a = load_clutter("test", n=30, generator="fragments10")
    b = load_clutter("test", n=30, spec=fragments10_spec())       # the same canvases, from the cache
    for k in a:
        assert np.array_equal(a[k], b[k])
    first = load_clutter("test", n=30)
    assert not np.array_equal(a["images"], first["images"])
    # each split's canvases come from its own Fashion-MNIST slice: regenerate them with the layout
    # and find the placed item's pixels among that slice's items only
    for split in ("tune", "test"):
        items, labels = _source_items(split)
        base, start, end = SOURCE_ITEMS[split]
        d = load_clutter(split, n=10, generator="fragments10")
        again = make_canvases(items, labels, seed={"tune": 2020, "test": 3030}[split], spec=fragments10_spec(),
                              n=10, return_layout=True)
        np.testing.assert_allclose(again["images"], d["images"], atol=0.5 / 255)
        assert np.array_equal(again["labels"], d["labels"])
        for lay in again["layout"]:
            assert 0 <= lay["source"] < len(items) and all(f[0] != lay["source"] for f in lay["fragments"])
    info = dataset_info("clutter64frag")
    assert info["shape"] == (64, 64, 1) and info["num_classes"] == 10
    x, y = load_arrays("clutter64frag", "test", limit=30)
    np.testing.assert_array_equal(x, a["images"])
    np.testing.assert_array_equal(y, a["labels"])
