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
        assert s["box"] == {"ymin": 0, "xmin": 0, "ymax": 4, "xmax": 8}               # rows 0..3, all columns
        assert s["preset"] == "none" and s["alpha"] == 1.0 and s["converted_from"] is None
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


def _tuned_copy(linear, tmp_path, section):
    """The linear model copied to tmp_path/tuned.keras with a JSON beside it holding `section`."""
    import shutil

    path, w = linear
    dst = tmp_path / "tuned.keras"
    shutil.copy(path, dst)
    (tmp_path / "tuned.json").write_text(json.dumps({"model": "linear", "dataset": "toy", "stem": "lin_toy",
                                                     "explain": section}))
    return dst, w


_SECTION = {"found_by": "python tune.py --toy", "note": "hand-set for the test",
            "methods": {"integrated-gradients": {"params": {"steps": 4, "baseline": 0.5}, "alpha": 20.0}}}


def test_tuned_setting_applied_overridden_per_key_and_paper_restores_defaults(linear, tmp_path, capsys):
    """A model whose JSON carries an "explain" section runs with its parameters and alpha; a key
    the user gives wins for that key, --alpha for alpha; preset=paper gives the method's defaults.
    Integrated gradients on a linear model from baseline b is exactly (x - b) * w, so the map says
    which baseline ran: x is 0.5 but for two bottom-half pixels, so from b = 0.5 the map is 1 at
    (5, 1), 0.4 at (7, 6) and 0 elsewhere (mean 1.4 / 64): alpha 20 boxes the first pixel only,
    alpha 1 both."""
    from tfinterp.metrics import box_from_map
    from tfinterp.runs.explain import box_dict, explain_files

    path, w = _tuned_copy(linear, tmp_path, _SECTION)
    x = np.full((8, 8, 1), 0.5, np.float32)
    x[5, 1], x[7, 6] = 1.0, 0.7
    np.save(tmp_path / "one.npy", x)

    def run(**kw):
        out = tmp_path / f"out{len(list(tmp_path.glob('out*')))}"
        out.mkdir()
        s = explain_files([str(tmp_path / "one.npy")], "integrated-gradients", str(path), target=1, out=out, **kw)[0]
        return s, np.load(s["map"]), capsys.readouterr().err

    def expected(b):
        return _normalized((x[..., 0].reshape(-1) - b) * w[:, 1]).reshape(8, 8)

    s, m, err = run()
    assert s["params"] == {"steps": 4, "baseline": 0.5} and s["alpha"] == 20.0
    assert s["preset"] == "tuned" and s["tuned_from"] == "python tune.py --toy" and s["overridden"] == []
    np.testing.assert_allclose(m, expected(0.5), atol=1e-5)
    assert s["box"] == {"ymin": 5, "xmin": 1, "ymax": 6, "xmax": 2}
    assert box_dict(box_from_map(m, 1.0)) == {"ymin": 5, "xmin": 1, "ymax": 8, "xmax": 7}
    assert err.strip() == ("using the setting tuned for lin_toy on toy/tune: steps=4 baseline=0.5 alpha 20 "
                           "(--param preset=paper for the paper's defaults)")

    s, m, err = run(params={"baseline": "0"}, alpha=1.0)        # the user's key and alpha win, steps stays tuned
    assert s["params"] == {"steps": 4, "baseline": 0.0} and s["alpha"] == 1.0 and s["box"]["ymax"] == 8
    assert s["preset"] == "tuned" and s["overridden"] == ["baseline", "alpha"]
    np.testing.assert_allclose(m, expected(0.0), atol=1e-5)
    assert "steps=4" in err and "baseline" not in err.split("(")[0] and "your --param baseline, --alpha kept" in err

    s, m, err = run(params={"preset": "paper"})
    assert s["params"] == {"steps": 50, "baseline": 0.0} and s["alpha"] == 1.0
    assert s["preset"] == "paper" and s["tuned_from"] is None and err.strip() == ""
    np.testing.assert_allclose(m, expected(0.0), atol=1e-5)

    s, m, _ = run(params={"preset": "paper"}, alpha=2.5)
    assert s["alpha"] == 2.5 and s["box_threshold"] == "2.5 * mean"

    s, _, err = run(params={"preset": "tuned", "steps": "3"})
    assert s["params"] == {"steps": 3, "baseline": 0.5} and s["preset"] == "tuned"

    out = tmp_path / "g"
    out.mkdir()
    s = explain_files([str(tmp_path / "one.npy")], "gradient", str(path), target=1, out=out)[0]
    assert s["preset"] == "none" and s["alpha"] == 1.0   # the section has no setting for gradient
    with pytest.raises(UserError, match="no tuned setting for gradient; it has tuned settings for integrated-grad"):
        explain_files([str(tmp_path / "one.npy")], "gradient", str(path), out=out, params={"preset": "tuned"})
    with pytest.raises(UserError, match="preset must be one of 'tuned' or 'paper', got 'best'"):
        explain_files([str(tmp_path / "one.npy")], "gradient", str(path), out=out, params={"preset": "best"})


