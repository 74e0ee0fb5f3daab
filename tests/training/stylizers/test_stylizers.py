"""Each stylizer against what theory says it must do."""

import numpy as np
import pytest
import tensorflow as tf

from tfinterp.errors import UserError
from tfinterp.training.stylizers.base import get_stylizer


# ---- Fourier --------------------------------------------------------------------------------

def test_fourier_keeps_the_content_phase_and_takes_the_style_amplitude(contents, styles):
    st = get_stylizer("fourier", styles=styles)
    idx = st.style_indices(len(contents), 16, 1, seed=0)
    out = st(contents, seed=0)
    fc = np.fft.fft2(contents[..., 0])
    fo = np.fft.fft2(out[..., 0])
    fs = np.fft.fft2(styles[idx, ..., 0])
    big = np.abs(fc) > 1e-3 * np.abs(fc).max(axis=(1, 2), keepdims=True)
    dphase = np.angle(fo * np.conj(fc))
    assert np.abs(dphase[big]).max() < 1e-3   # same phase wherever the content has energy
    # amplitude: the style's, up to one positive scale per image (the rescale into [0, 1]); DC aside
    ac = np.abs(fo).reshape(len(out), -1)[:, 1:]
    as_ = np.abs(fs).reshape(len(out), -1)[:, 1:]
    ratio = ac / np.maximum(as_, 1e-9)
    ok = as_ > 1e-3 * as_.max(1, keepdims=True)
    for r, m in zip(ratio, ok):
        np.testing.assert_allclose(r[m], np.median(r[m]), rtol=1e-3)


def test_fourier_with_alpha_zero_returns_the_content_rescaled(contents, styles):
    out = get_stylizer("fourier", styles=styles, alpha=0.0)(contents)
    lo = contents.min(axis=(1, 2, 3), keepdims=True)
    hi = contents.max(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_allclose(out, (contents - lo) / (hi - lo), atol=1e-4)


def test_fourier_of_the_content_with_itself_is_the_identity(contents):
    st = get_stylizer("fourier", styles=contents[:1], range="clip")
    one = contents[:1]
    np.testing.assert_allclose(st(one), one, atol=1e-5)


# ---- texture fill ---------------------------------------------------------------------------

def test_texture_fill_keeps_the_shape_and_everything_outside_it(contents, styles):
    st = get_stylizer("texture-fill", styles=styles, floor=0.3)
    masks = contents[..., 0] > 0.1
    out = st(contents, masks=masks)
    np.testing.assert_array_equal(out[~masks], contents[~masks])
    assert out[masks].min() >= 0.3 - 1e-6 and out[masks].max() <= 1.0
    np.testing.assert_array_equal(out[..., 0] > 0.1, masks)  # the silhouette, exactly
    # inside the mask: the style texture (min-max scaled, maybe flipped), not the content
    idx = st.style_indices(len(contents), 16, 1)
    for i in range(3):
        t = styles[idx[i], ..., 0]
        t = (t - t.min()) / (t.max() - t.min())
        want = [0.3 + 0.7 * t, 0.3 + 0.7 * t[:, ::-1]]
        assert min(np.abs(out[i, ..., 0][masks[i]] - w[masks[i]]).max() for w in want) < 1e-5


def test_texture_fill_default_masks_are_the_bright_pixels(contents, styles):
    st = get_stylizer("texture-fill", styles=styles)
    np.testing.assert_allclose(st(contents), st(contents, masks=contents[..., 0] > 0.1))
    with pytest.raises(UserError, match="masks"):
        st(contents, masks=np.ones((3, 16, 16), bool))


# ---- AdaIN ----------------------------------------------------------------------------------

def test_adain_features_have_the_style_channel_mean_and_std():
    from tfinterp.training.style_decoder import adain, moments

    rng = np.random.default_rng(0)
    c = tf.constant(rng.normal(2.0, 3.0, (3, 5, 6, 4)).astype(np.float32))
    s = tf.constant(rng.normal(-1.0, 0.5, (3, 7, 7, 4)).astype(np.float32) * np.arange(1, 5, dtype=np.float32))
    t = adain(c, s).numpy()
    np.testing.assert_allclose(t.mean(axis=(1, 2)), s.numpy().mean(axis=(1, 2)), atol=1e-4)
    np.testing.assert_allclose(t.std(axis=(1, 2)), s.numpy().std(axis=(1, 2)), rtol=1e-3)
    # and the shape of the content: t is an affine map of c per channel (correlation 1)
    for b in range(3):
        for k in range(4):
            assert np.corrcoef(t[b, ..., k].ravel(), c.numpy()[b, ..., k].ravel())[0, 1] > 0.9999
    mu, sd = moments(tf.constant(t))
    np.testing.assert_allclose(mu.numpy()[:, 0, 0], s.numpy().mean(axis=(1, 2)), atol=1e-4)


def test_adain_decoded_image_re_encodes_closer_to_the_style_statistics(trained_decoder, contents, styles):
    from tfinterp.training.style_decoder import make_encoder, moments

    dec, hist = trained_decoder
    assert hist["loss"][-1] < hist["loss"][0]  # the decoder learned
    enc = make_encoder(dec.encoder)
    st = get_stylizer("adain", styles=styles, model=dec)
    idx = st.style_indices(len(contents), 16, 1, seed=0)
    out = st(contents, seed=0)
    s = styles[idx]

    def dist(a):
        ma, sa = moments(enc(a))
        ms, ss = moments(enc(s))
        return (tf.reduce_mean(tf.square(ma - ms), [1, 2, 3]) + tf.reduce_mean(tf.square(sa - ss), [1, 2, 3])).numpy()

    before, after = dist(contents), dist(out)
    assert np.mean(after) < 0.5 * np.mean(before)
    assert np.mean(after < before) >= 0.9


def test_adain_decoder_saves_and_loads_with_its_encoder(trained_decoder, tmp_path, contents, styles):
    dec = trained_decoder[0]
    path = tmp_path / "dec.keras"
    dec.save(path)
    a = get_stylizer("adain", styles=styles, model=dec)(contents)
    st = get_stylizer("adain", styles=styles, decoder=str(path))
    np.testing.assert_allclose(st(contents), a, atol=1e-5)
    d = st.describe()
    assert "NOT VGG-19" in d["encoder"] and "Ustyuzhaninov" in d["encoder"] and d["encoder_spec"]["kind"] == "random"


def test_adain_without_decoder_or_with_a_bad_one_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="train style-decoder"):
        get_stylizer("adain")
    with pytest.raises(UserError, match="not found"):
        get_stylizer("adain", decoder=str(tmp_path / "none.keras"))


def test_vgg19_encoder_code_path_without_weights():
    from tfinterp.training.style_decoder import VGG19Encoder, decode_to, new_decoder

    enc = VGG19Encoder(1, weights=None)
    f = enc(tf.zeros([2, 32, 32, 1]))
    assert enc.factor == 8 and tuple(f.shape) == (2, 4, 4, 512)
    dec = new_decoder(enc, 1, filters=(8, 8))
    assert dec.upsamples == 3 and tuple(decode_to(dec, f, 32).shape) == (2, 32, 32, 1)
    assert "random init" in enc.label and dec.encoder["kind"] == "vgg19"
    # a size the pooling rounds (28 -> 3): resized back
    assert tuple(decode_to(dec, enc(tf.zeros([1, 28, 28, 1])), 28).shape) == (1, 28, 28, 1)
