import keras
import numpy as np
import pytest

from tfinterp.errors import UserError
from tfinterp.explain import get_explainer, list_methods


def _linear_model(w):
    inp = keras.Input((4, 4, 1))
    x = keras.layers.Flatten()(inp)
    dense = keras.layers.Dense(2, use_bias=False, name="logits")
    out = dense(x)
    dense.set_weights([w])
    return keras.Model(inp, out)


def test_methods_registered():
    assert {"gradient", "gradcam"} <= set(list_methods())
    with pytest.raises(UserError, match="unknown explanation method"):
        get_explainer("astrology", _linear_model(np.zeros((16, 2), "float32")))


def test_gradient_of_linear_model_is_its_weights():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(16, 2)).astype("float32")
    m = _linear_model(w)
    x = rng.random((3, 4, 4, 1)).astype("float32")
    maps = get_explainer("gradient", m).explain(x, targets=[1, 1, 0])
    for k, t in enumerate([1, 1, 0]):
        expect = np.abs(w[:, t]).reshape(4, 4)
        expect = (expect - expect.min()) / (expect.max() - expect.min())
        np.testing.assert_allclose(maps[k], expect, atol=1e-5)
    assert maps.dtype == np.float32 and maps.shape == (3, 4, 4)


def test_default_target_is_prediction():
    w = np.zeros((16, 2), "float32")
    w[0, 0], w[5, 1] = 1.0, 10.0  # class 1 wins for positive inputs
    m = _linear_model(w)
    maps = get_explainer("gradient", m).explain(np.ones((1, 4, 4, 1), "float32"))
    assert maps[0].reshape(-1).argmax() == 5


def _quadrant_model():
    """A conv net that only sees the top-left quadrant of a 16x16 image."""
    inp = keras.Input((16, 16, 1))
    a = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inp)
    mask = np.zeros((1, 16, 16, 1), "float32")
    mask[:, :8, :8] = 1
    a = keras.layers.Lambda(lambda t: t * mask, name="only_tl")(a)
    a = keras.layers.GlobalAveragePooling2D()(a)
    dense = keras.layers.Dense(3, name="logits")
    model = keras.Model(inp, dense(a))
    k, b = dense.get_weights()
    dense.set_weights([np.abs(k) + 0.1, b])  # every class votes positively: Grad-CAM is not all ReLU'd away
    return model


def test_gradcam_and_gradient_look_only_where_the_model_looks():
    keras.utils.set_random_seed(0)
    m = _quadrant_model()
    x = np.random.default_rng(1).random((4, 16, 16, 1)).astype("float32")
    # Grad-CAM at the masked 16x16 layer is zero outside the quadrant; the input gradient
    # reaches exactly one pixel further (the 3x3 'same' conv's receptive field).
    for method, kw, reach in (("gradient", {}, 9), ("gradcam", {"layer": "only_tl"}, 8)):
        maps = get_explainer(method, m, **kw).explain(x, targets=[0, 1, 2, 0])
        outside = maps.copy()
        outside[:, :reach, :reach] = 0
        assert outside.max() == 0.0, method
        assert maps[:, :reach, :reach].max(axis=(1, 2)).min() == pytest.approx(1.0), method


def test_input_validation():
    m = _linear_model(np.ones((16, 2), "float32"))
    e = get_explainer("gradient", m)
    with pytest.raises(UserError, match="NaN"):
        e.explain(np.full((1, 4, 4, 1), np.nan, "float32"))
    with pytest.raises(UserError, match="shape"):
        e.explain(np.zeros((1, 5, 4, 1), "float32"))
    with pytest.raises(UserError, match="out of range"):
        e.explain(np.zeros((1, 4, 4, 1), "float32"), targets=[2])


def test_batching_does_not_change_results():
    rng = np.random.default_rng(2)
    m = _linear_model(rng.normal(size=(16, 2)).astype("float32"))
    x = rng.random((7, 4, 4, 1)).astype("float32")
    e = get_explainer("gradient", m)
    np.testing.assert_allclose(e.explain(x, batch_size=2), e.explain(x, batch_size=7), atol=1e-6)
