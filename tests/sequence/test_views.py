"""Model-level views on hand-built Conv1D models: filter PSSM logos (Fontal 2017),
convolution-activation motifs (Alipanahi et al. 2015), class optimization (Simonyan et al.
2014 as Fontal applies it) to PPMs."""

import keras
import numpy as np
import pytest

from tfinterp.errors import UserError
from tfinterp.sequence.class_optimization import ClassOptimizer, class_score_fn, motif, project_simplex
from tfinterp.sequence.compare import compare, log_odds
from tfinterp.sequence.filters import (FilterActivations, activation_motifs, filter_weights, first_conv1d,
                                       pssm_logos)

GATA = np.array([[0.05, 0.05, 0.85, 0.05], [0.85, 0.05, 0.05, 0.05], [0.05, 0.05, 0.05, 0.85],
                 [0.85, 0.05, 0.05, 0.05], [0.70, 0.10, 0.10, 0.10], [0.10, 0.10, 0.70, 0.10]])
TATA = np.array([[0.05, 0.05, 0.05, 0.85], [0.85, 0.05, 0.05, 0.05], [0.05, 0.05, 0.05, 0.85],
                 [0.85, 0.05, 0.05, 0.05], [0.45, 0.05, 0.05, 0.45], [0.85, 0.05, 0.05, 0.05]])


def conv_model(filters, length=40, padding="valid", bias=None):
    """Input (length, 4) -> Conv1D with the given (F, width, 4) filters, ReLU -> global max -> Dense(2)."""
    filters = np.asarray(filters, np.float32)
    F, k, A = filters.shape
    x = keras.Input((length, A))
    h = keras.layers.Conv1D(F, k, padding=padding, activation="relu", name="conv")(x)
    h = keras.layers.GlobalMaxPooling1D()(h)
    y = keras.layers.Dense(2, name="logits")(h)
    m = keras.Model(x, y)
    m.get_layer("conv").set_weights([np.transpose(filters, (1, 2, 0)),
                                     np.zeros(F, np.float32) if bias is None else np.asarray(bias, np.float32)])
    return m


def planted(pwm, n=300, length=40, seed=0, frac=0.5):
    """Uniform background one-hot sequences; in the first `frac` of them a motif sampled from `pwm`
    at a random position. Returns (x, positions (-1 where none))."""
    rng = np.random.default_rng(seed)
    seq = rng.integers(0, 4, (n, length))
    pos = np.full(n, -1)
    for i in range(int(n * frac)):
        p = rng.integers(0, length - len(pwm) + 1)
        seq[i, p:p + len(pwm)] = [rng.choice(4, p=col) for col in pwm]
        pos[i] = p
    return np.eye(4, dtype=np.float32)[seq], pos


def test_filter_logo_of_a_log_odds_filter_recovers_the_pwm():
    lo = log_odds(GATA)
    m = conv_model([lo, log_odds(TATA)])
    w = filter_weights(m)
    assert w.shape == (2, 6, 4) and w[0] == pytest.approx(lo, abs=1e-5)
    logos = pssm_logos(w)
    assert np.maximum(logos, 0).sum(axis=2).max(axis=1) == pytest.approx([1, 1])   # tallest column 1 (Fontal)
    assert logos.sum(axis=2) == pytest.approx(np.zeros((2, 6)), abs=1e-5)          # columns centred
    assert compare(logos[0], GATA, found_kind="pssm").pearson == pytest.approx(1.0, abs=1e-5)
    assert compare(logos[1], TATA, found_kind="pssm").pearson == pytest.approx(1.0, abs=1e-5)
    assert compare(logos[0], TATA, found_kind="pssm").pearson < 0.8


def test_activation_motif_recovers_the_planted_motif():
    x, pos = planted(GATA, n=300, seed=1)
    m = conv_model([log_odds(GATA), log_odds(TATA)])
    r = activation_motifs(m, x, threshold=0.5, batch_size=64)
    assert r.counts[0] > 100
    assert r.ppm.shape == (2, 6, 4) and r.ppm.sum(axis=2) == pytest.approx(np.ones((2, 6)), abs=1e-5)
    match = compare(r.ppm[0], GATA)
    assert match.pearson > 0.95 and match.pearson_offset == 0
    # batching does not change the answer; "all" windows include the per-sequence maxima
    r2 = activation_motifs(m, x, threshold=0.5, batch_size=300)
    assert r2.ppm == pytest.approx(r.ppm) and (r2.counts == r.counts).all()
    ra = activation_motifs(m, x, threshold=0.5, per_sequence="all", batch_size=64)
    assert (ra.counts >= r.counts).all()


def test_windows_map_back_through_same_padding():
    # a filter that fires only on the exact word GATAAG; 'same' padding, planted at known places
    word = np.eye(4)[[2, 0, 3, 0, 0, 2]]
    m = conv_model([word * 2 - 1], length=30, padding="same", bias=[-5.0])   # activation 1 on the word only
    rng = np.random.default_rng(0)
    seq = rng.integers(0, 4, (20, 30))
    starts = rng.integers(0, 25, 20)
    x = np.eye(4, dtype=np.float32)[seq]
    for i, s in enumerate(starts):
        x[i, s:s + 6] = word
    acts = FilterActivations(m)
    mx, am = acts.reduce(x)
    assert mx[:, 0] == pytest.approx(np.ones(20))
    w = acts.windows(x, np.arange(20), am[:, 0])
    assert (w == word[None]).all()
    r = activation_motifs(m, x, threshold=0.9, acts=acts)
    assert r.ppm[0] == pytest.approx(word) and r.offset == -2
    assert acts._reduce.experimental_get_tracing_count() == 1


