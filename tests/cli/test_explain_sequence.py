"""`tfinterp explain seqs.fa --model M --method ...` end to end on a hand-built Conv1D model whose
filters are the planted PWMs' log-odds (it finds the planted motifs without training), the
``motif=`` header syntax, and bad input (one line, exit 2)."""

import json

import keras
import numpy as np
import pytest

from tfinterp.cli.main import main
from tfinterp.data.planted import CLASS_MOTIFS, MOTIFS, log_odds, make_planted
from tfinterp.errors import UserError
from tfinterp.runs.explain_sequence import is_sequence_file, motif_header, parse_header_motifs, write_motif_fasta

NAMES = list(MOTIFS)
LENGTH = 60


def _cli(args, capsys):
    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.fixture(scope="module")
def planted_cnn(tmp_path_factory):
    """Conv1D(4, 8) on (60, 4), filter f the centred log-odds of planted PWM f; global max; class
    c's logit averages the filters of its motifs."""
    k = np.zeros((8, 4, 4), np.float32)
    for f, name in enumerate(NAMES):
        lo = log_odds(MOTIFS[name])
        k[:len(lo), :, f] = lo - lo.mean(axis=1, keepdims=True)
    x = keras.Input((LENGTH, 4))
    h = keras.layers.Conv1D(4, 8, activation="relu", name="conv")(x)
    h = keras.layers.GlobalMaxPooling1D()(h)
    y = keras.layers.Dense(4, name="logits")(h)
    m = keras.Model(x, y)
    m.get_layer("conv").set_weights([k, np.zeros(4, np.float32)])
    W = np.zeros((4, 4), np.float32)
    for c, names in enumerate(CLASS_MOTIFS):
        for n in names:
            W[NAMES.index(n), c] = 1.0 / len(names)
    m.get_layer("logits").set_weights([W, np.zeros(4, np.float32)])
    path = tmp_path_factory.mktemp("seqcnn") / "planted_cnn.keras"
    m.save(path)
    return str(path)


@pytest.fixture(scope="module")
def fasta(tmp_path_factory):
    data = make_planted(n=8, length=LENGTH, seed=3, decoy_rate=0.0)
    path = tmp_path_factory.mktemp("seqs") / "seqs.fa"
    write_motif_fasta(path, data)
    return path, data


def test_header_motif_syntax():
    assert parse_header_motifs("seq1 motif=12-19", 60) == [("motif1", 11, 19)]
    assert parse_header_motifs("s label=1 motif=GATA:12-19,TATA:40-47") == [("GATA", 11, 19), ("TATA", 39, 47)]
    assert parse_header_motifs("s label=1") == []
    spans = [("GATA", 11, 19), ("AP1", 0, 7)]
    assert parse_header_motifs("x " + motif_header(spans)) == spans
    with pytest.raises(UserError, match=r"motif '12_19' is not START-END"):
        parse_header_motifs("s motif=12_19")
    with pytest.raises(UserError, match=r"motif=55-70 needs 1 <= START <= END and END <= 60"):
        parse_header_motifs("s motif=55-70", 60)
    assert is_sequence_file("a.fa") and is_sequence_file("b.FASTA.gz") and is_sequence_file("t.tsv")
    assert not is_sequence_file("img.png")


def test_explain_fasta_end_to_end(planted_cnn, fasta, tmp_path, capsys):
    path, data = fasta
    out = tmp_path / "e"
    code, stdout, err = _cli(["explain", path, "--model", planted_cnn, "--method", "gradient-x-input",
                              "--out", out, "--figures", "first:2"], capsys)
    assert code == 0, err
    lines = stdout.strip().splitlines()
    assert len(lines) == 9 and lines[-1] == f"explanations written to {out}/"
    assert "gradient-x-input top window at" in lines[0] and lines[0].endswith("planted0_gradient-x-input.png")
    with_motif = [i for i in range(8) if data.motifs[i]]
    for i, name in enumerate(data.names):
        s = json.loads((out / f"{name}_gradient-x-input.json").read_text())
        assert s["method"] == "gradient-x-input" and s["length"] == LENGTH and s["alphabet"] == "ACGT"
        assert s["motif_width"] == 8  # the widest motif the headers give
        w = s["top_window"]
        assert w["end"] - w["start"] == 8 and s["letters"][w["start"]:w["end"]] == w["letters"]
        assert s["letters"] == data.sequences()[i]
        assert [(m["start"], m["end"]) for m in s["given_motifs"]] == [(a, b) for _, a, b in data.motifs[i]]
        m = np.load(out / f"{name}_gradient-x-input.npy")
        assert m.shape == (LENGTH, 4)
        np.testing.assert_allclose(m.sum(-1), s["position_scores"], atol=1e-5)
        assert (out / f"{name}_gradient-x-input.png").exists() == (i < 2)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sequences"] == 8 and summary["sequences_with_given_motif"] == len(with_motif)
    assert summary["top_window_overlap_fraction"]["gradient-x-input"] >= 0.8


