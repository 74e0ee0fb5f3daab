"""`train classifier --stylize ...` and `train style-decoder` through the CLI; bad input: one line, exit 2."""

import json

import numpy as np
import pytest


def _cli(args, capsys):
    from tfinterp.cli.main import main

    code = main(args)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_train_classifier_with_stylized_augmentation(idx_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))
    out = tmp_path / "tc"
    code, stdout, err = _cli(["train", "classifier", "--model", "cnn2", "--dataset", "fashion_mnist", "--epochs", "1",
                              "--batch-size", "16", "--stylize", "texture-fill", "--style-ratio", "1:2",
                              "--verbose", "0", "--out", str(out)], capsys)
    assert code == 0, err
    m = json.loads((out / "cnn2_fashion_mnist.json").read_text())
    assert m["config"]["stylize"] == "texture-fill" and m["config"]["style_ratio"] == "1:2"
    assert abs(m["stylize"]["stylized_fraction"] - 2 / 3) < 1e-9 and m["stylize"]["styles"]["styles"] > 10
    assert "test accuracy" in stdout


def test_train_style_decoder_writes_decoder_json_and_figure(idx_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))
    out = tmp_path / "sd"
    code, stdout, err = _cli(["train", "style-decoder", "--dataset", "fashion_mnist", "--limit", "16", "--epochs", "1",
                              "--batch-size", "8", "--verbose", "0", "--out", str(out)], capsys)
    assert code == 0, err
    s = json.loads((out / "style_decoder.json").read_text())
    assert "NOT VGG-19" in s["encoder"] and s["encoder_spec"]["kind"] == "random"
    assert len(s["history"]["loss"]) == 1 and s["content_images"] == 16
    assert (out / "style_decoder.png").stat().st_size > 0
    assert "NOT VGG-19" in stdout
    from tfinterp.training.stylizers.base import get_stylizer

    st = get_stylizer("adain", decoder=str(out / "style_decoder.keras"))
    assert st(np.zeros((2, 28, 28, 1), np.float32) + 0.5).shape == (2, 28, 28, 1)


def test_stylize_bad_inputs_exit_2_one_line(idx_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))
    (tmp_path / "empty").mkdir()
    base = ["train", "classifier", "--model", "cnn2", "--dataset", "fashion_mnist", "--epochs", "1", "--verbose", "0",
            "--out", str(tmp_path / "o")]
    cases = [
        (base + ["--stylize", "cartoon"], "unknown stylizer 'cartoon'"),
        (base + ["--stylize", "fourier", "--style-ratio", "1-2"], "style ratio"),
        (base + ["--stylize", "fourier", "--style-ratio", "2:0"], "stylizes no image"),
        (base + ["--stylize", "fourier", "--style-dir", str(tmp_path / "empty")], "holds no images"),
        (base + ["--stylize", "fourier", "--style-dir", str(tmp_path / "missing")], "not found"),
        (base + ["--stylize", "fourier", "--style-param", "alpha=2"], "alpha"),
        (base + ["--stylize", "adain"], "train style-decoder"),
        (["train", "style-decoder", "--dataset", "fashion_mnist", "--encoder", "sift", "--out", str(tmp_path / "d")],
         "unknown AdaIN encoder"),
        (["train", "style-decoder", "--dataset", "fashion_mnist", "--style-dir", str(tmp_path / "empty"),
          "--out", str(tmp_path / "d")], "holds no images"),
    ]
    for args, words in cases:
        code, stdout, err = _cli(args, capsys)
        assert code == 2, (args, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], (args, err)
