"""Explainers on one-hot sequences (N, length, alphabet): the contract, and answers known by hand.

Saliency x input of a linear model is its weights times the input; in-silico mutagenesis of
a model that scores one position is the weight differences there; DeepLIFT on Conv1D /
MaxPooling1D / GlobalMaxPooling1D models and integrated gradients sum to f(x) - f(baseline);
recurrent layers are refused by name by the rule-based methods; image-only methods refuse
sequence models and ism refuses image models; a tiny trained 1D-CNN's maps point at the
motif planted in its data.
"""

import keras
import numpy as np
import pytest

from tfinterp.errors import UserError
from tfinterp.explain import EXPLAINERS, get_explainer
from tfinterp.explain.base import methods_for, position_scores

L, A = 24, 4
SEQ_METHODS = methods_for("sequences")
IMAGE_ONLY = [m for m in EXPLAINERS.names() if m not in SEQ_METHODS]
CHEAP = {"integrated-gradients": {"steps": 8}, "smoothgrad": {"samples": 3, "base": "gradient-x-input"}}


def onehot(idx, alphabet=A):
    return np.eye(alphabet, dtype="float32")[np.asarray(idx)]


def random_seqs(n, length=L, seed=0):
    return onehot(np.random.default_rng(seed).integers(0, A, (n, length)))


