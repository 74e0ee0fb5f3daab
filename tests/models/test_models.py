import keras
import numpy as np
import pytest
import tensorflow as tf

from tfinterp import models
from tfinterp.errors import UserError
from tfinterp.models import archs


def test_registry():
    names = models.list_models()
    for n in ("vggsmall", "resnet18", "cnn2", "madry", "vgg16", "vgg19", "resnet50"):
        assert n in names
    with pytest.raises(UserError, match="unknown model"):
        models.get("alexnet9000")


@pytest.mark.parametrize("name,kw,shape", [
    ("vggsmall", {}, (64, 64, 1)), ("vggsmall", {"input_shape": (28, 28, 1)}, (28, 28, 1)),
    ("vggsmall", {"input_shape": (32, 32, 3)}, (32, 32, 3)), ("resnet18", {"width": 4}, (32, 32, 3)),
    ("cnn2", {}, (28, 28, 1)), ("madry", {}, (28, 28, 1))])
def test_small_models_forward_and_aliases(name, kw, shape):
    m = models.get(name, **kw)
    x = np.random.default_rng(0).random((2,) + shape).astype("float32")
    y = m(x)
    assert y.shape == (2, 10)
    fm = models.feature_model(m, ["last_conv", "pool5", "logits"])
    o = fm(x)
    np.testing.assert_allclose(o["logits"], y, atol=1e-5)
    assert o["last_conv"].shape.rank == 4


def test_feature_model_values_by_hand():
    """cnn2: pool5 computed through the feature model equals the layers applied by hand."""
    m = models.get("cnn2")
    x = np.random.default_rng(1).random((3, 28, 28, 1)).astype("float32")
    g = m.backbone
    manual = g.get_layer("pool2")(g.get_layer("conv2")(g.get_layer("pool1")(g.get_layer("conv1")(x))))
    np.testing.assert_allclose(models.feature_model(m, "pool5")(x)["pool5"], manual, atol=1e-6)


def test_nested_application_and_user_model_untouched():
    v = models.get("vgg16", input_shape=(32, 32, 3), num_classes=5, weights=None)
    x = np.random.default_rng(2).random((2, 32, 32, 3)).astype("float32")
    before = v(x).numpy()
    n_weights = len(v.weights)
    fm = models.feature_model(v, ["pool5", "conv5_3", "vgg16/block3_pool", "block4_conv1", "logits"])
    o = fm(x)
    assert o["pool5"].shape == (2, 1, 1, 512) and o["block4_conv1"].shape == (2, 4, 4, 512)
    np.testing.assert_allclose(o["logits"], before, atol=1e-4)
    assert len(v.weights) == n_weights and len(fm.weights) == n_weights
    np.testing.assert_array_equal(v(x).numpy(), before)


def test_sequential_nested_in_functional():
    seq = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, name="c"),
                            keras.layers.Flatten(name="f")], name="inner")
    inp = keras.Input((8, 8, 1))
    fn = keras.Model(inp, keras.layers.Dense(2, name="d")(seq(inp)))
    x = np.ones((1, 8, 8, 1), "float32")
    o = models.feature_model(fn, ["inner/c", "c", "d"])(x)
    np.testing.assert_allclose(o["c"], seq.get_layer("c")(x), atol=1e-6)
    np.testing.assert_allclose(o["d"], fn(x), atol=1e-6)
    with pytest.raises(UserError, match="unknown layer"):
        models.feature_model(fn, ["nope"])


def test_subclassed_model_without_graph_is_a_clear_error():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = keras.layers.Dense(2)

        def call(self, x):
            return self.d(x)

    with pytest.raises(UserError, match="subclassed"):
        models.feature_model(Net(), ["d"])


def test_save_load_roundtrip_safe_mode(tmp_path):
    m = models.get("resnet18", width=4, input_shape=(32, 32, 3), num_classes=3)
    x = np.random.default_rng(3).random((2, 32, 32, 3)).astype("float32")
    m.save(tmp_path / "r.keras")
    m2 = models.load_model(str(tmp_path / "r.keras"))
    np.testing.assert_allclose(m2(x), m(x), atol=1e-6)
    assert m2.layer_aliases["pool5"] == "avg_pool" and m2.get_config()["arch_kwargs"] == {"width": 4}


def test_imagenet_weights_unavailable_is_a_clear_error(monkeypatch):
    def offline(**kw):
        raise OSError("no network")

    monkeypatch.setattr(keras.applications, "VGG16", offline)
    with pytest.raises(UserError, match="ImageNet weights"):
        models.get("vgg16")
    with pytest.raises(UserError, match="224"):
        models.get("vgg19", input_shape=(64, 64, 3), weights="imagenet")
    # "auto" at a non-native shape means random initialisation, no download
    assert models.get("vgg19", input_shape=(32, 32, 3), num_classes=4).num_classes == 4


def test_caffe_preprocess_matches_keras_applications():
    x = np.random.default_rng(4).random((2, 8, 8, 3)).astype("float32")
    ours = archs.CaffePreprocess()(x)
    ref = keras.applications.vgg16.preprocess_input(x * 255.0)
    np.testing.assert_allclose(ours, ref, atol=1e-3)


def test_load_model_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        models.load_model(str(tmp_path / "x.keras"))
    (tmp_path / "bad.keras").write_bytes(b"not a zip")
    with pytest.raises(UserError, match="could not load"):
        models.load_model(str(tmp_path / "bad.keras"))
    with pytest.raises(UserError, match="unknown model"):
        models.load_model("definitely_not_a_model")