def test_shipped_and_zoo_models_settings():
    """The shipped vggsmall_clutter64 carries guided inversion's tuned setting (its stem and its
    .keras path alike); a zoo name has none. `--layer` counts as the user's l1."""
    from tfinterp.models import shipped_models
    from tfinterp.runs.explain import explanation_setting, tuned_settings

    shipped = shipped_models()["vggsmall_clutter64"]
    by_stem, by_path = tuned_settings("vggsmall_clutter64"), tuned_settings(shipped["path"])
    assert by_stem == by_path and by_stem["on"] == "clutter64/tune" and by_stem["model"] == "vggsmall_clutter64"
    gi = shipped["explain"]["methods"]["guided-inversion"]
    s = explanation_setting("guided-inversion", by_stem)
    assert s["params"] == gi["params"] and s["alpha"] == gi["alpha"] == 3.5 and s["preset"] == "tuned"
    assert s["tuned_from"] == shipped["explain"]["found_by"]
    s = explanation_setting("guided-inversion", by_stem, {"steps2": "5"}, layer="last_conv")
    assert "l1" not in s["params"] and s["params"]["steps2"] == "5" and s["overridden"] == ["l1"]
    assert s["params"]["power"] == gi["params"]["power"]
    assert explanation_setting("guided-inversion", by_stem, {"preset": "paper"}) == {
        "params": {}, "alpha": 1.0, "preset": "paper", "tuned_from": None, "applied": {}, "overridden": []}
    assert tuned_settings("cnn2") is None and explanation_setting("gradient", None)["preset"] == "none"


def test_malformed_explain_section_is_refused(linear, tmp_path):
    from tfinterp.runs.explain import tuned_settings

    path, _ = _tuned_copy(linear, tmp_path, {"methods": {"gradient": {"alpha": "high"}}})
    with pytest.raises(UserError, match="tuned.json: the \"explain\" section needs"):
        tuned_settings(str(path))
    (tmp_path / "tuned.json").write_text("not json")        # not a tfinterp record: no setting, no error
    assert tuned_settings(str(path)) is None


def test_box_dict_follows_box_from_map():
    """box_from_map's max is exclusive: the box dict slices exactly the thresholded pixels' extent."""
    from tfinterp.metrics import box_from_map
    from tfinterp.runs.explain import box_dict

    m = np.zeros((10, 12), np.float32)
    m[2:5, 3:9] = 1.0
    m[7, 4] = 1.0
    b = box_dict(box_from_map(m, alpha=1.0))
    assert b == {"ymin": 2, "xmin": 3, "ymax": 8, "xmax": 9}
    on = m > m.mean()
    assert on[b["ymin"]:b["ymax"], b["xmin"]:b["xmax"]].sum() == on.sum()
    assert box_dict(None) is None


