"""`tfinterp imetric build|participant|score` and `tfinterp report neurons`: bad input is one line
on stderr and exit 2."""

import json

import pytest


def _cli(args, capsys):
    from tfinterp.cli.main import main

    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import keras

    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 3, activation="relu", name="conv1"),
                          keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10, name="logits")])
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    m.save(path)
    return str(path)


def _one_line(code, err, *words):
    assert code == 2, err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    for w in words:
        assert w in lines[0], err


def test_report_unknown_layer_and_channel_out_of_range(tiny, fashion_env, tmp_path, capsys):
    base = ["report", "neurons", tiny, "--dataset", "fashion_mnist", "--split", "train", "--images", "20",
            "--out", tmp_path / "r"]
    _one_line(*_cli(base + ["--layer", "nope"], capsys)[::2], "unknown layer 'nope'")
    _one_line(*_cli(base + ["--layer", "conv1", "--channels", "2-9"], capsys)[::2], "channel 9 is out of range")
    _one_line(*_cli(base + ["--layer", "conv1", "--steps", "0"], capsys)[::2], "steps must be >= 1")
    _one_line(*_cli(["report", "neurons", "no_such_model", "--out", tmp_path / "r"], capsys)[::2], "unknown model")


def test_imetric_build_bad_input(tiny, fashion_env, tmp_path, capsys):
    base = ["imetric", "build", tiny, "--dataset", "fashion_mnist", "--split", "train", "--images", "40",
            "--out", tmp_path / "q"]
    _one_line(*_cli(base + ["--layer", "nope"], capsys)[::2], "unknown layer 'nope'")
    _one_line(*_cli(base + ["--layer", "conv1", "--top-quantile", "1.5"], capsys)[::2], "top_quantile")
    _one_line(*_cli(base + ["--layer", "conv1"], capsys)[::2], "more than the 40 images")


def test_imetric_score_bad_input(tmp_path, capsys):
    _one_line(*_cli(["imetric", "score"], capsys)[::2], "give the response JSON files")
    _one_line(*_cli(["imetric", "score", tmp_path / "missing.json"], capsys)[::2], "not found")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    _one_line(*_cli(["imetric", "score", bad], capsys)[::2], "not valid JSON")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"hello": 1}))
    _one_line(*_cli(["imetric", "score", other], capsys)[::2], "not an I-metric response file")
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps({"kind": "tfinterp-imetric-responses", "condition": "fv", "answers": []}))
    _one_line(*_cli(["imetric", "score", ok], capsys)[::2], "key.json")
    _one_line(*_cli(["imetric", "participant", tmp_path], capsys)[::2], "answer key not found")


def test_report_and_imetric_end_to_end(tiny, fashion_env, tmp_path, capsys):
    code, out, err = _cli(["report", "neurons", tiny, "--layer", "conv1", "--channels", "0-1", "--dataset",
                           "fashion_mnist", "--split", "train", "--images", "30", "--steps", "4", "--madry-steps", "3",
                           "--out", tmp_path / "rep"], capsys)
    assert code == 0, err
    assert "2 neuron pages of conv1" in out and (tmp_path / "rep" / "neuron_1.html").is_file()
    quiz = tmp_path / "quiz"
    code, out, err = _cli(["imetric", "build", tiny, "--layer", "conv1", "--dataset", "fashion_mnist", "--split",
                           "train", "--images", "60", "--questions", "2", "--top-k", "10", "--bottom-k", "10",
                           "--top-quantile", "0", "--min-ratio", "1.0", "--steps", "4", "--madry-steps", "3",
                           "--out", quiz], capsys)
    assert code == 0, err
    assert "questions: open" in out and (quiz / "quiz_both.html").is_file()
    code, out, err = _cli(["imetric", "participant", quiz, "--features-layer", "conv1"], capsys)
    assert code == 0, err
    assert out.count("answers found") == 3
    files = sorted((quiz / "responses").glob("*.json"))
    code, out, err = _cli(["imetric", "score", *files], capsys)
    assert code == 0, err
    doc = json.loads((quiz / "score" / "imetric.json").read_text())
    assert set(doc["conditions"]) == {"fv", "examples", "both"} and (quiz / "score" / "imetric.png").is_file()
    _one_line(*_cli(["imetric", "participant", quiz, "--features-layer", "nope"], capsys)[::2], "unknown layer")
