"""tfinterp.metrics.benchmark: running an explainer over a set of images, and its scores."""

import keras
import numpy as np
import pytest

from tfinterp.errors import UserError
from tfinterp.metrics import explain_set, hits_string, localization_scores, make_explainer, parse_hits


def _linear_model(w):
    inp = keras.Input((4, 4, 1))
    dense = keras.layers.Dense(2, use_bias=False, name="logits")
    out = dense(keras.layers.Flatten()(inp))
    dense.set_weights([w])
    return keras.Model(inp, out)


def _maps_and_boxes():
    """Five 16x16 maps against the box (4, 4, 12, 12): maps 0, 2, 4 localize (the box exactly),
    maps 1 and 3 do not (a strong blob in a corner stretches the box to the whole canvas)."""
    maps = np.zeros((5, 16, 16), np.float32)
    maps[:, 4:12, 4:12] = 1.0
    maps[1, 0, 0] = maps[3, 15, 15] = 50.0
    return maps, [(4, 4, 12, 12)] * 5


def test_localization_scores_by_hand():
    maps, boxes = _maps_and_boxes()
    s = localization_scores(maps, boxes, alpha=1.0)
    assert s["hits"] == "10101"
    assert s["localization_error"] == pytest.approx(0.4)
    # Wilson 95 % for 2 errors in 5, by hand: centre (0.4 + z^2/10) / (1 + z^2/5), half-width
    # z sqrt(0.4 * 0.6 / 5 + z^2 / 100) / (1 + z^2/5), z = 1.96
    assert s["ci95"] == pytest.approx((0.1176, 0.7693), abs=1e-4)
    # the maxima: inside the box for 0, 2, 4 (the first maximum, (4, 4)); the corners (0, 0) and
    # (15, 15) are more than the tolerance (15 * 16 / 224 = 1.07 px) away from it
    assert s["pointing_game"] == pytest.approx(0.6)
    # the largest-segment protocol keeps the 64-px square, which then localizes everywhere
    assert localization_scores(maps, boxes, alpha=1.0, largest=True)["hits"] == "11111"


def test_hits_string_round_trip():
    hits = np.array([True, False, False, True])
    assert hits_string(hits) == "1001"
    assert parse_hits("1001").tolist() == hits.tolist()
    assert hits_string([]) == "" and parse_hits("").shape == (0,)


def test_explain_set_runs_the_method_over_the_images():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(16, 2)).astype("float32")
    model = _linear_model(w)
    x = rng.random((5, 4, 4, 1)).astype("float32")
    targets = np.array([0, 1, 1, 0, 1])
    maps, stage1, sec, used = explain_set(model, "gradient", {}, x, targets, batch_size=2)
    for k, t in enumerate(targets):  # the gradient of a linear model is its weight column
        expect = np.abs(w[:, t]).reshape(4, 4)
        np.testing.assert_allclose(maps[k], (expect - expect.min()) / (expect.max() - expect.min()), atol=1e-5)
    assert stage1 is None and sec > 0
    assert used == make_explainer("gradient", model, {}, batch_size=2).params
    # parameters as typed (strings) are converted by the method's table; a batch_size there wins
    e = make_explainer("integrated-gradients", model, {"steps": "3", "batch_size": 4}, batch_size=2)
    assert e.steps == 3 and e.batch_size == 4
    with pytest.raises(UserError, match="nonsense"):
        make_explainer("gradient", model, {"nonsense": 1})


class _TwoStage:
    """An explainer with two stages: explain_set must call explain_both, once, with the batch size."""

    params = {"stage": "both"}

    def __init__(self):
        self.calls = []

    def explain_both(self, images, targets, batch_size=None):
        self.calls.append(("both", len(images), batch_size))
        return np.ones((len(images), 2, 2), np.float32), np.zeros((len(images), 2, 2), np.float32)

    def explain(self, images, targets, batch_size=None):  # pragma: no cover - must not be called
        self.calls.append(("explain", len(images), batch_size))
        return np.ones((len(images), 2, 2), np.float32)


def test_explain_set_returns_both_stages_of_a_two_stage_method():
    e = _TwoStage()
    x = np.zeros((4, 2, 2, 1), np.float32)
    maps, stage1, sec, used = explain_set(None, "ignored", None, x, [0, 0, 0, 0], batch_size=3, explainer=e)
    assert e.calls == [("both", 4, 3)]
    assert maps.sum() == 16 and stage1.sum() == 0 and used == {"stage": "both"} and sec >= 0


def test_make_explainer_reads_a_layer_parameter():
    """``layer`` among the parameters (``--param layer=``, a tuned Grad-CAM layer) is the method's
    layer; an explicit `layer` wins; a method without a layer parameter refuses it by name."""
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, padding="same", name="first"),
                              keras.layers.Conv2D(4, 3, padding="same", name="second"),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
    assert make_explainer("gradcam", model, {"layer": "first"}).params["layer"] == "first"
    assert make_explainer("gradcam", model, {"layer": "first"}, layer="second").params["layer"] == "second"
    with pytest.raises(UserError, match="gradient has no layer parameter"):
        make_explainer("gradient", model, {"layer": "first"})
