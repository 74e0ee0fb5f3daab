"""The embedded default: the shipped model, its metadata and its sample canvases; how load_model
resolves a stem, a zoo name or a file, and refuses what it cannot load safely."""

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import needs_fashion

from tfinterp import models
from tfinterp.data import load_clutter, read_images_for_model
from tfinterp.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "saved_models" / "samples"


def test_saved_models_small_and_described():
    total = sum(p.stat().st_size for p in (ROOT / "saved_models").rglob("*") if p.is_file())
    assert total < 25e6  # four models; the RGB one (3.3 MB) joined at 20.7 MB
    shipped = models.shipped_models()
    assert "vggsmall_clutter64" in shipped
    for stem, meta in shipped.items():
        assert meta["command"].startswith("tfinterp ") and "config" in meta and "metrics" in meta, stem
        assert (ROOT / "saved_models" / f"{stem}.json").exists()


def test_shipped_model_recognises_its_samples():
    model = models.load_model("vggsmall_clutter64")
    meta = json.loads((SAMPLES / "samples.json").read_text())["samples"]
    x = read_images_for_model([SAMPLES / s["file"] for s in meta], model)
    pred = np.asarray(model(x)).argmax(-1)
    labels = np.array([s["label"] for s in meta])
    assert (pred == labels).mean() >= 0.75  # 8 held-out canvases; the model is ~88 % accurate


@needs_fashion
def test_shipped_accuracy_reproduces():
    """The JSON's test accuracy (all 10,000 canvases) holds on the first 1,000 within sampling error."""
    model = models.load_model("vggsmall_clutter64")
    stated = models.shipped_models()["vggsmall_clutter64"]["metrics"]["test_accuracy"]
    d = load_clutter("test", n=1000)
    acc = (np.asarray(model.predict(d["images"], verbose=0)).argmax(-1) == d["labels"]).mean()
    assert stated > 0.85 and abs(acc - stated) < 0.04
    sample = load_clutter("test", n=8)  # the samples are exactly these canvases
    png = read_images_for_model(sorted(SAMPLES.glob("clutter64_*.png")), model)
    np.testing.assert_allclose(png, sample["images"], atol=1 / 255 + 1e-6)


# --- load_model: whole messages, an explicit opt-in for unsafe files, untrained zoo models ------

def _lambda_model(path):
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((4,))
    model = keras.Model(inp, keras.layers.Lambda(lambda t: t * 2.0 + 1.0)(keras.layers.Dense(3)(inp)))
    model.save(path)
    return model


def test_lambda_layer_refused_whole_and_loads_on_explicit_opt_in(tmp_path):
    original = _lambda_model(tmp_path / "lam.keras")
    with pytest.raises(UserError) as e:
        models.load_model(str(tmp_path / "lam.keras"))
    msg = str(e.value)
    assert "\n" not in msg and "Lambda" in msg and "safe mode" in msg
    assert msg.endswith("if you trust the file's source, load it with unsafe_deserialization=True "
                        "(CLI: --unsafe-deserialization)")
    assert "complete .keras file" not in msg and "File not found" not in msg
    trusted = models.load_model(str(tmp_path / "lam.keras"), unsafe_deserialization=True)
    x = np.random.default_rng(0).random((5, 4)).astype("float32")
    np.testing.assert_allclose(np.asarray(trusted(x)), np.asarray(original(x)), rtol=1e-6)
    dense = original.layers[1]
    np.testing.assert_allclose(np.asarray(trusted(x)), (x @ dense.kernel.numpy() + dense.bias.numpy()) * 2 + 1,
                               rtol=1e-5)


