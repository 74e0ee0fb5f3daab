"""Ratios, the pipeline augmentation, styles from folders, the cue-conflict set and shape bias."""

import numpy as np
import pytest
import tensorflow as tf

from tfinterp.errors import UserError
from tfinterp.training.stylizers.base import get_stylizer, mix_augment, parse_ratio, stylized_fraction


def test_parse_ratio():
    assert parse_ratio("1:2") == (1, 2) and parse_ratio(" 3 : 1 ") == (3, 1)
    assert stylized_fraction("1:3") == 0.75
    for bad in ("1-2", "a:b", "1:", "1:0", "0:0", "1.5:2", ""):
        with pytest.raises(UserError, match="ratio"):
            parse_ratio(bad)


@pytest.mark.parametrize("ratio,n_styl", [("1:1", 4), ("1:3", 6), ("1:4", 6), ("3:1", 2)])
def test_mix_augment_stylizes_that_share_of_each_batch(ratio, n_styl, contents, styles):
    st = get_stylizer("texture-fill", styles=styles)
    aug = mix_augment(st, ratio, shape=(16, 16, 1))
    x = contents[:8]
    y = np.arange(8)
    out, lab = aug(tf.constant(x), tf.constant(y), tf.constant([3, 4], tf.int64))
    changed = np.abs(out.numpy() - x).reshape(8, -1).max(1) > 0
    assert changed.sum() == n_styl  # round(8 * b / (a + b)); every texture-filled image changes
    np.testing.assert_array_equal(lab.numpy(), y)
    again = aug(tf.constant(x), tf.constant(y), tf.constant([3, 4], tf.int64))[0].numpy()
    np.testing.assert_array_equal(again, out.numpy())


def test_mix_augment_in_the_training_pipeline_with_masks(contents, styles):
    from tfinterp.training.trainer import pipeline

    st = get_stylizer("texture-fill", styles=styles)
    masks = np.zeros(contents.shape[:3], bool)
    masks[:, 4:8, 4:8] = True
    ds = pipeline((contents, np.arange(12), masks), 6, shuffle_seed=0, augment=mix_augment(st, "1:1"))
    batches = list(ds)  # one epoch (a second pass is the next epoch, in another order)
    xs = np.concatenate([b[0].numpy() for b in batches])
    assert xs.shape == contents.shape
    order = np.concatenate([b[1].numpy() for b in batches])
    diff = np.abs(xs - contents[order]) > 0
    assert diff.reshape(12, -1).any(1).sum() == 6
    assert not diff[:, ~masks[0]].any()  # only the given masks were filled


def test_style_folder(tmp_path, contents):
    from PIL import Image

    from tfinterp.training.stylizers.styles import load_style_dir, style_bank

    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="holds no images"):
        get_stylizer("fourier", style_dir=tmp_path / "empty")
    with pytest.raises(UserError, match="not found"):
        load_style_dir(tmp_path / "nope")
    d = tmp_path / "styles"
    d.mkdir()
    Image.fromarray((np.random.default_rng(0).uniform(size=(40, 30, 3)) * 255).astype(np.uint8)).save(d / "a.png")
    (d / "notes.txt").write_text("not an image")
    imgs, names = load_style_dir(d, 16)
    assert imgs.shape == (1, 16, 16) and names == ["a.png"]
    assert style_bank(d, 16, 3).images.shape == (1, 16, 16, 3)
    out = get_stylizer("fourier", style_dir=d)(contents)
    assert out.shape == contents.shape


def test_builtin_bank_is_skimage_plus_seeded_textures():
    from tfinterp.training.stylizers.styles import style_bank

    b = style_bank(size=24, seeded=3, crops=2)
    assert b.images.shape == (9, 24, 24, 1) and b.images.min() >= 0 and b.images.max() <= 1
    assert sum(n.startswith("skimage:") for n in b.names) == 6 and sum(n.startswith("seeded:") for n in b.names) == 3
    assert b.images.reshape(9, -1).std(1).min() > 0.02  # textures, not flat images


