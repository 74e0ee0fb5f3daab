import keras
import tensorflow as tf
import numpy as np
import pytest

from tfinterp.errors import UserError
from tfinterp.explain import get_explainer, list_methods


def _linear_model(w):
    inp = keras.Input((4, 4, 1))
    x = keras.layers.Flatten()(inp)
    dense = keras.layers.Dense(2, use_bias=False, name="logits")
    out = dense(x)
    dense.set_weights([w])
    return keras.Model(inp, out)


def test_methods_registered():
    assert {"gradient", "gradcam"} <= set(list_methods())
    with pytest.raises(UserError, match="unknown explanation method"):
        get_explainer("astrology", _linear_model(np.zeros((16, 2), "float32")))


def test_gradient_of_linear_model_is_its_weights():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(16, 2)).astype("float32")
    m = _linear_model(w)
    x = rng.random((3, 4, 4, 1)).astype("float32")
    maps = get_explainer("gradient", m).explain(x, targets=[1, 1, 0])
    for k, t in enumerate([1, 1, 0]):
        expect = np.abs(w[:, t]).reshape(4, 4)
        expect = (expect - expect.min()) / (expect.max() - expect.min())
        np.testing.assert_allclose(maps[k], expect, atol=1e-5)
    assert maps.dtype == np.float32 and maps.shape == (3, 4, 4)


def test_default_target_is_prediction():
    w = np.zeros((16, 2), "float32")
    w[0, 0], w[5, 1] = 1.0, 10.0  # class 1 wins for positive inputs
    m = _linear_model(w)
    maps = get_explainer("gradient", m).explain(np.ones((1, 4, 4, 1), "float32"))
    assert maps[0].reshape(-1).argmax() == 5


def _quadrant_model():
    """A conv net that only sees the top-left quadrant of a 16x16 image."""
    inp = keras.Input((16, 16, 1))
    a = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inp)
    mask = np.zeros((1, 16, 16, 1), "float32")
    mask[:, :8, :8] = 1
    a = keras.layers.Lambda(lambda t: t * mask, name="only_tl")(a)
    a = keras.layers.GlobalAveragePooling2D()(a)
    dense = keras.layers.Dense(3, name="logits")
    model = keras.Model(inp, dense(a))
    k, b = dense.get_weights()
    dense.set_weights([np.abs(k) + 0.1, b])  # every class votes positively: Grad-CAM is not all ReLU'd away
    return model


def test_gradcam_and_gradient_look_only_where_the_model_looks():
    keras.utils.set_random_seed(0)
    m = _quadrant_model()
    x = np.random.default_rng(1).random((4, 16, 16, 1)).astype("float32")
    # Grad-CAM at the masked 16x16 layer is zero outside the quadrant; the input gradient
    # reaches exactly one pixel further (the 3x3 'same' conv's receptive field).
    for method, kw, reach in (("gradient", {}, 9), ("gradcam", {"layer": "only_tl"}, 8)):
        maps = get_explainer(method, m, **kw).explain(x, targets=[0, 1, 2, 0])
        outside = maps.copy()
        outside[:, :reach, :reach] = 0
        assert outside.max() == 0.0, method
        assert maps[:, :reach, :reach].max(axis=(1, 2)).min() == pytest.approx(1.0), method


def test_input_validation():
    m = _linear_model(np.ones((16, 2), "float32"))
    e = get_explainer("gradient", m)
    with pytest.raises(UserError, match="NaN"):
        e.explain(np.full((1, 4, 4, 1), np.nan, "float32"))
    with pytest.raises(UserError, match="shape"):
        e.explain(np.zeros((1, 5, 4, 1), "float32"))
    with pytest.raises(UserError, match="out of range"):
        e.explain(np.zeros((1, 4, 4, 1), "float32"), targets=[2])


def test_batching_does_not_change_results():
    rng = np.random.default_rng(2)
    m = _linear_model(rng.normal(size=(16, 2)).astype("float32"))
    x = rng.random((7, 4, 4, 1)).astype("float32")
    e = get_explainer("gradient", m)
    np.testing.assert_allclose(e.explain(x, batch_size=2), e.explain(x, batch_size=7), atol=1e-6)


def _norm(a):
    return (a - a.min()) / (a.max() - a.min())


