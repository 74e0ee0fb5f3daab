"""Deletion / insertion curves and their AUC (tfinterp.metrics.faithfulness) against answers
known by hand: a linear model, whose deletion curve is its logit minus the cumulative sum of
the removed pixels' contributions, and a model whose logit is the mean of a known pixel set,
where a perfect map and the reversed map have areas computed on paper."""

import numpy as np
import pytest

from tfinterp.errors import UserError
from tfinterp.metrics.faithfulness import (auc, curve_runner, faithfulness_scores, perturbation_curves,
                                           pixel_ranks, random_maps, step_counts)

H = W = 4
P = H * W


def linear_model(weights):
    """logits = [sum_i w_i x_i, 0] on 4x4x1 images (class 1's logit is always 0)."""
    import keras

    inp = keras.Input((H, W, 1))
    dense = keras.layers.Dense(2, use_bias=False)
    out = dense(keras.layers.Flatten()(inp))
    kernel = np.zeros((P, 2), np.float32)
    kernel[:, 0] = np.asarray(weights, np.float32).ravel()
    dense.set_weights([kernel])
    return keras.Model(inp, out)


def test_auc_of_known_curves():
    assert auc([1.0, 0.0]) == pytest.approx(0.5)
    assert auc(np.linspace(1, 0, 11)) == pytest.approx(0.5)
    assert auc([0.3] * 5) == pytest.approx(0.3)
    # a step: 1 for the first half of [0, 1], then 0 (points at 0, .25, .5, .75, 1)
    assert auc([1, 1, 1, 0, 0]) == pytest.approx((0.25 + 0.25 + 0.125) / 1.0)
    np.testing.assert_allclose(auc(np.array([[1.0, 0.0], [0.0, 0.0]])), [0.5, 0.0])
    with pytest.raises(UserError):
        auc([1.0])


def test_step_counts_and_ranks():
    np.testing.assert_array_equal(step_counts(784, 28), np.arange(29) * 28)
    np.testing.assert_array_equal(step_counts(10, 4), [0, 2, 5, 8, 10])  # rint(2.5) = 2, rint(7.5) = 8
    with pytest.raises(UserError):
        step_counts(10, 0)
    m = np.arange(P, dtype=np.float32).reshape(1, H, W)  # the last pixel is the most important
    np.testing.assert_array_equal(pixel_ranks(m)[0].ravel(), np.arange(P)[::-1])
    # ties: one important pixel, the others ordered by the seeded key, the same for every map
    t = np.zeros((2, H, W), np.float32)
    t[0, 2, 1] = 1.0
    t[1, 2, 1] = 5.0
    r = pixel_ranks(t, seed=3)
    assert r[0, 2, 1] == 0
    np.testing.assert_array_equal(r[0], r[1])
    assert sorted(r[0].ravel()) == list(range(P))
    assert not np.array_equal(pixel_ranks(np.zeros((1, H, W)), seed=0), pixel_ranks(np.zeros((1, H, W)), seed=1))
    with pytest.raises(UserError):
        pixel_ranks(np.full((1, H, W), np.nan))


def test_linear_model_deletion_and_insertion_are_the_cumulative_sums():
    rng = np.random.RandomState(0)
    w = rng.normal(size=P)
    model = linear_model(w)
    x = rng.uniform(size=(3, H, W, 1)).astype(np.float32)
    maps = rng.uniform(size=(3, H, W)).astype(np.float32)  # distinct values: no ties
    contrib = (x[..., 0].reshape(3, P) * w)
    order = np.argsort(-maps.reshape(3, P), axis=1)
    removed = np.concatenate([np.zeros((3, 1)), np.cumsum(np.take_along_axis(contrib, order, 1), 1)], 1)
    total = contrib.sum(1, keepdims=True)
    dele = perturbation_curves(model, x, maps, [0, 0, 0], "deletion", 0.0, steps=P, probability=False)
    np.testing.assert_allclose(dele, total - removed, atol=1e-5)
    ins = perturbation_curves(model, x, maps, [0, 0, 0], "insertion", 0.0, steps=P, probability=False)
    np.testing.assert_allclose(ins, removed, atol=1e-5)
    # probabilities: a two-class softmax of (logit, 0) is the sigmoid of the logit
    p = perturbation_curves(model, x, maps, [0, 0, 0], "deletion", 0.0, steps=P)
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-(total - removed))), atol=1e-5)
    p1 = perturbation_curves(model, x, maps, [1, 1, 1], "deletion", 0.0, steps=P)
    np.testing.assert_allclose(p1, 1 - p, atol=1e-5)
    # a constant baseline b: each removed pixel contributes w_i (x_i - b) less
    b = 0.25
    contrib_b = (x[..., 0].reshape(3, P) - b) * w
    removed_b = np.concatenate([np.zeros((3, 1)), np.cumsum(np.take_along_axis(contrib_b, order, 1), 1)], 1)
    dele_b = perturbation_curves(model, x, maps, [0, 0, 0], "deletion", b, steps=P, probability=False)
    np.testing.assert_allclose(dele_b, total - removed_b, atol=1e-5)
    arr = perturbation_curves(model, x, maps, [0, 0, 0], "deletion", np.full((H, W, 1), b), steps=P,
                              probability=False)
    np.testing.assert_allclose(arr, dele_b, atol=1e-6)


