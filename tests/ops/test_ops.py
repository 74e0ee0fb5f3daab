"""tfinterp.ops against answers known by hand: the image transforms, the Adam step, the projections."""

import numpy as np
import pytest
import tensorflow as tf

from tfinterp.ops import image, norms, optim


def _batch():
    return tf.reshape(tf.range(2 * 4 * 4, dtype=tf.float32), [2, 4, 4, 1])


def test_rotate_by_90_degrees_is_rot90_and_by_0_the_identity():
    x = _batch()
    np.testing.assert_allclose(image.rotate(x, [0.0], [1, 2]).numpy(), x.numpy(), atol=1e-5)
    np.testing.assert_allclose(image.rotate(x, [90.0], [1, 2]).numpy(), np.rot90(x.numpy(), k=1, axes=(1, 2)),
                               atol=1e-4)


def test_pad_and_jitter_crop_back_to_a_shifted_window():
    x = _batch()
    p = image.pad(x, 2)
    np.testing.assert_array_equal(p.numpy(), np.pad(x.numpy(), [(0, 0), (2, 2), (2, 2), (0, 0)], mode="reflect"))
    c = image.pad(x, 1, mode="constant", value=0.5).numpy()
    assert c[0, 0, 0, 0] == 0.5 and c[0, 1, 1, 0] == x.numpy()[0, 0, 0, 0]
    j = image.jitter(p, 2, [3, 4]).numpy()
    assert j.shape == (2, 6, 6, 1)
    windows = [p.numpy()[:, a:a + 6, b:b + 6] for a in range(3) for b in range(3)]
    assert any(np.array_equal(j, w) for w in windows)  # one shift for the whole batch
    assert image.jitter(x, 0, [1, 1]) is x


def test_scale_and_blur():
    x = _batch()
    assert tuple(image.scale(x, [2.0], [1, 1]).shape) == (2, 8, 8, 1)
    assert tuple(image.scale(x, [0.5], [1, 1]).shape) == (2, 2, 2, 1)
    const = tf.fill([1, 8, 8, 1], 0.3)
    np.testing.assert_allclose(image.gaussian_blur(const, 1.0).numpy(), 0.3, atol=1e-6)  # a blur keeps a constant


def test_adam_update_matches_the_formula_by_hand():
    g = tf.constant([[0.5, -2.0]])
    m, v = tf.zeros_like(g), tf.zeros_like(g)
    step, m, v = optim.adam_update(g, m, v, 1, 0.1)
    # first step: m_hat = g, v_hat = g^2, so the step is lr * sign(g) (up to eps)
    np.testing.assert_allclose(step.numpy(), [[0.1, -0.1]], rtol=1e-4)  # float32 bias correction
    step2, _, _ = optim.adam_update(tf.constant([[0.5, -2.0]]), m, v, 2, 0.1)
    np.testing.assert_allclose(step2.numpy(), [[0.1, -0.1]], rtol=1e-4)  # a constant gradient: the same step


def test_adam_minimize_reaches_the_minimum_and_respects_the_projection():
    x = optim.adam_minimize(lambda x: tf.reduce_sum(tf.square(x - 3.0)), tf.zeros([4]), steps=400, lr=0.1)
    np.testing.assert_allclose(x.numpy(), 3.0, atol=1e-2)
    x = optim.adam_minimize(lambda x: tf.reduce_sum(tf.square(x - 3.0)), tf.zeros([4]), steps=50, lr=0.1,
                            project=lambda new, old: tf.minimum(new, 1.0))
    np.testing.assert_allclose(x.numpy(), 1.0, atol=1e-6)


@pytest.mark.parametrize("norm", ["inf", "l2"])
def test_projection_lands_in_the_ball_and_the_pixel_range(norm):
    x = tf.fill([1, 2, 2, 1], 0.5)
    far = x + tf.constant([0.4, -0.4, 0.1, 0.0], shape=[1, 2, 2, 1])
    p = norms.project(far, x, 0.2, norm, 0.0, 1.0)
    d = (p - x).numpy().ravel()
    if norm == "inf":
        np.testing.assert_allclose(d, [0.2, -0.2, 0.1, 0.0], atol=1e-6)
    else:  # the difference scaled to length 0.2, its direction kept
        full = np.array([0.4, -0.4, 0.1, 0.0])
        np.testing.assert_allclose(d, full * 0.2 / np.linalg.norm(full), atol=1e-6)
    assert float(norms.batch_norm(tf.constant(d.reshape(1, 2, 2, 1)), norm)[0, 0, 0, 0]) <= 0.2 + 1e-6


def test_safe_l2_has_a_zero_gradient_at_zero():
    v = tf.zeros([1, 3])
    with tf.GradientTape() as tape:
        tape.watch(v)
        n = norms.safe_l2(v)
    assert float(n[0]) == 0.0 and np.all(tape.gradient(n, v).numpy() == 0.0)
    np.testing.assert_allclose(norms.safe_l2(tf.constant([[3.0, 4.0]])).numpy(), [5.0])
