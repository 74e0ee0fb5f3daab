"""The encoder-classifier-decoder (Zheng et al., Table 3): its parts, against answers known by hand."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfinterp.errors import UserError


def _model(**kw):
    from tfinterp.models.encoder_decoder import EncoderDecoder

    tf.keras.utils.set_random_seed(0)
    return EncoderDecoder(**kw)


def test_parameter_count_is_madry_plus_the_decoder_by_hand():
    m = _model()
    conv1, conv2 = 5 * 5 * 1 * 32 + 32, 5 * 5 * 32 * 64 + 64
    fc1, logits = 7 * 7 * 64 * 1024 + 1024, 1024 * 10 + 10
    norm = 4 * 64  # the code's batch normalisation: gamma, beta, moving mean and variance
    deconv1, deconv2, out = 5 * 5 * 64 * 64 + 64, 5 * 5 * 64 * 32 + 32, 5 * 5 * 32 * 1 + 1
    assert m.encoder.count_params() == conv1 + conv2
    assert m.classifier.count_params() == fc1 + logits
    assert m.decoder.count_params() == norm + deconv1 + deconv2 + out
    assert m.count_params() == conv1 + conv2 + fc1 + logits + norm + deconv1 + deconv2 + out
    # the encoder + classifier is the zoo's madry architecture, layer for layer
    from tfinterp.models.archs import build_madry

    madry, _ = build_madry()
    assert m.backbone.count_params() == madry.count_params()
    assert m.latent_shape == (7, 7, 64)


def test_call_is_g_of_f_and_the_aliases_reach_the_parts():
    from tfinterp.models import feature_model

    m = _model(input_shape=(8, 8, 1), num_classes=3)
    x = np.random.default_rng(0).random((4, 8, 8, 1)).astype("float32")
    z = m.encode(x)
    assert tuple(z.shape) == (4, 2, 2, 64)
    np.testing.assert_allclose(np.asarray(m(x)), np.asarray(m.classify(z)), atol=1e-6)
    feats = feature_model(m, ["pool5", "latent", "logits", "fc1"])(x)
    np.testing.assert_allclose(feats["pool5"].numpy(), np.asarray(z), atol=1e-6)
    np.testing.assert_allclose(feats["logits"].numpy(), np.asarray(m(x)), atol=1e-5)
    # fc1 by hand from the latent code: relu(flatten(z) W + b)
    fc1 = m.classifier.get_layer("fc1")
    want = np.maximum(np.asarray(z).reshape(4, -1) @ fc1.kernel.numpy() + fc1.bias.numpy(), 0)
    np.testing.assert_allclose(feats["fc1"].numpy(), want, rtol=1e-4, atol=1e-4)
    logits, recon, codes = m.forward_all(x)
    assert recon.shape == x.shape and float(tf.reduce_min(recon)) >= 0 and float(tf.reduce_max(recon)) <= 1
    np.testing.assert_allclose(np.asarray(recon), np.asarray(m.reconstruct(x)), atol=1e-6)


def test_decoder_output_is_the_sigmoid_of_the_output_bias_when_its_kernel_is_zero():
    m = _model(input_shape=(8, 8, 1), num_classes=3)
    conv = m.decoder.get_layer("output_conv")
    conv.kernel.assign(np.zeros(conv.kernel.shape, "float32"))
    conv.bias.assign([0.7])
    recon = m.reconstruct(np.random.default_rng(1).random((2, 8, 8, 1)).astype("float32")).numpy()
    np.testing.assert_allclose(recon, 1 / (1 + np.exp(-0.7)), rtol=1e-6)


def test_stages_freeze_the_right_parts():
    m = _model(input_shape=(8, 8, 1), num_classes=3)
    ids = lambda ws: {id(w) for w in ws}  # noqa: E731
    m.set_stage(1)
    assert ids(m.trainable_weights) == ids(m.encoder.weights) | ids(m.classifier.weights)
    m.set_stage(2)
    assert ids(m.trainable_weights) == ids(m.decoder.trainable_weights) and len(m.trainable_weights) == 8
    m.set_stage(0)
    assert len(m.trainable_weights) == 16 and len(m.weights) == 18  # the 2 moving statistics never train


def test_zoo_save_and_load_round_trip(tmp_path):
    from tfinterp import models

    assert "encoder_decoder" in models.list_models()
    m = models.get("encoder_decoder", input_shape=(8, 8, 1), num_classes=3, class_names=["a", "b", "c"])
    x = np.random.default_rng(2).random((3, 8, 8, 1)).astype("float32")
    path = tmp_path / "ed.keras"
    m.save(path)
    back = models.load_model(str(path))
    assert type(back).__name__ == "EncoderDecoder" and back.class_names == ["a", "b", "c"]
    np.testing.assert_allclose(np.asarray(back(x)), np.asarray(m(x)), atol=1e-6)
    np.testing.assert_allclose(np.asarray(back.reconstruct(x)), np.asarray(m.reconstruct(x)), atol=1e-6)
    assert keras.saving.get_registered_object("tfinterp>EncoderDecoder") is not None


@pytest.mark.parametrize("kw, match", [
    ({"input_shape": (30, 30, 1)}, "multiples of 4"),
    ({"input_shape": (28, 28)}, r"must be \(H, W, C\)"),
    ({"num_classes": 1}, "at least 2"),
    ({"decoder_filters": (64,)}, "two positive channel counts"),
])
def test_bad_arguments_are_user_errors(kw, match):
    from tfinterp.models.encoder_decoder import EncoderDecoder

    with pytest.raises(UserError, match=match):
        EncoderDecoder(**kw)
