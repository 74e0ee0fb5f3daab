"""`tfinterp analyze dataset-examples|lc|consistency|lc-agreement` and `tfinterp setup-wordnet`
end to end on tiny data (Dong et al. 2017), and their bad inputs: one line on stderr, exit 2."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

HAVE_WORDNET = Path("/usr/share/wordnet/data.noun").is_file()
needs_wordnet = pytest.mark.skipif(not HAVE_WORDNET, reason="WordNet 3.0 not installed "
                                   "(apt-get install wordnet-base wordnet-sense-index)")


def _cli(args, capsys):
    from tfinterp.cli.main import main

    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _advset(path, shape=(28, 28, 1), num_classes=10, m=30, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(m) % num_classes
    np.savez(path, images=rng.random((m,) + shape, dtype=np.float32), index=np.arange(m, dtype=np.int64) % 20,
             labels=labels.astype(np.int64), targets=((labels + 3) % num_classes).astype(np.int64),
             success=(np.arange(m) % 3 > 0), meta=np.array(json.dumps({
                 "model": "cnn2", "num_classes": num_classes, "dataset": "fashion_mnist", "split": "test",
                 "input_shape": list(shape)})))
    return path


@pytest.fixture
def env(idx_dir, monkeypatch):
    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))
    monkeypatch.setattr("tfinterp.data._tfds_reachable", lambda: False)


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    """A tiny trained-looking 28x28 classifier saved as .keras (layer conv2: 6 channels)."""
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(4, 3, strides=2, activation="relu", name="conv1")(inp)
    x = keras.layers.Conv2D(6, 3, strides=2, activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    m = keras.Model(inp, keras.layers.Dense(10, name="logits")(x), name="tiny")
    path = tmp_path_factory.mktemp("lcnet") / "tiny.keras"
    m.save(path)
    return str(path)


def test_dataset_examples_real_and_adversarial(env, net, tmp_path, capsys):
    adv = _advset(tmp_path / "adv.npz")
    out = tmp_path / "ex"
    code, stdout, err = _cli(["analyze", "dataset-examples", net, "--dataset", "fashion_mnist", "--layer",
                              "conv2", "--q", "10", "--adversarial-set", adv, "--neurons", "0,5", "--show", "2",
                              "--out", out], capsys)
    assert code == 0, err
    r = json.loads((out / "examples.json").read_text())
    assert r["k"] == 2 and r["images"] == 20 and r["adversarial"]["k"] == 3 and r["neurons_drawn"] == [0, 5]
    hist = np.array(r["real"]["histograms"])
    assert hist.shape == (r["channels"], 10) and np.allclose(hist.sum(1), 1)
    assert np.allclose(np.array(r["adversarial"]["histograms_target"]).sum(1), 1)
    assert (out / "examples.png").stat().st_size > 0
    assert "top 2 of 20 real images, 3 of 30 adversarial" in stdout


@needs_wordnet
def test_lc_and_consistency(env, net, tmp_path, capsys):
    out = tmp_path / "lc"
    code, stdout, err = _cli(["analyze", "lc", net, "--dataset", "fashion_mnist", "--layer", "conv2", "--q", "20", "--bootstrap", "50",
                              "--out", out], capsys)
    assert code == 0, err
    r = json.loads((out / "lc.json").read_text())
    assert r["mapping"] == "fashion_mnist" and r["k"] == 4 and set(r["sigmas"]) == {"1.0", "2.0"}
    s1 = r["sigmas"]["1.0"]
    assert math.isclose(s1["mean_normalized"], s1["mean_lc"] / s1["null"], rel_tol=1e-9)
    assert all(0 < v <= 1 + 1e-12 for v in s1["lc"])
    assert "sigma 1: mean LC" in stdout and (out / "lc.png").stat().st_size > 0
    adv = _advset(tmp_path / "adv.npz")
    out2 = tmp_path / "cs"
    code, stdout, err = _cli(["analyze", "consistency", net, "--adversarial-set", adv, "--layer", "conv1", "--layer", "conv2", "--q",
                              "20", "--bins", "3",
                              "--sigma", "2", "--out", out2], capsys)
    assert code == 0, err
    c = json.loads((out2 / "consistency.json").read_text())
    s = c["sigmas"]["2.0"]
    assert c["neurons"] == 4 + 6 and c["neuron_layers"] == ["conv1"] * 4 + ["conv2"] * 6  # pooled layers
    assert sum(s["binned"]["count"]) == c["neurons"] and len(s["cs1"]) == c["neurons"]
    assert all(-1e-9 <= v <= 1 + 1e-9 for v in s["cs1"] + s["cs2"])
    assert (out2 / "consistency.png").stat().st_size > 0 and "CS1" in stdout


def _pairs(tmp_path):
    doc = {"build": "b1", "model": "m", "layer": "l", "sigma": 1.0,
           "pairs": [{"pair": 0, "left": 3, "right": 7, "lc_left": 0.9, "lc_right": 0.2},
                     {"pair": 1, "left": 1, "right": 2, "lc_left": 0.1, "lc_right": 0.5},
                     {"pair": 2, "left": 4, "right": 5, "lc_left": 0.3, "lc_right": 0.3},
                     {"pair": 3, "left": 6, "right": 0, "lc_left": 0.6, "lc_right": 0.4},
                     {"pair": 4, "left": 8, "right": 9, "lc_left": 0.2, "lc_right": 0.7}]}
    p = tmp_path / "pairs.json"
    p.write_text(json.dumps(doc))
    return p


def _responses(path, rater, choices, pairs_file):
    path.write_text(json.dumps({"build": "b1", "pairs_file": str(pairs_file), "rater": rater,
                                "responses": [{"pair": i, "choice": c} for i, c in enumerate(choices)]}))
    return path


def test_lc_agreement_score_by_hand(tmp_path, capsys):
    pf = _pairs(tmp_path)
    # A: pair 0 left (agrees), 1 right (agrees), 2 tie (left out), 3 right (disagrees), 4 unsure
    a = _responses(tmp_path / "a.json", "A", ["left", "right", "left", "right", "unsure"], pf)
    # B: all four scorable pairs agree
    b = _responses(tmp_path / "b.json", "B", ["left", "right", "right", "left", "right"], pf)
    out = tmp_path / "score"
    code, stdout, err = _cli(["analyze", "lc-agreement", "score", a, b, "--out", out], capsys)
    assert code == 0, err
    r = json.loads((out / "agreement.json").read_text())
    ra, rb = r["raters"]
    assert (ra["agree"], ra["answered"]) == (2, 3) and (rb["agree"], rb["answered"]) == (4, 4)
    assert (r["agree"], r["answered"]) == (6, 7) and r["skipped"] == {"unsure": 1, "tie": 2}
    z, n, p = 1.959964, 7, 6 / 7  # Wilson interval by hand
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert np.allclose(r["interval"], [centre - half, centre + half])
    assert "pooled: 6/7 = 0.857" in stdout
    # another page's answers are refused
    bad = tmp_path / "c.json"
    bad.write_text(json.dumps({"build": "zz", "pairs_file": str(pf), "responses": [{"pair": 0, "choice": "left"}]}))
    code, _, err = _cli(["analyze", "lc-agreement", "score", bad], capsys)
    assert code == 2 and "another page" in err and err.count("\n") == 1


@needs_wordnet
def test_lc_agreement_build_page(env, net, tmp_path, capsys):
    out = tmp_path / "page"
    code, stdout, err = _cli(["analyze", "lc-agreement", "build", net, "--dataset", "fashion_mnist", "--layer", "conv2", "--pairs", "3",
                              "--show", "2", "--q", "10", "--no-discrepancy", "--out", out], capsys)
    assert code == 0, err
    html = (out / "index.html").read_text()
    pairs = json.loads((out / "pairs.json").read_text())
    assert len(pairs["pairs"]) == 3 and html.count("data:image/png;base64,") >= 3
    assert "lc_left" not in html and pairs["build"] in html and "URL.createObjectURL" in html
    assert all(p["left"] != p["right"] for p in pairs["pairs"])
    import shutil
    import subprocess

    if shutil.which("node") is None:
        pytest.skip("node not installed: the page's script is not run (the page was still checked)")
    sim = tmp_path / "sim.js"
    sim.write_text(_SIM_JS)
    resp = subprocess.run(["node", str(sim), str(out / "index.html"), "left,right,unsure"], capture_output=True,
                          text=True, timeout=60, check=True).stdout
    (out / "answers.json").write_text(resp)
    doc = json.loads(resp)
    assert doc["build"] == pairs["build"] and [r["choice"] for r in doc["responses"]] == ["left", "right", "unsure"]
    code, stdout, err = _cli(["analyze", "lc-agreement", "score", out / "answers.json", "--out", tmp_path / "sc"], capsys)
    assert code == 0, err
    r = json.loads((tmp_path / "sc" / "agreement.json").read_text())
    lc = {p["pair"]: (p["lc_left"], p["lc_right"]) for p in pairs["pairs"]}
    want = [(c == "left") == (lc[i][0] > lc[i][1]) for i, c in enumerate(["left", "right"]) if lc[i][0] != lc[i][1]]
    assert r["answered"] == len(want) and r["agree"] == sum(want) and r["skipped"]["unsure"] == 1


# the page's script under a stub DOM: answer every pair in turn, press download, print the JSON
_SIM_JS = r"""
const fs = require("fs");
const html = fs.readFileSync(process.argv[2], "utf8");
const script = html.split("<script>")[1].split("</script>")[0];
const els = {};
const el = (id) => (els[id] = els[id] || {id, style: {}, value: id === "rater" ? "sim" : "", textContent: "", src: ""});
let saved = null;
global.document = {getElementById: el, createElement: () => ({click() { saved = this; }, remove() {}}),
                   body: {appendChild() {}}};