def test_integrated_gradients_and_gradient_x_input_exact_on_linear_model():
    rng = np.random.default_rng(3)
    w = rng.normal(size=(16, 2)).astype("float32")
    m = _linear_model(w)
    x = rng.random((2, 4, 4, 1)).astype("float32")
    expect = np.stack([_norm(np.abs(x[k, ..., 0] * w[:, 1].reshape(4, 4))) for k in range(2)])
    for method in ("integrated-gradients", "gradient-x-input"):
        got = get_explainer(method, m).explain(x, targets=[1, 1])
        np.testing.assert_allclose(got, expect, atol=1e-5, err_msg=method)


def test_integrated_gradients_completeness_on_relu_net():
    """Sum of IG attributions = f(x) - f(baseline) (Sundararajan et al.), up to the quadrature error."""
    from tfinterp.explain.methods import IntegratedGradients

    keras.utils.set_random_seed(1)
    inp = keras.Input((4, 4, 1))
    h = keras.layers.Dense(8, activation="relu")(keras.layers.Flatten()(inp))
    m = keras.Model(inp, keras.layers.Dense(3)(h))
    x = np.random.default_rng(4).random((3, 4, 4, 1)).astype("float32")
    ig = IntegratedGradients(m, steps=400)
    attr = ig.raw(tf.constant(x), tf.constant([0, 1, 2], tf.int32)).numpy().sum(axis=(1, 2, 3))
    fx = m(x).numpy()[np.arange(3), [0, 1, 2]]
    f0 = m(np.zeros_like(x)).numpy()[np.arange(3), [0, 1, 2]]
    np.testing.assert_allclose(attr, fx - f0, atol=2e-3)


def test_smoothgrad_of_linear_model_is_the_gradient():
    rng = np.random.default_rng(5)
    w = rng.normal(size=(16, 2)).astype("float32")
    got = get_explainer("smoothgrad", _linear_model(w), samples=8).explain(rng.random((2, 4, 4, 1)), targets=[0, 0])
    np.testing.assert_allclose(got[0], _norm(np.abs(w[:, 0]).reshape(4, 4)), atol=1e-5)
    with pytest.raises(UserError):
        get_explainer("smoothgrad", _linear_model(w), base="smoothgrad")


def test_occlusion_matches_brute_force_on_one_pixel_model():
    w = np.zeros((16, 2), "float32")
    w[5, 0] = 1.0  # class 0 looks only at pixel (1, 1)
    m = _linear_model(w)
    x = np.full((1, 4, 4, 1), 0.5, "float32")
    got = get_explainer("occlusion", m, patch=2, stride=1, probability=False).explain(x, targets=[0])[0]
    expect = np.zeros((4, 4))
    for qy in range(4):
        for qx in range(4):
            cover = [(y, x0) for y in range(3) for x0 in range(3) if y <= qy < y + 2 and x0 <= qx < x0 + 2]
            expect[qy, qx] = np.mean([0.5 if (y <= 1 < y + 2 and x0 <= 1 < x0 + 2) else 0.0 for y, x0 in cover])
    np.testing.assert_allclose(got, _norm(expect), atol=1e-5)


