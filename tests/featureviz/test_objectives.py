"""Each objective's value and gradient on a tiny linear model, against a hand computation;
objective arithmetic; the expression parser."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfinterp.errors import UserError
from tfinterp.featureviz import objectives as O

W = np.array([1.0, -2.0], np.float32)   # 1x1 conv: channel c = W[c] * x + B[c]
B = np.array([0.5, 0.25], np.float32)
D = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, -1.0]], np.float32)  # dense on the channel means
DB = np.array([0.1, 0.2, 0.3], np.float32)


@pytest.fixture(scope="module")
def tiny():
    inp = keras.Input((4, 4, 1), name="images")
    conv = keras.layers.Conv2D(2, 1, name="conv")
    x = conv(inp)
    gap = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    dense = keras.layers.Dense(3, name="logits")
    model = keras.Model(inp, dense(gap))
    conv.set_weights([W.reshape(1, 1, 1, 2), B])
    dense.set_weights([D, DB])
    return model


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(0, 1, (3, 4, 4, 1)).astype(np.float32)


def value_and_grad(model, obj, x):
    from tfinterp.models.layers import feature_model

    names = sorted(obj.layers)
    fm = feature_model(model, names)
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        acts = dict(fm(x))
        v = obj(acts)
        total = tf.reduce_sum(v)
    return v.numpy(), tape.gradient(total, x).numpy()


def conv_np(x):
    return x * W + B  # [N, 4, 4, 2]


def test_channel(tiny, images):
    v, g = value_and_grad(tiny, O.channel("conv", 1), images)
    np.testing.assert_allclose(v, conv_np(images)[..., 1].mean(axis=(1, 2)), rtol=1e-5)
    np.testing.assert_allclose(g, np.full_like(images, W[1] / 16), rtol=1e-5)


def test_channel_per_image(tiny, images):
    v, g = value_and_grad(tiny, O.objectives_for_channels("conv", [1, 0, 1]), images)
    a = conv_np(images).mean(axis=(1, 2))
    np.testing.assert_allclose(v, [a[0, 1], a[1, 0], a[2, 1]], rtol=1e-5)
    np.testing.assert_allclose(g[1], np.full((4, 4, 1), W[0] / 16), rtol=1e-5)
    assert O.objectives_for_channels("conv", [1, 0, 1]).batch == 3


def test_neuron_centre_and_position(tiny, images):
    v, g = value_and_grad(tiny, O.neuron("conv", 0), images)
    np.testing.assert_allclose(v, conv_np(images)[:, 2, 2, 0], rtol=1e-5)
    expected = np.zeros_like(images)
    expected[:, 2, 2, 0] = W[0]
    np.testing.assert_allclose(g, expected, atol=1e-6)
    v, g = value_and_grad(tiny, O.neuron("conv", 1, x=3, y=0), images)
    np.testing.assert_allclose(v, conv_np(images)[:, 0, 3, 1], rtol=1e-5)
    assert g[0, 0, 3, 0] == pytest.approx(W[1]) and np.count_nonzero(g[0]) == 1


def test_layer_deepdream(tiny, images):
    v, g = value_and_grad(tiny, O.layer_objective("conv"), images)
    a = conv_np(images)
    np.testing.assert_allclose(v, (a ** 2).mean(axis=(1, 2, 3)), rtol=1e-5)
    # d/dx mean_{h,w,c} a^2 = sum_c 2 a_c W_c / 32
    np.testing.assert_allclose(g[..., 0], (2 * a * W).sum(-1) / 32, rtol=1e-4)


def test_class_logit_and_prob(tiny, images):
    logits = conv_np(images).mean(axis=(1, 2)) @ D + DB
    v, g = value_and_grad(tiny, O.class_logit(2), images)
    np.testing.assert_allclose(v, logits[:, 2], rtol=1e-5)
    np.testing.assert_allclose(g, np.full_like(images, (D[:, 2] * W).sum() / 16), rtol=1e-5)
    v, g = value_and_grad(tiny, O.class_prob(0), images)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(v, p[:, 0], rtol=1e-5)
    dlogit = p[:, 0:1] * (np.eye(3)[0][None] - p)              # d p0 / d logits  [N, 3]
    dx = (dlogit @ D.T @ W) / 16                                 # through the dense and the conv
    np.testing.assert_allclose(g[:, 0, 0, 0], dx, rtol=1e-4)


def test_direction(tiny, images):
    vec = np.array([0.3, -0.7], np.float32)
    v, g = value_and_grad(tiny, O.direction("conv", vec), images)
    np.testing.assert_allclose(v, conv_np(images).mean(axis=(1, 2)) @ vec, rtol=1e-5)
    np.testing.assert_allclose(g, np.full_like(images, (vec * W).sum() / 16), rtol=1e-5)


def test_interpolate(tiny, images):
    a, b = O.channel("conv", 0), O.channel("conv", 1)
    v, g = value_and_grad(tiny, O.interpolate(a, b), images)
    m = conv_np(images).mean(axis=(1, 2))
    t = np.array([0.0, 0.5, 1.0])
    np.testing.assert_allclose(v, (1 - t) * m[:, 0] + t * m[:, 1], rtol=1e-5)
    np.testing.assert_allclose(g[:, 0, 0, 0], ((1 - t) * W[0] + t * W[1]) / 16, rtol=1e-5)


def _gram_cos(acts):
    n, h, w, c = acts.shape
    f = acts.reshape(n, h * w, c)
    g = np.einsum("npc,npd->ncd", f, f).reshape(n, -1)
    g = g / np.linalg.norm(g, axis=1, keepdims=True)
    return g @ g.T


def test_diversity_value_and_numeric_gradient(tiny, images):
    obj = O.diversity("conv")
    v, g = value_and_grad(tiny, obj, images)
    sim = _gram_cos(conv_np(images))
    expected = -(sim.sum(1) - np.diag(sim)) / 2
    np.testing.assert_allclose(v, expected, rtol=1e-5)
    assert np.all(v < 0) and np.all(v >= -1)
    # the gradient of the sum against central differences
    x = images.astype(np.float64)
    for (i, r, c) in [(0, 1, 2), (2, 3, 0)]:
        h = 1e-3
        xp, xm = x.copy(), x.copy()
        xp[i, r, c, 0] += h
        xm[i, r, c, 0] -= h

        def total(z):
            s = _gram_cos(z * W + B)
            return -(s.sum() - np.trace(s)) / 2
        assert g[i, r, c, 0] == pytest.approx((total(xp) - total(xm)) / (2 * h), rel=2e-2, abs=1e-5)


def test_arithmetic_value_and_gradient(tiny, images):
    a, b = O.channel("conv", 0), O.class_logit(1)
    va, ga = value_and_grad(tiny, a, images)
    vb, gb = value_and_grad(tiny, b, images)
    v, g = value_and_grad(tiny, a + 2 * b, images)
    np.testing.assert_allclose(v, va + 2 * vb, rtol=1e-5)
    np.testing.assert_allclose(g, ga + 2 * gb, rtol=1e-5)
    v, g = value_and_grad(tiny, 3.0 - a * 0.5 - (-b) / 4, images)
    np.testing.assert_allclose(v, 3.0 - 0.5 * va + vb / 4, rtol=1e-5)
    np.testing.assert_allclose(g, -0.5 * ga + gb / 4, rtol=1e-5)
    v, _ = value_and_grad(tiny, a * b, images)
    np.testing.assert_allclose(v, va * vb, rtol=1e-5)
    assert (a + 2 * b).layers == {"conv", O.OUTPUT}


def test_channel_out_of_range(tiny, images):
    with pytest.raises(UserError, match="out of range"):
        value_and_grad(tiny, O.channel("conv", 2), images)
    with pytest.raises(UserError, match="different batch sizes"):
        O.channel("conv", [0, 1]) + O.channel("conv", [0, 1, 1])


def test_parse_objective_builds_the_same_objective(tiny, images):
    parsed = O.parse_objective("channel(conv, 1) - 0.5*diversity(conv) + logit(2)/2")
    built = O.channel("conv", 1) - 0.5 * O.diversity("conv") + O.class_logit(2) / 2
    v1, g1 = value_and_grad(tiny, parsed, images)
    v2, g2 = value_and_grad(tiny, built, images)
    np.testing.assert_allclose(v1, v2, rtol=1e-6)
    np.testing.assert_allclose(g1, g2, rtol=1e-6)
    v, _ = value_and_grad(tiny, O.parse_objective("neuron('conv', [0, 1, 0], x=1, y=2)"), images)
    np.testing.assert_allclose(v, conv_np(images)[np.arange(3), 2, 1, [0, 1, 0]], rtol=1e-5)
    assert O.parse_objective("channel(3)", default_layer="conv").layers == {"conv"}
    assert O.parse_objective("class_logit(1)").layers == {O.OUTPUT}


@pytest.mark.parametrize("expr", ["channel(conv, 3", "__import__('os').system('true')", "channel.__class__",
                                  "foo(3)", "3 + 4", "channel(conv, 1) ** 2", "lambda: 1", "", "logit(1) / logit(2)",
                                  "[x for x in y]", "channel(conv)", "logit(1, 2, 3, 4)"])
def test_parse_objective_rejects(expr):
    with pytest.raises(UserError) as e:
        O.parse_objective(expr)
    assert "\n" not in str(e.value)


def test_registry_lists_the_constructors():
    assert {"channel", "neuron", "layer", "logit", "prob", "direction", "interpolate", "diversity"} <= set(O.OBJECTIVES.names())
