"""Model inversion (Mahendran & Vedaldi 2015): an identity layer is inverted exactly, the loss and
its gradient match a hand computation, seeds give different images of equally low error, the
compiled loop is traced once, the paper's depth schedule, bad input."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfinterp import models
from tfinterp.errors import UserError
from tfinterp.featureviz.transforms import Jitter
from tfinterp.featureviz.inversion import (PAPER_ALPHA_WEIGHT, Inverter, auto_tv_weight, inversion_loss, invert, layer_depth,
                                           paper_tv_weight, reference_stats)


def _smooth_image(h, w, c, seed=0):
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    rng = np.random.default_rng(seed)
    chans = [0.5 + 0.3 * np.sin(2 * np.pi * (rng.uniform(0.5, 1.5) * xx + rng.uniform(0.5, 1.5) * yy)
                                + rng.uniform(0, 6)) for _ in range(c)]
    return np.stack(chans, -1).astype(np.float32)


def _linear_model(h, w, c, k, kernel, seed=0, name="lin", strides=1):
    inp = keras.Input((h, w, c), name="images")
    conv = keras.layers.Conv2D(k, kernel, strides=strides, name=name)
    x = conv(inp)
    out = keras.layers.Dense(2, name="logits")(keras.layers.GlobalAveragePooling2D(name="gap")(x))
    model = keras.Model(inp, out)
    rng = np.random.default_rng(seed)
    return model, conv, rng


@pytest.fixture(scope="module")
def identity_model():
    model, conv, _ = _linear_model(8, 8, 3, 3, 1, name="ident")
    conv.set_weights([np.eye(3, dtype=np.float32)[None, None], np.zeros(3, np.float32)])
    return model


def test_identity_layer_is_inverted_exactly(identity_model):
    img = _smooth_image(8, 8, 3)
    r = invert(identity_model, img, "ident", seeds=2, steps=300, tv_weight=0.0, alpha_weight=0.0)
    assert r.images.shape == (2, 8, 8, 3) and r.targets.tolist() == [0, 0]
    assert np.all(r.rel_error < 0.01), r.rel_error
    assert np.all(r.pixel_rmse < 0.005), r.pixel_rmse
    np.testing.assert_allclose(r.images, np.broadcast_to(img, r.images.shape), atol=0.03)
    # with the paper's prior the smooth image is still recovered closely
    r = invert(identity_model, img, "ident", seeds=1, steps=300)
    # the first of 2 weight layers (depth 1/2): the paper's 10, scaled to 8 px
    assert r.settings["tv_weight"] == pytest.approx(10.0 * (8 / 227) ** 2) and r.settings["tv_rule"] == "auto"
    assert r.pixel_rmse[0] < 0.03 and r.rel_error[0] < 0.06, (r.pixel_rmse, r.rel_error)


def test_loss_and_gradient_match_a_hand_computation():
    h, w, c, k = 4, 5, 2, 3
    model, conv, rng = _linear_model(h, w, c, k, 1)
    W = rng.normal(size=(c, k)).astype(np.float32)
    b = rng.normal(size=k).astype(np.float32)
    conv.set_weights([W[None, None], b])
    x0 = rng.uniform(0.1, 0.9, (1, h, w, c)).astype(np.float32)
    x = rng.uniform(0.1, 0.9, (1, h, w, c)).astype(np.float32)
    tvw, aw = 10.0, PAPER_ALPHA_WEIGHT
    mu, s2 = reference_stats(x0)
    # by hand, float64
    X, X0 = x[0].astype(np.float64), x0[0].astype(np.float64)
    phi, phi0 = X @ W + b, X0 @ W + b
    rep = ((phi - phi0) ** 2).sum() / (phi0 ** 2).sum()
    xt = 255.0 * (X - X0.mean(axis=(0, 1)))
    dx = np.zeros_like(xt)
    dx[:, :-1] = xt[:, 1:] - xt[:, :-1]
    dy = np.zeros_like(xt)
    dy[:-1] = xt[1:] - xt[:-1]
    sigma2 = ((255.0 * (X0 - X0.mean(axis=(0, 1)))) ** 2).sum()
    assert s2[0] == pytest.approx(sigma2, rel=1e-5)
    prior = (0.5 * tvw * (dx ** 2 + dy ** 2).sum() + 0.5 * aw * (np.abs(xt) ** 6).sum()) / sigma2
    g_rep = 2.0 * (phi - phi0) @ W.T / (phi0 ** 2).sum()
    g_tv = np.zeros_like(xt)  # d/dxt of sum dx^2 + dy^2 (forward differences, 0 at the border)
    g_tv[:, :-1] -= 2 * dx[:, :-1]
    g_tv[:, 1:] += 2 * dx[:, :-1]
    g_tv[:-1] -= 2 * dy[:-1]
    g_tv[1:] += 2 * dy[:-1]
    g_alpha = 6.0 * np.abs(xt) ** 5 * np.sign(xt)
    grad = g_rep + 255.0 * (0.5 * tvw * g_tv + 0.5 * aw * g_alpha) / sigma2
    # the library
    from tfinterp.featureviz.render import activation_fn

    fm = activation_fn(model, ["lin"])
    xv = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xv)
        total, rep_t, prior_t = inversion_loss(fm(xv)["lin"], fm(tf.constant(x0))["lin"], xv, tf.constant(mu),
                                               tf.constant(s2), tvw, aw)
        summed = tf.reduce_sum(total)
    g = tape.gradient(summed, xv).numpy()[0]
    assert float(rep_t[0]) == pytest.approx(rep, rel=1e-4)
    assert float(prior_t[0]) == pytest.approx(prior, rel=1e-4)
    assert float(total[0]) == pytest.approx(rep + prior, rel=1e-4)
    np.testing.assert_allclose(g, grad, rtol=2e-3, atol=1e-5 * np.abs(grad).max())
    # at the target itself the representation term is 0
    t0, r0, _ = inversion_loss(fm(tf.constant(x0))["lin"], fm(tf.constant(x0))["lin"], tf.constant(x0), tf.constant(mu),
                               tf.constant(s2), tvw, aw)
    assert float(r0[0]) == 0.0 and float(t0[0]) > 0.0


@pytest.fixture(scope="module")
def strided():
    """A linear 3x3 stride-2 conv with 2 channels on 12x12x1: 50 numbers for 144 pixels (not invertible)."""
    model, conv, rng = _linear_model(12, 12, 1, 2, 3, seed=1, name="down", strides=2)
    conv.set_weights([rng.normal(size=(3, 3, 1, 2)).astype(np.float32), np.zeros(2, np.float32)])
    return model


def test_seeds_differ_and_each_matches_the_representation(strided):
    img = _smooth_image(12, 12, 1, seed=3)
    r = invert(strided, img, "down", seeds=3, steps=300, tv_weight=0.0, alpha_weight=0.0)
    assert np.all(r.rel_error < 0.05), r.rel_error
    pair = [np.sqrt(((r.images[i] - r.images[j]) ** 2).mean()) for i in range(3) for j in range(i + 1, 3)]
    assert min(pair) > 0.03, pair  # different images ...
    assert r.images.std(axis=0).mean() > 0.02
    # ... that the layer cannot tell apart: their representations all match the target's
    inv = Inverter(strided, "down", steps=1)
    phi0 = inv.representation(img[None])
    for rec in r.images:
        phi = inv.representation(rec[None])
        assert np.linalg.norm(phi - phi0) / np.linalg.norm(phi0) < 0.05


def test_no_retracing_on_a_second_call(strided):
    inv = Inverter(strided, "down", steps=5)
    a = inv.run(_smooth_image(12, 12, 1, 0), seeds=2)
    b = inv.run(np.stack([_smooth_image(12, 12, 1, 1), _smooth_image(12, 12, 1, 2)]), seeds=[4, 5, 6])
    assert inv._loop.experimental_get_tracing_count() == 1
    assert a.images.shape[0] == 2 and b.images.shape[0] == 6 and b.targets.tolist() == [0, 0, 0, 1, 1, 1]
    # the same seed gives the same start, so the same reconstruction
    c = inv.run(_smooth_image(12, 12, 1, 0), seeds=2)
    np.testing.assert_allclose(a.images, c.images, atol=1e-6)


def test_the_loss_falls_with_steps_and_the_history_records_it(strided):
    img = _smooth_image(12, 12, 1, seed=5)
    r = invert(strided, img, "down", seeds=2, steps=40, history_every=10)
    assert sorted(r.history) == [10, 20, 30, 40]
    h = np.stack([r.history[t] for t in (10, 20, 30, 40)])
    assert np.all(h[-1] < h[0])


def test_paper_depth_schedule_on_vggsmall():
    keras.utils.set_random_seed(0)
    m = models.get("vggsmall", input_shape=(32, 32, 1), num_classes=10, filters=(4, 8, 8, 8))
    # 8 weight layers (6 conv, fc1, logits) like AlexNet's 5 conv + 3 fc
    assert layer_depth(m, "block1_conv1") == pytest.approx(1 / 8)
    assert paper_tv_weight(layer_depth(m, "block2_conv1")) == 1.0
    assert paper_tv_weight(layer_depth(m, "block3_conv2")) == 10.0
    assert paper_tv_weight(layer_depth(m, "last_conv")) == 100.0
    assert paper_tv_weight(layer_depth(m, "block3_conv2:pre")) == 10.0
    assert layer_depth(m, "logits") == 1.0
    assert auto_tv_weight(layer_depth(m, "last_conv"), 64) == pytest.approx(100.0 * (64 / 227) ** 2)
    assert Inverter(m, "block1_conv1", steps=1, tv_weight="paper").tv_weight == 1.0


def test_bad_input(strided):
    with pytest.raises(UserError, match="unknown layer 'nope'"):
        Inverter(strided, "nope")
    with pytest.raises(UserError, match="steps must be a positive integer"):
        Inverter(strided, "down", steps=0)
    with pytest.raises(UserError, match="tv_weight"):
        Inverter(strided, "down", tv_weight="strong")
    with pytest.raises(UserError, match="the model takes"):
        Inverter(strided, "down", steps=1).run(np.zeros((12, 12, 3), np.float32))
    with pytest.raises(UserError, match="seeds must be >= 1"):
        Inverter(strided, "down", steps=1).run(_smooth_image(12, 12, 1), seeds=[])


def test_fourier_parameterization_with_decorrelation_and_transforms(identity_model):
    img = _smooth_image(8, 8, 3, seed=2)
    decor = np.array([[0.6, 0.3, 0.1], [0.5, -0.4, 0.2], [0.4, 0.1, -0.6]], np.float32)
    r = invert(identity_model, img, "ident", seeds=2, steps=300, param="fourier", decorrelation=decor,
               tv_weight=0.0, alpha_weight=0.0)
    assert r.settings["param"] == "fourier"
    assert np.all(r.rel_error < 0.1) and np.all(r.pixel_rmse < 0.05), (r.rel_error, r.pixel_rmse)
    # random transforms (the journal version's jitter): the untransformed image still matches roughly
    r = invert(identity_model, img, "ident", seeds=1, steps=200, transforms=[Jitter(1)],
               tv_weight=0.0, alpha_weight=0.0)
    assert r.settings["transforms"] == ["Jitter(max_shift=1)"] and r.rel_error[0] < 0.5
