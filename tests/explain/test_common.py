"""The contract every registered explainer keeps, tested by registration.

A method added to `EXPLAINERS` is covered here the moment it is registered: maps (N, H, W)
float32, min-max scaled per map (min 0, max 1, or all 0 for a constant map); the model's
weights untouched; the same maps for batch sizes 1 and 7; the same maps from two explainers
built alike (seeded); bad and unknown parameters refused with a `UserError` naming them.
`CHEAP` only shortens the slow methods (fewer steps, samples, windows); the rest run with
their defaults.
"""

import keras
import numpy as np
import pytest

from tfinterp.errors import UserError
from tfinterp.explain import EXPLAINERS, describe, get_explainer

CHEAP = {
    "integrated-gradients": {"steps": 4},
    "smoothgrad": {"samples": 3},
    "guided-inversion": {"steps1": 2, "steps2": 3},
    "meaningful-perturbation": {"steps": 3, "mask_size": 8},
    "occlusion": {"patch": 16, "stride": 8},
    "gridcam": {"grid": 4},
}
METHODS = [n for n in EXPLAINERS.names() if "images" in EXPLAINERS.get(n).inputs]  # sequence-only
# methods (ism) keep their contract in tests/explain/test_sequence_explain.py


@pytest.fixture(scope="module")
def net():
    """A tiny zoo vggsmall (32x32x1, 10 classes), fixed seed, shared by every test here."""
    from tfinterp import models

    keras.utils.set_random_seed(0)
    return models.get("vggsmall", input_shape=(32, 32, 1), num_classes=10, filters=(4, 8, 8), dense=16)


@pytest.fixture(scope="module")
def batch():
    x = np.random.default_rng(0).random((7, 32, 32, 1)).astype("float32")
    return x, np.array([0, 1, 2, 3, 4, 5, 9])


def test_every_builtin_method_is_registered():
    assert len(METHODS) >= 14
    assert {"gradient", "gradcam", "guided-inversion", "smoothgrad", "deeplift"} <= set(METHODS)


@pytest.mark.parametrize("method", METHODS)
def test_contract(net, batch, method):
    x, t = batch
    before = [w.copy() for w in net.get_weights()]
    e = get_explainer(method, net, **CHEAP.get(method, {}))
    maps = e.explain(x, t, batch_size=7)
    assert maps.shape == (7, 32, 32) and maps.dtype == np.float32
    assert np.isfinite(maps).all()
    lo, hi = maps.min(axis=(1, 2)), maps.max(axis=(1, 2))
    np.testing.assert_array_equal(lo, 0.0)                       # min-max scaled per map
    assert np.all(np.isclose(hi, 1.0, atol=1e-6) | (hi == 0.0)), hi
    one = e.explain(x, t, batch_size=1)
    np.testing.assert_allclose(one, maps, atol=2e-4, err_msg=f"{method}: batch size 1 vs 7")
    again = get_explainer(method, net, **CHEAP.get(method, {})).explain(x, t, batch_size=7)
    np.testing.assert_array_equal(again, maps, err_msg=f"{method}: two explainers built alike")
    after = net.get_weights()
    assert len(after) == len(before)
    for a, b in zip(after, before):
        np.testing.assert_array_equal(a, b)
    assert all(layer.dtype_policy.name == "float32" for layer in net.backbone.layers)


def _first(spec, kinds, bounded=False):
    for name, p in spec.items():
        if p.type in kinds and (not bounded or (p.min is not None and p.min >= 0)):
            return name
    raise AssertionError("no such parameter")


@pytest.mark.parametrize("method", METHODS)
def test_bad_parameter_values_are_named(net, method):
    spec = EXPLAINERS.get(method).param_spec()
    name = _first(spec, (int,), bounded=True)  # batch_size at the latest
    with pytest.raises(UserError, match=rf"{method}: {name} must be"):
        get_explainer(method, net, **{name: -1})
    name = _first(spec, (int, float))
    with pytest.raises(UserError, match=rf"{method}: {name} must be .*got 'abc'"):
        get_explainer(method, net, **{name: "abc"})