def test_converted_images_said_once_per_kind_and_recorded(linear, tmp_path, capsys):
    """Files that differ from the model's 8x8x1 input: one line per kind of conversion (a folder of
    three same-kind files is one line), converted_from in the JSON; a file already 8x8 grey is
    taken as it is. A uniform colour reads as its ITU-R 601 luma (what Pillow's "L" computes)."""
    from PIL import Image

    from tfinterp.runs.explain import explain_files

    path, _ = linear
    Image.fromarray(np.full((12, 20, 3), (200, 100, 50), np.uint8)).save(tmp_path / "wide.png")
    Image.fromarray(np.full((8, 8), 90, np.uint8)).save(tmp_path / "fits.png")
    (tmp_path / "set").mkdir()
    for i in range(3):
        Image.fromarray(np.full((16, 16, 3), 40 * i, np.uint8)).save(tmp_path / "set" / f"s{i}.png")
    out = tmp_path / "out"
    out.mkdir()
    written = explain_files([str(tmp_path / "wide.png"), str(tmp_path / "fits.png"), str(tmp_path / "set")],
                            "gradient", str(path), out=out)
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["wide.png: 12x20 RGB -> 8x8 grey, resized (aspect ratio not kept), colour to grey "
                   "(the model takes 8x8x1)",
                   "3 images converted: 16x16 RGB -> 8x8 grey, resized, colour to grey (the model takes 8x8x1)"]
    by_name = {s["image"]: s for s in written}
    assert by_name["wide"]["converted_from"] == [12, 20, 3] and by_name["fits"]["converted_from"] is None
    assert by_name["s2"]["converted_from"] == [16, 16, 3]
    assert json.loads((out / "wide_gradient.json").read_text())["converted_from"] == [12, 20, 3]
    from tfinterp.models import load_model
    from tfinterp.runs.explain import load_inputs

    names, x, originals = load_inputs([str(tmp_path / "wide.png")], load_model(str(path)))
    luma = (200 * 299 + 100 * 587 + 50 * 114) / 1000
    np.testing.assert_allclose(x, round(luma) / 255.0, atol=1e-6)
    assert originals == [("wide.png", (12, 20, 3))]


def test_read_image_returns_the_files_own_shape(tmp_path):
    from PIL import Image

    from tfinterp.data.imageio import describe_conversion, read_image

    Image.fromarray(np.zeros((5, 7, 4), np.uint8)).save(tmp_path / "rgba.png")
    Image.fromarray(np.zeros((5, 7, 2), np.uint8), mode="LA").save(tmp_path / "la.png")
    Image.fromarray(np.zeros((6, 3), np.uint16) + 300).save(tmp_path / "deep.png")
    pal = Image.fromarray(np.zeros((4, 4, 3), np.uint8)).convert("P")
    pal.save(tmp_path / "pal.png")
    pal.save(tmp_path / "pal_t.png", transparency=0)
    img, shape = read_image(tmp_path / "rgba.png", size=(8, 8), channels=1, return_shape=True)
    assert img.shape == (8, 8, 1) and shape == (5, 7, 4)
    assert read_image(tmp_path / "la.png", channels=3, return_shape=True)[1] == (5, 7, 2)
    assert read_image(tmp_path / "deep.png", channels=1, return_shape=True)[1] == (6, 3, 1)
    assert read_image(tmp_path / "pal.png", channels=1, return_shape=True)[1] == (4, 4, 3)
    assert read_image(tmp_path / "pal_t.png", channels=1, return_shape=True)[1] == (4, 4, 4)
    assert describe_conversion((8, 8, 1), (8, 8, 1)) is None
    assert describe_conversion((8, 8, 4), (8, 8, 3)) == "8x8 RGBA -> 8x8 RGB, alpha dropped"
    assert describe_conversion((8, 8, 1), (16, 16, 3)) == "8x8 grey -> 16x16 RGB, resized, grey to RGB"


def test_unknown_method_lists_every_method_prototypes_and_all(linear, tmp_path):
    from tfinterp.explain import list_methods
    from tfinterp.runs.explain import explain_files

    path, _ = linear
    with pytest.raises(UserError) as e:
        explain_files([str(tmp_path / "x.png")], "astrology", str(path), out=tmp_path)
    msg = str(e.value)
    assert msg.startswith("unknown explanation method 'astrology'; available: ")
    assert all(m in msg for m in list_methods()) and msg.endswith(", prototypes (ProtoNet models) or all")


