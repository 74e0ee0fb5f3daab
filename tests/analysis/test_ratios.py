"""r1 / r2 (Dong et al. 2017, Eqs. 6-7) against values computed by hand on tiny 2-D inputs."""

import numpy as np
import pytest

from tfinterp.analysis.ratios import class_distances, ratios_from_features, representation_ratios
from tfinterp.errors import UserError

# class 0: (0,0), (0,4)    class 1: (3,0), (3,4)    class 2: (10,10), (13,10), (10,14)
BANK = np.array([[0, 0], [0, 4], [3, 0], [3, 4], [10, 10], [13, 10], [10, 14]], np.float32)
LABELS = np.array([0, 0, 1, 1, 2, 2, 2])


def test_class_distances_by_hand():
    within, between, counts = class_distances(BANK, LABELS, 3)
    # class 0 and 1: one pair at distance 4; class 2: pairs 3, 4, 5 -> 4
    np.testing.assert_allclose(within, [4, 4, 4], atol=1e-5)
    # class 0 vs 1: distances 3, 5, 5, 3
    np.testing.assert_allclose(between[0, 1], 4, atol=1e-5)
    np.testing.assert_allclose(between[1, 0], 4, atol=1e-5)
    np.testing.assert_array_equal(counts, [2, 2, 3])


def test_ratios_by_hand():
    adv = np.array([[3, 0], [0, 2], [10, 10]], np.float32)
    r = ratios_from_features(adv, [0, 0, 2], [1, 1, 0], BANK, LABELS, num_classes=3)
    # x* = (3,0) from class 0 to 1: to class 0 (3 + 5)/2 = 4 -> r1 = 4/4; to class 1 (0 + 4)/2 = 2 -> r2 = 2/4
    # x* = (0,2): to class 0 (2 + 2)/2 -> r1 = 0.5; to class 1 sqrt(13) twice -> r2 = sqrt(13)/4
    # x* = (10,10) of class 2: to class 2 (0 + 3 + 4)/3 -> r1 = 7/12
    np.testing.assert_allclose(r.r1, [1.0, 0.5, 7 / 12], atol=1e-5)
    np.testing.assert_allclose(r.r2[:2], [0.5, np.sqrt(13) / 4], atol=1e-5)
    # r2 of the third: mean d((10,10), class 0) / mean d(class 2, class 0)
    d = lambda p, q: np.hypot(*(np.subtract(p, q)))  # noqa: E731
    num = (d((10, 10), (0, 0)) + d((10, 10), (0, 4))) / 2
    den = np.mean([d(p, q) for p in BANK[4:] for q in BANK[:2]])
    np.testing.assert_allclose(r.r2[2], num / den, rtol=1e-5)
    s = r.summary()
    assert s["n"] == 3 and abs(s["mean_r1"] - (1 + 0.5 + 7 / 12) / 3) < 1e-5


def test_matches_brute_force_in_blocks():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(37, 5, 2)).astype(np.float32) + 50  # far from the origin: tests the centring
    y = rng.integers(0, 4, 37)
    a = rng.normal(size=(11, 5, 2)).astype(np.float32) + 50
    ya, yt = rng.integers(0, 4, 11), rng.integers(0, 4, 11)
    r = ratios_from_features(a, ya, yt, f, y, num_classes=4, block=7)
    F, A = f.reshape(37, -1).astype(np.float64), a.reshape(11, -1).astype(np.float64)
    D = np.linalg.norm(F[:, None] - F[None], axis=-1)
    for m in range(11):
        da = np.linalg.norm(A[m] - F, axis=1)
        c, t = ya[m], yt[m]
        inc, int_ = y == c, y == t
        within = D[np.ix_(inc, inc)].sum() / (inc.sum() * (inc.sum() - 1))
        np.testing.assert_allclose(r.r1[m], da[inc].mean() / within, rtol=1e-4)
        np.testing.assert_allclose(r.r2[m], da[int_].mean() / D[np.ix_(inc, int_)].mean(), rtol=1e-4)


def test_empty_class_is_nan_and_bad_input():
    r = ratios_from_features(np.zeros((1, 2)), [0], [2], BANK[:4], LABELS[:4], num_classes=3)
    assert np.isnan(r.r2[0]) and np.isfinite(r.r1[0])
    with pytest.raises(UserError):
        ratios_from_features(np.zeros((1, 3)), [0], [1], BANK, LABELS)
    with pytest.raises(UserError):
        ratios_from_features(np.zeros((1, 2)), [0], [5], BANK, LABELS, num_classes=3)


def test_through_a_model_equals_features():
    import keras

    keras.utils.set_random_seed(0)
    from tfinterp import models

    m = models.get("vggsmall", input_shape=(16, 16, 1), num_classes=3, filters=(4, 4, 4, 4))
    rng = np.random.default_rng(1)
    x = rng.random((12, 16, 16, 1), dtype=np.float32)
    y = np.arange(12) % 3
    xa = np.clip(x[:4] + 0.1 * rng.normal(size=x[:4].shape), 0, 1).astype(np.float32)
    r = representation_ratios(m, "last_conv", x, y, xa, y[:4], (y[:4] + 1) % 3, batch_size=5)
    fm = models.feature_model(m, ["last_conv"])
    f, fa = fm(x)["last_conv"].numpy(), fm(xa)["last_conv"].numpy()
    ref = ratios_from_features(fa, y[:4], (y[:4] + 1) % 3, f, y, num_classes=3)
    np.testing.assert_allclose(r.r1, ref.r1, rtol=1e-4)
    np.testing.assert_allclose(r.r2, ref.r2, rtol=1e-4)
