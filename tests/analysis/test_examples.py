"""Dataset examples (Dong et al. 2017 sec. 2.2): the streaming running top-k per channel equals
a full stable sort of the [N, C] activation table."""

import numpy as np
import pytest
import tensorflow as tf

from tfinterp.analysis.examples import check_q, k_for, layer_activations, top_examples
from tfinterp.errors import UserError


def _tiny(seed=0, filters=(4, 6)):
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input((12, 12, 1))
    x = keras.layers.Conv2D(filters[0], 3, activation="relu", name="conv1")(inp)
    x = keras.layers.Conv2D(filters[1], 3, name="conv2")(x)  # linear: signed, rarely tied activations
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(3, name="logits")(x)
    m = keras.Model(inp, out)
    m.layer_aliases = {"last_conv": "conv2"}
    return m


@pytest.mark.parametrize("reduce", ["max", "mean"])
def test_streaming_topk_equals_full_sort(reduce):
    m = _tiny()
    x = np.random.default_rng(1).random((203, 12, 12, 1), dtype=np.float32)
    top = top_examples(m, "last_conv", x, k=7, reduce=reduce, batch_size=16)  # 13 batches, a ragged last one
    acts = layer_activations(m, "conv2", x, reduce=reduce)
    # the same numbers by hand: the layer's output reduced with NumPy
    import keras

    fm = keras.Model(m.input, m.get_layer("conv2").output)
    raw = fm.predict(x, verbose=0)
    by_hand = raw.max(axis=(1, 2)) if reduce == "max" else raw.mean(axis=(1, 2))
    np.testing.assert_allclose(acts, by_hand, rtol=1e-5, atol=1e-6)
    order = np.argsort(-acts, axis=0, kind="stable")[:7].T  # [C, k]
    np.testing.assert_array_equal(top.indices, order)
    np.testing.assert_allclose(top.values, np.take_along_axis(acts.T, order, axis=1), rtol=1e-5, atol=1e-6)
    assert top.indices.dtype == np.int64 and top.values.dtype == np.float32
    assert top.channels == 6 and top.k == 7 and top.n == 203 and top.reduce == reduce


def test_ties_go_to_the_lower_index_and_dataset_input():
    m = _tiny()
    x = np.zeros((40, 12, 12, 1), np.float32)  # every image ties on every channel
    x[[5, 30]] = 1.0
    top = top_examples(m, "conv1", x, k=4, batch_size=8)
    for c in range(4):
        row = top.indices[c].tolist()
        if top.values[c, 0] > top.values[c, 2]:  # the two lit images lead, then 0, 1
            assert row == [5, 30, 0, 1]
        else:
            assert row == [0, 1, 2, 3]
    ds = tf.data.Dataset.from_tensor_slices((x, np.zeros(40, np.int64))).batch(8)
    top_ds = top_examples(m, "conv1", ds, k=4, n=40)
    np.testing.assert_array_equal(top_ds.indices, top.indices)


def test_q_gives_k_and_bad_q():
    assert k_for(1, 10000) == 100 and k_for(1, 50) == 1 and k_for(100, 7) == 7 and k_for(0.5, 999) == 5
    for bad in (0, -1, 100.5, "x", float("nan")):
        with pytest.raises(UserError, match=r"\(0, 100\]"):
            check_q(bad)
    m = _tiny()
    x = np.random.default_rng(0).random((30, 12, 12, 1), dtype=np.float32)
    top = top_examples(m, "conv2", x, q=10)
    assert top.k == 3 and top.q == 10
    with pytest.raises(UserError, match="unknown layer"):
        top_examples(m, "nope", x)
    with pytest.raises(UserError, match="reduce"):
        top_examples(m, "conv2", x, reduce="median")
    with pytest.raises(UserError, match="more than"):
        top_examples(m, "conv2", x, k=31)
    ds = tf.data.Dataset.from_tensor_slices(x).batch(8)
    with pytest.raises(UserError, match="unknown"):
        top_examples(m, "conv2", ds.filter(lambda b: True))


def test_occlusion_with_a_neuron_is_the_discrepancy_map_by_hand():
    """Occlusion targeting a unit (Zhou et al. 2015's discrepancy map): with a 1x1 identity conv
    and the spatial mean, a window's drop is its pixel sum / (H W); the map is the mean drop of
    the windows covering a pixel, min-max scaled."""
    import keras

    from tfinterp.explain.base import get_explainer

    inp = keras.Input((8, 8, 1))
    ident = keras.layers.Conv2D(1, 1, use_bias=False, kernel_initializer="ones", name="ident")(inp)
    out = keras.layers.Dense(2, name="logits")(keras.layers.Flatten()(ident))
    m = keras.Model(inp, out)
    x = np.zeros((1, 8, 8, 1), np.float32)
    x[0, 1, 6] = 1.0
    x[0, 5, 2] = 0.5
    ex = get_explainer("occlusion", m, patch=3, stride=1, neuron=["ident", 0], neuron_reduce="mean")
    got = ex.explain(x)[0]
    masks = np.zeros((36, 8, 8))
    for w, (y, xx) in enumerate((y, xx) for y in range(6) for xx in range(6)):
        masks[w, y:y + 3, xx:xx + 3] = 1
    drop = (masks * x[0, ..., 0]).sum((1, 2)) / 64.0
    want = np.einsum("k,khw->hw", drop, masks) / np.maximum(masks.sum(0), 1)
    want = (want - want.min()) / (want.max() - want.min())
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert ex.config["neuron"] == ["ident", 0]
    with pytest.raises(UserError, match="channels"):
        get_explainer("occlusion", m, neuron=["ident", 3])
    with pytest.raises(UserError, match="unknown layer"):
        get_explainer("occlusion", m, neuron=["nope", 0])