def test_perturbation_methods_find_the_quadrant():
    """Deleting or occluding pixels the model cannot see changes nothing: exactly zero there."""
    keras.utils.set_random_seed(0)
    m = _quadrant_model()
    x = np.random.default_rng(6).random((2, 16, 16, 1)).astype("float32")
    for method, kw in (("meaningful-perturbation", {"steps": 60, "mask_size": 8}),
                       ("meaningful-perturbation", {"steps": 60, "mask_size": 8, "score": "margin", "l1": 0.01}),
                       ("occlusion", {"patch": 4, "stride": 2})):
        maps = get_explainer(method, m, **kw).explain(x, targets=[0, 1])
        # far from the quadrant: nothing, up to float rounding (occluded and clean scores come from
        # batches of different sizes, which oneDNN may sum in a different order: 6e-5 seen on one CPU)
        assert maps[:, 12:, 12:].max() < 1e-4, method
        peak = maps.reshape(2, -1).argmax(axis=1)
        assert np.all(peak // 16 < 10) and np.all(peak % 16 < 10), method  # the peak is at the quadrant


def test_margin_score_by_hand_and_its_floor():
    """z_c minus the best other logit, floored at -kappa."""
    from tfinterp.explain.perturbation import margin_scores

    z = np.array([[3.0, 1.0, 2.0], [0.0, 5.0, -1.0]], "float32")
    got = margin_scores(z, np.array([0, 0]), kappa=10.0).numpy()
    np.testing.assert_allclose(got, [1.0, -5.0])
    got = margin_scores(z, np.array([1, 2]), kappa=1.5).numpy()
    np.testing.assert_allclose(got, [-1.5, -1.5])  # -2 and -6, both floored


def test_meaningful_perturbation_margin_stops_once_the_decision_flips():
    """Class 0's logit is 10 x the brightest pixel, class 1's a constant 5, and kappa = 1: the
    decision has flipped by kappa once the bright spot is dimmed to 0.4. With the margin the
    deletion stops there (the L1 term keeps the rest of the spot); with the logit, deleting
    the spot entirely always pays. Elsewhere the image is black, so nothing else is deleted."""
    inp = keras.Input((16, 16, 1))
    peak = keras.layers.GlobalMaxPooling2D()(inp)
    dense = keras.layers.Dense(2)
    model = keras.Model(inp, dense(peak))
    dense.set_weights([np.array([[10.0, 0.0]], "float32"), np.array([0.0, 5.0], "float32")])
    x = np.zeros((1, 16, 16, 1), "float32")
    x[0, 4:6, 4:6] = 1.0
    kw = dict(steps=200, lr=0.02, mask_size=16, blur_sigma=2.0, l1=0.05, tv=0.0)
    kept = {}
    for score in ("margin", "logit"):
        e = get_explainer("meaningful-perturbation", model, score=score, kappa=1.0, **kw)
        kept[score] = 1.0 - e.attribute(x, np.array([0])).numpy()[0]   # the mask m itself
    from tfinterp.ops.image import gaussian_blur

    blurred = gaussian_blur(x, 2.0).numpy()[0, ..., 0]
    shown = kept["margin"] * x[0, ..., 0] + (1 - kept["margin"]) * blurred
    assert 0.3 < shown.max() < 0.5                       # dimmed to about 0.4, not further
    assert kept["margin"][4:6, 4:6].min() > 0.1          # so the spot is only partly deleted
    assert kept["logit"][4:6, 4:6].max() < 0.05          # the logit deletes all of it
    assert kept["margin"][8:, 8:].min() > 0.99            # nothing else is touched


def test_gridcam_peaks_on_the_bright_square_for_a_brightness_model():
    """Class 0's logit is 10 x mean brightness: crops holding more of the square score higher."""
    inp = keras.Input((32, 32, 1))
    g = keras.layers.GlobalAveragePooling2D()(inp)
    dense = keras.layers.Dense(2, use_bias=False)
    model = keras.Model(inp, dense(g))
    dense.set_weights([np.array([[10.0, 0.0]], "float32")])
    x = np.zeros((1, 32, 32, 1), "float32")
    x[0, 20:28, 4:12] = 1.0  # bright square at rows 20-27, cols 4-11
    maps = get_explainer("gridcam", model, grid=8).explain(x, targets=[0])
    y, xx = np.unravel_index(maps[0].argmax(), maps[0].shape)
    assert 20 <= y < 28 and 4 <= xx < 12
    assert maps[0, 20:28, 4:12].mean() > 2 * maps[0, :8, 20:].mean()
    for level in (1, 4):
        single = get_explainer("gridcam", model, grid=8, level=level).explain(x, targets=[0])
        assert single[0, 20:28, 4:12].mean() > single[0, :8, 20:].mean()


def test_guided_inversion_start_point_and_focus():
    """With no optimisation steps the map is minmax(upsample(0.1 * sum of l1 channels)), by the paper's
    initialisation; with steps, stage 2 keeps the mass where the model looks."""
    from tfinterp.explain.guided_inversion import GuidedInversion

    keras.utils.set_random_seed(0)
    inp = keras.Input((16, 16, 1))
    a = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inp)
    p = keras.layers.MaxPooling2D(2, name="pool")(a)
    mask = np.zeros((1, 8, 8, 1), "float32")
    mask[:, :4, :4] = 1
    q = keras.layers.Lambda(lambda t: t * mask, name="tl")(p)
    out = keras.layers.Dense(3, name="logits")(keras.layers.GlobalAveragePooling2D()(q))
    model = keras.Model(inp, out)
    x = np.random.default_rng(7).random((2, 16, 16, 1)).astype("float32")
    gi0 = GuidedInversion(model, l0="tl", l1="pool", steps1=0, steps2=0)
    got = gi0.explain(x, targets=[0, 0])
    acts = keras.Model(inp, p)(x).numpy().sum(-1, keepdims=True)
    expect = tf.image.resize(_norm_batch(acts), (16, 16), method="bilinear").numpy()[..., 0]
    np.testing.assert_allclose(got, np.stack([_norm(e) for e in expect]), atol=1e-5)
    full, stage1 = GuidedInversion(model, l0="tl", l1="pool").explain_both(x, targets=[0, 0])
    assert full.shape == stage1.shape == (2, 16, 16)
    assert np.all(stage1[:, :8, :8].mean(axis=(1, 2)) >= stage1[:, 8:, 8:].mean(axis=(1, 2)))