def test_explain_table_with_ism_and_all(planted_cnn, fasta, tmp_path, capsys):
    _, data = fasta
    table = tmp_path / "seqs.tsv"
    table.write_text("sequence\tlabel\n" + "".join(f"{s}\t{y}\n" for s, y in zip(data.sequences()[:3], data.y[:3])))
    out = tmp_path / "t"
    code, stdout, err = _cli(["explain", table, "--model", planted_cnn, "--method", "ism", "--motif-width", "6",
                              "--figures", "none", "--out", out], capsys)
    assert code == 0, err
    s = json.loads((out / "row1_ism.json").read_text())
    assert s["top_window"]["end"] - s["top_window"]["start"] == 6 and s["figure"] is None
    assert s["given_motifs"] == [] and s["top_window_overlaps_given"] is None
    assert not list(out.glob("*.png"))
    out2 = tmp_path / "all"
    code, stdout, err = _cli(["explain", table, "--model", planted_cnn, "--method", "all", "--figures", "first:1",
                              "--param", "steps=4", "--out", out2], capsys)
    assert code == 2 and "--param applies to a single method" in err
    code, stdout, err = _cli(["explain", table, "--model", planted_cnn, "--method", "all", "--figures", "first:1",
                              "--out", out2], capsys)
    assert code == 0, err
    s = json.loads((out2 / "row1_all.json").read_text())
    assert {"deeplift", "ism", "gradient-x-input", "integrated-gradients"} <= set(s["methods"])
    assert (out2 / "row1_all.png").exists() and not (out2 / "row2_all.png").exists()


def _one_line_error(code, err):
    assert code == 2
    assert err.strip().count("\n") == 0 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("args, message", [
    (["--method", "astrology"], "unknown explanation method 'astrology'; for sequences use one of: "),
    (["--method", "gradcam"], "gradcam explains images, not sequences; for sequences use one of: "),
    (["--alphabet", "protein"], "--alphabet protein (ACDEFGHIKLMNPQRSTVWY) is not the model's alphabet"),
    (["--motif-width", "61"], "--motif-width must be 1..60"),
    (["--layer", "conv"], "--layer and --alpha are for images"),
])
def test_bad_options_one_line_exit_2(planted_cnn, fasta, tmp_path, capsys, args, message):
    path, _ = fasta
    code, _, err = _cli(["explain", path, "--model", planted_cnn, "--out", tmp_path / "o", *args], capsys)
    assert message in _one_line_error(code, err)


def test_bad_files_one_line_exit_2(planted_cnn, fasta, tmp_path, capsys):
    path, data = fasta
    seq = data.sequences()[0]
    cases = {
        "short.fa": (f">a\n{seq}\n>b\n{seq[:50]}\n", "record 2 ('b') has 50 letters but the model takes sequences of "
                                                      "length 60"),
        "protein.fa": (">p\n" + "MKQL" * 15 + "\n", "letter 'M' at position 1 is not in"),
        "badmotif.fa": (f">a motif=3to9\n{seq}\n", "record 'a': motif '3to9' is not START-END"),
        "empty.fa": (">a\n\n>b\n" + seq + "\n", "record 1 ('a') is empty"),
    }
    for name, (text, message) in cases.items():
        p = tmp_path / name
        p.write_text(text)
        code, _, err = _cli(["explain", p, "--model", planted_cnn, "--out", tmp_path / "o"], capsys)
        assert message in _one_line_error(code, err), (name, err)
    code, _, err = _cli(["explain", path, "--model", "vggsmall_clutter64", "--out", tmp_path / "o"], capsys)
    assert "not one-hot sequences" in _one_line_error(code, err)
    code, _, err = _cli(["explain", tmp_path / "nothere.fa", "--model", planted_cnn], capsys)
    assert "sequence file not found" in _one_line_error(code, err)
