"""Selectivity matrix, diagonal dominance and recognition rates against hand-computed answers."""

import keras
import numpy as np
import pytest

from tfinterp.errors import UserError
from tfinterp.metrics.selectivity import channel_activation_matrix, diagonal_dominance, recognition


@pytest.fixture(scope="module")
def two_channel():
    """conv channel 0 = 2 * pixel - 1 (ReLU), channel 1 = 1 - pixel (ReLU): 1x1 convs."""
    inp = keras.Input((4, 4, 1), name="images")
    conv = keras.layers.Conv2D(2, 1, activation="relu", name="conv")
    out = keras.layers.Dense(2, name="logits")(keras.layers.GlobalAveragePooling2D()(conv(inp)))
    model = keras.Model(inp, out)
    conv.set_weights([np.array([2.0, -1.0], np.float32).reshape(1, 1, 1, 2), np.array([-1.0, 1.0], np.float32)])
    return model


def test_matrix_is_each_channels_spatial_mean_by_hand(two_channel):
    img = np.zeros((2, 4, 4, 1), np.float32)
    img[0, :2] = 1.0          # half the pixels 1, half 0
    img[1] = 0.25
    m = channel_activation_matrix(two_channel, "conv", img, batch_size=1)
    # image 0: ch0 = relu(1) on 8 px, relu(-1) = 0 on 8: mean 0.5; ch1 = relu(0) on 8, relu(1) on 8: 0.5
    # image 1: ch0 = relu(-0.5) = 0; ch1 = relu(0.75) = 0.75
    np.testing.assert_allclose(m, [[0.5, 0.5], [0.0, 0.75]], atol=1e-6)
    pre = channel_activation_matrix(two_channel, "conv:pre", img)
    np.testing.assert_allclose(pre, [[0.0, 0.5], [-0.5, 0.75]], atol=1e-6)   # before the ReLU


def test_diagonal_dominance_by_hand():
    m = np.array([[3.0, 0.0, 1.0],
                  [1.0, 2.0, 5.0],
                  [2.0, 1.0, 4.0]])
    d = diagonal_dominance(m)
    # column 0: max 3 on row 0 (hit); column 1: 2 on row 1 (hit); column 2: 5 on row 1, not row 2
    assert d["column_hits"] == [True, True, False]
    assert d["column_fraction"] == pytest.approx(2 / 3) and d["chance"] == pytest.approx(1 / 3)
    assert d["own_rank"] == [0, 0, 1]
    # rows scaled by column maxima (3, 2, 5): row 0 [1, 0, .2] hit; row 1 [1/3, 1, 1] tie: no;
    # row 2 [2/3, .5, .8]: its own channel 2 is the largest, a hit
    assert d["row_hits"] == [True, False, True]


def test_ties_and_dead_channels_are_no_hit_and_channel_lists_index_columns():
    m = np.zeros((2, 4))
    m[1, 3] = 1.0
    d = diagonal_dominance(m, channels=[0, 3])   # channel 0 dead (0 everywhere): a tie, no hit
    assert d["column_hits"] == [False, True]
    assert d["chance"] == 0.5 and d["row_chance"] == 0.25
    with pytest.raises(UserError, match="out of range"):
        diagonal_dominance(m, channels=[0, 4])
    with pytest.raises(UserError, match="different channel"):
        diagonal_dominance(m, channels=[3, 3])


def test_recognition_counts_wilson_and_cluster_bootstrap():
    targets = np.repeat([0, 1], 4)
    pred = np.array([0, 0, 0, 0, 1, 0, 0, 0])    # class 0: 4/4, class 1: 1/4
    r = recognition(pred, targets, groups=targets, n_boot=500)
    assert (r["count"], r["n"], r["fraction"]) == (5, 8, 5 / 8)
    lo, hi = r["wilson95"]
    assert 0.30 < lo < 0.31 and 0.86 < hi < 0.87       # Wilson 95 % for 5/8: [0.306, 0.863]
    # resampling whole classes gives only 0/8 + ... : fractions 1/4 (both class 1), 5/8, 1 (both class 0)
    assert r["bootstrap95"] == [0.25, 1.0]
    assert r["per_group"] == {"0": [4, 4], "1": [1, 4]}
