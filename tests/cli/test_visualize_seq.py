"""`tfinterp visualize filters|class-optimize MODEL` end to end on a hand-built Conv1D model
whose filters are the planted PWMs' log-odds, and bad input (one line, exit 2)."""

import json

import keras
import numpy as np
import pytest

from tfinterp.cli.main import default_subcommand, main
from tfinterp.data.planted import CLASS_MOTIFS, MOTIFS, log_odds

NAMES = list(MOTIFS)          # GATA, TATA, EBOX, AP1


def _cli(args, capsys):
    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.fixture(scope="module")
def planted_cnn(tmp_path_factory):
    """Conv1D(5, 8) on (60, 4): filters 0-3 the planted PWMs' centred log-odds (zero-padded to
    width 8), filter 4 noise; global max; class c's logit sums the filters of its motifs."""
    rng = np.random.default_rng(0)
    k = np.zeros((8, 4, 5), np.float32)
    for f, name in enumerate(NAMES):
        lo = log_odds(MOTIFS[name])
        k[:len(lo), :, f] = lo - lo.mean(axis=1, keepdims=True)
    k[:, :, 4] = rng.normal(size=(8, 4))
    x = keras.Input((60, 4))
    h = keras.layers.Conv1D(5, 8, activation="relu", name="conv")(x)
    h = keras.layers.GlobalMaxPooling1D()(h)
    y = keras.layers.Dense(4, name="logits")(h)
    m = keras.Model(x, y)
    m.get_layer("conv").set_weights([k, np.full(5, 1.0, np.float32)])
    W = np.zeros((5, 4), np.float32)
    for c, names in enumerate(CLASS_MOTIFS):
        for n in names:
            W[NAMES.index(n), c] = 1.0
    W[4, 0] = 0.1
    m.get_layer("logits").set_weights([W, np.zeros(4, np.float32)])
    path = tmp_path_factory.mktemp("seqcnn") / "planted_cnn.keras"
    m.save(path)
    return str(path)


def test_default_subcommand_leaves_filters_alone():
    assert default_subcommand(["visualize", "filters", "seqcnn_planted"]) == ["visualize", "filters", "seqcnn_planted"]
    assert default_subcommand(["visualize", "class-optimize", "m"]) == ["visualize", "class-optimize", "m"]


def test_visualize_filters_end_to_end(planted_cnn, tmp_path, capsys):
    out = tmp_path / "f"
    code, stdout, err = _cli(["visualize", "filters", planted_cnn, "--data", "planted:n=240,seed=3",
                              "--draws", "40", "--out", out], capsys)
    assert code == 0, err
    assert "5 filters of 'conv' (width 8)" in stdout and "GATA: filter logo 0 r=1.00" in stdout
    for f in ("filters_pssm.png", "activation_motifs.png", "motifs.png", "filters.json"):
        assert (out / f).stat().st_size > 1000
    s = json.loads((out / "filters.json").read_text())
    assert s["motifs"] == "planted" and s["sequences"] == 240 and len(s["filters"]) == 5
    for f, name in enumerate(NAMES):
        pm = s["per_motif"][name]
        assert pm["pssm"]["filter"] == f and pm["pssm"]["pearson"] == pytest.approx(1.0, abs=1e-4)
        assert pm["pssm"]["pearson_offset"] == 0 and pm["pssm"]["pearson_beats_chance"]
        # the activation motif of the PWM's own filter recovers the planted PWM
        assert pm["activation"]["filter"] == f and pm["activation"]["pearson"] > 0.8
        assert pm["activation"]["pearson"] > pm["activation"]["chance"]["pearson"]["p95"]
    assert np.asarray(s["filters"][0]["pssm"]).shape == (8, 4)
    assert np.asarray(s["filters"][0]["activation_ppm"]).sum(axis=1) == pytest.approx(np.ones(8), abs=1e-4)


def test_visualize_class_optimize_end_to_end(planted_cnn, tmp_path, capsys):
    out = tmp_path / "c"
    code, stdout, err = _cli(["visualize", "class-optimize", planted_cnn, "--classes", "1-3", "--steps", "150", "--motifs", "planted",
                              "--draws", "40", "--out", out], capsys)
    assert code == 0, err
    assert "3 class(es)" in stdout and "class 1 (GATA)" in stdout
    s = json.loads((out / "class_optimize.json").read_text())
    assert [e["class"] for e in s["classes"]] == [1, 2, 3] and s["tracing_count"] == 1
    for e in s["classes"]:
        assert np.asarray(e["ppm"]).shape == (60, 4)
        for name, m in e["planted"].items():     # each class's own motifs appear in its PPM
            assert m["pearson"] > 0.8 and m["pearson_beats_chance"], (e["class"], name, m)
    assert s["classes"][0]["match"]["motif"] == "GATA"
    for f in ("class_1.png", "class_2.png", "class_3.png", "class_optimization.png"):
        assert (out / f).stat().st_size > 1000


def test_bad_input_one_line_exit_2(planted_cnn, tmp_path, capsys):
    x = keras.Input((60, 4))
    dense = keras.Model(x, keras.layers.Dense(4)(keras.layers.Flatten()(x)))
    dpath = tmp_path / "dense.keras"
    dense.save(dpath)
    cases = [
        (["visualize", "filters", dpath, "--out", tmp_path / "a"], "no Conv1D first layer"),
        (["visualize", "class-optimize", planted_cnn, "--classes", "7", "--out", tmp_path / "b"], "out of range"),
        (["visualize", "class-optimize", planted_cnn, "--steps", "0", "--out", tmp_path / "b"], "--steps"),
        (["visualize", "class-optimize", planted_cnn, "--steps", "-3", "--out", tmp_path / "b"], "--steps"),
        (["visualize", "filters", planted_cnn, "--threshold", "1.5", "--out", tmp_path / "a"], "--threshold"),
        (["visualize", "filters", planted_cnn, "--motifs", tmp_path / "nope.json", "--out", tmp_path / "a"], "--motifs"),
        (["visualize", "filters", planted_cnn, "--data", "planted:length=30", "--out", tmp_path / "a"], "length"),
    ]
    for args, words in cases:
        code, stdout, err = _cli(args, capsys)
        assert code == 2, (args, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], (args, err)


def test_zoo_seqcnn_is_read_through_its_backbone(tmp_path, capsys):
    """The zoo's subclassed SequenceClassifier (no output_shape; a functional backbone)."""
    from tfinterp.models import get

    m = get("seqcnn", input_shape=(40, 4), arch_kwargs={"filters": 4})
    path = tmp_path / "seqcnn.keras"
    m.save(path)
    code, stdout, err = _cli(["visualize", "filters", path, "--data", "planted:n=60", "--draws", "10",
                              "--out", tmp_path / "f"], capsys)
    assert code == 0, err
    assert "4 filters of 'conv1' (width 12)" in stdout
    code, stdout, err = _cli(["visualize", "class-optimize", path, "--motifs", "planted", "--classes", "3",
                              "--steps", "5", "--draws", "10", "--out", tmp_path / "c"], capsys)
    assert code == 0, err
    assert "class 3 (EBOX+AP1)" in stdout
    code, stdout, err = _cli(["visualize", "class-optimize", path, "--classes", "4", "--out", tmp_path / "c"], capsys)
    assert code == 2 and "out of range" in err
