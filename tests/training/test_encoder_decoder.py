"""Stage 2 of the encoder-classifier-decoder (Zheng et al., section 3): the adaptive-decoder step,
the reconstruction PGD, and the two-stage run with its resume rules."""

import json

import numpy as np
import pytest
import tensorflow as tf

from tfinterp.errors import UserError


def _model(shape=(8, 8, 1), classes=3):
    from tfinterp.models.encoder_decoder import EncoderDecoder

    tf.keras.utils.set_random_seed(0)
    return EncoderDecoder(input_shape=shape, num_classes=classes)


def _data(n=32, shape=(8, 8, 1), classes=3, seed=0):
    """Class c lights rows 2c..2c+1: a task a tiny model learns and a decoder can reconstruct."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = 0.1 * rng.random((n, *shape)).astype("float32")
    for i, c in enumerate(y):
        x[i, 2 * c:2 * c + 2] = 0.9
    return x, y.astype("int64")


def test_step_is_registered_and_checks_its_model_and_parameters():
    from tfinterp.models import get
    from tfinterp.training.steps import STEPS, get_step

    assert "adaptive_decoder" in STEPS.names()
    step = get_step("adaptive_decoder", adv_source="autoencoder", eps="0.1")
    assert step.config == {"step": "adaptive_decoder", "adv_source": "autoencoder", "eps": 0.1, "steps": 10,
                           "step_size": None, "random_start": True}
    with pytest.raises(UserError, match="adv_source must be one of 'classifier' or 'autoencoder'"):
        get_step("adaptive_decoder", adv_source="both")
    with pytest.raises(UserError, match="eps must be a number > 0 and <= 1"):
        get_step("adaptive_decoder", eps=1.5)
    with pytest.raises(UserError, match="trains an encoder-classifier-decoder"):
        step.check_model(get("cnn2"))


def test_terms_by_hand_and_only_the_reconstruction_error_is_in_the_total():
    """`recon_clean` is the per-pixel MSE of h(f(x)) against x, `recon` the same for h(f(x')) with x'
    in the eps ball; both are computed here in NumPy from the model's parts."""
    from tfinterp.training.steps import get_step

    m = _model()
    x, y = _data(6)
    step = get_step("adaptive_decoder", eps=0.05, steps=2)
    step.build(m)
    out = step.loss_terms(m, tf.constant(x), tf.constant(y), training=False)
    want_clean = np.mean((np.asarray(m.reconstruct(x)) - x) ** 2)
    assert float(out["recon_clean"]) == pytest.approx(want_clean, rel=1e-5)
    assert float(step.total(m, out)) == pytest.approx(float(out["recon"]), rel=1e-6)
    assert out["logits"].shape == (6, 3)
    # the attack moves the input within the ball; the error is then measured against the clean x
    x_adv = step.attack.perturb(tf.constant(x), tf.constant(y, tf.int32), tf.constant(y, tf.int32)).numpy()
    assert np.abs(x_adv - x).max() <= 0.05 + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1


def test_reconstruction_pgd_stays_in_the_ball_and_raises_the_error():
    from tfinterp.training.encoder_decoder import ReconstructionPGD, reconstruction_error

    m = _model()
    x, _ = _data(8)
    pgd = ReconstructionPGD(m, eps=0.1, steps=5, random_start=False, seed=0)
    adv = pgd.attack(x)
    assert np.abs(adv - x).max() <= 0.1 + 1e-6 and adv.min() >= 0 and adv.max() <= 1
    clean = reconstruction_error(m.reconstruct(x), x).numpy()
    attacked = reconstruction_error(m.reconstruct(adv), x).numpy()
    assert np.all(attacked > clean)  # gradient ascent on each example's own error
    # a random point of the same ball raises it less than the attack does (on average)
    noise = np.clip(x + np.random.default_rng(0).choice([-0.1, 0.1], x.shape), 0, 1).astype("float32")
    assert attacked.mean() > reconstruction_error(m.reconstruct(noise), x).numpy().mean()


@pytest.mark.parametrize("source", ["classifier", "autoencoder"])
def test_stage_2_under_fit_lowers_the_error_and_leaves_f_and_g_unchanged(source):
    import keras

    from tfinterp.training.trainer import StepTrainer

    m = _model()
    x, y = _data(32)
    frozen = [w.numpy().copy() for w in m.encoder.weights + m.classifier.weights]
    dec0 = [w.numpy().copy() for w in m.decoder.trainable_weights]
    trainer = StepTrainer(m, "adaptive_decoder", {"adv_source": source, "eps": 0.05, "steps": 2})
    trainer.compile(optimizer=keras.optimizers.Adam(3e-3))
    hist = trainer.fit(x, y, batch_size=16, epochs=4, verbose=0).history
    assert {"loss", "recon", "recon_clean", "accuracy"} <= set(hist)
    assert hist["recon"][-1] < hist["recon"][0]
    for a, b in zip(frozen, m.encoder.weights + m.classifier.weights):
        np.testing.assert_array_equal(a, b.numpy())
    assert all(np.abs(a - b.numpy()).max() > 0 for a, b in zip(dec0, m.decoder.trainable_weights))


def test_config_checks_and_stage_records():
    from tfinterp.training.encoder_decoder import EncoderDecoderConfig

    cfg = EncoderDecoderConfig(epochs=2, decoder_epochs=3, eps=0.1)
    assert cfg.kind == "natural" and cfg.stage1_step() == ("natural", {})
    s1, s2 = cfg.stage_config(1), cfg.stage_config(2)
    assert s1["epochs"] == 2 and "eps" not in s1  # natural stage 1 does not depend on the attack
    assert s2["epochs"] == 3 and s2["eps"] == 0.1 and s2["stage1"]["epochs"] == 2
    with pytest.raises(UserError, match="encoder_decoder: eps must be a number > 0 and <= 1"):
        EncoderDecoderConfig(eps=0)
    with pytest.raises(UserError, match="adv_source must be one of"):
        EncoderDecoderConfig(adv_source="decoder")
    with pytest.raises(UserError, match="unknown config key"):
        EncoderDecoderConfig(epoch=3)


def test_two_stage_run_writes_the_model_and_resumes_in_stage_2(idx_dir, tmp_path, monkeypatch):
    from tfinterp.models import load_model
    from tfinterp.training.encoder_decoder import EncoderDecoderConfig, train_encoder_decoder

    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))
    small = dict(dataset="fashion_mnist", decoder_epochs=1, attack_steps=1, eval_steps=1, eval_limit=4, limit=24,
                 batch_size=32, eps=0.1)
    cfg = EncoderDecoderConfig(epochs=1, **small)
    out = tmp_path / "ed"
    r = train_encoder_decoder(cfg, out, verbose=0)
    stem = "encoder_decoder_natural_fashion_mnist"
    assert r["stem"] == stem and (out / f"{stem}.keras").is_file()
    saved = json.loads((out / f"{stem}.json").read_text())
    m = saved["metrics"]
    assert 0 <= m["pgd_accuracy"] <= m["clean_accuracy"] + 1e-9 <= 1 + 1e-9
    assert m["recon_mse_clean"] > 0 and m["input_mse_pgd_classifier"] <= 0.1 ** 2 + 1e-6
    model = load_model(str(out / f"{stem}.keras"))
    assert len(model.trainable_weights) == 16  # saved with every part trainable again
    assert train_encoder_decoder(cfg, out, verbose=0)["already_finished"]
    # an interruption in stage 2: stage 1 is reused, stage 2 trains again
    (out / f"{stem}.keras").unlink()
    for folder in (out, out / "stage2"):
        rec = json.loads((folder / "run.json").read_text())
        (folder / "run.json").write_text(json.dumps({**rec, "status": "running"}))
    again = train_encoder_decoder(cfg, out, verbose=0)
    assert again["stages"]["stage1"]["reused"] and "reused" not in again["stages"]["stage2"]
    other = EncoderDecoderConfig(epochs=2, **small)
    with pytest.raises(UserError, match="holds a finished"):
        train_encoder_decoder(other, out, verbose=0)
