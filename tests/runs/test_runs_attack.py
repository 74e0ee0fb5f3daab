"""runs.attack and runs.robustness end to end, on a linear model whose robustness is known.

The fake Fashion-MNIST of `idx_dir` draws, for class c, a 6x6 square of value v in
[200, 249] / 255 at rows 2c..2c+5, columns 4..9. The "window" model's logit c is the sum of
that window, so every image is classified right (own window 36 v, a neighbour 24 v). Against
its nearest rival c+-1 the gap is 12 v; an L-inf perturbation of eps lowers it by at most
24 eps (12 own-only pixels down, 12 rival-only pixels up). So the exact robust accuracy is
1 for eps = 0.3 (12 v - 7.2 >= 2.2 > 0) and 0 for eps = 0.6 (12 v - 14.4 < 0).
"""

import json

import keras
import numpy as np
import pytest

from tfinterp.errors import UserError


def _window_model():
    w = np.zeros((28, 28, 10), np.float32)
    for c in range(10):
        w[2 * c:2 * c + 6, 4:10, c] = 1.0
    m = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(name="flat"),
                          keras.layers.Dense(10, name="logits")], name="window")
    m.get_layer("logits").set_weights([w.reshape(784, 10), np.zeros(10, np.float32)])
    return m


@pytest.fixture(scope="module")
def window_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("window") / "window.keras"
    _window_model().save(path)
    return str(path)


@pytest.fixture
def fashion(idx_dir, monkeypatch):
    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))


def test_run_attack_matches_the_exact_robustness_and_its_files(window_path, fashion, tmp_path):
    from tfinterp.runs.attack import run_attack

    s = run_attack(window_path, "pgd", "fashion_mnist", limit=10, eps=0.3, steps=20, seed=0)
    assert s["clean_accuracy"] == 1.0 and s["adversarial_accuracy"] == 1.0   # robust by theory
    out = tmp_path / "a"
    out.mkdir()
    s = run_attack(window_path, "pgd", "fashion_mnist", limit=10, eps=0.6, steps=20, seed=0, out=out,
                   command="test")
    assert s["examples"] == 10 and s["clean_accuracy"] == 1.0 and s["adversarial_accuracy"] == 0.0
    assert s["success_rate"] == 1.0 and s["max_linf"] <= 0.6 + 1e-6
    d = np.load(out / "adversarial.npz")
    np.testing.assert_array_equal(d["labels"], np.arange(10))
    np.testing.assert_array_equal(d["pred_adversarial"], np.asarray(_window_model()(d["adversarial"])).argmax(-1))
    delta = np.abs(d["adversarial"] - d["images"]).reshape(10, -1)
    assert s["mean_linf"] == pytest.approx(delta.max(1).mean(), rel=1e-6)
    saved = json.loads((out / "summary.json").read_text())
    assert saved["adversarial_accuracy"] == 0.0 and saved["command"] == "test"
    assert saved["black_fraction"]["natural"] == pytest.approx(float((d["images"] < 0.5 / 255).mean()))
    for f in ("examples.png", "pixel_stats.png", "pixel_stats.json"):
        assert (out / f).stat().st_size > 0


def _expected_mu(eps):
    """By hand: training pixels are 0 or >= vmin (a square), so the band [mu - eps, mu + eps] is
    empty for eps < mu < vmin - eps; ties go to the mu closest to 0.5, the largest such grid point."""
    from tfinterp.data import load_arrays

    x, _ = load_arrays("fashion_mnist", "train")
    vmin = x[x > 0].min()
    return max(m for m in np.round(np.arange(0.01, 1.0, 0.01), 4) if m - eps > 0 and m + eps < vmin)


def test_run_attack_threshold_grid_search_on_the_training_images(window_path, fashion):
    from tfinterp.runs.attack import run_attack

    s = run_attack(window_path, "pgd", "fashion_mnist", limit=10, eps=0.3, steps=5, defense="threshold")
    assert s["defense"]["mu"] == _expected_mu(0.3) and s["defense"]["mu_source"].startswith("grid search")
    assert s["defense"]["fraction_in_band"] == 0.0 and s["clean_accuracy"] == 1.0
    s = run_attack(window_path, "pgd", "fashion_mnist", limit=10, eps=0.3, steps=5, defense="threshold:0.4")
    assert s["defense"] == {"defense": "threshold", "mu": 0.4, "mu_source": "given"}


def test_run_detector_separates_the_adversarial_examples(window_path, fashion, tmp_path):
    from tfinterp.runs.attack import run_detector

    r = run_detector(window_path, "fashion_mnist", layer="logits", eps=0.6, steps=20, out=tmp_path)
    # natural logits lie on their class Gaussian (a line: every logit is a multiple of v); the
    # attacked ones left it
    assert r["fit_examples"] == 60 and r["natural"] == 20 and r["adversarial"] == 20
    assert r["auc"] == 1.0
    assert json.loads((tmp_path / "detector.json").read_text())["auc"] == 1.0
    assert (tmp_path / "roc.png").stat().st_size > 0
    with pytest.raises(UserError, match="nothing to detect"):
        run_detector(window_path, "fashion_mnist", layer="logits", eps=0.3, steps=20, limit=5)


def test_evaluate_robustness_curve_is_the_exact_one(window_path, fashion, tmp_path):
    from tfinterp.runs.robustness import evaluate_robustness

    r = evaluate_robustness(window_path, "fashion_mnist", eps_list="0.3,0.6", steps=20, pixel_stats=True,
                            out=tmp_path)
    assert r["examples"] == 20 and r["clean_accuracy"] == 1.0
    assert [row["eps"] for row in r["results"]] == [0.3, 0.6]
    assert [row["accuracy"] for row in r["results"]] == [1.0, 0.0]
    saved = json.loads((tmp_path / "robustness.json").read_text())
    assert saved["model"] == window_path and "pixel_statistics" not in saved
    assert set(json.loads((tmp_path / "pixel_stats.json").read_text())["sets"]) == {
        "natural", "adversarial eps 0.3", "adversarial eps 0.6"}
    assert (tmp_path / "robustness.png").exists() and (tmp_path / "pixel_stats.png").exists()
    d = evaluate_robustness(_window_model(), "fashion_mnist", eps_list=[0.3], steps=5, defense="threshold")
    assert d["model"] == "window" and d["results"][0]["defense"]["mu"] == _expected_mu(0.3)
    with pytest.raises(UserError, match="eps"):
        evaluate_robustness(window_path, "fashion_mnist", eps_list="0.1,abc")


def test_runs_take_a_pipeline_only_data_set(window_path, fashion, monkeypatch):
    """A data set only tf.data provides (as a TensorFlow Datasets name would) is copied into
    arrays by `load_arrays(materialize=True)` for every job, the threshold's grid search included."""
    import tensorflow as tf

    from tfinterp import data
    from tfinterp.runs.attack import run_attack
    from tfinterp.runs.robustness import evaluate_robustness

    def pipeline(name, split):
        return tf.data.Dataset.from_tensor_slices(data.load_arrays("fashion_mnist", split)) if name == "fake" else None

    monkeypatch.setattr(data, "_load_tfds_if_available", pipeline)
    s = run_attack(window_path, "pgd", "fake", limit=10, eps=0.6, steps=20, defense="threshold:0.5")
    assert s["examples"] == 10 and s["clean_accuracy"] == 1.0
    r = evaluate_robustness(window_path, "fake", eps_list=[0.3], steps=5, defense="threshold")
    assert r["examples"] == 20 and r["results"][0]["defense"]["mu"] == _expected_mu(0.3)
