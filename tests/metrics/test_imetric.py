"""The I-metric kit (Baek et al.): admissibility, quizzes, scoring, the machine participant."""

import numpy as np
import pytest

from tfinterp.errors import UserError
from tfinterp.metrics import imetric as im


def _acts():
    # 10 images x 4 neurons, known by hand
    a = np.zeros((10, 4))
    a[[3, 7], 0] = 5.0                      # ReLU-like: two images fire, the rest are exact zeros
    # neuron 1 never fires (all zeros)
    a[:, 2] = 1.0                           # flat: top == bottom
    a[:, 3] = np.arange(10, 0, -1)          # graded 10, 9, ..., 1
    return a


def test_admissibility_by_hand_with_absolute_thresholds():
    adm = im.admissible_neurons(_acts(), top_k=2, bottom_k=2, eps_quantile=0.0, top_min=2.0, min_ratio=4.0)
    # eps = the 0-quantile of the positive activations = 1.0
    assert adm.thresholds["eps"] == 1.0
    assert adm.top_min.tolist() == [5.0, 0.0, 1.0, 9.0]
    assert adm.bottom_max.tolist() == [0.0, 0.0, 1.0, 2.0]
    # ReLU zeros: the ratio is finite, top_min / eps, and the neuron is marked
    assert adm.ratio.tolist() == [5.0, 0.0, 1.0, 4.5]
    assert adm.bottom_zero.tolist() == [True, True, False, False]
    assert adm.neurons == [0, 3]
    assert sorted(adm.top[0].tolist()) == [3, 7]
    assert adm.top[3].tolist() == [0, 1] and adm.bottom[3].tolist() == [9, 8]
    # a stricter ratio drops the graded neuron only
    assert im.admissible_neurons(_acts(), top_k=2, bottom_k=2, eps_quantile=0.0, top_min=2.0,
                                 min_ratio=4.6).neurons == [0]


def test_admissibility_quantile_thresholds():
    a = _acts()
    adm = im.admissible_neurons(a, top_k=2, bottom_k=2, top_quantile=0.9, bottom_quantile=0.5, eps_quantile=0.0)
    flat = a.ravel()
    q90, q50 = np.quantile(flat[flat > 0], 0.9), np.quantile(flat, 0.5)   # top: of the positive values
    assert adm.thresholds["top_min"] == pytest.approx(q90)
    assert adm.thresholds["min_ratio"] == pytest.approx(q90 / max(q50, 1.0))
    expect = [c for c in range(4) if adm.top_min[c] >= q90 and adm.top_min[c] > 0
              and adm.ratio[c] >= q90 / max(q50, 1.0) and adm.top_min[c] > adm.bottom_max[c]]
    assert adm.neurons == expect and 1 not in expect and 2 not in expect


def test_sparse_relu_layer_threshold_is_not_zero():
    # 95 % exact zeros: a quantile over all values would be 0 and admit every neuron that fires once
    rng = np.random.default_rng(0)
    a = np.zeros((200, 6))
    a[:20, :3] = np.linspace(1.5, 2.0, 20)[:, None]  # neurons 0-2 fire strongly on 20 images
    a[:20, 3] = rng.uniform(0.0, 0.05, 20)          # neuron 3 fires weakly on 20 images
    a[0, 4] = 3.0                                    # neuron 4 fires on one image only
    adm = im.admissible_neurons(a, top_k=10, bottom_k=10, top_quantile=0.5)
    flat = a.ravel()
    assert adm.thresholds["top_min"] == pytest.approx(np.quantile(flat[flat > 0], 0.5))
    assert 1.5 < adm.thresholds["top_min"] < 1.76       # not 0, the quantile over all values
    assert adm.thresholds["q_bottom"] == 0 and adm.bottom_zero.all()
    # ratio threshold Q+(0.9) / eps: for an all-zero bottom the criteria agree
    assert adm.thresholds["min_ratio"] == pytest.approx(adm.thresholds["top_min"] / adm.thresholds["eps"])
    assert np.isfinite(adm.ratio).all()
    expect = [c for c in range(6) if adm.top_min[c] >= adm.thresholds["top_min"]]
    assert adm.neurons == expect == [0, 1, 2]
    assert im.admissible_neurons(a, top_k=10, bottom_k=10, top_quantile=0.0).neurons == [0, 1, 2, 3]


def test_admissibility_all_zero_layer_and_bad_input():
    adm = im.admissible_neurons(np.zeros((20, 3)), top_k=5, bottom_k=5)
    assert adm.neurons == [] and np.isfinite(adm.ratio).all() and adm.thresholds["eps"] > 0
    with pytest.raises(UserError, match="more than the 10 images"):
        im.admissible_neurons(_acts(), top_k=6, bottom_k=5)
    with pytest.raises(UserError, match="not finite"):
        im.admissible_neurons(np.full((4, 2), np.nan), top_k=1, bottom_k=1)
    with pytest.raises(UserError, match="top_quantile"):
        im.admissible_neurons(_acts(), top_k=1, bottom_k=1, top_quantile=2)


def _adm_big(n=300, c=5, seed=0):
    rng = np.random.default_rng(seed)
    return im.admissible_neurons(rng.random((n, c)), top_k=100, bottom_k=100)