def conv_model(global_pool=False, seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((L, A))
    h = keras.layers.Conv1D(6, 5, activation="relu", padding="same")(inp)
    if global_pool:
        h = keras.layers.GlobalMaxPooling1D()(h)
    else:
        h = keras.layers.MaxPooling1D(3)(h)
        h = keras.layers.Conv1D(4, 3)(h)
        h = keras.layers.ReLU()(h)
        h = keras.layers.Flatten()(h)
    out = keras.layers.Dense(3)(h)
    return keras.Model(inp, out)


def linear_model(seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((L, A))
    out = keras.layers.Dense(2)(keras.layers.Flatten()(inp))
    return keras.Model(inp, out)


@pytest.fixture(scope="module")
def net():
    return conv_model()


@pytest.fixture(scope="module")
def seqs():
    return random_seqs(7), np.array([0, 1, 2, 0, 1, 2, 0])


# ---- the contract -------------------------------------------------------------------------

def test_the_sequence_methods():
    assert {"gradient", "gradient-x-input", "integrated-gradients", "deeplift", "ism"} <= set(SEQ_METHODS)
    assert "gradcam" in IMAGE_ONLY and "occlusion" in IMAGE_ONLY


@pytest.mark.parametrize("method", SEQ_METHODS)
def test_sequence_contract(net, seqs, method):
    x, t = seqs
    before = [w.copy() for w in net.get_weights()]
    e = get_explainer(method, net, **CHEAP.get(method, {}))
    maps = e.explain(x, t, batch_size=7)
    assert maps.shape == (7, L, A) and maps.dtype == np.float32 and np.isfinite(maps).all()
    assert np.abs(maps).max() > 0
    np.testing.assert_allclose(e.explain(x, t, batch_size=1), maps, atol=2e-5, err_msg=f"{method}: batch 1 vs 7")
    again = get_explainer(method, net, **CHEAP.get(method, {})).explain(x, t, batch_size=7)
    np.testing.assert_array_equal(again, maps)
    assert e.explain_positions(x, t).shape == (7, L)
    for a, b in zip(net.get_weights(), before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("method", IMAGE_ONLY)
def test_image_only_methods_refuse_sequences(net, method):
    with pytest.raises(UserError, match=rf"^{method} explains images, and this model takes sequences \(length 24, "
                                        r"alphabet 4\); for sequences use one of: .*ism"):
        get_explainer(method, net)


def test_ism_refuses_image_models():
    inp = keras.Input((8, 8, 1))
    model = keras.Model(inp, keras.layers.Dense(2)(keras.layers.Flatten()(inp)))
    with pytest.raises(UserError, match=r"^ism explains one-hot sequence models .*for images use one of: .*occlusion"):
        get_explainer("ism", model)


def test_wrong_sequence_shape_is_a_user_error(net):
    e = get_explainer("gradient-x-input", net)
    with pytest.raises(UserError, match=r"sequences have shape \(24, 20\) but the model takes \(24, 4\)"):
        e.explain(onehot(np.zeros((2, L), int), 20))


def test_one_compiled_function_for_every_batch(net):
    e = get_explainer("ism", net, batch_size=3)
    e.explain(random_seqs(7), 0)
    e.explain(random_seqs(2, seed=1), 1)
    assert e._compiled.experimental_get_tracing_count() == 1


# ---- answers known by hand ----------------------------------------------------------------

def test_saliency_x_input_of_a_linear_model_is_weights_times_input():
    model = linear_model()
    x = random_seqs(5, seed=3)
    kernel = model.layers[-1].get_weights()[0].reshape(L, A, 2)
    for target in (0, 1):
        maps = get_explainer("gradient-x-input", model).explain(x, target)
        np.testing.assert_allclose(maps, x * kernel[None, :, :, target], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(get_explainer("gradient", model).explain(x, target),
                                   np.broadcast_to(kernel[None, :, :, target], x.shape), rtol=1e-6)


def test_ism_of_a_model_that_scores_one_position_is_the_hand_value():
    """Score = w . x[5] + 0.3 (class 0) and 0 (class 1): mutating position 5 from letter a to b
    changes class 0's score by w[b] - w[a], every other mutation by nothing."""
    model = linear_model()
    w = np.array([2.0, -1.0, 0.5, 4.0], "float32")
    kernel = np.zeros((L, A, 2), "float32")
    kernel[5, :, 0] = w
    model.layers[-1].set_weights([kernel.reshape(L * A, 2), np.array([0.3, 0.0], "float32")])
    x = random_seqs(4, seed=5)
    e = get_explainer("ism", model, chunk=7)  # chunks that do not divide the mutants
    maps = e.explain(x, 0)
    expect = np.zeros_like(x)
    for i in range(len(x)):
        a = x[i, 5].argmax()
        expect[i, 5] = w - w[a]
    np.testing.assert_allclose(maps, expect, atol=1e-6)
    pos = e.positions(maps)
    np.testing.assert_allclose(pos[:, 5], [-(w.sum() - 4 * w[x[i, 5].argmax()]) / 3 for i in range(len(x))],
                               rtol=1e-6)
    assert np.all(np.delete(pos, 5, axis=1) == 0)
    np.testing.assert_array_equal(get_explainer("ism", model).explain(x, 1), 0.0)


def test_ism_probability_score_is_the_change_in_probability(net):
    x = random_seqs(2, seed=7)
    maps = get_explainer("ism", net, probability=True).explain(x, 1)
    i, p = 1, 10
    b = (x[i, p].argmax() + 2) % A
    m = x[i].copy()
    m[p] = onehot(b)
    prob = lambda s: keras.ops.convert_to_numpy(keras.ops.softmax(net(s[None])))[0, 1]  # noqa: E731
    np.testing.assert_allclose(maps[i, p, b], prob(m) - prob(x[i]), atol=1e-6)


@pytest.mark.parametrize("global_pool", [False, True])
@pytest.mark.parametrize("baseline", [0.0, 0.25])
def test_deeplift_completeness_on_conv1d_and_max_pooling(global_pool, baseline):
    model = conv_model(global_pool, seed=1)
    x = random_seqs(6, seed=2)
    ref = np.full_like(x, baseline)
    f = np.asarray(model(x)) - np.asarray(model(ref))
    targets = np.arange(6) % 3
    maps = get_explainer("deeplift", model, baseline=baseline).explain(x, targets)
    np.testing.assert_allclose(maps.sum(axis=(1, 2)), f[np.arange(6), targets], atol=1e-4)
    np.testing.assert_allclose(position_scores(maps).sum(1), f[np.arange(6), targets], atol=1e-4)


def test_deeplift_on_conv1d_equals_gradient_x_input_for_a_linear_model():
    model = linear_model()
    x = random_seqs(3, seed=4)
    np.testing.assert_allclose(get_explainer("deeplift", model).explain(x, 1),
                               get_explainer("gradient-x-input", model).explain(x, 1), atol=1e-6)


def test_integrated_gradients_completeness(net):
    x = random_seqs(5, seed=6)
    f = np.asarray(net(x)) - np.asarray(net(np.zeros_like(x)))
    maps = get_explainer("integrated-gradients", net, steps=300).explain(x, 2)
    np.testing.assert_allclose(maps.sum(axis=(1, 2)), f[:, 2], atol=2e-3 + 0.01 * np.abs(f[:, 2]).max())
    # zero baseline: nothing at the absent letters
    np.testing.assert_array_equal(maps[x == 0], 0.0)


def _lstm_model(bidirectional=True, length=L):
    keras.utils.set_random_seed(0)
    inp = keras.Input((length, A))
    h = keras.layers.Conv1D(4, 3, activation="relu")(inp)
    rnn = keras.layers.LSTM(3)
    h = keras.layers.Bidirectional(rnn, name="bilstm")(h) if bidirectional else keras.layers.LSTM(3, name="lstm")(h)
    return keras.Model(inp, keras.layers.Dense(2)(h))


@pytest.mark.parametrize("method", ["deeplift", "lrp-epsilon", "lrp-alphabeta"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_rule_based_methods_refuse_recurrent_layers_by_name(method, bidirectional):
    layer, kind = ("bilstm", "Bidirectional") if bidirectional else ("lstm", "LSTM")
    with pytest.raises(UserError, match=rf"^{method}: layer '{layer}' \({kind}\) is recurrent.*integrated-gradients"):
        get_explainer(method, _lstm_model(bidirectional))


def test_gradient_methods_and_ism_explain_a_bilstm():
    model = _lstm_model(length=10)
    x = random_seqs(2, length=10, seed=8)
    f = np.asarray(model(x)) - np.asarray(model(np.zeros_like(x)))
    ig = get_explainer("integrated-gradients", model, steps=100).explain(x, 0)
    np.testing.assert_allclose(ig.sum(axis=(1, 2)), f[:, 0], atol=2e-3 + 0.01 * np.abs(f[:, 0]).max())
    ism = get_explainer("ism", model).explain(x[:1], 0)
    m = x[0].copy()
    m[3] = onehot((x[0, 3].argmax() + 1) % A)
    np.testing.assert_allclose(ism[0, 3, (x[0, 3].argmax() + 1) % A],
                               np.asarray(model(m[None]))[0, 0] - np.asarray(model(x[:1]))[0, 0], atol=1e-5)


# ---- a trained model finds the planted motif ----------------------------------------------

MOTIF = [2, 0, 3, 0, 0, 2]  # GATAAG


def _planted(n, seed, length=60):
    """Class 1: GATAAG planted at a random position (returned); class 0: background only."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, 4, (n, length))
    y = rng.integers(0, 2, n)
    starts = rng.integers(0, length - len(MOTIF) + 1, n)
    for i in np.flatnonzero(y):
        idx[i, starts[i]:starts[i] + len(MOTIF)] = MOTIF
    return onehot(idx), y, starts


@pytest.fixture(scope="module")
def trained():
    x, y, _ = _planted(800, seed=0)
    keras.utils.set_random_seed(0)
    inp = keras.Input((60, 4))
    h = keras.layers.Conv1D(8, 6, activation="relu")(inp)
    h = keras.layers.GlobalMaxPooling1D()(h)
    model = keras.Model(inp, keras.layers.Dense(2)(h))
    model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    return model


@pytest.mark.parametrize("method", ["gradient-x-input", "integrated-gradients", "deeplift", "ism"])
def test_a_trained_cnn_finds_the_planted_motif(trained, method):
    from tfinterp.sequence.windows import best_window, overlaps

    x, y, starts = _planted(120, seed=1)
    pos = y == 1
    acc = (np.asarray(trained(x)).argmax(-1) == y).mean()
    assert acc > 0.9, acc
    e = get_explainer(method, trained, **({"steps": 20} if method == "integrated-gradients" else {}))
    scores = e.explain_positions(x[pos], 1)
    win = best_window(scores, len(MOTIF))
    hit = [overlaps(s, t, [(p, p + len(MOTIF))]) for s, t, p in zip(win["start"], win["end"], starts[pos])]
    assert np.mean(hit) > 0.9, (method, np.mean(hit))


def test_a_trained_cnn_finds_the_generators_planted_motifs():
    """On `tfinterp.data.planted` (GATA vs TATA classes, PWM-sampled motifs at random positions),
    a tiny trained 1D-CNN's gradient x input and ism maps have their top 8-wide window on the
    planted motif in most held-out sequences."""
    from tfinterp.data.planted import make_planted
    from tfinterp.sequence.windows import best_window, overlaps

    def two_classes(n, seed):
        d = make_planted(n=n, length=60, seed=seed)
        return d.subset(np.flatnonzero((d.y == 1) | (d.y == 2)))

    train, held = two_classes(1600, 0), two_classes(240, 1)
    keras.utils.set_random_seed(0)
    inp = keras.Input((60, 4))
    h = keras.layers.GlobalMaxPooling1D()(keras.layers.Conv1D(8, 8, activation="relu")(inp))
    model = keras.Model(inp, keras.layers.Dense(2)(h))
    model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(train.x, train.y - 1, epochs=6, batch_size=32, verbose=0)
    assert (np.asarray(model(held.x)).argmax(-1) == held.y - 1).mean() > 0.9
    for method in ("gradient-x-input", "ism"):
        e = get_explainer(method, model)
        win = best_window(e.explain_positions(held.x, held.y - 1), 8)
        hit = [overlaps(s, t, [(a, b) for _, a, b in spans])
               for s, t, spans in zip(win["start"], win["end"], held.motifs)]
        assert np.mean(hit) > 0.85, (method, np.mean(hit))
