"""Parameterizations: exact reproduction of a given image, the 1/f scaling, decorrelation."""

import numpy as np
import pytest

from tfinterp.errors import UserError
from tfinterp.featureviz.param import FourierParam, PixelParam, fit_decorrelation, make_param, rfft2d_freqs


def _colour_data(n=20, seed=0):
    rng = np.random.default_rng(seed)
    mix = np.array([[0.6, 0.3, 0.1], [0.2, 0.6, 0.2], [0.1, 0.2, 0.7]], np.float32)
    return np.clip(rng.uniform(0, 1, (n, 8, 8, 3)).astype(np.float32) @ mix.T, 0, 1)


@pytest.mark.parametrize("shape", [(3, 17, 22, 3), (2, 28, 28, 1), (1, 9, 7, 3)])
@pytest.mark.parametrize("cls", [FourierParam, PixelParam])
def test_reproduces_a_given_image_exactly(cls, shape):
    img = np.random.default_rng(1).uniform(0.01, 0.99, shape).astype(np.float32)
    m = fit_decorrelation(_colour_data()) if shape[-1] == 3 else None
    p = cls(shape, m)
    back = p.to_image(p.init(image=img)).numpy()
    np.testing.assert_allclose(back, img, atol=2e-5)


def test_fourier_spectrum_of_the_image_is_its_rfft():
    img = np.random.default_rng(2).uniform(0.05, 0.95, (1, 8, 10, 1)).astype(np.float32)
    p = FourierParam(img.shape)
    spec = p.from_image(img).numpy()[0, 0]
    z = 4 * np.log(img[0, ..., 0] / (1 - img[0, ..., 0]))
    expected = np.fft.rfft2(z) / p.scale
    np.testing.assert_allclose(spec[..., 0] + 1j * spec[..., 1], expected, rtol=1e-3, atol=1e-5)


def test_frequency_scaling_is_one_over_f():
    f = rfft2d_freqs(16, 16)
    assert f.shape == (16, 9) and f[0, 0] == 0 and f[0, 8] == pytest.approx(0.5)
    p = FourierParam((1, 16, 16, 1))
    # the scale falls as 1/f, the DC term capped at 1 / (1/max(H, W))
    assert p.scale[0, 8] / p.scale[0, 4] == pytest.approx(0.5)
    assert p.scale[0, 0] == pytest.approx(16 * 16)


def test_noise_start_is_grey_and_seeded():
    p = FourierParam((4, 16, 16, 3))
    a, b = p.init(seed=3).numpy(), p.init(seed=3).numpy()
    np.testing.assert_array_equal(a, b)
    img = p.to_image(a).numpy()
    assert abs(img.mean() - 0.5) < 0.05 and img.std() > 1e-3


def test_decorrelation_identity_for_grey_and_covariance_for_colour():
    np.testing.assert_array_equal(fit_decorrelation(np.random.rand(3, 5, 5, 1)), [[1.0]])
    data = _colour_data(200)
    m = fit_decorrelation(data)
    cov = np.cov(data.reshape(-1, 3), rowvar=False)
    mm = m @ m.T
    np.testing.assert_allclose(mm / mm.max(), cov / cov.max(), rtol=1e-3, atol=1e-4)
    assert np.max(np.linalg.norm(m, axis=0)) == pytest.approx(1.0)


def test_bad_inputs():
    with pytest.raises(UserError, match="3x3"):
        PixelParam((1, 4, 4, 3), np.eye(2))
    with pytest.raises(UserError, match="singular"):
        PixelParam((1, 4, 4, 3), np.zeros((3, 3)))
    with pytest.raises(UserError, match="unknown parameterization"):
        make_param("wavelet", (1, 4, 4, 1))


@pytest.mark.parametrize("shape", [(2, 12, 10, 3), (1, 9, 7, 1)])
def test_fourier_hand_written_gradient_is_the_autodiff_one(shape):
    """The custom gradient of the scaled inverse FFT is the exact adjoint: it equals
    TensorFlow's autodiff of the plain formula (even and odd widths, grey and colour)."""
    import tensorflow as tf

    p = FourierParam(shape, fit_decorrelation(_colour_data()) if shape[-1] == 3 else None)
    q = tf.constant(np.random.default_rng(3).normal(0, 0.5, p.param_shape()).astype(np.float32))
    w = tf.constant(np.random.default_rng(4).normal(0, 1, shape).astype(np.float32))
    _, h, wd, c = shape

    def plain(q):
        spec = tf.complex(q[..., 0] * p.scale, q[..., 1] * p.scale)
        z = tf.transpose(tf.signal.irfft2d(spec, fft_length=[h, wd]), [0, 2, 3, 1]) / 4.0
        return tf.sigmoid(tf.einsum("nhwc,dc->nhwd", z, tf.constant(p.matrix)))

    grads = []
    for fn in (p.to_image, plain):
        with tf.GradientTape() as tape:
            tape.watch(q)
            img = fn(q)
            loss = tf.reduce_sum(img * w)
        grads.append((img.numpy(), tape.gradient(loss, q).numpy()))
    np.testing.assert_allclose(grads[0][0], grads[1][0], atol=1e-6)
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-4, atol=1e-6)