def test_truncated_random_and_hollow_keras_files_say_what_is_wrong(tmp_path):
    import zipfile

    import keras

    good = tmp_path / "good.keras"
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)]).save(good)
    data = good.read_bytes()
    (tmp_path / "trunc.keras").write_bytes(data[:len(data) // 2])
    (tmp_path / "random.keras").write_bytes(np.random.default_rng(1).integers(0, 256, 300, np.uint8).tobytes())
    (tmp_path / "empty.keras").write_bytes(b"")
    with zipfile.ZipFile(tmp_path / "notes.keras", "w") as z:
        z.writestr("notes.txt", "no model here")
    with zipfile.ZipFile(good) as z, zipfile.ZipFile(tmp_path / "badweights.keras", "w") as out:
        for name in z.namelist():  # the weights file inside cut to a third
            blob = z.read(name)
            out.writestr(name, blob[:len(blob) // 3] if name.endswith(".h5") else blob)
    expect = {"trunc.keras": "not a .keras archive (not a complete zip file: truncated",
              "random.keras": "not a .keras archive", "empty.keras": "the file is empty",
              "notes.keras": "a zip archive without config.json", "badweights.keras": "the archive is damaged"}
    for name, phrase in expect.items():
        with pytest.raises(UserError) as e:
            models.load_model(str(tmp_path / name))
        msg = str(e.value)
        assert msg.startswith(f"could not load model {tmp_path / name}: ") and phrase in msg, (name, msg)
        assert "\n" not in msg and "File not found" not in msg and "re-" in msg, (name, msg)
    assert models.load_model(str(good)).output_shape == (None, 3)  # the intact file still loads
    with pytest.raises(UserError, match="^model file not found: "):
        models.load_model(str(tmp_path / "gone.keras"))


def test_unregistered_custom_class_named_in_one_line(tmp_path):
    import keras

    @keras.saving.register_keras_serializable(package="tfinterpTestOnly")
    class Doubler(keras.layers.Layer):
        def call(self, x):
            return x * 2.0

    keras.Sequential([keras.Input((4,)), Doubler()]).save(tmp_path / "custom.keras")
    keras.saving.get_custom_objects().pop("tfinterpTestOnly>Doubler")  # as in a process that never imported it
    with pytest.raises(UserError) as e:
        models.load_model(str(tmp_path / "custom.keras"))
    msg = str(e.value)
    assert "\n" not in msg and "custom class 'Doubler'" in msg and "register_keras_serializable" in msg


def test_untrained_zoo_model_said_on_stderr_and_marked(tiny_model_path, capsys):
    m = models.load_model("cnn2")
    err = capsys.readouterr().err.splitlines()
    assert err == [err[0]] and err[0].startswith("tfinterp: 'cnn2' is a zoo architecture with random weights "
                                                 "(untrained); pass a trained .keras file or a shipped stem")
    assert "vggsmall_clutter64" in err[0] and m.untrained is True
    # an ImageNet architecture at a non-native shape has random weights too
    v = models.load_model("vgg16", input_shape=(32, 32, 3), num_classes=4)
    assert v.untrained is True and "'vgg16' is a zoo architecture" in capsys.readouterr().err
    # a file or a shipped stem: its weights as they are, no notice and no mark
    for spec in (str(tiny_model_path), "vggsmall_clutter64"):
        f = models.load_model(spec)
        assert capsys.readouterr().err == "" and getattr(f, "untrained", False) is False


@needs_fashion
def test_shipped_rgb_model_accuracy_reproduces():
    """The colour model (tfinterp.data.clutter_rgb): RGB input, and its JSON's test accuracy holds
    on the first 500 colour test canvases within sampling error."""
    from tfinterp.data.clutter_rgb import load_clutter_rgb

    model = models.load_model("vggsmall_clutter64rgb")
    meta = models.shipped_models()["vggsmall_clutter64rgb"]
    assert tuple(model.input_shape[1:]) == (64, 64, 3) and meta["dataset"] == "clutter64rgb"
    assert models.shipped_dataset("vggsmall_clutter64rgb") == "clutter64rgb"
    stated = meta["metrics"]["test_accuracy"]
    d = load_clutter_rgb("test", n=500)
    acc = (np.asarray(model.predict(d["images"], verbose=0)).argmax(-1) == d["labels"]).mean()
    assert stated > 0.75 and abs(acc - stated) < 0.06
    grey = np.repeat(d["images"].mean(-1, keepdims=True), 3, axis=-1)  # colour is not the label
    acc_grey = (np.asarray(model.predict(grey, verbose=0)).argmax(-1) == d["labels"]).mean()
    assert acc_grey > 0.3
