"""runs.explain: image files explained end to end, against answers known for a linear model;
parameters as the user types them; ProtoNet's prototype explanation."""

import json

import keras
import numpy as np
import pytest

from tfinterp.errors import UserError


def _normalized(m):
    m = np.abs(m)
    return (m - m.min()) / (m.max() - m.min())


@pytest.fixture(scope="module")
def linear(tmp_path_factory):
    """Flatten -> Dense(3) on 8x8x1, saved as .keras; class 0 reads the top half, class 1 the bottom
    half (weight 2), class 2 a ramp. Its gradient for class c is W[:, c] (by theory)."""
    w = np.zeros((64, 3), np.float32)
    w[:32, 0] = 1.0
    w[32:, 1] = 2.0
    w[:, 2] = np.linspace(-1, 1, 64)
    m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(3, name="logits")])
    m.get_layer("logits").set_weights([w, np.array([0.0, 0.5, -0.5], np.float32)])
    path = tmp_path_factory.mktemp("linear") / "linear.keras"
    m.save(path)
    return path, w


def test_explain_files_gradient_maps_boxes_and_probabilities(linear, tmp_path):
    from tfinterp.runs.explain import explain_files

    path, w = linear
    x = np.random.default_rng(0).random((2, 8, 8, 1)).astype(np.float32)
    np.save(tmp_path / "pair.npy", x)
    out = tmp_path / "out"
    out.mkdir()
    written = explain_files([str(tmp_path / "pair.npy")], "gradient", str(path), target=0, out=out)
    assert [s["image"] for s in written] == ["pair_0", "pair_1"]
    logits = x.reshape(2, -1) @ w + np.array([0.0, 0.5, -0.5])
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    for i, name in enumerate(["pair_0", "pair_1"]):
        s = json.loads((out / f"{name}_gradient.json").read_text())
        assert s["target"] == 0 and s["predicted"] == int(logits[i].argmax())
        assert s["probability"] == pytest.approx(probs[i, 0], rel=1e-5)
        m = np.load(out / f"{name}_gradient.npy")
        np.testing.assert_allclose(m, _normalized(w[:, 0]).reshape(8, 8), atol=1e-6)  # top half 1, bottom 0
        assert s["box"] == [0, 0, 4, 8]                                                # rows 0..3, all columns
        assert (out / f"{name}_gradient.png").stat().st_size > 0


def test_params_as_typed_reach_the_method_and_are_converted(linear, tmp_path):
    from tfinterp.runs.explain import explain_files

    path, w = linear
    x = np.random.default_rng(1).random((8, 8, 1)).astype(np.float32)
    np.save(tmp_path / "one.npy", x)
    written = explain_files([str(tmp_path / "one.npy")], "integrated-gradients", str(path), target=1,
                            out=tmp_path, params={"steps": "3", "baseline": "0"})
    s = written[0]
    assert s["params"] == {"steps": 3, "baseline": 0.0}
    # on a linear model integrated gradients from 0 is exactly x * w (Sundararajan et al.'s completeness)
    np.testing.assert_allclose(np.load(s["map"]), _normalized(x[..., 0].reshape(-1) * w[:, 1]).reshape(8, 8),
                               atol=1e-5)
    with pytest.raises(UserError, match="steps"):
        explain_files([str(tmp_path / "one.npy")], "gradient", str(path), out=tmp_path, params={"steps": "3"})
    with pytest.raises(UserError, match="--method all"):
        explain_files([str(tmp_path / "one.npy")], "all", str(path), out=tmp_path, params={"steps": "3"})


def test_build_explainer_and_read_inputs(linear, tmp_path):
    from tfinterp.models import load_model
    from tfinterp.runs.explain import build_explainer, read_inputs

    path, w = linear
    model = load_model(str(path))
    e = build_explainer("integrated-gradients", model, {"steps": "4"}, batch_size=5)
    assert e.steps == 4 and e.batch_size == 5
    with pytest.raises(UserError, match="astrology"):
        build_explainer("astrology", model)
    np.save(tmp_path / "a.npy", np.zeros((8, 8, 1), np.float32))
    np.save(tmp_path / "b.npy", np.ones((3, 8, 8, 1), np.float32))
    names, x = read_inputs([str(tmp_path / "a.npy"), str(tmp_path / "b.npy")], model)
    assert names == ["a", "b_0", "b_1", "b_2"] and x.shape == (4, 8, 8, 1) and x[1:].min() == 1.0
    np.save(tmp_path / "c.npy", np.zeros((0, 8, 8, 1), np.float32))
    with pytest.raises(UserError, match="no images"):
        read_inputs([str(tmp_path / "c.npy")], model)


def test_prototype_files_match_the_model(tmp_path):
    from tfinterp.models.protonet import ProtoNet
    from tfinterp.runs.explain import explain_prototype_files

    keras.utils.set_random_seed(3)
    net = ProtoNet(input_shape=(28, 28, 1), num_classes=10, num_prototypes=6, latent_dim=16, filters=(4, 8))
    net(np.zeros((1, 28, 28, 1), np.float32))
    path = tmp_path / "proto.keras"
    net.save(path)
    x = np.random.default_rng(0).random((2, 28, 28, 1)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    written = explain_prototype_files([str(tmp_path / "x.npy")], str(path), out=tmp_path, k=2)
    d = net.prototype_distances(x).numpy()
    logits = np.asarray(net(x))
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    for i, s in enumerate(written):
        assert [q["prototype"] for q in s["nearest_prototypes"]] == list(np.argsort(d[i])[:2])
        np.testing.assert_allclose(s["distances"], d[i], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(s["probabilities"], p[i], rtol=1e-4, atol=1e-6)
        assert s["predicted"] == int(logits[i].argmax())
        assert json.loads((tmp_path / f"x_{i}_prototypes.json").read_text())["predicted"] == s["predicted"]
        assert (tmp_path / f"x_{i}_prototypes.png").stat().st_size > 1000
    with pytest.raises(UserError, match="drop --target"):
        explain_prototype_files([str(tmp_path / "x.npy")], str(path), target=1, out=tmp_path)
