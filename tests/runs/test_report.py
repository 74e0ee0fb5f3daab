"""The neuron report job (Baek et al. sec. 4.2) on a tiny model and fake data: the top examples,
activations and Grid-CAM levels it writes are the ones computed independently; the page works
in a headless browser (slider, hover)."""

import json

import numpy as np
import pytest


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import keras

    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((28, 28, 1)),
                          keras.layers.Conv2D(4, 3, activation="relu", name="conv1"),
                          keras.layers.MaxPooling2D(2, name="pool1"),
                          keras.layers.Conv2D(6, 3, activation="relu", name="conv2"),
                          keras.layers.GlobalAveragePooling2D(name="gap"),
                          keras.layers.Dense(12, activation="relu", name="fc1"),
                          keras.layers.Dense(10, name="logits")], name="tiny")
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    m.save(path)
    return str(path)


def test_report_pages_hold_the_neurons_top_examples_and_gridcam_levels(tiny, fashion_env, tmp_path):
    from tfinterp.analysis.examples import layer_activations
    from tfinterp.data import load_arrays
    from tfinterp.models import load_model
    from tfinterp.runs.report import run_neuron_report

    out = tmp_path / "rep"
    r = run_neuron_report(tiny, layer="conv2", channels="1-2", dataset="fashion_mnist", split="train", images=40,
                          steps=6, madry_steps=4, out=out, progress=False)
    assert r["channels"] == [1, 2] and r["gridcam_sizes"] == [2, 3, 4, 5]
    assert r["render_layer"] == "conv2:pre"     # the render from noise maximizes the pre-activation
    x, _ = load_arrays("fashion_mnist", "train", 40)
    acts = layer_activations(load_model(tiny), "conv2", x, reduce="mean")
    doc = json.loads((out / "report.json").read_text())
    for n in doc["neurons"]:
        c = n["channel"]
        expect = np.argsort(-acts[:, c], kind="stable")[:2].tolist()
        assert n["examples"] == expect
        assert n["activations"]["example_1"] == pytest.approx(acts[expect[0], c], rel=1e-5)
        page = (out / f"neuron_{c}.html").read_text()
        assert f"image {expect[0]}" in page and "Madry-style" in page and "Lucid-style" in page
        for j in range(4):
            assert (out / "img" / f"c{c}_p{j}.png").is_file()
            levels = [(out / "img" / f"c{c}_p{j}_l{k}.png").read_bytes() for k in range(1, 5)]
            assert len(levels) == 4
    index = (out / "index.html").read_text()
    assert 'href="neuron_1.html"' in index and 'href="neuron_2.html"' in index
    # the 4 crop sizes give different Grid-CAM views of at least some panel
    assert any(len({(out / "img" / f"c{c}_p{j}_l{k}.png").read_bytes() for k in range(1, 5)}) > 1
               for c in (1, 2) for j in range(4))


def test_report_of_a_tiny_model_in_the_browser(tiny, fashion_env, tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from viz._browser import browser_or_skip, close
    from viz.test_report_browser import check_report_page

    from tfinterp.runs.report import run_neuron_report

    r = run_neuron_report(tiny, layer="conv2", channels=[0], dataset="fashion_mnist", split="train", images=30,
                          steps=6, madry_steps=4, out=tmp_path / "rep", progress=False)
    driver = browser_or_skip()
    try:
        check_report_page(driver, r["index"], screenshot=tmp_path / "shot.png")
    finally:
        close(driver)
    assert (tmp_path / "shot.png").stat().st_size > 1000


def test_render_layer_is_the_pre_activation_where_there_is_one(tiny):
    from tfinterp.models import load_model
    from tfinterp.runs.report import render_layer

    m = load_model(tiny)
    assert render_layer(m, "conv2") == "conv2:pre"
    assert render_layer(m, "conv2", pre=False) == "conv2"
    assert render_layer(m, "pool1") == "pool1"       # no activation under a pooling layer


def test_report_bad_channels(tiny, fashion_env, tmp_path):
    from tfinterp.errors import UserError
    from tfinterp.runs.report import report_channels, run_neuron_report

    assert report_channels("0-2,5,1", 6) == [0, 1, 2, 5]
    assert report_channels(None, 40) == list(range(16)) and report_channels(None, 6) == list(range(6))
    with pytest.raises(UserError, match="channel 6 is out of range for layer 'conv2'"):
        report_channels("4-6", 6, "conv2")
    with pytest.raises(UserError, match="cannot read"):
        report_channels("a-b", 6)
    with pytest.raises(UserError, match="unknown layer"):
        run_neuron_report(tiny, layer="nope", dataset="fashion_mnist", split="train", images=20, out=tmp_path)
