"""LC, CS1, CS2 (Dong et al. 2017, Eqs. 2-5) against values computed by hand on tiny inputs."""

import math

import numpy as np
import pytest

from tfinterp.analysis.consistency import (binned, bootstrap_lc, c_cosine, class_histograms, consistency, lc,
                                           lc_null, lc_report)
from tfinterp.analysis.wordnet import correlation_matrix
from tfinterp.errors import UserError

# three classes: 0 and 1 are siblings (d = 2), 2 is far (d = 4)
D = np.array([[0, 2, 4], [2, 0, 4], [4, 4, 0]], float)


def test_correlation_matrix_by_hand():
    C = correlation_matrix(D, 1.0)
    assert C[0, 0] == 1.0
    assert math.isclose(C[0, 1], math.exp(-2.0)) and math.isclose(C[0, 2], math.exp(-8.0))
    C2 = correlation_matrix(D, 2.0)
    assert math.isclose(C2[0, 1], math.exp(-0.5)) and math.isclose(C2[1, 2], math.exp(-2.0))
    with pytest.raises(UserError, match="sigma"):
        correlation_matrix(D, 0)


def test_lc_by_hand():
    C = correlation_matrix(D, 1.0)
    e2, e8 = math.exp(-2), math.exp(-8)
    p = class_histograms([[0, 0, 0, 0], [0, 0, 1, 1], [0, 1, 2, 2]], 3)
    np.testing.assert_allclose(p, [[1, 0, 0], [.5, .5, 0], [.25, .25, .5]])
    want = [1.0,                                   # one class: LC = C_00
            0.25 + 0.25 + 2 * 0.25 * e2,           # two siblings half-half
            # 1/16 + 1/16 + 1/4 + 2*(1/16)e^-2 + 2*(1/8)e^-8 * 2
            1 / 16 + 1 / 16 + 1 / 4 + 2 * (1 / 16) * e2 + 4 * (1 / 8) * e8]
    np.testing.assert_allclose(lc(p, C), want, rtol=1e-12)
    # siblings score higher than far classes at the same spread (the point of using WordNet)
    far = class_histograms([[0, 0, 2, 2]], 3)
    assert lc(p[1:2], C)[0] > lc(far, C)[0]
    # the null: uniform prior over 3 classes
    pi = np.ones(3) / 3
    base = (3 + 2 * e2 + 4 * e8) / 9  # sum of all C_ij / 9
    assert math.isclose(lc_null(pi, C), base)
    assert math.isclose(lc_null(pi, C, k=4), base + (1 - base) / 4)


def test_lc_null_is_the_mean_of_random_neurons():
    C = correlation_matrix(D, 2.0)
    pi = np.array([.5, .3, .2])
    rng = np.random.default_rng(0)
    labels = rng.choice(3, size=(20000, 5), p=pi)
    assert abs(lc(class_histograms(labels, 3), C).mean() - lc_null(pi, C, k=5)) < 3e-3


def test_cs1_cs2_by_hand():
    C = correlation_matrix(D, 1.0)
    e2, e8 = math.exp(-2), math.exp(-8)
    real = [[0, 0], [0, 1]]
    adv_orig = [[0, 0], [2, 2]]
    adv_target = [[1, 1], [0, 1]]
    r = consistency(real, adv_orig, adv_target, 3, C)
    # neuron 0: p = e0, q = e0 -> CS1 = 1; q~ = e1 -> CS2 = C_01 / sqrt(1 * 1) = e^-2
    assert math.isclose(r["cs1"][0], 1.0) and math.isclose(r["cs2"][0], e2)
    # neuron 1: p = (.5,.5,0), q = e2: p^T C q = .5 e^-8 + .5 e^-8, p^T C p = .5 + .5 e^-2
    assert math.isclose(r["cs1"][1], e8 / math.sqrt(0.5 + 0.5 * e2))
    assert math.isclose(r["cs2"][1], 1.0)  # same histogram
    # cos_C is symmetric and scale free; an empty histogram gives NaN
    a, b = np.array([[.2, .3, .5]]), np.array([[.6, .1, .3]])
    assert math.isclose(c_cosine(a, b, C)[0], c_cosine(b, 3 * a, C)[0])
    assert np.isnan(c_cosine(np.zeros((1, 3)), b, C)[0])
    with pytest.raises(UserError, match="classes"):
        lc(a, np.eye(4))


def test_bootstrap_intervals_contain_the_point_and_are_seeded():
    C = correlation_matrix(D, 1.0)
    labels = np.array([[0] * 10, [0] * 5 + [1] * 5, [0, 1, 2, 2, 2, 1, 0, 1, 2, 0]])
    b1 = bootstrap_lc(labels, 3, C, n_boot=300, seed=3)
    b2 = bootstrap_lc(labels, 3, C, n_boot=300, seed=3)
    np.testing.assert_array_equal(b1["low"], b2["low"])
    assert b1["low"][0] == b1["high"][0] == 1.0  # a pure neuron cannot move
    assert np.all(b1["low"] <= b1["lc"] + 1e-12) and np.all(b1["lc"] <= b1["high"] + 1e-12)
    assert b1["mean_low"] <= b1["mean"] <= b1["mean_high"]
    rep = lc_report(labels, 3, D, sigmas=(1, 2), n_boot=100)
    s1 = rep["sigmas"]["1.0"]
    assert math.isclose(s1["mean_normalized"], s1["mean_lc"] / s1["null"])
    assert rep["sigmas"]["2.0"]["mean_lc"] > s1["mean_lc"]  # a wider sigma correlates more classes


def test_binned_counts_and_means():
    x = [0.0, 0.1, 0.9, 1.0]
    out = binned(x, {"y": [1, 3, 5, 7]}, bins=2)
    assert out["count"] == [2, 2] and out["mean"]["y"] == [2.0, 6.0]
