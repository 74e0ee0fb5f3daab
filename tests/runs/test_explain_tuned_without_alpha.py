"""runs.explain with an "explain" section tuned without boxes (by faithfulness, as the shipped
madry_fashion_mnist's): alpha is optional (absent or null -> the default 1.0, "alpha not tuned"
in the printed line), a given alpha must still be a number, and a tuned Grad-CAM ``layer``
reaches the explainer."""

import json
import shutil

import keras
import numpy as np
import pytest

from tfinterp.errors import UserError


@pytest.fixture(scope="module")
def tiny_cnn(tmp_path_factory):
    """conv (8 ch) -> conv (4 ch, 'last') -> global mean -> Dense(2) on 8x8x1, saved as .keras."""
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(8, 3, padding="same", activation="relu",
                                                                      name="first"),
                          keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="last"),
                          keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2, name="logits")])
    path = tmp_path_factory.mktemp("cnn") / "cnn.keras"
    m.save(path)
    return path


def _with_section(src, tmp_path, section):
    dst = tmp_path / "tuned.keras"
    shutil.copy(src, dst)
    (tmp_path / "tuned.json").write_text(json.dumps({"model": "cnn", "dataset": "toy", "stem": "cnn_toy",
                                                     "explain": section}))
    return dst


SECTION = {"found_by": "python bench.py", "criterion": "insertion-deletion AUC", "note": "alpha not tuned",
           "methods": {"integrated-gradients": {"params": {"steps": 4}, "tune_score": 0.4},
                       "gradient": {"params": {}, "alpha": None},
                       "gradcam": {"params": {"layer": "first"}},
                       "occlusion": {"params": {"patch": 3}, "alpha": 2.0}}}


def test_alpha_absent_means_default_and_is_said(tiny_cnn, tmp_path):
    from tfinterp.runs.explain import explanation_setting, setting_line, tuned_settings

    s = tuned_settings(str(_with_section(tiny_cnn, tmp_path, SECTION)))
    assert s["criterion"] == "insertion-deletion AUC" and s["on"] == "toy/tune"
    ig = explanation_setting("integrated-gradients", s)
    assert ig["alpha"] == 1.0 and ig["alpha_tuned"] is False and ig["params"] == {"steps": 4}
    assert setting_line(s, {"integrated-gradients": ig}) == (
        "using the setting tuned for cnn_toy on toy/tune: steps=4 (alpha not tuned; --param preset=paper for the "
        "paper's defaults)")
    given = explanation_setting("integrated-gradients", s, alpha=3.0)   # the user's alpha still wins
    assert given["alpha"] == 3.0 and given["overridden"] == ["alpha"]
    assert "alpha not tuned" not in setting_line(s, {"integrated-gradients": given})
    assert explanation_setting("gradient", s)["alpha"] == 1.0            # null is "not tuned" too
    oc = explanation_setting("occlusion", s)                              # a tuned alpha is kept
    assert oc["alpha"] == 2.0 and oc["alpha_tuned"] is True
    assert setting_line(s, {"occlusion": oc}).endswith("patch=3 alpha 2 (--param preset=paper for the paper's "
                                                       "defaults)")
    both = {m: explanation_setting(m, s) for m in ("integrated-gradients", "gradcam")}
    assert "(alpha not tuned, the other methods their defaults" in setting_line(s, both)
    # a setting equal to the method's defaults with no alpha changes nothing: no line
    assert setting_line(s, {"gradient": explanation_setting("gradient", s)}) is None


def test_an_alpha_that_is_not_a_number_is_still_refused(tiny_cnn, tmp_path):
    from tfinterp.runs.explain import tuned_settings

    for bad in ("high", True, [1.0]):
        path = _with_section(tiny_cnn, tmp_path, {"methods": {"gradient": {"params": {}, "alpha": bad}}})
        with pytest.raises(UserError, match="\"alpha\": number \\(optional\\)"):
            tuned_settings(str(path))


def test_explain_files_runs_a_tuned_gradcam_layer_with_the_default_alpha(tiny_cnn, tmp_path, capsys):
    """The tuned layer 'first' (8x8, no upsampling) gives Grad-CAM's map at that layer: the same map
    as asking for --layer first with the paper preset; alpha 1.0 is recorded."""
    from tfinterp.runs.explain import explain_files

    path = _with_section(tiny_cnn, tmp_path, SECTION)
    x = np.random.RandomState(0).uniform(size=(2, 8, 8, 1)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out1, out2, out3 = (tmp_path / n for n in ("a", "b", "c"))
    for o in (out1, out2, out3):
        o.mkdir()
    s = explain_files([str(tmp_path / "x.npy")], "gradcam", str(path), target=0, out=out1, figures="none")[0]
    err = capsys.readouterr().err
    assert s["preset"] == "tuned" and s["params"]["layer"] == "first" and s["alpha"] == 1.0
    assert "layer=first (alpha not tuned;" in err
    ref = explain_files([str(tmp_path / "x.npy")], "gradcam", str(path), target=0, out=out2, figures="none",
                        layer="first", params={"preset": "paper"})[0]
    np.testing.assert_allclose(np.load(s["map"]), np.load(ref["map"]), atol=1e-6)
    last = explain_files([str(tmp_path / "x.npy")], "gradcam", str(path), target=0, out=out3, figures="none",
                         params={"layer": "last"})[0]               # --param layer wins over the tuned layer
    assert last["params"]["layer"] == "last" and last["overridden"] == ["layer"]
    with pytest.raises(UserError, match="gradient has no layer parameter"):
        explain_files([str(tmp_path / "x.npy")], "gradient", str(path), out=out3, params={"layer": "first"})


def test_shipped_madry_fashion_mnist_carries_faithfulness_tuned_settings():
    """The shipped robust model's section (written by benchmarks/bench_explain_tuning_fashion.py
    --write-settings) has no alpha, names its criterion, and every setting is accepted by its
    method's parameter table."""
    from tfinterp.explain.base import EXPLAINERS
    from tfinterp.models import shipped_models
    from tfinterp.runs.explain import explanation_setting, setting_line, tuned_settings

    s = tuned_settings("madry_fashion_mnist")
    section = shipped_models()["madry_fashion_mnist"]["explain"]
    assert s["on"] == "fashion_mnist/tune" and s["criterion"] == section["criterion"] == "insertion-deletion AUC"
    assert "alpha not tuned" in section["note"] and s["found_by"].startswith("python benchmarks/bench_explain_tuning")
    assert {"gradient", "smoothgrad", "guided-inversion"} <= set(s["methods"])
    for method, tuned in s["methods"].items():
        assert "alpha" not in tuned and isinstance(tuned["test_score"], float)
        if method != "gradcam":  # Grad-CAM scores below random maps on this model (BENCHMARKS.md)
            assert tuned["test_score"] > section["random_map_test_score"] + 0.2
        spec = EXPLAINERS.get(method).param_spec()
        for k, v in tuned["params"].items():
            spec[k].coerce(k, v, method)  # a value the method accepts
        chosen = explanation_setting(method, s)
        assert chosen["alpha"] == 1.0 and chosen["params"] == tuned["params"]
    line = setting_line(s, {"smoothgrad": explanation_setting("smoothgrad", s)})
    assert line is None or "alpha not tuned" in line
