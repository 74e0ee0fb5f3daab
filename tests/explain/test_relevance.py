"""Rule-based explainers (guided backprop, deconvnet, LRP, DeepLIFT) against hand-known answers.

Raw attributions come from `Explainer.attribute` (the per-batch TF computation, before the
[0, 1] scaling of `explain`), so sums and exact values can be checked.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfinterp import models
from tfinterp.errors import UserError
from tfinterp.explain import get_explainer, list_methods

L = keras.layers
RULE_METHODS = ["guided-backprop", "deconvnet", "lrp-epsilon", "lrp-alphabeta", "deeplift"]


def raw(explainer, x, targets):
    return explainer.attribute(tf.constant(x, tf.float32), tf.constant(np.asarray(targets), tf.int32)).numpy()


def set_bn_stats(model, rng, bias_free):
    """Non-trivial BatchNorm statistics (shift = 0 when `bias_free`, so nets stay bias-free)."""
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            c = layer.gamma.shape[0]
            gamma = rng.uniform(0.5, 1.5, c) * rng.choice([-1.0, 1.0], c)
            mean = np.zeros(c) if bias_free else rng.normal(size=c)
            beta = np.zeros(c) if bias_free else rng.normal(size=c) * 0.3
            layer.set_weights([gamma, beta, mean, rng.uniform(0.5, 2.0, c)])


# ----------------------------------------------------------------------------- small nets

def dense_net(bias=False, seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((3, 3, 2))
    x = L.Flatten()(inp)
    x = L.Dense(8, activation="relu", use_bias=bias)(x)
    x = L.ReLU()(L.Dense(6, use_bias=bias)(x))
    return keras.Model(inp, L.Dense(4, use_bias=bias)(x))


def conv_pool_net(bias=False, seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((10, 10, 2))
    x = L.Conv2D(4, 3, padding="same", activation="relu", use_bias=bias)(inp)
    x = L.MaxPooling2D(2)(x)
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu", use_bias=bias)(x)
    x = L.AveragePooling2D(2, padding="same")(x)
    x = L.Dropout(0.5)(L.Flatten()(x))
    return keras.Model(inp, L.Dense(3, use_bias=bias)(x))


def bn_net(bias=False, seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((8, 8, 2))
    x = L.Conv2D(4, 3, padding="same", use_bias=bias)(inp)
    x = L.ReLU()(L.BatchNormalization()(x))          # folded into the conv
    x = L.BatchNormalization()(x)                     # after a ReLU: an affine layer of its own
    x = L.Conv2D(4, 3, padding="valid", use_bias=bias, activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(5, use_bias=bias)(x)
    x = L.ReLU()(L.BatchNormalization()(x))          # Dense + BN, folded
    model = keras.Model(inp, L.Dense(3, use_bias=bias)(x))
    set_bn_stats(model, np.random.default_rng(seed), bias_free=not bias)
    return model


def residual_net(bias=False, seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((8, 8, 2))
    x = L.ReLU()(L.BatchNormalization()(L.Conv2D(4, 3, padding="same", use_bias=bias)(inp)))
    y = L.ReLU()(L.BatchNormalization()(L.Conv2D(4, 3, padding="same", use_bias=bias)(x)))
    y = L.BatchNormalization()(L.Conv2D(4, 3, padding="same", use_bias=bias)(y))
    x = L.ReLU()(L.Add()([x, y]))
    s = L.BatchNormalization()(L.Conv2D(6, 1, strides=2, use_bias=bias)(x))   # projection shortcut
    y = L.Conv2D(6, 3, strides=2, padding="same", activation="relu", use_bias=bias)(x)
    x = L.ReLU()(L.Add()([s, y]))
    x = L.GlobalMaxPooling2D()(x)
    model = keras.Model(inp, L.Dense(3, use_bias=bias)(x))
    set_bn_stats(model, np.random.default_rng(seed), bias_free=not bias)
    return model


def nested_net(seed=0):
    """A Sequential (with a fused and a separate ReLU) inside a functional model."""
    keras.utils.set_random_seed(seed)
    inner = keras.Sequential([keras.Input((8,)), L.Dense(6, activation="relu"), L.Dense(5), L.ReLU()], name="inner")
    inp = keras.Input((2, 2, 2))
    x = inner(L.Flatten()(inp))
    return keras.Model(inp, L.Dense(3)(x))


def images(shape, n=4, seed=1, signed=False):
    x = np.random.default_rng(seed).random((n,) + tuple(shape)).astype("float32")
    return 2 * x - 1 if signed else x


NETS = {"dense": dense_net, "conv+pool": conv_pool_net, "batchnorm": bn_net, "residual": residual_net}


def test_registered():
    assert set(RULE_METHODS) <= set(list_methods())


# ----------------------------------------------------------------------------- LRP

@pytest.mark.parametrize("net", list(NETS))
@pytest.mark.parametrize("method,kw", [("lrp-epsilon", {"epsilon": 1e-7}), ("lrp-alphabeta", {})])
def test_lrp_conserves_the_logit_on_bias_free_relu_nets(net, method, kw):
    model = NETS[net](bias=False)
    x = images(model.input_shape[1:], signed=(method == "lrp-alphabeta"))
    logits = model(x).numpy()
    # z+ conserves a logit made of positive contributions (any positive logit of a bias-free
    # net); a negative one may have none. Epsilon conserves any logit: take the largest |logit|.
    targets = logits.argmax(-1) if method == "lrp-alphabeta" else np.abs(logits).argmax(-1)
    rel = raw(get_explainer(method, model, **kw), x, targets)
    assert rel.shape == (4,) + model.input_shape[1:3]
    expect = logits[np.arange(4), targets]
    assert np.abs(expect).min() > 1e-3  # a meaningful check
    np.testing.assert_allclose(rel.sum(axis=(1, 2)), expect, rtol=2e-4, atol=2e-5)


def numpy_lrp_dense(x, weights, biases, target, rule, eps=0.0, alpha=1.0, beta=0.0):
    """LRP by hand for a ReLU MLP (Bach et al. 2015, eqs. for the epsilon and alpha-beta rules)."""
    acts = [x]
    for k, (w, b) in enumerate(zip(weights, biases)):
        z = acts[-1] @ w + b
        acts.append(np.maximum(z, 0) if k < len(weights) - 1 else z)
    r = np.zeros_like(acts[-1])
    r[target] = acts[-1][target]
    for k in range(len(weights) - 1, -1, -1):
        a, w, b = acts[k], weights[k], biases[k]
        zij = a[:, None] * w                                    # contributions (i, j)
        if rule == "epsilon":
            zj = zij.sum(0) + b
            r = (zij / (zj + eps * np.where(zj >= 0, 1, -1))) @ r
        else:
            pos, neg = np.maximum(zij, 0), np.minimum(zij, 0)
            sp, sn = pos.sum(0), neg.sum(0)
            r = alpha * (pos / np.where(sp == 0, 1, sp)) @ r - beta * (neg / np.where(sn == 0, 1, sn)) @ r
    return r


@pytest.mark.parametrize("method,kw,rule", [("lrp-epsilon", {"epsilon": 0.5}, {"rule": "epsilon", "eps": 0.5}),
                                            ("lrp-alphabeta", {}, {"rule": "ab"}),
                                            ("lrp-alphabeta", {"alpha": 2.0, "beta": 1.0},
                                             {"rule": "ab", "alpha": 2.0, "beta": 1.0})])
def test_lrp_matches_a_hand_computation_with_biases(method, kw, rule):
    model = dense_net(bias=True)
    dense = [layer for layer in model.layers if isinstance(layer, L.Dense)]
    rng = np.random.default_rng(3)
    for layer in dense:
        layer.bias.assign(rng.normal(size=layer.bias.shape).astype("float32") * 0.3)
    weights = [layer.kernel.numpy() for layer in dense]
    biases = [layer.bias.numpy() for layer in dense]
    x = images((3, 3, 2), signed=True)
    targets = [0, 3, 1, 2]
    rel = raw(get_explainer(method, model, **kw), x, targets)
    for i, t in enumerate(targets):
        expect = numpy_lrp_dense(x[i].reshape(-1), weights, biases, t, **rule).reshape(3, 3, 2).sum(-1)
        np.testing.assert_allclose(rel[i], expect, rtol=1e-4, atol=1e-5)


def linear_conv_model(seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((6, 6, 3))
    x = L.Conv2D(4, 3, strides=2, padding="same", bias_initializer="random_normal")(inp)
    x = L.AveragePooling2D(2)(x)
    x = L.Flatten()(x)
    return keras.Model(inp, L.Dense(3, bias_initializer="random_normal")(x))


@pytest.mark.parametrize("method,kw", [("lrp-epsilon", {"epsilon": 1e-9}), ("deeplift", {})])
def test_linear_model_gives_gradient_times_input(method, kw):
    model = linear_conv_model()
    x = images((6, 6, 3), signed=True)
    targets = np.array([2, 0, 1, 2])
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        score = tf.gather(model(xt), targets, axis=1, batch_dims=1)
    expect = (x * tape.gradient(score, xt).numpy()).sum(-1)
    got = raw(get_explainer(method, model, **kw), x, targets)
    np.testing.assert_allclose(got, expect, rtol=1e-4, atol=1e-6)
    # and through the public interface: the same map scaled to [0, 1]
    maps = get_explainer(method, model, **kw).explain(x, targets)
    lo, hi = expect.min(axis=(1, 2), keepdims=True), expect.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(maps, (expect - lo) / (hi - lo), atol=1e-4)


def test_batchnorm_folding_equals_a_model_with_the_folded_weights():
    """The z+ rule on conv -> BN equals the z+ rule on one conv with W * s, b * s + t."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((6, 6, 1))
    conv = L.Conv2D(3, 3, use_bias=True, bias_initializer="random_normal")
    bn = L.BatchNormalization()
    head = L.Dense(2)
    model = keras.Model(inp, head(L.Flatten()(L.ReLU()(bn(conv(inp))))))
    set_bn_stats(model, np.random.default_rng(0), bias_free=False)
    g, beta, mean, var = bn.get_weights()
    s = g / np.sqrt(var + bn.epsilon)
    w, b = conv.get_weights()
    inp2 = keras.Input((6, 6, 1))
    conv2 = L.Conv2D(3, 3)
    head2 = L.Dense(2)
    folded = keras.Model(inp2, head2(L.Flatten()(L.ReLU()(conv2(inp2)))))
    conv2.set_weights([w * s, b * s + beta - mean * s])
    head2.set_weights(head.get_weights())
    x = images((6, 6, 1))
    np.testing.assert_allclose(model(x), folded(x), rtol=1e-4, atol=1e-5)
    a = raw(get_explainer("lrp-alphabeta", model), x, [0, 1, 0, 1])
    b2 = raw(get_explainer("lrp-alphabeta", folded), x, [0, 1, 0, 1])
    np.testing.assert_allclose(a, b2, rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- DeepLIFT

@pytest.mark.parametrize("net", list(NETS))
def test_deeplift_sums_to_delta_with_biases(net):
    model = NETS[net](bias=True)
    for layer in model.layers:  # non-zero biases, so the reference activations are not trivial
        if getattr(layer, "bias", None) is not None:
            layer.bias.assign(np.random.default_rng(5).normal(size=layer.bias.shape).astype("float32") * 0.2)
    shape = model.input_shape[1:]
    x = images(shape)
    for baseline in (0.0, 0.3 * images(shape, n=1, seed=9)[0]):
        e = get_explainer("deeplift", model, baseline=baseline)
        ref = np.broadcast_to(np.asarray(baseline, np.float32), x.shape)
        deltas = model(x).numpy() - model(ref).numpy()
        targets = np.abs(deltas).argmax(-1)  # the class that moved most: a meaningful check
        delta = deltas[np.arange(4), targets]
        assert np.abs(delta).min() > 1e-3
        attr = raw(e, x, targets)
        np.testing.assert_allclose(attr.sum(axis=(1, 2)), delta, rtol=2e-4, atol=2e-5)


def test_deeplift_rescale_by_hand():
    model = dense_net(bias=True)
    dense = [layer for layer in model.layers if isinstance(layer, L.Dense)]
    rng = np.random.default_rng(4)
    for layer in dense:
        layer.bias.assign(rng.normal(size=layer.bias.shape).astype("float32") * 0.3)
    (w1, b1), (w2, b2), (w3, _) = [(d.kernel.numpy(), d.bias.numpy()) for d in dense]
    x = images((3, 3, 2)).reshape(4, -1)
    x0 = np.zeros_like(x)

    def layer(a, w, b):
        return a @ w + b

    z1, z10 = layer(x, w1, b1), layer(x0, w1, b1)
    a1, a10 = np.maximum(z1, 0), np.maximum(z10, 0)
    z2, z20 = layer(a1, w2, b2), layer(a10, w2, b2)
    a2, a20 = np.maximum(z2, 0), np.maximum(z20, 0)

    def rescale(z, z0, a, a0):
        d = z - z0
        return np.where(np.abs(d) < 1e-6, (z > 0).astype(float), (a - a0) / np.where(d == 0, 1, d))

    targets = [1, 0, 3, 2]
    m2 = w3[:, targets].T * rescale(z2, z20, a2, a20)
    m1 = (m2 @ w2.T) * rescale(z1, z10, a1, a10)
    expect = (x * (m1 @ w1.T)).reshape(4, 3, 3, 2).sum(-1)
    got = raw(get_explainer("deeplift", model), x.reshape(4, 3, 3, 2), targets)
    np.testing.assert_allclose(got, expect, rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- guided backprop, deconvnet

def one_hidden_layer(seed=0):
    rng = np.random.default_rng(seed)
    w1, b1 = rng.normal(size=(8, 6)).astype("float32"), rng.normal(size=6).astype("float32")
    w2, b2 = rng.normal(size=(6, 3)).astype("float32"), rng.normal(size=3).astype("float32")
    inp = keras.Input((2, 2, 2))
    h, out = L.Dense(6, activation="relu"), L.Dense(3)
    model = keras.Model(inp, out(h(L.Flatten()(inp))))
    h.set_weights([w1, b1])
    out.set_weights([w2, b2])
    return model, (w1, b1, w2)


@pytest.mark.parametrize("method", ["guided-backprop", "deconvnet"])
def test_relu_rules_by_hand(method):
    model, (w1, b1, w2) = one_hidden_layer()
    x = images((2, 2, 2), signed=True)
    targets = [0, 1, 2, 1]
    z = x.reshape(4, -1) @ w1 + b1
    g = w2[:, targets].T                      # signal arriving at the hidden ReLU
    if method == "guided-backprop":
        back = np.where((z > 0) & (g > 0), g, 0.0)
    else:
        back = np.maximum(g, 0.0)
    expect = np.abs(back @ w1.T).reshape(4, 2, 2, 2).max(-1)
    got = raw(get_explainer(method, model), x, targets)
    np.testing.assert_allclose(got, expect, rtol=1e-5, atol=1e-6)
    assert not np.allclose(got, np.abs((np.where(z > 0, g, 0) @ w1.T)).reshape(4, 2, 2, 2).max(-1))


def snapshot(model):
    return ([w.copy() for w in model.get_weights()],
            [(layer, getattr(layer, "activation", None)) for layer in model._flatten_layers(include_self=False)])


@pytest.mark.parametrize("method", RULE_METHODS)
def test_nested_sequential_and_model_unchanged(method):
    model = nested_net()
    x = images((2, 2, 2), signed=True)
    before_out = model(x).numpy()
    weights, acts = snapshot(model)
    targets = [0, 1, 2, 0]
    e = get_explainer(method, model)
    got = raw(e, x, targets)
    # reference: the same computation written out by hand from the nested layers' weights
    inner = model.get_layer("inner")
    (w1, b1), (w2, b2) = inner.layers[0].get_weights(), inner.layers[1].get_weights()
    w3, b3 = model.layers[-1].get_weights()
    xf = x.reshape(4, -1)
    z1 = xf @ w1 + b1
    z2 = np.maximum(z1, 0) @ w2 + b2
    g2 = w3[:, targets].T
    if method == "guided-backprop":
        g1 = np.where((z1 > 0) & ((np.where((z2 > 0) & (g2 > 0), g2, 0) @ w2.T) > 0),
                      np.where((z2 > 0) & (g2 > 0), g2, 0) @ w2.T, 0)
        expect = np.abs(g1 @ w1.T).reshape(4, 2, 2, 2).max(-1)
    elif method == "deconvnet":
        expect = np.abs(np.maximum(np.maximum(g2, 0) @ w2.T, 0) @ w1.T).reshape(4, 2, 2, 2).max(-1)
    elif method == "deeplift":
        delta = (model(x).numpy() - model(np.zeros_like(x)).numpy())[np.arange(4), targets]
        expect = None
        np.testing.assert_allclose(got.sum(axis=(1, 2)), delta, rtol=1e-4, atol=1e-5)
    else:
        w = [w1, w2, w3]
        b = [b1, b2, b3]
        rule = {"rule": "epsilon", "eps": 0.01} if method == "lrp-epsilon" else {"rule": "ab"}
        expect = np.stack([numpy_lrp_dense(xf[i], w, b, t, **rule) for i, t in enumerate(targets)])
        expect = expect.reshape(4, 2, 2, 2).sum(-1)
    if expect is not None:
        np.testing.assert_allclose(got, expect, rtol=1e-4, atol=1e-5)
    e.explain(x, targets)
    w_after, acts_after = snapshot(model)
    assert all(np.array_equal(a, b) for a, b in zip(weights, w_after))
    assert all(l1 is l2 and a1 is a2 for (l1, a1), (l2, a2) in zip(acts, acts_after))
    np.testing.assert_array_equal(model(x).numpy(), before_out)


def guided_clone(model, method):
    """An independent reference: a copy of the model whose ReLUs have the rule as their gradient."""
    @tf.custom_gradient
    def relu(z):
        def grad(g):
            return tf.where((z > 0) & (g > 0), g, 0.0) if method == "guided-backprop" else tf.nn.relu(g)
        return tf.nn.relu(z), grad

    def clone(layer):
        cfg = layer.get_config()
        if cfg.get("activation") == "relu":
            cfg["activation"] = relu
        return type(layer).from_config(cfg)

    copy = keras.models.clone_model(model.backbone, clone_function=clone)
    copy.set_weights(model.backbone.get_weights())
    return copy


@pytest.mark.parametrize("method", ["guided-backprop", "deconvnet"])
def test_relu_rules_match_a_rewritten_copy_on_the_zoo_cnn(method):
    keras.utils.set_random_seed(0)
    model = models.get("cnn2")
    x = images((28, 28, 1), n=3)
    targets = [3, 1, 7]
    copy = guided_clone(model, method)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        score = tf.gather(copy(xt), targets, axis=1, batch_dims=1)
    expect = np.abs(tape.gradient(score, xt).numpy()).max(-1)
    got = raw(get_explainer(method, model), x, targets)
    np.testing.assert_allclose(got, expect, rtol=1e-4, atol=1e-7)
    assert model.backbone.get_layer("conv1").activation is keras.activations.relu


# ----------------------------------------------------------------------------- zoo models

ZOO = {
    "vggsmall": dict(),
    "resnet18": dict(width=4),
    "vgg16": dict(input_shape=(32, 32, 3), num_classes=5, weights=None),
}


@pytest.fixture(scope="module")
def zoo():
    out = {}
    for name, kw in ZOO.items():
        keras.utils.set_random_seed(0)
        out[name] = models.get(name, **kw)
    return out


@pytest.mark.parametrize("name", list(ZOO))
def test_zoo_models(zoo, name):
    """Fresh zoo models have zero biases and identity-like BatchNorms: conservation holds there too."""
    model = zoo[name]
    x = images(model.input_shape[1:], n=2)
    logits = model(x).numpy()
    targets = logits.argmax(-1)
    top = logits[np.arange(2), targets]
    rel = raw(get_explainer("lrp-epsilon", model, epsilon=1e-7), x, targets)
    np.testing.assert_allclose(rel.sum(axis=(1, 2)), top, rtol=1e-3)
    e = get_explainer("deeplift", model)
    delta = top - model(np.zeros_like(x)).numpy()[np.arange(2), targets]
    np.testing.assert_allclose(raw(e, x, targets).sum(axis=(1, 2)), delta, rtol=1e-3, atol=1e-5)
    maps = get_explainer("guided-backprop", model).explain(x)
    assert maps.shape == (2,) + model.input_shape[1:3] and maps.dtype == np.float32
    assert np.isfinite(maps).all() and maps.min() == 0.0 and maps.max() == pytest.approx(1.0)


def test_zoo_cnn2_alphabeta_and_compiled_once():
    keras.utils.set_random_seed(0)
    model = models.get("cnn2")
    x = images((28, 28, 1), n=5)
    e = get_explainer("lrp-alphabeta", model)
    maps = e.explain(x, targets=[0, 1, 2, 3, 4], batch_size=2)  # three batches, one trace
    assert maps.shape == (5, 28, 28) and np.isfinite(maps).all()
    assert e._compiled.experimental_get_tracing_count() == 1
    rel = raw(e, x, [0, 1, 2, 3, 4])
    np.testing.assert_allclose(rel.sum(axis=(1, 2)), model(x).numpy()[np.arange(5), np.arange(5)],
                               rtol=1e-3, atol=1e-5)


# ----------------------------------------------------------------------------- errors

def test_unsupported_layers_are_named():
    inp = keras.Input((4, 4, 1))
    x = L.Lambda(lambda t: t * 2.0, name="doubler")(inp)
    model = keras.Model(inp, L.Dense(2)(L.Flatten()(x)))
    for method in ("lrp-epsilon", "lrp-alphabeta", "deeplift"):
        with pytest.raises(UserError, match="doubler.*Lambda"):
            get_explainer(method, model)
    inp = keras.Input((4,))
    probs = keras.Model(inp, L.Dense(2, activation="softmax", name="probs")(inp))
    with pytest.raises(UserError, match="probs.*softmax"):
        get_explainer("lrp-epsilon", probs)
    with pytest.raises(UserError, match="alpha - beta = 1"):
        get_explainer("lrp-alphabeta", dense_net(), alpha=1.0, beta=1.0)
    with pytest.raises(UserError, match="baseline"):
        get_explainer("deeplift", dense_net(), baseline=np.zeros((2, 2)))


class HiddenBlock(L.Layer):
    """A custom layer owning a ReLU conv: the rules cannot reach inside it."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.conv = L.Conv2D(2, 3, activation="relu")

    def call(self, x):
        return self.conv(x)


def test_relu_hidden_in_a_custom_layer_is_an_error_not_a_silent_gradient():
    inp = keras.Input((6, 6, 1))
    model = keras.Model(inp, L.Dense(2)(L.Flatten()(HiddenBlock(name="blk")(inp))))
    for method in RULE_METHODS:
        with pytest.raises(UserError, match="blk"):
            get_explainer(method, model)