def test_perfect_and_reversed_maps_on_a_known_pixel_set():
    # logit 0 = mean of the 4 pixels of S; on an all-ones image, deletion in 16 one-pixel steps
    s = np.zeros((H, W))
    s[1:3, 1:3] = 1.0
    model = linear_model(s / s.sum())
    x = np.ones((1, H, W, 1), np.float32)
    perfect = (s + np.linspace(0, 0.5, P).reshape(H, W))[None]  # S first, then the rest
    reverse = -perfect
    kw = dict(steps=P, probability=False)
    d_perfect = perturbation_curves(model, x, perfect, [0], "deletion", 0.0, **kw)[0]
    np.testing.assert_allclose(d_perfect, [1, .75, .5, .25] + [0] * 13, atol=1e-6)
    assert auc(d_perfect) == pytest.approx(2 / 16)        # (2.5 - (1 + 0) / 2) / 16
    d_rev = perturbation_curves(model, x, reverse, [0], "deletion", 0.0, **kw)[0]
    assert auc(d_rev) == pytest.approx(14 / 16)           # (13 + 1.5 - 0.5) / 16
    i_perfect = perturbation_curves(model, x, perfect, [0], "insertion", 0.0, **kw)[0]
    assert auc(i_perfect) == pytest.approx(14 / 16)       # (1.5 + 13 - (0 + 1) / 2) / 16
    i_rev = perturbation_curves(model, x, reverse, [0], "insertion", 0.0, **kw)[0]
    assert auc(i_rev) == pytest.approx(2 / 16)
    both = faithfulness_scores(model, x, perfect, [0], steps=P, probability=False)
    assert both["deletion_auc"] == pytest.approx(2 / 16)
    assert both["insertion_auc"] == pytest.approx(14 / 16)
    assert both["insertion_minus_deletion"] == pytest.approx(12 / 16)
    assert len(both["curves"]["deletion"]) == P + 1
    worse = faithfulness_scores(model, x, reverse, [0], steps=P, probability=False)
    assert worse["insertion_minus_deletion"] == pytest.approx(-12 / 16)
    # 4 steps of 4 pixels: the perfect map has removed all of S after the first step
    coarse = perturbation_curves(model, x, perfect, [0], "deletion", 0.0, steps=4, probability=False)[0]
    np.testing.assert_allclose(coarse, [1, 0, 0, 0, 0], atol=1e-6)


def test_batching_targets_and_blur():
    rng = np.random.RandomState(1)
    model = linear_model(rng.normal(size=P))
    x = rng.uniform(size=(7, H, W, 1)).astype(np.float32)
    maps = random_maps(7, (H, W), seed=2)
    np.testing.assert_array_equal(maps, random_maps(7, (H, W), seed=2))
    runner = curve_runner(model)
    ref = perturbation_curves(model, x, maps, None, steps=8, batch_size=1, runner=runner)
    for bs in (5, 9, 1000):  # one input per call, a partial chunk, everything in one call
        np.testing.assert_allclose(perturbation_curves(model, x, maps, None, steps=8, batch_size=bs,
                                                       runner=runner), ref, atol=1e-6)
    pred = np.asarray(model(x)).argmax(-1)
    np.testing.assert_allclose(perturbation_curves(model, x, maps, pred, steps=8), ref, atol=1e-6)
    # the blur of a constant image is that constant (reflect padding): nothing changes on deletion
    c = np.full((2, H, W, 1), 0.7, np.float32)
    flat = perturbation_curves(model, c, maps[:2], [0, 0], "deletion", "blur", steps=4, blur_sigma=1.5,
                               probability=False)
    np.testing.assert_allclose(flat, np.repeat(flat[:, :1], 5, 1), atol=1e-5)


def test_bad_inputs():
    model = linear_model(np.ones(P))
    x = np.ones((2, H, W, 1), np.float32)
    with pytest.raises(UserError, match="maps"):
        perturbation_curves(model, x, np.ones((2, H + 1, W)), [0, 0])
    with pytest.raises(UserError, match="mode"):
        perturbation_curves(model, x, np.ones((2, H, W)), [0, 0], mode="flip")
    with pytest.raises(UserError, match="baseline"):
        perturbation_curves(model, x, np.ones((2, H, W)), [0, 0], baseline="noise")
    with pytest.raises(UserError):
        perturbation_curves(model, x, np.ones((2, H, W)), [0, 5])  # no class 5