# ---- cue conflict and shape bias ------------------------------------------------------------

def test_texture_patch_and_tile_by_hand():
    from tfinterp.data.cueconflict import texture_patch, tile

    item = np.zeros((10, 10), np.float32)
    item[5:9, 1:5] = 0.5
    p = texture_patch(item, 4)
    np.testing.assert_array_equal(p, np.full((4, 4), 0.5))
    q = np.arange(4, dtype=np.float32).reshape(2, 2)
    t = tile(q, 5)
    np.testing.assert_array_equal(t[:4, :4], [[0, 1, 1, 0], [2, 3, 3, 2], [2, 3, 3, 2], [0, 1, 1, 0]])
    assert t.shape == (5, 5)


def test_cue_conflict_set(idx_dir, monkeypatch):
    from tfinterp.data.cueconflict import FILL_FLOOR, cue_conflict_set

    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))
    c = cue_conflict_set("fashion_mnist", "test", n=10, seed=0, patch=4)
    x = c["images"]
    assert x.shape == (10, 28, 28, 1) and np.all(c["shape_labels"] != c["texture_labels"])
    m = c["masks"]
    # the fake items: class k is a bright 6x6 square at rows 2k..2k+6, columns 4..10
    for i, k in enumerate(c["shape_labels"]):
        want = np.zeros((28, 28), bool)
        want[2 * k:2 * k + 6, 4:10] = True
        np.testing.assert_array_equal(m[i], want)
        assert np.all(x[i, ..., 0][~m[i]] == 0) and x[i, ..., 0][m[i]].min() >= FILL_FLOOR
    from tfinterp.data.clutter import _source_items

    items, labels = _source_items("test")
    np.testing.assert_array_equal(labels[c["texture_sources"]], c["texture_labels"])


def test_shape_bias_by_hand():
    from tfinterp.metrics.shape_bias import shape_bias

    r = shape_bias([1, 2, 9, 1, 1], [1, 1, 1, 1, 3], [2, 2, 2, 0, 1])
    # decisions: shape, texture, other, shape, texture -> 2 / 4
    assert r["shape_bias"] == 0.5 and r["shape_decisions"] == 2 and r["texture_decisions"] == 2
    assert r["other_fraction"] == 0.2
    assert shape_bias([5], [1], [2])["shape_bias"] is None
    with pytest.raises(UserError, match="same shape and texture"):
        shape_bias([1], [1], [1])


def test_train_config_stylize_keys():
    from tfinterp.training import TrainConfig

    cfg = TrainConfig.from_dict({"model": "cnn2", "dataset": "fashion_mnist", "stylize": "fourier",
                                 "style_ratio": "1:3", "style_params": {"alpha": 0.5}})
    assert cfg.stylize == "fourier" and cfg.asdict()["style_ratio"] == "1:3"
    assert TrainConfig(model="cnn2").stylize is None
    with pytest.raises(UserError, match="unknown stylizer"):
        TrainConfig(model="cnn2", stylize="oil-paint")
    with pytest.raises(UserError, match="ratio"):
        TrainConfig(model="cnn2", stylize="fourier", style_ratio="half")


def test_cue_conflict_miniature_texture(idx_dir, monkeypatch):
    from tfinterp.data.cueconflict import cue_conflict_set, miniature

    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))
    c = cue_conflict_set("fashion_mnist", "test", n=5, seed=1, texture="miniature")
    assert c["texture"] == "miniature" and np.all(c["shape_labels"] != c["texture_labels"])
    item = np.zeros((28, 28), np.float32)
    item[3:9, 4:10] = 0.8  # a flat square: its miniature is flat too
    np.testing.assert_allclose(miniature(item, 5), np.full((5, 5), 0.8), atol=1e-6)
    with pytest.raises(UserError, match="unknown cue-conflict texture"):
        cue_conflict_set("fashion_mnist", "test", n=5, texture="plaid")
