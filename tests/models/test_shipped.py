"""The embedded default: the shipped model, its metadata and its sample canvases."""

import json
from pathlib import Path

import numpy as np
from conftest import needs_fashion

from tfinterp import models
from tfinterp.data import load_clutter, read_images_for_model

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "saved_models" / "samples"


def test_saved_models_small_and_described():
    total = sum(p.stat().st_size for p in (ROOT / "saved_models").rglob("*") if p.is_file())
    assert total < 20e6
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
