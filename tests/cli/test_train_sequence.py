"""`tfinterp train sequence`: trains on planted data and on files, resumes, refuses bad input in one line."""

import csv
import json

import keras
import numpy as np
import pytest

from tfinterp.cli.main import main

TINY = ["--arch", "filters=8", "--arch", "kernel_size=8", "--arch", "dense=16"]


def run(args, capsys):
    code = main(args)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_trains_on_planted_beats_chance_and_is_finished_after(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "sequence", "--data", "planted", "--n", "1200", "--length", "60", "--epochs", "8",
            "--lr", "0.01", "--out", str(out), "--verbose", "0", *TINY]
    code, stdout, err = run(args, capsys)
    assert code == 0, err
    summary = json.loads((out / "seqcnn_planted.json").read_text())
    acc = summary["metrics"]["test_accuracy"]
    assert summary["data"]["test_examples"] == 240 and summary["data"]["train_examples"] == 840
    assert summary["metrics"]["chance_accuracy"] < 0.35  # 4 balanced classes
    assert acc > 0.6, acc  # chance is 0.25
    assert f"held-out accuracy {acc:.4f}" in stdout
    assert summary["data"]["class_names"] == ["none", "GATA", "TATA", "EBOX+AP1"]
    assert summary["config"]["arch_kwargs"] == {"filters": 8, "kernel_size": 8, "dense": 16}
    assert set(summary["metrics"]["test_accuracy_per_class"]) == {"none", "GATA", "TATA", "EBOX+AP1"}
    m = keras.models.load_model(out / "seqcnn_planted.keras")
    assert type(m).__name__ == "SequenceClassifier" and m.alphabet == "dna" and m.input_shape == (None, 60, 4)
    # the held-out part is the split's: evaluating the saved model on it gives the JSON's accuracy
    from tfinterp.data.seqsets import load_sequences, split_sequences

    _, _, test = split_sequences(load_sequences("planted", n=1200, length=60, seed=0), 0.1, 0.2, 0)
    pred = np.asarray(m.predict(test.x, verbose=0)).argmax(1)
    assert float((pred == test.y).mean()) == pytest.approx(acc, abs=1e-6)
    code, stdout, _ = run(args, capsys)
    assert code == 0 and "nothing to do" in stdout


class _Stop(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt


def test_resumes_after_an_interruption(tmp_path):
    from tfinterp.runs.sequence import SequenceTrainConfig, train_sequence

    cfg = SequenceTrainConfig(n=200, length=40, epochs=4, arch_kwargs={"filters": 4, "kernel_size": 6})
    with pytest.raises(KeyboardInterrupt):
        train_sequence(cfg, tmp_path, verbose=0, callbacks=[_Stop()])
    result = train_sequence(cfg, tmp_path, verbose=0)
    assert result["metrics"]["epochs_run_this_session"] == 2  # epochs 3 and 4 only
    with open(tmp_path / "history.csv") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [0, 1, 2, 3]


def test_trains_on_a_protein_table(tmp_path, capsys):
    rng = np.random.default_rng(0)
    letters = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
    rows = ["sequence\tlabel"]
    for i in range(120):
        s = rng.choice(letters, 30)
        if i % 2:
            s[rng.integers(0, 25):][:5] = list("WWCWW")
        rows.append("".join(s) + "\t" + ("kinase" if i % 2 else "other"))
    path = tmp_path / "prot.tsv"
    path.write_text("\n".join(rows) + "\n")
    code, stdout, err = run(["train", "sequence", "--data", str(path), "--alphabet", "protein", "--epochs", "2",
                             "--out", str(tmp_path / "r"), "--verbose", "0", "--arch", "filters=4",
                             "--arch", "kernel_size=5"], capsys)
    assert code == 0, err
    summary = json.loads((tmp_path / "r" / "seqcnn_prot.json").read_text())
    assert summary["data"]["input_shape"] == [30, 20] and summary["data"]["class_names"] == ["kinase", "other"]
    assert summary["data"]["test_examples"] == 24


@pytest.mark.parametrize("content, extra, match", [
    (None, [], "not found"),
    (">a label=1\nACGT\n>b label=0\nACZT\n", [], r"record 2 \('b'\): letter 'Z' at position 3"),
    (">a label=1\nACGT\n>b label=0\nACG\n", [], "mixed lengths.*give a window"),
    (">a label=1\nACGT\n>b label=0\n", [], r"record 2 \('b'\) is empty"),
    (">a\nACGT\n>b\nACGA\n", [], "no labels"),
    (">a label=1\nACGT\n>b label=1\nACGA\n", [], "a classifier needs two classes"),
    (">a label=1\nACGT\n>b label=0\nACGA\n", ["--model", "lstm9"], "model must be one of"),
    (">a label=1\nACGT\n>b label=0\nACGA\n", ["--pad", "both"], "pad must be one of"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, content, extra, match):
    import re

    path = tmp_path / "seqs.fa"
    if content is not None:
        path.write_text(content)
    code, _, err = run(["train", "sequence", "--data", str(path), "--out", str(tmp_path / "r"), "--verbose", "0",
                        *extra], capsys)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1, err
    assert re.search(match, lines[0]), lines[0]


def test_bad_planted_option_one_line(tmp_path, capsys):
    code, _, err = run(["train", "sequence", "--data", "planted:size=3", "--out", str(tmp_path), "--verbose", "0"],
                       capsys)
    assert code == 2 and "bad planted option 'size=3'" in err and len(err.strip().splitlines()) == 1
