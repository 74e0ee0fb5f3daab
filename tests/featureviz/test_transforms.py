"""Each transform is the identity at its zero setting (and not at others); the lucid recipe."""

import numpy as np
import pytest
import tensorflow as tf

from tfinterp.featureviz import transforms as T
from tfinterp.ops import image as ops

SEED = tf.constant([3, 7], tf.int32)


@pytest.fixture(scope="module")
def x():
    return tf.constant(np.random.default_rng(0).uniform(0, 1, (2, 20, 20, 3)).astype(np.float32))


@pytest.mark.parametrize("zero,other", [
    (T.Pad(0), T.Pad(2)),
    (T.Jitter(0), T.Jitter(3)),
    (T.Scale((1.0,)), T.Scale((1.1,))),
    (T.Rotate((0.0,)), T.Rotate((10.0,))),
    (T.Crop(20, 20), T.Crop(16, 16)),
])
def test_identity_at_zero_setting(x, zero, other):
    np.testing.assert_allclose(zero(x, SEED).numpy(), x.numpy(), atol=1e-6)
    y = other(x, SEED).numpy()
    assert y.shape != x.shape or np.abs(y - x.numpy()).max() > 1e-3


def test_the_ops_themselves_are_the_identity_at_zero(x):
    # not only the transforms' shortcuts: the underlying image ops at their zero setting
    np.testing.assert_allclose(ops.scale(x, [1.0], SEED).numpy(), x.numpy(), atol=1e-6)
    np.testing.assert_allclose(ops.rotate(x, [0.0], SEED).numpy(), x.numpy(), atol=1e-5)
    np.testing.assert_allclose(ops.crop_to(x, 20, 20).numpy(), x.numpy())
    np.testing.assert_allclose(ops.pad(x, 0).numpy(), x.numpy())
    np.testing.assert_allclose(ops.jitter(x, 0, SEED).numpy(), x.numpy())
    np.testing.assert_allclose(ops.bilateral_filter(x, 0).numpy(), x.numpy())


def test_crop_is_central_and_resizes_up(x):
    np.testing.assert_allclose(ops.crop_to(x, 10, 12).numpy(), x.numpy()[:, 5:15, 4:16])
    small = ops.crop_to(x[:, :8, :8], 16, 16)
    assert small.shape == (2, 16, 16, 3)


def test_compose_ends_at_the_model_size_and_is_seeded(x):
    f = T.compose(T.lucid_recipe(20), 20, 20)
    a, b = f(x, SEED).numpy(), f(x, SEED).numpy()
    assert a.shape == (2, 20, 20, 3)
    np.testing.assert_array_equal(a, b)
    c = f(x, tf.constant([3, 8], tf.int32)).numpy()
    assert np.abs(a - c).max() > 1e-3
    np.testing.assert_allclose(T.compose([], 20, 20)(x, SEED).numpy(), x.numpy())


def test_lucid_recipe_amounts():
    big = T.lucid_recipe(128)
    assert big[0] == T.Pad(16) and big[1] == T.Jitter(16) and big[4] == T.Jitter(8)
    assert big[2].factors == (1.0, 0.975, 1.025, 0.95, 1.05) and big[3].angles == tuple(range(-5, 6))
    small = T.lucid_recipe(28)
    assert small[0] == T.Pad(4) and small[1] == T.Jitter(4) and small[4] == T.Jitter(2)


def test_bilateral_keeps_an_edge_that_blur_smears():
    img = np.zeros((1, 12, 12, 1), np.float32)
    img[:, :, 6:] = 1.0
    rng = np.random.default_rng(0)
    noisy = tf.constant(img + 0.02 * rng.standard_normal(img.shape).astype(np.float32))
    bil = ops.bilateral_filter(noisy, 2, 1.5, 0.1).numpy()
    blur = ops.gaussian_blur(noisy, 1.5).numpy()
    assert abs(bil[0, 6, 5, 0] - 0.0) < 0.05 and abs(bil[0, 6, 6, 0] - 1.0) < 0.05   # the edge stays sharp
    assert blur[0, 6, 5, 0] > 0.2                                                     # the blur smears it
    assert np.std(bil[0, :, :4]) < np.std(noisy.numpy()[0, :, :4])                   # and the noise is smoothed