def test_questions_have_3_top_and_6_bottom_options_without_duplicates():
    adm = _adm_big()
    qs = im.make_questions(adm, [0, 2, 4], seed=1)
    for q in qs:
        top, bottom = set(adm.top[q.neuron].tolist()), set(adm.bottom[q.neuron].tolist())
        assert len(q.options) == 9 and len(set(q.options)) == 9
        assert sum(o in top for o in q.options) == 3 and sum(o in bottom for o in q.options) == 6
        assert set(q.answers) <= top and set(q.answers) == {o for o in q.options if o in top}
        assert not set(q.examples) & set(q.options)              # shown examples are never options
        assert q.examples == adm.top[q.neuron][:4].tolist()
        assert [q.options[i] for i in q.correct_positions()] == [o for o in q.options if o in q.answers]
    # seeded: the same seed gives the same quiz, another seed another; a question depends on its neuron only
    again = im.make_questions(adm, [0, 2, 4], seed=1)
    assert [q.options for q in again] == [q.options for q in qs]
    assert [q.options for q in im.make_questions(adm, [0, 2, 4], seed=2)] != [q.options for q in qs]
    assert im.make_questions(adm, [4], seed=1)[0].options == qs[2].options
    # the answers are not always in the same positions
    assert len({tuple(q.correct_positions()) for q in im.make_questions(adm, range(5), seed=3)}) > 1
    with pytest.raises(UserError, match="out of range"):
        im.make_questions(adm, [5])


def test_chance_is_one_hit_per_question():
    ch = im.chance_distribution()
    assert ch["p"] == pytest.approx([20 / 84, 45 / 84, 18 / 84, 1 / 84])
    assert ch["mean"] == pytest.approx(1.0)
    # simulated random picks agree
    rng = np.random.default_rng(0)
    hits = [len({0, 1, 2} & set(rng.choice(9, 3, replace=False).tolist())) for _ in range(20000)]
    assert np.mean(hits) == pytest.approx(1.0, abs=0.03)


def _key(n=2):
    return {"kind": im.KEY_KIND, "build": "b1", "questions": [
        {"question": 0, "options": list(range(10, 19)), "correct_positions": [0, 4, 8]},
        {"question": 1, "options": list(range(20, 29)), "correct_positions": [1, 2, 3]}][:n]}


def _resp(answers, cond="both", who="p1", build="b1"):
    return {"kind": im.RESPONSE_KIND, "build": build, "condition": cond, "participant": who,
            "answers": [{"question": q, "picked": p} for q, p in answers]}


def test_scorer_on_hand_made_responses():
    s = im.score_response(_key(), _resp([(0, [0, 4, 5]), (1, [1, 2, 3])]))
    assert s["hits"] == [2, 3] and s["total"] == 5 and s["max"] == 6 and s["rate"] == pytest.approx(5 / 6)
    s2 = im.score_response(_key(), _resp([(1, [0, 5])], cond="fv", who="p2"))
    assert s2["hits"] == [0, 0] and s2["unanswered"] == 1
    s3 = im.score_response(_key(), _resp([(0, [8]), (1, [6, 7, 8])], who="p3"))
    summ = im.summarize([s, s2, s3], questions=2)
    assert summ["both"]["participants"] == 2 and summ["both"]["mean_total"] == pytest.approx(3.0)
    assert summ["both"]["hits_per_question"] == [1, 1, 1, 1]     # hits 2, 3, 1, 0
    assert summ["fv"]["mean_total"] == 0 and "examples" not in summ
    assert summ["both"]["chance_total"] == pytest.approx(2.0)


@pytest.mark.parametrize("doc, msg", [
    ({"answers": []}, "not an I-metric response"),
    ({"kind": im.RESPONSE_KIND, "condition": "nope", "answers": []}, "condition must be"),
    (_resp([(0, [0, 0])]), "picked twice"),
    (_resp([(0, [0, 1, 2, 3])]), "at most 3"),
    (_resp([(0, [9])]), "out of range"),
    (_resp([(5, [1])]), "not in the quiz"),
    (_resp([(0, [1]), (0, [2])]), "answered twice"),
    (_resp([(0, "012")]), "list of option positions"),
    (_resp([(0, [1])], build="other"), "another quiz"),
])
def test_scorer_refuses_malformed_responses(doc, msg):
    with pytest.raises(UserError, match=msg):
        im.score_response(_key(), doc)


def test_machine_participant_beats_chance_when_it_must():
    # shown images and answers lie near one direction, distractors near others: the nearest 3
    # options in feature space are the answers, for every question
    rng = np.random.default_rng(0)
    hits = []
    for q in range(10):
        d = 16
        concept = np.eye(d)[q % d] * 5
        answers = concept + rng.normal(0, 0.3, (3, d))
        wrong = np.eye(d)[(q + 1 + np.arange(6)) % d] * 5 + rng.normal(0, 0.3, (6, d))
        shown = concept + rng.normal(0, 0.3, (2, d))
        options = np.concatenate([answers, wrong])
        perm = rng.permutation(9)
        picks = im.machine_picks(shown, options[perm])
        correct = {int(np.flatnonzero(perm == i)[0]) for i in range(3)}
        hits.append(len(set(picks) & correct))
    assert hits == [3] * 10
    # and with features that carry no information it is at chance (not systematically above)
    rand = [len(set(im.machine_picks(rng.normal(size=(2, 8)), rng.normal(size=(9, 8)))) & {0, 1, 2})
            for _ in range(3000)]
    assert np.mean(rand) == pytest.approx(1.0, abs=0.06)
    assert im.machine_picks(np.ones((1, 3)), np.eye(3)[[0, 1, 2, 0]], k=2) == [0, 1]  # ties: lower position