def test_feature_model_bfloat16_copy_agrees_and_shares_nothing():
    import keras
    import numpy as np
    import pytest

    from tfinterp.errors import UserError
    from tfinterp.models.layers import compute_copy, feature_model

    keras.utils.set_random_seed(1)
    inner = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu", name="c1")],
                             name="inner")
    inp = keras.Input((8, 8, 1))
    out = keras.layers.Dense(3, name="logits")(keras.layers.Flatten()(inner(inp)))
    model = keras.Model(inp, out)
    x = np.random.default_rng(0).random((4, 8, 8, 1)).astype("float32")
    f32 = feature_model(model, ["inner/c1"], include_output=True)(x)
    bf = feature_model(model, ["inner/c1"], include_output=True, precision="bfloat16")(x)
    assert bf["output"].dtype.name == "bfloat16"
    np.testing.assert_allclose(np.asarray(bf["inner/c1"], "float32"), f32["inner/c1"], rtol=0.02, atol=0.02)
    assert compute_copy(model, "float32") is model
    copy = compute_copy(model, "bfloat16")
    assert copy is not model and all(v.dtype == "float32" for v in copy.weights)  # mixed: float32 variables
    assert model.layers[1].layers[0].dtype_policy.name == "float32"
    with pytest.raises(UserError, match="precision"):
        compute_copy(model, "float8")


def _nested_model():
    """inp -> Flatten -> outer(Dense d0 -> inner(Dense d1 -> ReLU r1)) -> Dense head, all bias-free."""
    keras.utils.set_random_seed(3)
    inner = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, use_bias=False, name="d1"),
                              keras.layers.ReLU(name="r1")], name="inner")
    o_in = keras.Input((6,))
    outer = keras.Model(o_in, inner(keras.layers.Dense(5, use_bias=False, name="d0")(o_in)), name="outer")
    inp = keras.Input((2, 3, 1))
    out = keras.layers.Dense(2, use_bias=False, name="head")(outer(keras.layers.Flatten(name="flat")(inp)))
    return keras.Model(inp, out)


def test_walk_layers_expands_nested_graphs_in_order():
    from tfinterp.models.layers import list_layer_paths, walk_layers

    model = _nested_model()
    every = ["flat", "outer", "outer/d0", "outer/inner", "outer/inner/d1", "outer/inner/r1", "head"]
    assert [p for p, _ in walk_layers(model)] == every == list_layer_paths(model)
    leaves = [(p, type(layer).__name__) for p, layer in walk_layers(model, containers=False)]
    assert leaves == [("flat", "Flatten"), ("outer/d0", "Dense"), ("outer/inner/d1", "Dense"),
                      ("outer/inner/r1", "ReLU"), ("head", "Dense")]


def test_run_graph_intercepts_nested_layers_and_computes_by_hand():
    """Doubling outer/inner/d1's output inside the re-run graph: head(relu(2 * d1(d0(x)))) by NumPy."""
    from tfinterp.models.layers import run_graph

    model = _nested_model()
    x = np.random.default_rng(0).normal(size=(3, 2, 3, 1)).astype("float32")
    outer = model.get_layer("outer")
    w = {"d0": outer.get_layer("d0").get_weights()[0], "d1": outer.get_layer("inner").get_layer("d1").get_weights()[0],
         "head": model.get_layer("head").get_weights()[0]}
    np.testing.assert_allclose(run_graph(model, tf.constant(x)).numpy(), model(x).numpy(), rtol=1e-6)
    seen = []

    def double_d1(path, layer, call, args, kwargs, graph):
        seen.append(path)
        y = call(*args, **kwargs)
        return 2.0 * y if path == "outer/inner/d1" else y

    got = run_graph(model, tf.constant(x), double_d1).numpy()
    expect = np.maximum(2.0 * x.reshape(3, 6) @ w["d0"] @ w["d1"], 0.0) @ w["head"]
    np.testing.assert_allclose(got, expect, rtol=1e-5, atol=1e-6)
    # every call is intercepted as it starts: a nested graph before the layers inside it
    assert seen == ["flat", "outer", "outer/d0", "outer/inner", "outer/inner/d1", "outer/inner/r1", "head"]
    seen.clear()
    whole = run_graph(model, tf.constant(x), double_d1, descend=lambda path, layer: False).numpy()
    np.testing.assert_allclose(whole, model(x).numpy(), rtol=1e-6)  # nothing inside was intercepted
    assert seen == ["flat", "outer", "head"]


def test_taps_reach_inside_a_nested_zoo_model():
    """A zoo Classifier used as a layer is walked through its functional backbone."""
    from tfinterp.models.layers import feature_model, list_layer_paths

    keras.utils.set_random_seed(0)
    clf = models.get("vggsmall", input_shape=(28, 28, 1), num_classes=3, filters=(4, 8), convs=(1, 2), dense=8)
    inp = keras.Input((28, 28, 1))
    outer = keras.Model(inp, keras.layers.Dense(2, name="top")(clf(inp)))
    conv = f"{clf.name}/block2_conv2"
    assert conv in list_layer_paths(outer)
    x = np.random.default_rng(1).random((2, 28, 28, 1)).astype("float32")
    got = feature_model(outer, [conv], include_output=True)(x)
    ref = keras.Model(clf.backbone.input, clf.backbone.get_layer("block2_conv2").output)(x)
    np.testing.assert_allclose(got[conv], ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["output"], outer(x), rtol=1e-5, atol=1e-6)
