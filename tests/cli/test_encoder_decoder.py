"""`tfinterp train encoder-decoder`, `tfinterp figure encoder-decoder` and `latent-attack` on an
encoder-classifier-decoder, end to end through the CLI; bad input: one line, exit 2."""

import json

import numpy as np
import pytest


def _cli(args, capsys):
    from tfinterp.cli.main import main

    code = main(args)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _lines(err):
    return [line for line in err.splitlines() if line.strip() and not line.startswith("tfinterp: ")]


@pytest.fixture(scope="module")
def ed_model_path(tmp_path_factory):
    """An untrained 28x28 encoder-classifier-decoder (the commands' plumbing does not need training)."""
    import tensorflow as tf

    from tfinterp.models.encoder_decoder import EncoderDecoder

    tf.keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("ed") / "ed.keras"
    EncoderDecoder(input_shape=(28, 28, 1), num_classes=10).save(path)
    return str(path)


def test_cli_train_encoder_decoder(idx_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))
    out = tmp_path / "ed"
    code, stdout, err = _cli(["train", "encoder-decoder", "--natural", "--adv-source", "autoencoder", "--dataset",
                              "fashion_mnist", "--epochs", "1", "--decoder-epochs", "1", "--attack-steps", "1",
                              "--eval-steps", "1", "--eval-limit", "4", "--limit", "24", "--eps", "0.1",
                              "--verbose", "0", "--out", str(out)], capsys)
    assert code == 0, err
    assert stdout.startswith("natural model: clean accuracy") and "PGD-1 (eps 0.1)" in stdout
    r = json.loads((out / "encoder_decoder_natural_fashion_mnist.json").read_text())
    assert r["config"]["adv_source"] == "autoencoder" and r["stages"]["stage2"]["step"]["adv_source"] == "autoencoder"


def test_cli_figure_and_latent_attack_on_an_encoder_decoder(idx_dir, ed_model_path, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))
    out = tmp_path / "fig"
    code, stdout, err = _cli(["figure", "encoder-decoder", "--natural", ed_model_path, "--robust", ed_model_path,
                              "--dataset", "fashion_mnist", "--steps", "2", "--eps", "0.1", "--limit", "6",
                              "--out", str(out)], capsys)
    assert code == 0, err
    assert "figure encoder_decoder_comparison.png" in stdout
    s = json.loads((out / "encoder_decoder_comparison.json").read_text())
    assert sorted(s["labels"]) == list(range(10))  # one test image per class
    assert max(s["shown"]["natural"]["linf"]) <= 0.1 + 1e-6 and s["test_means"]["examples"] == 6
    # the same model twice, the same seed: the same numbers
    assert s["shown"]["natural"] == s["shown"]["robust"]
    assert (out / "encoder_decoder_comparison.png").stat().st_size > 0
    out2 = tmp_path / "lat"
    code, stdout, err = _cli(["latent-attack", ed_model_path, "--dataset", "fashion_mnist", "--steps", "0,2",
                              "--untargeted", "1", "--targeted", "2:0", "--out", str(out2)], capsys)
    assert code == 0, err
    lat = json.loads((out2 / "adversarial_latents.json").read_text())
    assert np.allclose(np.asarray(lat["linf"])[:, 0], 0) and np.asarray(lat["linf"]).max() <= 0.3 + 1e-6


def test_cli_encoder_decoder_bad_inputs_exit_2_one_line(idx_dir, ed_model_path, tiny_model_path, tmp_path,
                                                         capsys, monkeypatch):
    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))
    monkeypatch.setattr("tfinterp.data._tfds_reachable", lambda: False)
    o = str(tmp_path / "o")
    t = ["train", "encoder-decoder", "--out", o, "--dataset", "fashion_mnist"]
    f = ["figure", "encoder-decoder", "--out", o, "--dataset", "fashion_mnist"]
    cases = [
        (t + ["--adv-source", "decoder"], "adv_source must be one of 'classifier' or 'autoencoder'"),
        (t + ["--eps", "1.5"], "eps must be a number > 0 and <= 1"),
        (t + ["--eps", "0"], "eps must be a number > 0 and <= 1"),
        (t + ["--epochs", "0"], "epochs must be an integer >= 1"),
        (t + ["--config", str(tmp_path / "missing.toml")], "config file not found"),
        (["train", "encoder-decoder", "--out", o, "--dataset", "nosuchset", "--verbose", "0"], "unknown data set"),
        (f + ["--natural", ed_model_path, "--robust", str(tiny_model_path)], "--robust model must be an encoder"),
        (f + ["--natural", str(tmp_path / "none.keras"), "--robust", ed_model_path], "model file not found"),
        (f + ["--natural", ed_model_path, "--robust", ed_model_path, "--attack", "decoder"], "--attack must be one of"),
        (f + ["--natural", ed_model_path, "--robust", ed_model_path, "--eps", "2"], "--eps must be in (0, 1]"),
    ]
    for argv, want in cases:
        code, _, err = _cli(argv, capsys)
        lines = _lines(err)
        assert code == 2 and len(lines) == 1 and want in lines[0], (argv, err)
