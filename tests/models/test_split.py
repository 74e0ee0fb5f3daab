"""split_model: g(phi(x)) == model(x) for functional, Sequential, nested and Classifier models."""

import keras
import numpy as np
import pytest

from tfinterp import models
from tfinterp.errors import UserError
from tfinterp.models.split import split_model


def _x(shape, n=3):
    return np.random.default_rng(0).random((n, *shape), dtype=np.float32)


@pytest.mark.parametrize("layer", ["conv1", "last_conv", "pool2", "fc1"])
def test_classifier_split_recomposes(layer):
    keras.utils.set_random_seed(0)
    m = models.get("madry")
    x = _x((28, 28, 1))
    phi, g = split_model(m, layer)
    ref = models.feature_model(m, [layer])(x)[layer].numpy()
    np.testing.assert_allclose(phi(x).numpy(), ref, atol=1e-6)
    np.testing.assert_allclose(g(phi(x)).numpy(), m(x).numpy(), atol=1e-5)
    # g really is the upper half: changing the features changes its output
    assert not np.allclose(g(phi(x) * 0).numpy(), m(x).numpy())


def test_functional_sequential_and_nested():
    keras.utils.set_random_seed(1)
    inner = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="relu", name="h1"),
                              keras.layers.Dense(4, activation="tanh", name="h2")], name="inner")
    inp = keras.Input((6,))
    out = keras.layers.Dense(3, name="head")(inner(inp))
    outer = keras.Model(inp, out, name="outer")
    x = _x((6,), 4)
    for layer in ["inner/h1", "h2", "inner"]:
        phi, g = split_model(outer, layer)
        np.testing.assert_allclose(g(phi(x)).numpy(), outer(x).numpy(), atol=1e-6)
    phi, g = split_model(inner, "h1")
    np.testing.assert_allclose(g(phi(x)).numpy(), inner(x).numpy(), atol=1e-6)
    # a hand check: split before the head, g is the head's affine map
    phi, g = split_model(outer, "inner")
    w, b = outer.get_layer("head").get_weights()
    f = _x((4,), 2)
    np.testing.assert_allclose(g(f).numpy(), f @ w + b, atol=1e-6)


def test_residual_split_and_bad_layers():
    keras.utils.set_random_seed(0)
    m = models.get("resnet18", input_shape=(16, 16, 3), width=4)
    x = _x((16, 16, 3), 2)
    phi, g = split_model(m, "stage2_block1_out")
    np.testing.assert_allclose(g(phi(x)).numpy(), m(x).numpy(), atol=1e-5)
    with pytest.raises(UserError, match="skip connection"):
        split_model(m, "stage2_block1_conv1")
    with pytest.raises(UserError, match="unknown layer"):
        split_model(m, "nope")