global.Blob = function (parts) { this.text = parts.join(""); };
global.URL = {createObjectURL: (b) => b};
const choices = process.argv[3].split(",");
eval(script + `
for (let n = 0; n < PAIRS.length; n++) answer(choices[n % choices.length]);
if (!document.getElementById("left").src.startsWith("data:image/png")) throw new Error("no image shown");
download();
`);
process.stdout.write(saved.href.text);
"""


def test_setup_wordnet_missing_is_one_line(tmp_path, capsys, monkeypatch):
    import nltk

    monkeypatch.setattr(nltk.data, "path", [])
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = _cli(["setup-wordnet", "--source", empty, "--root", tmp_path / "root", "--no-download"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "apt-get install wordnet-base" in err and "--download" in err


@needs_wordnet
def test_setup_wordnet_offline(tmp_path, capsys):
    from tfinterp.analysis.wordnet import nltk_data_root

    code, stdout, err = _cli(["setup-wordnet", "--no-download"], capsys)  # the session's cache: loaded once
    assert code == 0, err
    assert "d(sandal, sneaker) = 2" in stdout and (nltk_data_root() / "corpora" / "wordnet" / "lexnames").is_file()


def test_bad_inputs_exit_2_one_line(env, net, tmp_path, capsys):
    o = str(tmp_path / "o")
    other = _advset(tmp_path / "other.npz", shape=(32, 32, 1))
    fewer = _advset(tmp_path / "fewer.npz", num_classes=5)
    bad_map = tmp_path / "map.json"
    bad_map.write_text(json.dumps(["n04133789"] * 9 + ["n99999999"]))
    ex = ["analyze", "dataset-examples", net, "--dataset", "fashion_mnist", "--layer", "conv2", "--out", o]
    lc = ["analyze", "lc", net, "--dataset", "fashion_mnist", "--layer", "conv2", "--bootstrap", "10", "--out", o]
    cases = [
        ("unknown layer", ex + ["--layer", "nope"], "unknown layer"),
        ("q zero", ex + ["--q", "0"], "(0, 100]"),
        ("q too big", ex + ["--q", "150"], "(0, 100]"),
        ("bad reduce", ex + ["--reduce", "median"], "max or mean"),
        ("bad neuron", ex + ["--neurons", "0,999", "--no-discrepancy"], "out of range"),
        ("set for another shape", ex + ["--adversarial-set", other], "takes (32, 32, 1)"),
        ("set for another class count", ["analyze", "consistency", net, "--adversarial-set", fewer, "--out", o],
         "5 classes"),
        ("missing set", ["analyze", "consistency", net, "--adversarial-set", tmp_path / "none.npz", "--out", o],
         "not found"),
        ("unknown mapping", lc + ["--mapping", "nope"], "unknown class mapping"),
        ("lc q", lc + ["--q", "-1"], "(0, 100]"),
        ("bad action", ["analyze", "lc-agreement", "judge", "x"], "build or score"),
    ]
    if HAVE_WORDNET:
        cases.append(("mapping with a missing synset", lc + ["--mapping", bad_map], "no synset 'n99999999'"))
    for what, args, needle in cases:
        code, _, err = _cli(args, capsys)
        assert code == 2, (what, err)
        assert err.count("\n") == 1 and needle in err, (what, err)
