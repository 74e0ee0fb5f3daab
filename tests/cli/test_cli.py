"""The CLI: fast --help without TensorFlow, real commands, and a corpus of bad inputs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tfinterp.cli.main import main

TFINTERP = str(Path(sys.executable).with_name("tfinterp"))


def run(args, capsys):
    code = main(args)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_help_does_not_import_tensorflow():
    code = "import sys; from tfinterp.cli.main import app; print('tensorflow' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.stdout.strip() == "False"
    res = subprocess.run([TFINTERP, "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "explain" in res.stdout and "train" in res.stdout


def test_models_lists_zoo(capsys):
    code, out, _ = run(["models"], capsys)
    assert code == 0 and "vggsmall" in out and "resnet50" in out


@pytest.fixture
def canvas_png(tmp_path):
    img = np.zeros((64, 64), np.uint8)
    img[20:40, 24:36] = 220
    p = tmp_path / "canvas.png"
    Image.fromarray(img).save(p)
    return p


def test_explain_writes_overlay_npy_json(tiny_model_path, canvas_png, tmp_path, capsys):
    out = tmp_path / "ex"
    code, stdout, err = run(["explain", str(canvas_png), "--model", str(tiny_model_path),
                             "--method", "gradient", "--target", "3", "--out", str(out)], capsys)
    assert code == 0, err
    summary = json.loads((out / "canvas_gradient.json").read_text())
    assert summary["target"] == 3 and summary["method"] == "gradient"
    m = np.load(out / "canvas_gradient.npy")
    assert m.shape == (64, 64) and m.min() == 0.0 and m.max() == pytest.approx(1.0)
    assert Image.open(out / "canvas_gradient.png").size[0] > 200


def test_explain_all_methods_comparison(tiny_model_path, canvas_png, tmp_path, capsys):
    from tfinterp.explain import list_methods

    out = tmp_path / "all"
    code, _, err = run(["explain", str(canvas_png), "--model", str(tiny_model_path), "--method", "all",
                        "--out", str(out)], capsys)
    assert code == 0, err
    summary = json.loads((out / "canvas_all.json").read_text())
    assert set(summary["methods"]) == set(list_methods())
    for name, entry in summary["methods"].items():
        m = np.load(entry["map"])
        assert m.shape == (64, 64) and 0.0 <= m.min() and m.max() <= 1.0, name
    assert (out / "canvas_all.png").exists() and (out / "canvas_guided-inversion_stage1.npy").exists()


def test_explain_params_reach_the_method(tiny_model_path, canvas_png, tmp_path, capsys):
    out = tmp_path / "gi"
    code, _, err = run(["explain", str(canvas_png), "--model", str(tiny_model_path), "--method", "guided-inversion",
                        "--param", "steps2=5", "--param", "gamma=0.5", "--out", str(out)], capsys)
    assert code == 0, err
    params = json.loads((out / "canvas_guided-inversion.json").read_text())["params"]
    assert params["steps2"] == 5 and params["gamma"] == 0.5 and params["l1"] == "last_conv"


def test_export_and_eval_commands(tiny_model_path, idx_dir, tmp_path, capsys, monkeypatch):
    code, out, err = run(["export", str(tiny_model_path), "--out", str(tmp_path / "srv")], capsys)
    assert code == 0, err
    assert (tmp_path / "srv" / "1" / "saved_model.pb").exists()
    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))
    code, out, err = run(["eval", "cnn2", "--dataset", "fashion_mnist", "--out", str(tmp_path / "ev")], capsys)
    assert code == 0, err
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["examples"] == 20 and np.array(metrics["confusion_matrix"]).sum() == 20
    assert (tmp_path / "ev" / "confusion.png").exists()


def _bad_inputs(tmp, model, canvas):
    """(name, argv) pairs, every one of them a user mistake."""
    (tmp / "text.png").write_text("not an image")
    (tmp / "trunc.png").write_bytes(canvas.read_bytes()[:50])
    (tmp / "junk.keras").write_bytes(os.urandom(200))
    np.save(tmp / "nan.npy", np.full((64, 64, 1), np.nan, np.float32))
    np.save(tmp / "shape.npy", np.zeros((10, 10, 1), np.float32))
    (tmp / "empty").mkdir()
    (tmp / "bad.toml").write_text("[train\nmodel = ")
    (tmp / "keys.toml").write_text("[train]\nmodle = 'vggsmall'\n")
    (tmp / "afile").write_text("x")
    m, c, o = str(model), str(canvas), str(tmp / "o")
    ex = ["explain", "--out", o, "--model", m]
    return [
        ("missing image", ex + [str(tmp / "nope.png")]),
        ("text as png", ex + [str(tmp / "text.png")]),
        ("truncated png", ex + [str(tmp / "trunc.png")]),
        ("unknown method", ex + [c, "--method", "astrology"]),
        ("unknown model name", ["explain", c, "--model", "nosuchmodel", "--out", o]),
        ("missing model file", ["explain", c, "--model", str(tmp / "gone.keras"), "--out", o]),
        ("corrupt model file", ["explain", c, "--model", str(tmp / "junk.keras"), "--out", o]),
        ("target too large", ex + [c, "--target", "10"]),
        ("negative target", ex + [c, "--target", "-1"]),
        ("NaN input", ex + [str(tmp / "nan.npy")]),
        ("wrong shape", ex + [str(tmp / "shape.npy")]),
        ("unknown layer", ex + [c, "--method", "gradcam", "--layer", "conv99"]),
        ("empty folder", ex + [str(tmp / "empty")]),
        ("unknown dataset", ["eval", m, "--dataset", "imagenet-9000", "--out", o]),
        ("unknown zoo model for training", ["train", "classifier", "--model", "alexnet9", "--out", o]),
        ("missing config", ["train", "classifier", "--config", str(tmp / "none.toml"), "--out", o]),
        ("invalid TOML", ["train", "classifier", "--config", str(tmp / "bad.toml"), "--out", o]),
        ("unknown config key", ["train", "classifier", "--config", str(tmp / "keys.toml"), "--out", o]),
        ("bad strategy", ["train", "classifier", "--strategy", "tpu", "--out", o]),
        ("export out is a file", ["export", m, "--out", str(tmp / "afile")]),
        ("unknown command", ["explode"]),
        ("missing image argument", ["explain", "--model", m]),  # --out has a default now (issue 14)
        ("epochs zero", ["train", "classifier", "--epochs", "0", "--out", o]),
        ("unknown method parameter", ex + [c, "--method", "gradient", "--param", "steps=3"]),
        ("malformed --param", ex + [c, "--method", "occlusion", "--param", "patch"]),
        ("bad guided-inversion stage", ex + [c, "--method", "guided-inversion", "--param", "stage=both"]),
        ("unknown explanation for export", ["export", m, "--out", str(tmp / "srv"), "--with-explanation", "x"]),
        *_bad_files_and_models(tmp, ex, c, o),
        *_bad_outputs_options_and_runs(tmp, m, c, o),
    ]


def _bad_files_and_models(tmp, ex, c, o):
    """Issue 14's hostile files: a decompression bomb, a Lambda layer, damaged .keras archives."""
    import struct
    import zipfile
    import zlib

    import keras

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    (tmp / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 1, 0,
                                                                                      0, 0, 0))
                                   + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
    inp = keras.Input((64, 64, 1))
    keras.Model(inp, keras.layers.Lambda(lambda t: t[:, 0, 0, :1] * 2.0)(inp)).save(tmp / "lambda.keras")
    good = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    good.save(tmp / "whole.keras")
    data = (tmp / "whole.keras").read_bytes()
    (tmp / "cut.keras").write_bytes(data[:len(data) // 2])
    with zipfile.ZipFile(tmp / "hollow.keras", "w") as z:
        z.writestr("notes.txt", "no model here")

    def model(name):
        return ["explain", c, "--model", str(tmp / name), "--out", o]

    return [
        ("decompression-bomb png", ex + [str(tmp / "bomb.png")]),
        ("Lambda layer in safe mode", model("lambda.keras")),
        ("truncated .keras", model("cut.keras")),
        ("zip without a Keras model", model("hollow.keras")),
    ]


def _bad_outputs_options_and_runs(tmp, m, c, o):
    """Issue 14's commands cases: --out under a regular file (every command that writes), a
    ProtoNet given to `train classifier`, a TOML value of the wrong type, a folder holding
    another model's backup, a bad subcommand option, unsafe files without the opt-in."""
    import json

    import keras

    under = str(tmp / "afile" / "sub")
    (tmp / "type.toml").write_text('[train]\nepochs = "three"\n')
    other = tmp / "other_run"
    (other / "backup").mkdir(parents=True)
    (other / "backup" / "training_metadata.json").write_text('{"epoch": 1, "batch": 0}')
    (other / "run.json").write_text(json.dumps({
        "job": "train classifier", "stem": "cnn2_fashion_mnist", "model": "cnn2", "dataset": "fashion_mnist",
        "status": "running", "config": {"model": "cnn2", "dataset": "fashion_mnist"}}))
    inp = keras.Input((28, 28, 1))
    logits = keras.layers.Dense(10)(keras.layers.Flatten()(inp))
    keras.Model(inp, keras.layers.Lambda(lambda t: t * 1.0)(logits)).save(tmp / "lambda28.keras")
    keras.Model(inp, logits).save(tmp / "plain28.keras")
    lam, plain = str(tmp / "lambda28.keras"), str(tmp / "plain28.keras")
    return [
        ("explain --out under a file", ["explain", c, "--model", m, "--out", under]),
        ("train classifier --out under a file", ["train", "classifier", "--out", under]),
        ("train protonet --out under a file", ["train", "protonet", "--dataset", "fashion_mnist", "--out", under]),
        ("eval --out under a file", ["eval", m, "--dataset", "fashion_mnist", "--out", under]),
        ("export --out under a file", ["export", m, "--out", under]),
        ("attack --out under a file", ["attack", m, "--dataset", "fashion_mnist", "--out", under]),
        ("detect --out under a file", ["detect", m, "--dataset", "fashion_mnist", "--out", under]),
        ("latent-attack --out under a file", ["latent-attack", m, "--out", under]),
        ("train classifier --model protonet", ["train", "classifier", "--model", "protonet", "--out", o]),
        ("TOML value of the wrong type", ["train", "classifier", "--config", str(tmp / "type.toml"), "--out", o]),
        ("another model's backup in --out", ["train", "classifier", "--model", "madry", "--dataset", "fashion_mnist",
                                             "--out", str(other)]),
        ("bad subcommand option", ["explain", c, "--bogus"]),
        ("bad train subcommand option", ["train", "protonet", "--prototypez", "3"]),
        ("Lambda layer, eval without opt-in", ["eval", lam, "--dataset", "fashion_mnist", "--out", o]),
        ("Lambda layer, attack without opt-in", ["attack", lam, "--dataset", "fashion_mnist", "--out", o]),
        ("Lambda layer, ensemble member without opt-in",
         ["attack", plain, "--method", "ensemble", "--ensemble", lam, "--dataset", "fashion_mnist", "--limit", "5",
          "--out", o]),
        ("Lambda layer, detect without opt-in", ["detect", lam, "--dataset", "fashion_mnist", "--out", o]),
        ("Lambda layer, export without opt-in", ["export", lam, "--out", o]),
        ("Lambda layer, latent-attack without opt-in", ["latent-attack", lam, "--out", o]),
    ]


def test_bad_input_corpus_exit_2_one_line(tiny_model_path, canvas_png, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("tfinterp.data._tfds_reachable", lambda: False)
    cases = _bad_inputs(tmp_path, tiny_model_path, canvas_png)
    assert len(cases) >= 15
    for name, argv in cases:
        code, out, err = run(argv, capsys)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert code == 2, (name, code, err)
        assert "Traceback" not in err and len(lines) == 1 and lines[0].startswith("error: "), (name, err)


def test_real_process_exit_code_and_debug(tmp_path):
    res = subprocess.run([TFINTERP, "explain", str(tmp_path / "nope.png"), "--model", "cnn2", "--out",
                          str(tmp_path)], capture_output=True, text=True, timeout=300)
    lines = res.stderr.strip().splitlines()  # cnn2 is untrained: load_model's notice, then the error
    assert res.returncode == 2 and lines[1:] == [f"error: image not found: {tmp_path / 'nope.png'}"]
    assert lines[0].startswith("tfinterp: 'cnn2' is a zoo architecture with random weights (untrained)")
    res = subprocess.run([TFINTERP, "--debug", "explain", str(tmp_path / "nope.png"), "--model", "cnn2",
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "Traceback" in res.stderr


def test_16bit_png_explained_at_its_own_scale(tiny_model_path, tmp_path, capsys):
    """A 16-bit greyscale PNG holding v * 257 reads exactly as the 8-bit PNG holding v (it used to
    be clipped at 255, every non-zero pixel white): the same map, the same prediction."""
    v = np.zeros((64, 64), np.uint8)
    v[20:40, 24:36] = np.arange(12, dtype=np.uint8) * 20 + 10
    Image.fromarray(v).save(tmp_path / "eight.png")
    Image.fromarray(v.astype(np.uint16) * 257).save(tmp_path / "sixteen.png")
    out = tmp_path / "ex"
    for name in ("eight", "sixteen"):
        code, _, err = run(["explain", str(tmp_path / f"{name}.png"), "--model", str(tiny_model_path),
                            "--method", "gradient", "--target", "3", "--out", str(out)], capsys)
        assert code == 0, err
    np.testing.assert_allclose(np.load(out / "sixteen_gradient.npy"), np.load(out / "eight_gradient.npy"), atol=1e-6)


def test_untrained_zoo_model_said_in_one_line(canvas_png, tmp_path, capsys):
    code, _, err = run(["explain", str(canvas_png), "--model", "cnn2", "--method", "gradient", "--out",
                        str(tmp_path / "ex")], capsys)
    assert code == 0, err
    said = [ln for ln in err.splitlines() if "random weights" in ln]
    assert len(said) == 1 and said[0].startswith(
        "tfinterp: 'cnn2' is a zoo architecture with random weights (untrained); pass a trained .keras file "
        "or a shipped stem")
