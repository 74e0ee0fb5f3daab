"""`tfinterp visualize channels` (and `tfinterp visualize MODEL ...`): files written, values in
the JSON consistent with the images, bad input one line with exit 2."""

import json

import numpy as np
import pytest
from PIL import Image

from tfinterp.cli.main import main


def _cli(args, capsys):
    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_visualize_channels_writes_grid_pngs_json(tiny_model_path, tmp_path, capsys):
    out = tmp_path / "fv"
    code, stdout, err = _cli(["visualize", tiny_model_path, "--layer", "block4_conv2", "--channels", "0-2,5",
                              "--steps", "12", "--thresholds", "4,8", "--out", out], capsys)
    assert code == 0, err
    assert "4 channels of 'block4_conv2'" in stdout
    summary = json.loads((out / "featureviz.json").read_text())
    assert summary["channels"] == [0, 1, 2, 5] and summary["settings"]["thresholds"] == [4, 8, 12]
    assert summary["settings"]["param"] == "fourier" and summary["method"] == "lucid"
    assert sorted(summary["history"]) == ["12", "4", "8"]
    for c in (0, 1, 2, 5):
        img = np.asarray(Image.open(out / f"channel_{c:04d}.png"))
        assert img.shape == (64, 64)
    grid = Image.open(out / "grid.png")
    assert grid.size[0] > grid.size[1] > 50   # 3 rows x 4 columns
    # the JSON's value of channel 5 is its mean activation on the written image (up to PNG rounding)
    import keras

    from tfinterp.models.layers import feature_model

    model = keras.models.load_model(tiny_model_path, compile=False)
    fm = feature_model(model, ["block4_conv2"])
    x = np.asarray(Image.open(out / "channel_0005.png"), np.float32)[None, ..., None] / 255.0
    act = fm(x)["block4_conv2"].numpy()[0, ..., 5].mean()
    assert act == pytest.approx(summary["values"][3], rel=0.05, abs=1e-3)


def test_visualize_objective_expression_with_c_and_pixel(tiny_model_path, tmp_path, capsys):
    out = tmp_path / "fv2"
    code, stdout, err = _cli(["visualize", "channels", tiny_model_path, "--layer", "block4_conv2:pre",
                              "--channels", "1,3", "--objective", "channel('block4_conv2:pre', c) + 0.1*diversity(fc1)",
                              "--param", "pixel", "--steps", "6", "--out", out], capsys)
    assert code == 0, err
    summary = json.loads((out / "featureviz.json").read_text())
    assert summary["settings"]["param"] == "pixel" and summary["channels"] == [1, 3]
    assert (out / "channel_0003.png").exists()
    code, stdout, err = _cli(["visualize", tiny_model_path, "--objective", "logit(3)", "--n", "2", "--steps", "4",
                              "--transforms", "none", "--out", tmp_path / "fv3"], capsys)
    assert code == 0, err
    assert (tmp_path / "fv3" / "image_0001.png").exists() and "2 image(s) of logit(3)" in stdout


def test_visualize_madry_from_dataset_examples(tiny_model_path, tmp_path, capsys):
    # the 64x64 cluttered canvases (generated, seeded) give the starting dataset examples
    out = tmp_path / "fvm"
    code, stdout, err = _cli(["visualize", tiny_model_path, "--method", "madry", "--dataset", "clutter64",
                              "--limit", "16", "--channels", "0,1", "--steps", "5", "--thresholds", "every=5",
                              "--out", out], capsys)
    assert code == 0, err
    summary = json.loads((out / "featureviz.json").read_text())
    assert summary["method"] == "madry" and len(summary["start_indices"]) == 2
    assert summary["settings"]["norm"] == "l2"


@pytest.mark.parametrize("args,needle", [
    (["--layer", "no_such_layer"], "unknown layer 'no_such_layer'"),
    (["--layer", "block4_conv2", "--channels", "0-9"], "channel 9 is out of range"),
    (["--channels", "3-1"], "runs backwards"),
    (["--objective", "channel(last_conv, 3"], "cannot parse the objective"),
    (["--objective", "__import__('os')"], "cannot parse the objective"),
    (["--steps", "0"], "--steps must be a positive integer"),
    (["--steps", "-3"], "--steps must be a positive integer"),
    (["--param", "wavelet"], "--param must be fourier or pixel"),
    (["--thresholds", "0,5", "--steps", "10"], "outside 1..10"),
    (["--method", "madry", "--dataset", "no_such_set"], "no_such_set"),
])
def test_bad_input_is_one_line_exit_2(tiny_model_path, tmp_path, capsys, args, needle):
    code, stdout, err = _cli(["visualize", tiny_model_path, *args, "--out", tmp_path / "bad"], capsys)
    assert code == 2, (code, err)
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0], err


def test_a_dead_relu_channel_is_named_with_the_pre_activation_hint(tmp_path, capsys):
    """Channel 1's bias is -100: its ReLU is 0 on any [0, 1] image, with zero gradient, so its
    render never moves and the command says so; channel 0 (bias +1) rises. On `:pre` the dead
    channel's pre-activation has a gradient, and nothing is reported stuck."""
    import keras

    inp = keras.Input((12, 12, 1))
    conv = keras.layers.Conv2D(2, 3, activation="relu", name="conv")
    out = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(conv(inp)))
    model = keras.Model(inp, out)
    model.get_layer("conv").set_weights([np.full((3, 3, 1, 2), 0.1, "float32"), np.array([1.0, -100.0], "float32")])
    path = tmp_path / "dead.keras"
    model.save(path)
    code, stdout, err = _cli(["visualize", path, "--layer", "conv", "--channels", "0,1", "--steps", "8",
                              "--param", "pixel", "--out", tmp_path / "a"], capsys)
    assert code == 0, err
    summary = json.loads((tmp_path / "a" / "featureviz.json").read_text())
    assert summary["values"][1] == 0.0 and summary["values"][0] > 1.0
    assert summary["stuck_channels"] == [1]
    assert "1 channel(s) stayed at 0 (1)" in stdout and "--layer conv:pre" in stdout
    code, stdout, err = _cli(["visualize", path, "--layer", "conv:pre", "--channels", "0,1", "--steps", "8",
                              "--param", "pixel", "--out", tmp_path / "b"], capsys)
    assert code == 0, err
    summary = json.loads((tmp_path / "b" / "featureviz.json").read_text())
    assert summary["stuck_channels"] == [] and "stayed at 0" not in stdout