def _norm_batch(a):
    lo = a.min(axis=(1, 2, 3), keepdims=True)
    hi = a.max(axis=(1, 2, 3), keepdims=True)
    return (a - lo) / (hi - lo)


def _topleft_model(scale=1.0):
    keras.utils.set_random_seed(0)
    inp = keras.Input((16, 16, 1))
    a = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inp)
    p = keras.layers.MaxPooling2D(2, name="pool")(a)
    mask = np.zeros((1, 8, 8, 1), "float32")
    mask[:, :4, :4] = scale
    q = keras.layers.Lambda(lambda t: t * mask, name="tl")(p)
    out = keras.layers.Dense(3, name="logits")(keras.layers.GlobalAveragePooling2D()(q))
    return keras.Model(inp, out)


def test_guided_inversion_bfloat16_copy_close_to_float32_and_model_untouched():
    from tfinterp.explain.guided_inversion import GuidedInversion

    model = _topleft_model()
    x = np.random.default_rng(7).random((2, 16, 16, 1)).astype("float32")
    f32 = GuidedInversion(model, l0="tl", l1="pool", steps1=0, steps2=0).explain(x, targets=[0, 0])
    bf16 = GuidedInversion(model, l0="tl", l1="pool", steps1=0, steps2=0, precision="bfloat16")
    # bfloat16 keeps 8 significant bits: the start map agrees to about 1 %
    np.testing.assert_allclose(bf16.explain(x, targets=[0, 0]), f32, atol=0.03)
    assert bf16.params["precision"] == "bfloat16"
    assert all(layer.dtype_policy.name == "float32" for layer in model.layers)  # the user's model is not changed
    full, stage1 = GuidedInversion(model, l0="tl", l1="pool", precision="bfloat16").explain_both(x, targets=[0, 0])
    assert np.all(stage1[:, :8, :8].mean(axis=(1, 2)) >= stage1[:, 8:, 8:].mean(axis=(1, 2)))
    with pytest.raises(UserError, match="precision"):
        GuidedInversion(model, l0="tl", l1="pool", precision="int3")


def test_guided_inversion_relative_error_is_scale_free():
    """The authors' code divides the inversion error by ||f(x)||^2: multiplying the l0 features by
    1000 then leaves the stage-1 map unchanged, while the paper's plain squared error (against the
    same gamma) changes it."""
    from tfinterp.explain.guided_inversion import GuidedInversion

    x = np.random.default_rng(3).random((2, 16, 16, 1)).astype("float32")
    maps = {}
    for scale in (1.0, 1000.0):
        model = _topleft_model(scale)
        for inv in ("relative", "squared"):
            gi = GuidedInversion(model, l0="tl", l1="pool", steps2=0, stage="inversion", inversion=inv,
                                 penalty="l2", gamma=0.5, steps1=20, lr=0.05)
            maps[inv, scale] = gi.explain(x, targets=[0, 0])
    np.testing.assert_allclose(maps["relative", 1.0], maps["relative", 1000.0], atol=2e-3)
    assert np.abs(maps["squared", 1.0] - maps["squared", 1000.0]).max() > 0.05


