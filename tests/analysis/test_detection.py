"""The Gaussian detector on a conv layer: separates outliers (AUC ~ 1), not look-alikes (AUC ~ 0.5)."""

import keras
import numpy as np
import pytest

from tfinterp.analysis.detection import detector_roc
from tfinterp.errors import UserError


def _model():
    """Identity 1x1 conv ("rep") on [4, 4, 2] images; class 1 when the mean pixel exceeds 0.5."""
    inp = keras.Input((4, 4, 2))
    rep = keras.layers.Conv2D(2, 1, use_bias=False, name="rep")(inp)
    out = keras.layers.Dense(2, name="logits")(keras.layers.Flatten()(rep))
    m = keras.Model(inp, out)
    m.get_layer("rep").set_weights([np.eye(2, dtype=np.float32)[None, None]])
    m.get_layer("logits").set_weights([np.stack([np.zeros(32), np.ones(32)], 1).astype(np.float32),
                                       np.array([0, -16], np.float32)])
    return m


def _images(rng, n, level, std):
    return np.clip(level + std * rng.normal(size=(n, 4, 4, 2)), 0, 1).astype(np.float32)


def test_separates_outliers_and_not_lookalikes():
    rng = np.random.default_rng(0)
    m = _model()
    fit = np.concatenate([_images(rng, 60, 0.2, 0.05), _images(rng, 60, 0.8, 0.05)])
    y = np.repeat([0, 1], 60)
    real = np.concatenate([_images(rng, 20, 0.2, 0.05), _images(rng, 20, 0.8, 0.05)])
    outliers = np.concatenate([_images(rng, 20, 0.2, 0.3), _images(rng, 20, 0.8, 0.3)])
    for pool, dim in (("mean", 2), ("max", 2), ("flatten", 32)):
        r = detector_roc(m, fit, y, real, outliers, layer="rep", pool=pool)
        assert r["dim"] == dim and r["natural"] == 40 and r["adversarial"] == 40
        assert r["auc"] > 0.9, (pool, r["auc"])
    same = np.concatenate([_images(rng, 200, 0.2, 0.05), _images(rng, 200, 0.8, 0.05)])
    r = detector_roc(m, fit, y, real, same, layer="rep", pool="flatten")
    assert 0.35 < r["auc"] < 0.65


def test_bad_input():
    m = _model()
    x = np.full((4, 4, 4, 2), 0.5, np.float32)
    with pytest.raises(UserError, match="unknown layer"):
        detector_roc(m, x, [0, 1, 0, 1], x, x, layer="nope")
    with pytest.raises(UserError, match="pool"):
        detector_roc(m, x, [0, 1, 0, 1], x, x, layer="rep", pool="median")
    with pytest.raises(UserError, match="memory"):
        detector_roc(m, x, [0, 1, 0, 1], x, x, layer="rep", pool="flatten", max_dim=16)