@pytest.mark.parametrize("method", METHODS)
def test_unknown_parameter_is_named_with_the_known_ones(net, method):
    with pytest.raises(UserError, match=r"unknown parameter no_such_param; known: .*batch_size"):
        get_explainer(method, net, no_such_param=1)


@pytest.mark.parametrize("method", METHODS)
def test_strings_are_converted_by_the_table(net, method):
    """`--param steps=4` arrives as the string '4': the table gives the same explainer as the number."""
    cheap = dict(CHEAP.get(method, {}), batch_size=5)
    typed = get_explainer(method, net, **cheap)
    typed_strings = get_explainer(method, net, **{k: str(v) for k, v in cheap.items()})
    assert typed_strings.config == typed.config and typed_strings.batch_size == 5
    assert typed.config["method"] == method


@pytest.mark.parametrize("method", METHODS)
def test_describe_lists_every_parameter(method):
    text = describe(method)
    assert text.startswith(f"{method}: ")
    for name, p in EXPLAINERS.get(method).param_spec().items():
        assert f"{name}  " in text or f"{name} " in text, name


def test_layer_goes_to_the_methods_layer_parameter(net):
    assert get_explainer("gradcam", net, layer="block2_conv1").layer == "block2_conv1"
    gi = get_explainer("guided-inversion", net, layer="block2_conv1+last_conv", steps2=0)
    assert gi.params["l1"] == "block2_conv1+last_conv"    # guided inversion's layer is its filter layer l1
    assert get_explainer("gradient", net, layer="block2_conv1").params == {}  # no layer: ignored
    with pytest.raises(UserError, match="unknown layer 'nope'"):
        get_explainer("gradcam", net, layer="nope")
    with pytest.raises(UserError, match="gradcam: layer 'logits' must be convolutional"):
        get_explainer("gradcam", net, layer="logits")


def test_smoothgrad_forwards_other_parameters_to_its_base(net):
    sg = get_explainer("smoothgrad", net, base="integrated-gradients", steps="20", samples=2)
    assert sg.base_explainer.steps == 20
    assert sg.params == {"base": "integrated-gradients", "samples": 2, "noise": 0.15, "square": False,
                         "steps": 20, "baseline": 0.0}
    with pytest.raises(UserError, match="integrated-gradients: steps must be an integer >= 2, got 1"):
        get_explainer("smoothgrad", net, base="integrated-gradients", steps=1)
    with pytest.raises(UserError, match="smoothgrad: unknown parameter stepz; .*gradients's: baseline, steps"):
        get_explainer("smoothgrad", net, base="integrated-gradients", stepz=20)
    with pytest.raises(UserError, match="smoothgrad: base must be one of .*got 'astrology'"):
        get_explainer("smoothgrad", net, base="astrology")


def test_an_explainer_written_before_the_tables_still_works():
    """Own keyword arguments and a `params` property (the old style) keep working: the property
    becomes the summary and the table is the inherited one."""
    import tensorflow as tf

    from tfinterp.explain import Explainer

    class Doubled(Explainer):
        def __init__(self, model, scale=2.0, batch_size=32):
            self.scale = float(scale)
            super().__init__(model, batch_size=batch_size)

        @property
        def params(self):
            return {"scale": self.scale}

        def attribute(self, images, targets):
            return tf.reduce_sum(images, axis=-1) * self.scale

    inp = keras.Input((2, 2, 1))
    model = keras.Model(inp, keras.layers.Dense(2)(keras.layers.Flatten()(inp)))
    e = Doubled(model, scale=3, batch_size=4)
    assert Doubled.params == {} and e.params == {"scale": 3.0} and e.batch_size == 4
    x = np.array([[[[0.0], [1.0]], [[2.0], [4.0]]]], "float32")
    np.testing.assert_allclose(e.explain(x, [0])[0], [[0.0, 0.25], [0.5, 1.0]])
    with pytest.raises(UserError, match="batch_size must be an integer >= 1, got 0"):
        Doubled(model, batch_size=0)