def test_untrained_zoo_model_recorded(tmp_path, capsys):
    from tfinterp.runs.explain import explain_files

    np.save(tmp_path / "z.npy", np.zeros((28, 28, 1), np.float32))
    s = explain_files([str(tmp_path / "z.npy")], "gradient", "cnn2", out=tmp_path)[0]
    assert s["untrained"] is True and s["preset"] == "none"
    assert "random weights" in capsys.readouterr().err


def test_conversion_lines_aggregate_a_folder_of_many_sizes():
    from tfinterp.runs.explain import conversion_lines

    photos = [(f"p{i}.jpg", (300 + i, 400, 3)) for i in range(300)]
    lines = conversion_lines(photos + [None, ("a.png", (64, 64, 4)), ("b.png", (64, 64, 4))], (64, 64, 1))
    assert lines == ["300 images converted: 300 sizes from 300x400 to 599x400 RGB -> 64x64 grey, resized (aspect "
                     "ratio not kept), colour to grey (the model takes 64x64x1)",
                     "2 images converted: 64x64 RGBA -> 64x64 grey, colour to grey, alpha dropped "
                     "(the model takes 64x64x1)"]
    assert conversion_lines([None, None], (8, 8, 1)) == []


def test_setting_line_for_several_methods_names_those_the_setting_changes():
    from tfinterp.runs.explain import explanation_setting, setting_line, tuned_settings

    shipped = tuned_settings("vggsmall_clutter64")
    chosen = {m: explanation_setting(m, shipped) for m in ("guided-inversion", "gradient", "occlusion")}
    assert setting_line(shipped, chosen) == (
        "using the setting tuned for vggsmall_clutter64 on clutter64/tune for gradient, guided-inversion (each its "
        "own alpha, the other methods their defaults; --param preset=paper for the paper's defaults)")
    chosen = {m: explanation_setting(m, shipped, alpha=2.0) for m in ("guided-inversion", "gradient", "occlusion")}
    assert chosen["gradient"]["alpha"] == 2.0 and chosen["occlusion"]["preset"] == "none"
    assert setting_line(shipped, chosen).startswith(
        "using the setting tuned for vggsmall_clutter64 on clutter64/tune for guided-inversion (your --alpha kept")
    chosen = {m: explanation_setting(m, shipped, {"preset": "paper"}) for m in ("guided-inversion", "gradient")}
    assert setting_line(shipped, chosen) is None


def test_figures_option_limits_the_overlays_not_the_maps(linear, tmp_path):
    """--figures none / first:N / all: every image gets its map and JSON; only N get a PNG, and the
    PNG is the fast overlay (its size is the renderer's, known from render_overlay)."""
    from PIL import Image

    from tfinterp.runs.explain import explain_files, parse_figures
    from tfinterp.viz import render_overlay

    path, _ = linear
    x = np.random.default_rng(3).random((3, 8, 8, 1)).astype(np.float32)
    np.save(tmp_path / "three.npy", x)
    for spec, drawn in (("none", 0), ("first:2", 2), ("all", 3)):
        out = tmp_path / spec.replace(":", "_")
        out.mkdir()
        written = explain_files([str(tmp_path / "three.npy")], "gradient", str(path), out=out, figures=spec)
        assert len(written) == 3 and all((out / f"three_{i}_gradient.npy").exists() for i in range(3))
        pngs = sorted(out.glob("*.png"))
        assert [p.name for p in pngs] == [f"three_{i}_gradient.png" for i in range(drawn)]
        assert [s["overlay"] is not None for s in written] == [i < drawn for i in range(3)]
    s = written[0]
    expected = render_overlay(x[0], np.load(tmp_path / "all" / "three_0_gradient.npy"), title="line 1\nline 2",
                              box=(s["box"]["ymin"], s["box"]["xmin"], s["box"]["ymax"], s["box"]["xmax"]))
    assert Image.open(pngs[0]).size[1] == expected.shape[0]  # two title lines, as the written one
    assert parse_figures("first:0") == 0 and parse_figures("ALL") is None
    for bad in ("first", "first:x", "some", "first:-1"):
        with pytest.raises(UserError, match="--figures takes all, none or first:N"):
            parse_figures(bad)