def test_bad_models_are_refused():
    x = keras.Input((20, 4))
    dense_first = keras.Model(x, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    with pytest.raises(UserError, match="no Conv1D first layer"):
        first_conv1d(dense_first)
    m = conv_model([log_odds(GATA)])
    with pytest.raises(UserError, match="one-hot"):
        activation_motifs(m, np.zeros((3, 40, 20), np.float32))
    with pytest.raises(UserError, match="threshold"):
        activation_motifs(m, np.zeros((3, 40, 4), np.float32), threshold=2)


def test_project_simplex():
    v = np.array([[0.3, 0.3, 0.3, 0.3], [2.0, 0.0, 0.0, 0.0], [0.5, 0.4, -1.0, 0.0], [-3, -3, -3, -3]], np.float32)
    p = project_simplex(v).numpy()
    assert p.sum(axis=1) == pytest.approx(np.ones(4), abs=1e-6) and (p >= 0).all()
    assert p[0] == pytest.approx([0.25] * 4)
    assert p[1] == pytest.approx([1, 0, 0, 0])
    assert p[2] == pytest.approx([0.5 + 1 / 30, 0.4 + 1 / 30, 0, 1 / 30], abs=1e-6)   # theta = -1/30
    assert p[3] == pytest.approx([0.25] * 4)


def letter_reward_model(targets, length, softmax=True):
    """Dense over the flattened one-hot input: class c scores 1 for letter targets[c][i] at each position i."""
    C = len(targets)
    x = keras.Input((length, 4))
    d = keras.layers.Dense(C, activation="softmax" if softmax else None, name="out")
    m = keras.Model(x, d(keras.layers.Flatten()(x)))
    W = np.zeros((length, 4, C), np.float32)
    for c, t in enumerate(targets):
        W[np.arange(length), t, c] = 1.0
    d.set_weights([W.reshape(length * 4, C), np.zeros(C, np.float32)])
    return m


def test_class_optimization_recovers_the_rewarded_letter_at_every_position():
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 4, (3, 12))
    m = letter_reward_model(targets, 12)
    # the pre-softmax score is used although the model ends in a softmax
    x = np.eye(4, dtype=np.float32)[targets]
    assert class_score_fn(m)(x).numpy()[[0, 1, 2], [0, 1, 2]] == pytest.approx([12, 12, 12])
    opt = ClassOptimizer(m)
    r = opt.optimize([0, 1, 2], steps=150, lr=0.05, gamma=0.05, seed=0)
    assert r.ppm.shape == (3, 12, 4)
    assert r.ppm.sum(axis=2) == pytest.approx(np.ones((3, 12)), abs=1e-5) and (r.ppm >= 0).all()
    assert (r.ppm.argmax(axis=2) == targets).all()
    assert r.ppm.max(axis=2).min() > 0.95
    assert r.score == pytest.approx(np.full(3, 12.0), abs=0.6)
    # no retracing: other classes, batch size, steps, lr and gamma reuse the one graph
    opt.optimize([2], steps=20, lr=0.1, gamma=0.0, seed=1)
    opt.optimize([1, 0, 2, 2], steps=5, lr=0.02, gamma=0.5, seed=2, batch_size=3)
    assert opt.tracing_count == 1


def test_class_optimization_motif_window_and_l2_keeps_ignored_positions_uniform():
    # a Conv1D model whose class-1 score is the GATA filter's best match anywhere
    lo = log_odds(GATA) - log_odds(GATA).mean(axis=1, keepdims=True)   # uniform input: activation = bias > 0
    m = conv_model([lo, -lo], length=30, bias=[0.5, 0.5])
    w = m.get_layer("logits")
    w.set_weights([np.array([[0, 1], [0, 0]], np.float32), np.zeros(2, np.float32)])
    r = ClassOptimizer(m).optimize([1], steps=200, lr=0.05, gamma=0.02)
    start, window = motif(r.ppm[0], 6)
    assert compare(window, GATA).pearson > 0.9
    ic = np.log2(4) + (r.ppm[0] * np.log2(np.clip(r.ppm[0], 1e-9, 1))).sum(axis=1)
    outside = np.r_[0:max(0, start - 6), min(30, start + 12):30]
    assert ic[outside].max() < 0.05           # positions the score ignores: uniform


def test_class_optimization_bad_input():
    m = letter_reward_model([[0] * 5, [1] * 5], 5, softmax=False)
    opt = ClassOptimizer(m)
    with pytest.raises(UserError, match="out of range"):
        opt.optimize([2])
    with pytest.raises(UserError, match="steps"):
        opt.optimize([0], steps=0)
    x = keras.Input((None, 4))
    free = keras.Model(x, keras.layers.Dense(2)(keras.layers.GlobalMaxPooling1D()(x)))
    with pytest.raises(UserError, match="any length"):
        ClassOptimizer(free)
    assert ClassOptimizer(free, length=7).length == 7
