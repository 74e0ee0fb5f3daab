"""The I-metric jobs end to end on a tiny model and fake data: the quiz's options come from the
neuron's top / bottom groups computed independently; the machine participant answers every
condition and the scorer reads its files."""

import json

import numpy as np
import pytest

from tfinterp.metrics import imetric as im


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import keras

    keras.utils.set_random_seed(1)
    m = keras.Sequential([keras.Input((28, 28, 1)),
                          keras.layers.Conv2D(6, 3, activation="relu", name="conv1"),
                          keras.layers.MaxPooling2D(2),
                          keras.layers.Conv2D(8, 3, activation="relu", name="conv2"),
                          keras.layers.GlobalAveragePooling2D(),
                          keras.layers.Dense(12, activation="relu", name="fc1"),
                          keras.layers.Dense(10, name="logits")], name="tiny")
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    m.save(path)
    return str(path)


CRIT = {"top_k": 10, "bottom_k": 10, "top_quantile": 0.5, "min_ratio": 1.05}


def test_build_participant_score(tiny, fashion_env, tmp_path):
    from tfinterp.analysis.examples import layer_activations
    from tfinterp.data import load_arrays
    from tfinterp.models import load_model
    from tfinterp.runs.imetric import build_quiz, run_machine_participant, score_responses

    quiz = tmp_path / "quiz"
    r = build_quiz(tiny, layer="conv2", dataset="fashion_mnist", split="train", images=60, questions=3,
                   criteria=CRIT, steps=6, madry_steps=4, out=quiz, progress=False)
    key = json.loads((quiz / "key.json").read_text())
    x, _ = load_arrays("fashion_mnist", "train", 60)
    acts = layer_activations(load_model(tiny), "conv2", x, reduce="mean")
    adm = im.admissible_neurons(acts, **CRIT)
    assert key["admissible"] == adm.neurons and len(key["questions"]) == min(3, len(adm.neurons))
    for q in key["questions"]:
        c = q["neuron"]
        top = set(np.argsort(-acts[:, c], kind="stable")[:10].tolist())
        bottom = set(np.argsort(acts[:, c], kind="stable")[:10].tolist())
        assert len(set(q["options"])) == 9
        assert {q["options"][i] for i in q["correct_positions"]} == set(q["answers"]) <= top
        assert sum(o in bottom for o in q["options"]) == 6
        assert not set(q["examples"]) & set(q["options"])
        for o in q["options"]:
            assert (quiz / "img" / f"x_{o}.png").is_file()
        assert (quiz / "img" / f"fv_noise_{c}.png").is_file() and (quiz / "img" / f"fv_dataset_{c}.png").is_file()
    for cond in im.CONDITIONS:
        page = (quiz / f"quiz_{cond}.html").read_text()
        assert key["build"] in page and "correct" not in page      # the answers stay out of the page
    assert "fv_noise" in (quiz / "quiz_fv.html").read_text()
    assert "fv_noise" not in (quiz / "quiz_examples.html").read_text()

    m = run_machine_participant(quiz, features_layer="fc1", out=tmp_path / "responses")
    assert set(m["conditions"]) == set(im.CONDITIONS)
    files = sorted((tmp_path / "responses").glob("*.json"))
    s = score_responses(files, out=tmp_path / "score")
    assert s["key"] == str((quiz / "key.json").resolve())
    for p in s["participants"]:
        assert p["total"] == m["conditions"][p["condition"]]["total"]
        assert all(0 <= h <= 3 for h in p["hits"])
    assert (tmp_path / "score" / "imetric.png").stat().st_size > 1000
    assert json.loads((tmp_path / "score" / "imetric.json").read_text())["chance"]["hits_per_question"] == 1.0
    # raw pixels as the feature space; the default output folder is score/ beside the key
    px = run_machine_participant(quiz, features_model="pixels")
    assert px["participant"].startswith("machine:pixels") and px["out"] == str(quiz / "responses")
    s2 = score_responses(sorted((quiz / "responses").glob("*.json")), out_beside_key=True)
    assert s2["json"] == str(quiz / "score" / "imetric.json") and len(s2["participants"]) == 3


def test_quiz_page_in_the_browser(tiny, fashion_env, tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from viz._browser import browser_or_skip, close
    from viz.test_report_browser import check_quiz_page

    from tfinterp.runs.imetric import build_quiz, score_responses

    quiz = tmp_path / "quiz"
    build_quiz(tiny, layer="conv2", dataset="fashion_mnist", split="train", images=60, questions=2,
               criteria=CRIT, steps=4, madry_steps=3, out=quiz, progress=False)
    key = json.loads((quiz / "key.json").read_text())
    driver = browser_or_skip()
    try:
        right = key["questions"][0]["correct_positions"]
        doc = check_quiz_page(driver, quiz / "quiz_both.html", picks=tuple(right))
    finally:
        close(driver)
    (tmp_path / "r.json").write_text(json.dumps(doc))
    s = score_responses([tmp_path / "r.json"])
    assert s["participants"][0]["hits"][0] == 3 and s["participants"][0]["condition"] == "both"


def test_no_admissible_neuron_is_one_line(tiny, fashion_env, tmp_path):
    from tfinterp.errors import UserError
    from tfinterp.runs.imetric import build_quiz

    with pytest.raises(UserError, match="no neuron of 'conv2' is admissible"):
        build_quiz(tiny, layer="conv2", dataset="fashion_mnist", split="train", images=60, questions=2,
                   criteria={"top_k": 10, "bottom_k": 10, "top_min": 1e9}, out=tmp_path, progress=False)