def test_guided_inversion_constant_background_and_bad_options():
    from tfinterp.explain.guided_inversion import GuidedInversion

    model = _topleft_model()
    x = np.random.default_rng(5).random((2, 16, 16, 1)).astype("float32")
    gi = GuidedInversion(model, l0="tl", l1="pool", background="0")
    assert gi.params["background"] == 0.0
    full, stage1 = gi.explain_both(x, targets=[0, 0])
    assert np.all(stage1[:, :8, :8].mean(axis=(1, 2)) >= stage1[:, 8:, 8:].mean(axis=(1, 2)))
    blur = GuidedInversion(model, l0="tl", l1="pool").explain(x, targets=[0, 0])
    assert np.abs(blur - full).max() > 1e-3  # the background enters the optimisation
    for bad in ({"background": "plaid"}, {"inversion": "cubic"}, {"penalty": "l7"}):
        with pytest.raises(UserError):
            GuidedInversion(model, l0="tl", l1="pool", **bad)


def test_guided_inversion_temperature_softens_the_score():
    """f_c = softmax(z / T)_c: computed by hand from the logits."""
    from tfinterp.explain.guided_inversion import GuidedInversion

    model = _topleft_model()
    x = np.random.default_rng(9).random((3, 16, 16, 1)).astype("float32")
    z = model(x).numpy()
    for t in (1.0, 4.0):
        gi = GuidedInversion(model, l0="tl", l1="pool", temperature=t)
        e = np.exp(z / t - (z / t).max(-1, keepdims=True))
        expect = (e / e.sum(-1, keepdims=True))[np.arange(3), [0, 1, 2]]
        np.testing.assert_allclose(gi._score(tf.constant(x), tf.constant([0, 1, 2])).numpy(), expect, rtol=1e-5)
    with pytest.raises(UserError, match="temperature"):
        GuidedInversion(model, l0="tl", l1="pool", temperature=0)


def test_guided_inversion_target_terms_are_the_blends_scores():
    """f_c(Phi) and f_c(Phi_bg) for given masks: Phi = p + (x - p) m, Phi_bg = x - (x - p) m,
    here with a black background p = 0 and the logit score, checked against the model itself."""
    from tfinterp.explain.guided_inversion import GuidedInversion

    model = _topleft_model()
    rng = np.random.default_rng(3)
    x = rng.random((3, 16, 16, 1)).astype("float32")
    m = rng.random((3, 16, 16)).astype("float32")
    t = np.array([0, 1, 2])
    gi = GuidedInversion(model, l0="tl", l1="pool", score="logit", background=0.0)
    fg, bg = gi.target_terms(x, t, m, batch_size=2)
    z_fg = model(x * m[..., None]).numpy()[np.arange(3), t]
    z_bg = model(x * (1 - m[..., None])).numpy()[np.arange(3), t]
    np.testing.assert_allclose(fg, z_fg, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bg, z_bg, rtol=1e-5, atol=1e-5)
    fg1, bg1 = gi.target_terms(x, t, np.ones_like(m))  # keep everything: Phi = x, Phi_bg = black
    np.testing.assert_allclose(fg1, model(x).numpy()[np.arange(3), t], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bg1, model(np.zeros_like(x)).numpy()[np.arange(3), t], rtol=1e-5, atol=1e-5)
    with pytest.raises(UserError, match="masks must have shape"):
        gi.target_terms(x, t, m[:, :8])


