"""Defences: input thresholding (straight-through gradient, grid search, wrap) and the detector."""

import numpy as np
import pytest
import tensorflow as tf

from tfinterp.errors import UserError


def _tiny_cnn(seed=0):
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                             keras.layers.Flatten(name="flat"), keras.layers.Dense(16, activation="relu",
                                                                                   name="fc"),
                             keras.layers.Dense(10, name="logits")], name="tiny")


def test_threshold_forward_and_straight_through_gradient():
    from tfinterp.defenses import InputThreshold

    layer = InputThreshold(0.4)
    x = tf.constant([[0.1, 0.4, 0.41, 0.9]])
    w = tf.constant([[1.0, -2.0, 3.0, 4.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        t = layer(x)
        loss = tf.reduce_sum(w * t)
    np.testing.assert_array_equal(t.numpy(), [[0, 0, 1, 1]])   # 0.4 <= mu -> 0
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), w.numpy())  # dL/dx := dL/dT


def test_bpda_gradient_through_wrapped_model_equals_model_gradient_at_T_x():
    from tfinterp.defenses import wrap

    model = _tiny_cnn()
    x = tf.constant(np.random.default_rng(0).uniform(size=(5, 8, 8, 1)).astype(np.float32))
    defended = wrap(model, 0.5)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = tf.reduce_sum(defended(x)[:, 3])
    g_def = tape.gradient(out, x)
    tx = tf.cast(x > 0.5, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(tx)
        out2 = tf.reduce_sum(model(tx)[:, 3])
    g_ref = tape.gradient(out2, tx)
    assert float(tf.reduce_max(tf.abs(g_def))) > 0
    np.testing.assert_allclose(g_def.numpy(), g_ref.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(defended(x).numpy(), model(tx).numpy(), rtol=1e-5, atol=1e-6)


def test_wrap_returns_a_new_model_and_leaves_the_original_alone(tmp_path):
    import keras

    from tfinterp.defenses import wrap

    model = _tiny_cnn()
    x = np.random.default_rng(1).uniform(size=(3, 8, 8, 1)).astype(np.float32)
    before = model(x).numpy()
    n_layers = len(model.layers)
    defended = wrap(model, 0.3)
    assert defended is not model and len(model.layers) == n_layers
    np.testing.assert_array_equal(model(x).numpy(), before)
    assert not np.allclose(defended(x).numpy(), before)
    path = tmp_path / "defended.keras"
    defended.save(path)
    again = keras.models.load_model(path, safe_mode=True)
    assert again.get_layer("threshold").mu == pytest.approx(0.3)
    np.testing.assert_allclose(again(x).numpy(), defended(x).numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(UserError, match="outside"):
        wrap(model, 1.5)


def test_bpda_pgd_through_thresholding_is_a_real_attack():
    """Through T, gradients still move the prediction; only pixels that cross mu matter."""
    from sklearn.datasets import load_digits

    from tfinterp.attacks import PGD
    from tfinterp.defenses import wrap

    import keras

    d = load_digits()
    x = (d.images[:300] / 16.0).astype(np.float32)[..., None]
    y = d.target[:300]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    model.compile(keras.optimizers.Adam(0.05), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(np.where(x > 0.5, 1.0, 0.0), y, epochs=30, batch_size=64, verbose=0)
    defended = wrap(model, 0.5)
    clean = (defended.predict(x, verbose=0).argmax(-1) == y).mean()
    small = PGD(defended, eps=0.02, steps=10, seed=0).attack(x, y)
    big = PGD(defended, eps=0.3, steps=20, step_size=0.05, seed=0).attack(x, y)
    acc_small = (defended.predict(small, verbose=0).argmax(-1) == y).mean()
    acc_big = (defended.predict(big, verbose=0).argmax(-1) == y).mean()
    assert clean > 0.9
    # eps 0.02 can only flip pixels within 0.02 of mu: digits pixels are multiples of 1/16
    flippable = np.abs(x - 0.5) <= 0.02
    if not flippable.any():
        assert acc_small == clean
    assert acc_big < 0.3 * clean


def test_grid_search_mu_known_answer():
    from tfinterp.defenses import grid_search_mu

    rng = np.random.default_rng(0)
    pix = np.r_[rng.uniform(0, 0.2, 5000), rng.uniform(0.7, 1.0, 5000)]
    s = grid_search_mu(pix, eps=0.1)
    # [mu - 0.1, mu + 0.1] is empty for mu in (0.3, 0.6); ties go to the middle of the range
    assert s["mu"] == pytest.approx(0.5) and s["fraction_in_band"] == 0.0
    # pixels at 0.453 rule out mu in [0.353, 0.553]; the zero-mass mu nearest 0.5 is 0.56
    s = grid_search_mu(np.r_[np.zeros(900), np.ones(100), np.full(10, 0.453)], eps=0.1)
    assert s["mu"] == pytest.approx(0.56) and s["fraction_in_band"] == 0.0


def test_parse_defense():
    from tfinterp.defenses import parse_defense

    assert parse_defense(None) is None
    assert parse_defense("threshold") == ("threshold", None)
    assert parse_defense("threshold:0.38") == ("threshold", 0.38)
    for bad in ("jpeg", "threshold:abc", "threshold:1.5", "threshold:-0.1"):
        with pytest.raises(UserError):
            parse_defense(bad)


def test_class_conditional_gaussian_matches_the_closed_form():
    from scipy.stats import multivariate_normal

    from tfinterp.defenses import ClassConditionalGaussian

    rng = np.random.default_rng(0)
    cov0 = np.array([[1.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 0.5]])
    mu0, mu1 = np.zeros(3), np.array([5.0, -5.0, 2.0])
    f = np.r_[rng.multivariate_normal(mu0, cov0, 4000), rng.multivariate_normal(mu1, np.eye(3), 4000)]
    y = np.r_[np.zeros(4000, int), np.ones(4000, int)]
    g = ClassConditionalGaussian("none").fit(f, y)
    q = rng.normal(size=(20, 3))
    mine = g.log_prob(q, np.zeros(20, int))
    ref = multivariate_normal(f[y == 0].mean(0), np.cov(f[y == 0].T, bias=True)).logpdf(q)
    np.testing.assert_allclose(mine, ref, rtol=1e-8)
    # shrinkage keeps the estimate close when data are plentiful
    lw = ClassConditionalGaussian("ledoit_wolf").fit(f, y)
    np.testing.assert_allclose(lw.log_prob(q, np.zeros(20, int)), mine, rtol=0.05)
    with pytest.raises(UserError, match="not seen"):
        g.log_prob(q[:2], [0, 7])


def test_roc_known_answers():
    from tfinterp.defenses import roc

    rng = np.random.default_rng(0)
    assert roc(np.array([0.0, 1.0, 2.0]), np.array([-5.0, -4.0]))["auc"] == 1.0   # adversarial score lower
    same = roc(rng.normal(size=4000), rng.normal(size=4000))["auc"]
    assert abs(same - 0.5) < 0.03


def test_gaussian_detector_flags_off_manifold_inputs():
    """On the digits, uniform-noise images are far from every class's Gaussian: AUC near 1."""
    from sklearn.datasets import load_digits

    from tfinterp.defenses import GaussianDetector

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[..., None]
    y = d.target
    model = _tiny_cnn()
    det = GaussianDetector(model, layer="flat").fit(x[:1500], y[:1500])
    noise = np.random.default_rng(0).uniform(size=(200, 8, 8, 1)).astype(np.float32)
    r = det.evaluate(x[1500:1700], noise)
    assert r["auc"] > 0.99 and r["natural"] == 200 and r["adversarial"] == 200
    r2 = det.evaluate(x[1500:1600], x[1600:1700])   # natural vs natural: chance
    assert 0.3 < r2["auc"] < 0.7
