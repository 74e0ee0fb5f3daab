"""Prediction-difference tracing (Dong et al. 2017, sec. 6) against values known by hand."""

import keras
import numpy as np
import pytest

from tfinterp.analysis.tracing import PredictionDifference, prediction_difference, top_neurons, trace_predictions
from tfinterp.errors import UserError


def _linear_g(w):
    inp = keras.Input((w.shape[0],))
    out = keras.layers.Dense(w.shape[1], use_bias=False, name="lin")(inp)
    g = keras.Model(inp, out)
    g.get_layer("lin").set_weights([np.asarray(w, np.float32)])
    return g


def test_pd_by_hand_on_a_linear_g():
    # z = f W with f = (1, 1, 0): z = (ln 2 + 7, 7), p = (2/3, 1/3)
    w = np.array([[np.log(2), 0], [7, 7], [0, 0]])
    g = _linear_g(w)
    f = np.array([[1, 1, 0]], np.float32)
    # without channel 0: z = (7, 7), p = (1/2, 1/2): d = (1/6, -1/6), |d|^2 = 1/18
    # without channel 1: z = (ln 2, 0), p unchanged: 0; channel 2 is zero anyway: 0
    np.testing.assert_allclose(prediction_difference(g, f), [[1 / 18, 0, 0]], atol=1e-6)
    # C-weighted: d^T C d = 1/36 + 1/36 - 2 * 0.5 / 36 = 1/36
    c = np.array([[1, 0.5], [0.5, 1]])
    np.testing.assert_allclose(prediction_difference(g, f, similarity=c), [[1 / 36, 0, 0]], atol=1e-6)
    # on raw outputs: d = (ln 2, 0)
    np.testing.assert_allclose(prediction_difference(g, f, probabilities=False), [[np.log(2) ** 2, 49 * 2, 0]],
                               rtol=1e-5)


def test_conv_features_match_a_loop_over_channels_for_any_batch_size():
    keras.utils.set_random_seed(0)
    inp = keras.Input((3, 3, 5))
    h = keras.layers.Conv2D(4, 2, activation="relu")(inp)
    out = keras.layers.Dense(3)(keras.layers.Flatten()(h))
    g = keras.Model(inp, out)
    f = np.random.default_rng(0).random((4, 3, 3, 5), dtype=np.float32)
    c = np.array([[1, .3, 0], [.3, 1, .2], [0, .2, 1]])
    p = keras.ops.softmax(g(f)).numpy()
    ref = np.zeros((4, 5))
    for i in range(5):
        masked = f.copy()
        masked[..., i] = 0
        d = p - keras.ops.softmax(g(masked)).numpy()
        ref[:, i] = np.einsum("nk,kl,nl->n", d, c, d)
    for bs in (1, 3, 7, 64):
        np.testing.assert_allclose(PredictionDifference(g, c, batch_size=bs)(f), ref, rtol=1e-4, atol=1e-8)


def test_top_neurons_and_bad_input():
    pd = np.array([[0.1, 0.5, 0.5, 0.0], [3, 2, 1, 0]])
    np.testing.assert_array_equal(top_neurons(pd, 2), [[1, 2], [0, 1]])
    with pytest.raises(UserError):
        top_neurons(pd, 5)
    g = _linear_g(np.ones((3, 2)))
    with pytest.raises(UserError, match="2x2"):
        PredictionDifference(g, similarity=np.eye(3))
    with pytest.raises(UserError, match="shape"):
        prediction_difference(g, np.zeros((1, 4)))


def test_trace_a_zoo_model():
    from tfinterp import models

    keras.utils.set_random_seed(0)
    m = models.get("vggsmall", input_shape=(16, 16, 1), num_classes=4, filters=(4, 6, 6, 8))
    x = np.random.default_rng(2).random((3, 16, 16, 1), dtype=np.float32)
    t = trace_predictions(m, "last_conv", x, top=2, batch_size=5)
    assert t.pd.shape == (3, 8) and t.top.shape == (3, 2)
    np.testing.assert_allclose(t.probs, keras.ops.softmax(m(x)).numpy(), atol=1e-5)
    np.testing.assert_array_equal(t.pred, m(x).numpy().argmax(-1))
    assert np.all(t.pd >= 0) and np.all(t.pd[np.arange(3), t.top[:, 0]] == t.pd.max(1))
