"""`tfinterp visualize invert IMAGE --model M --layer L`: files and JSON written, the error
falls with steps, `invert` is not rewritten to `channels`, bad input one line with exit 2."""

import json

import numpy as np
from PIL import Image

from tfinterp.cli.main import default_subcommand, main


def _cli(args, capsys):
    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _grey_png(path, size=64):
    yy, xx = np.mgrid[0:size, 0:size]
    img = (127 + 100 * np.sin(xx / 5.0) * np.cos(yy / 7.0)).astype(np.uint8)
    Image.fromarray(img).save(path)
    return path


def test_invert_is_not_rewritten_to_channels():
    args = ["visualize", "invert", "img.png", "--model", "m", "--layer", "fc1"]
    assert default_subcommand(args) == args
    assert default_subcommand(["visualize", "model.keras", "--layer", "fc1"])[:2] == ["visualize", "channels"]


def test_invert_end_to_end(tiny_model_path, tmp_path, capsys):
    img = _grey_png(tmp_path / "in.png")
    out = tmp_path / "inv"
    code, stdout, err = _cli(["visualize", "invert", img, "--model", tiny_model_path, "--layer", "block1_conv1",
                              "--layer", "block2_conv1", "--seeds", "2", "--steps", "30", "--out", out], capsys)
    assert code == 0, err
    assert "block1_conv1: relative representation error" in stdout and "block2_conv1" in stdout
    summary = json.loads((out / "inversion.json").read_text())
    assert [d["layer"] for d in summary["layers"]] == ["block1_conv1", "block2_conv1"]
    for d in summary["layers"]:
        assert len(d["rel_error"]) == 2 and len(d["pixel_rmse"]) == 2 and len(d["predicted"]) == 2
        assert d["settings"]["tv_rule"] == "auto" and d["settings"]["steps"] == 30
        for name in d["files"]:
            assert np.asarray(Image.open(out / name)).shape == (64, 64)
    assert (out / "grid.png").exists() and (out / "original.png").exists()
    # the JSON's error is the written reconstruction's (up to PNG rounding), and below the start's
    import keras

    from tfinterp.featureviz.inversion import Inverter

    model = keras.models.load_model(tiny_model_path, compile=False)
    inv = Inverter(model, "block1_conv1", steps=1)
    x0 = np.asarray(Image.open(img), np.float32)[None, ..., None] / 255.0
    rec = np.asarray(Image.open(out / summary["layers"][0]["files"][0]), np.float32)[None, ..., None] / 255.0
    phi0, phi = inv.representation(x0), inv.representation(rec)
    err = np.linalg.norm(phi - phi0) / np.linalg.norm(phi0)
    assert abs(err - summary["layers"][0]["rel_error"][0]) < 0.02
    start = inv.param.to_image(inv.start(1, [0])).numpy()
    assert err < 0.7 * np.linalg.norm(inv.representation(start) - phi0) / np.linalg.norm(phi0)


def test_invert_bad_input(tiny_model_path, tmp_path, capsys):
    img = _grey_png(tmp_path / "in.png")
    rgb = tmp_path / "rgb.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(rgb)
    junk = tmp_path / "junk.png"
    junk.write_text("not an image")
    base = ["--model", tiny_model_path, "--steps", "2", "--out", tmp_path / "o"]
    cases = [
        ([img, "--layer", "nope", *base], "unknown layer 'nope'"),
        ([junk, "--layer", "fc1", *base], "not a readable image"),
        ([tmp_path / "missing.png", *base], "image not found"),
        ([rgb, "--layer", "fc1", *base], "is RGB but the model takes grey"),
        ([img, "--layer", "fc1", "--model", tiny_model_path, "--steps", "0"], "--steps must be a positive integer"),
        ([img, "--seeds", "0", *base], "--seeds must be a positive integer"),
        ([img, "--tv-weight", "lots", *base], "--tv-weight must be auto, paper or a number"),
        ([img, "--param", "wavelet", *base], "--param must be pixel or fourier"),
    ]
    for args, message in cases:
        code, stdout, err = _cli(["visualize", "invert", *args], capsys)
        assert code == 2, (args, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (message, err)
    code, _, err = _cli(["visualize", "invert", rgb, "--layer", "fc1", "--convert", *base], capsys)
    assert code == 0, err
