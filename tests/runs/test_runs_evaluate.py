"""runs.evaluate and the classification metrics it is built from, with answers known by hand."""

import json

import keras
import numpy as np
import pytest

from tfinterp.errors import UserError


def test_confusion_matrix_and_per_class_accuracy_by_hand():
    from tfinterp.metrics import confusion_matrix, per_class_accuracy

    cm = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 4)
    np.testing.assert_array_equal(cm, [[1, 1, 0, 0], [0, 1, 0, 0], [1, 0, 2, 0], [0, 0, 0, 0]])
    assert per_class_accuracy(cm) == [0.5, 1.0, 2 / 3, 0.0]


def _always(cls, k=10):
    """A model on 28x28x1 that predicts class `cls` for every image (zero weights, one bias)."""
    m = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(k, name="logits")],
                         name=f"always{cls}")
    b = np.zeros(k, np.float32)
    b[cls] = 1.0
    m.get_layer("logits").set_weights([np.zeros((784, k), np.float32), b])
    return m


def test_evaluate_classifier_writes_the_known_confusion_matrix(idx_dir, monkeypatch, tmp_path):
    from tfinterp.runs.evaluate import evaluate_classifier

    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))
    path = tmp_path / "always3.keras"
    _always(3).save(path)
    r = evaluate_classifier(str(path), "fashion_mnist", out=tmp_path)
    # 20 test images, 2 per class, all predicted 3
    assert r["examples"] == 20 and r["accuracy"] == pytest.approx(0.1)
    cm = np.array(r["confusion_matrix"])
    assert cm[:, 3].tolist() == [2] * 10 and cm.sum() == 20
    assert r["per_class_accuracy"] == [0.0] * 3 + [1.0] + [0.0] * 6
    assert r["class_names"][3] == "Dress"           # from the data set (the model has none)
    assert json.loads((tmp_path / "metrics.json").read_text()) == r
    assert (tmp_path / "confusion.png").stat().st_size > 0
    r = evaluate_classifier(_always(0), "fashion_mnist", limit=5)
    assert r["model"] == "always0" and r["examples"] == 5 and r["accuracy"] == pytest.approx(0.2)
    with pytest.raises(UserError, match="labels up to 9 but the model has 5 classes"):
        evaluate_classifier(_always(0, k=5), "fashion_mnist")