def test_guided_inversion_hypercolumn_filter_layers():
    """l1="conv+tl": both layers' channels on the finer (16 x 16) grid, each scaled so that its channel
    sum has unit spatial mean. With no steps the map is minmax(0.1 * (S_conv / mean S_conv + S_tl /
    mean S_tl)), S the channel sums (tl bilinearly resized); a layer 1000x larger gets the same share."""
    from tfinterp.explain.guided_inversion import GuidedInversion

    x = np.random.default_rng(11).random((2, 16, 16, 1)).astype("float32")
    maps = {}
    for scale in (1.0, 1000.0):
        model = _topleft_model(scale)
        gi = GuidedInversion(model, l0="tl", l1="conv+tl", steps1=0, steps2=0)
        assert gi.params["l1"] == "conv+tl"
        maps[scale] = gi.explain(x, targets=[0, 0])
        feats = keras.Model(model.input, [model.get_layer("conv").output, model.get_layer("tl").output])(x)
        s_conv = feats[0].numpy().sum(-1, keepdims=True)
        s_tl = tf.image.resize(feats[1], (16, 16), method="bilinear").numpy().sum(-1, keepdims=True)
        mix = s_conv / s_conv.mean(axis=(1, 2, 3), keepdims=True) + s_tl / s_tl.mean(axis=(1, 2, 3), keepdims=True)
        np.testing.assert_allclose(maps[scale], _norm_batch(0.1 * mix)[..., 0], atol=1e-4)
        acts = gi.filter_activations(x)
        assert acts.shape == (2, 16, 16, 8)
        np.testing.assert_allclose(acts[..., :4].sum(-1).mean(axis=(1, 2)), [1.0, 1.0], rtol=1e-5)
        np.testing.assert_allclose(acts[..., 4:].sum(-1).mean(axis=(1, 2)), [1.0, 1.0], rtol=1e-5)
    np.testing.assert_allclose(maps[1.0], maps[1000.0], atol=1e-4)
    # a list names the same layers. tl's channels are zero outside the top-left quarter, the only place
    # the inversion layer (tl itself) sees: with them, the stage-1 map separates that quarter far better
    # than with conv's channels alone
    def contrast(a):
        return a[:, :8, :8].mean(axis=(1, 2)) - a[:, 8:, 8:].mean(axis=(1, 2))

    model = _topleft_model()
    _, both = GuidedInversion(model, l0="tl", l1=["conv", "tl"]).explain_both(x, targets=[0, 0])
    _, conv_only = GuidedInversion(model, l0="tl", l1="conv").explain_both(x, targets=[0, 0])
    assert np.all(contrast(both) > contrast(conv_only) + 0.3)
    for bad in ("conv+", "tl+tl", "conv+nope"):
        with pytest.raises(UserError):
            GuidedInversion(_topleft_model(), l0="tl", l1=bad)


def test_guided_inversion_power_sharpens_the_stage2_mask():
    """power=k: stage 2 blends with m**k and returns it. With no steps the map is the initial mask to
    the k-th power; after one Adam step (which moves each weight by lr against the sign of its
    gradient) it is the powered mask of those weights, the gradient taken through m**k by hand."""
    from tfinterp.explain.guided_inversion import GuidedInversion

    model = _topleft_model()
    x = np.random.default_rng(2).random((2, 16, 16, 1)).astype("float32")
    t = np.array([0, 1])
    kw = dict(l0="tl", l1="pool", score="logit", background=0.0, lam=1.0, delta=0.0)
    gi = GuidedInversion(model, steps1=0, steps2=1, **kw, power=3.0)
    assert gi.params["power"] == 3.0
    acts = tf.constant(gi.filter_activations(x))

    def mask(w, k):
        m = tf.einsum("bhwk,bk->bhw", acts, w)[..., None]
        lo = tf.reduce_min(m, axis=[1, 2, 3], keepdims=True)
        hi = tf.reduce_max(m, axis=[1, 2, 3], keepdims=True)
        return tf.image.resize((m - lo) / (hi - lo), (16, 16), method="bilinear") ** k

    def one_step(k):
        w = tf.fill([2, 4], 0.1)
        with tf.GradientTape() as tape:
            tape.watch(w)
            m = mask(w, k)
            z_fg = tf.gather(model(x * m), t, batch_dims=1)
            z_bg = tf.gather(model(x * (1 - m)), t, batch_dims=1)
            loss = tf.reduce_sum(-z_fg + z_bg)  # delta = 0: the sign comes from the blends alone
        g = tape.gradient(loss, w).numpy()
        return np.maximum(0.1 - 0.01 * np.sign(g), 0.0).astype("float32"), np.sign(g)

    start = GuidedInversion(model, steps1=0, steps2=0, power=2.0, **kw).explain(x, targets=t)
    np.testing.assert_allclose(start, _norm_batch(mask(tf.fill([2, 4], 0.1), 2.0).numpy())[..., 0], atol=1e-5)
    w3, s3 = one_step(3.0)
    _, s1 = one_step(1.0)
    assert (s3 != s1).any()  # the power changes which way some weights move: the check can tell
    expect = _norm_batch(mask(tf.constant(w3), 3.0).numpy())[..., 0]
    np.testing.assert_allclose(gi.explain(x, targets=t), expect, atol=2e-4)
    for bad in (0.5, float("inf"), float("nan"), "abc"):
        with pytest.raises(UserError, match="power"):
            GuidedInversion(model, l0="tl", l1="pool", power=bad)
