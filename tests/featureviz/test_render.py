"""The batched render: the toy-filter recovery, thresholds, per-image objectives, chunking,
starting from an image, regularizers."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfinterp.errors import UserError
from tfinterp.featureviz import channel, neuron, objectives_for_channels, render
from tfinterp.featureviz.regularizers import L1, L2, Blur, TotalVariation, parse_regularizer


def gabor(theta, size=5, period=4.0):
    r = (size - 1) / 2
    y, x = np.mgrid[-r:r + 1, -r:r + 1]
    f = np.cos(2 * np.pi * (x * np.cos(theta) + y * np.sin(theta)) / period) * np.exp(-(x ** 2 + y ** 2) / 8.0)
    f = f - f.mean()
    return (f / np.abs(f).max()).astype(np.float32)


FILTERS = [gabor(t) for t in (np.pi / 4, 3 * np.pi / 4, 0.0, np.pi / 2)]


@pytest.fixture(scope="module")
def toy():
    """A conv layer whose 4 channels are known 5x5 oriented gratings ('toy', linear), its ReLU, a mean."""
    inp = keras.Input((21, 21, 1), name="images")
    conv = keras.layers.Conv2D(4, 5, name="toy")
    x = keras.layers.ReLU(name="toy_relu")(conv(inp))
    model = keras.Model(inp, keras.layers.GlobalAveragePooling2D(name="gap")(x))
    conv.set_weights([np.stack(FILTERS, -1)[:, :, None, :], np.zeros(4, np.float32)])
    return model


def patch_corr(img, f):
    """Best Pearson correlation of any 5x5 patch of `img` with `f`."""
    k = f.shape[0]
    ff = (f - f.mean()).ravel()
    ff = ff / np.linalg.norm(ff)
    best = -1.0
    for i in range(img.shape[0] - k + 1):
        for j in range(img.shape[1] - k + 1):
            p = img[i:i + k, j:j + k].ravel()
            p = p - p.mean()
            n = np.linalg.norm(p)
            if n > 1e-8:
                best = max(best, float(p @ ff / n))
    return best


def test_toy_filter_recovery_channel(toy):
    r = render(toy, channel("toy_relu", 0), steps=128, progress=False)  # default: Fourier + lucid transforms
    img = r.images[0, ..., 0]
    own = patch_corr(img, FILTERS[0])
    shuffled = np.mean([patch_corr(img, np.random.default_rng(s).permutation(FILTERS[0].ravel()).reshape(5, 5))
                        for s in range(3)])
    assert own > 0.7, own
    assert own > shuffled + 0.2, (own, shuffled)


def test_toy_filter_recovery_neuron_centre(toy):
    r = render(toy, neuron("toy", 0), steps=128, transforms="none", progress=False)
    centre = r.images[0, 8:13, 8:13, 0]   # the receptive field of the centre neuron (8, 8) of the 17x17 map
    corr = np.corrcoef(centre.ravel(), FILTERS[0].ravel())[0, 1]
    shuffled = np.corrcoef(centre.ravel(), np.random.default_rng(0).permutation(FILTERS[0].ravel()))[0, 1]
    assert corr > 0.8 and corr > shuffled + 0.5, (corr, shuffled)


def test_batched_each_image_maximizes_its_own_channel(toy):
    r = render(toy, objectives_for_channels("toy_relu", [0, 1, 2, 3]), steps=96, progress=False)
    acts = toy(r.images).numpy()           # [4 images, 4 channels]
    assert list(np.argmax(acts, axis=1)) == [0, 1, 2, 3], acts
    np.testing.assert_allclose(r.values, np.diag(acts), rtol=1e-4, atol=1e-5)


def test_snapshots_at_thresholds_and_progress(toy):
    r = render(toy, objectives_for_channels("toy_relu", [0, 2]), steps=60, thresholds=[60, 10, 30],
               transforms="none", progress=False)
    assert sorted(r.snapshots) == [10, 30, 60] and r.snapshots[10].shape == (2, 21, 21, 1)
    np.testing.assert_allclose(r.snapshots[60], r.images, atol=1e-6)
    assert np.all(r.history[60] > r.history[10])            # the objective rose between thresholds
    assert np.abs(r.snapshots[30] - r.snapshots[10]).max() > 1e-3
    assert r.images.min() >= 0 and r.images.max() <= 1


def test_chunks_give_the_same_images(toy):
    obj = objectives_for_channels("toy_relu", [0, 1, 2])
    whole = render(toy, obj, steps=20, batch_size=3, progress=False)
    chunks = render(toy, obj, steps=20, batch_size=2, progress=False)
    np.testing.assert_allclose(chunks.images, whole.images, atol=1e-4)
    from tfinterp.featureviz import interpolate  # t_i = i / (n - 1) over the whole render, not the chunk

    obj = interpolate(channel("toy_relu", 0), channel("toy_relu", 2))
    whole = render(toy, obj, n=3, steps=10, batch_size=3, progress=False)
    chunks = render(toy, obj, n=3, steps=10, batch_size=2, progress=False)
    np.testing.assert_allclose(chunks.images, whole.images, atol=1e-4)


def test_start_from_an_image(toy):
    img = np.random.default_rng(0).uniform(0.1, 0.9, (21, 21, 1)).astype(np.float32)
    for param in ("fourier", "pixel"):
        r = render(toy, channel("toy_relu", 0), n=2, steps=1, lr=1e-7, init=img, param=param, transforms="none",
                   progress=False)
        np.testing.assert_allclose(r.images, np.stack([img, img]), atol=1e-4)


def test_model_weights_untouched(toy):
    before = [w.copy() for w in toy.get_weights()]
    render(toy, channel("toy_relu", 1), steps=5, progress=False)
    for a, b in zip(before, toy.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_penalties_by_hand_and_their_effect(toy):
    img = np.zeros((1, 2, 3, 1), np.float32)
    img[0, :, 1] = 1.0  # a bright middle column: |dx| = 1 at all 4 horizontal pairs, dy = 0 at all 3 vertical
    assert float(TotalVariation(1.0).penalty(tf.constant(img))[0]) == pytest.approx(1.0)
    assert float(L1(1.0).penalty(tf.constant(img))[0]) == pytest.approx(0.5)
    assert float(L2(1.0).penalty(tf.constant(img))[0]) == pytest.approx(0.25)
    plain = render(toy, channel("toy_relu", 0), steps=64, transforms="none", param="pixel", progress=False)
    smooth = render(toy, channel("toy_relu", 0), steps=64, transforms="none", param="pixel",
                    regularizers=["tv=2.0", Blur(every=4, sigma=0.7)], progress=False)
    tv = lambda r: float(TotalVariation(1.0).penalty(tf.constant(r.images))[0])  # noqa: E731
    assert tv(smooth) < 0.7 * tv(plain)


def test_bad_input(toy):
    with pytest.raises(UserError, match="steps"):
        render(toy, channel("toy_relu", 0), steps=0, progress=False)
    with pytest.raises(UserError, match="thresholds"):
        render(toy, channel("toy_relu", 0), steps=10, thresholds=[20], progress=False)
    with pytest.raises(UserError, match="unknown layer"):
        render(toy, channel("nope", 0), steps=2, progress=False)
    with pytest.raises(UserError, match="out of range"):
        render(toy, channel("toy_relu", 9), steps=2, progress=False)
    with pytest.raises(UserError, match="regularizer"):
        parse_regularizer("sharpen=3")
    with pytest.raises(UserError, match="n=3"):
        render(toy, objectives_for_channels("toy_relu", [0, 1]), n=3, steps=2, progress=False)


def test_pre_activation_tap_value_gradient_and_dead_relu():
    """'conv:pre' is the conv + bias before the fused ReLU: its value and gradient by hand, and a
    channel whose ReLU is 0 on the start (no gradient) rises only through its pre-activation."""
    from tfinterp.featureviz.render import activation_fn

    inp = keras.Input((5, 5, 1), name="images")
    conv = keras.layers.Conv2D(1, 1, activation="relu", name="conv")
    model = keras.Model(inp, keras.layers.GlobalAveragePooling2D()(conv(inp)))
    conv.set_weights([np.full((1, 1, 1, 1), 2.0, np.float32), np.array([-1.5], np.float32)])
    x = tf.constant(np.full((1, 5, 5, 1), 0.5, np.float32))   # 2 * 0.5 - 1.5 = -0.5 < 0: ReLU dead
    fn = activation_fn(model, ["conv:pre", "conv"])
    with tf.GradientTape() as tape:
        tape.watch(x)
        acts = fn(x)
        v = channel("conv:pre", 0)(acts)
    np.testing.assert_allclose(v.numpy(), [-0.5], atol=1e-6)
    np.testing.assert_allclose(acts["conv"].numpy(), 0.0)
    np.testing.assert_allclose(tape.gradient(v, x).numpy(), 2.0 / 25, rtol=1e-5)
    dead = render(model, channel("conv", 0), steps=30, thresholds=[1, 30], transforms="none", progress=False)
    alive = render(model, channel("conv:pre", 0), steps=30, thresholds=[1, 30], transforms="none", progress=False)
    assert dead.values[0] == 0.0 and np.abs(dead.snapshots[1] - dead.snapshots[30]).max() == 0   # stuck
    assert alive.values[0] > -0.5 + 0.15 and alive.images.mean() > dead.images.mean() + 0.05          # climbs
    with pytest.raises(UserError, match="pre-activation"):
        activation_fn(keras.Sequential([keras.Input((5, 5, 1)), keras.layers.ReLU(name="r"),
                                        keras.layers.Flatten()]), ["r:pre"])


def test_step_regularizers_apply_every_k_steps_by_hand(toy):
    """With a vanishing learning rate the image only changes by the step regularizers: after 6
    steps with Blur(every=2) it is the image blurred 3 times; Bilateral(every=3) twice."""
    from tfinterp.featureviz.regularizers import Bilateral
    from tfinterp.ops.image import bilateral_filter, gaussian_blur

    img = np.random.default_rng(0).uniform(0.1, 0.9, (1, 21, 21, 1)).astype(np.float32)
    for reg, fn, times in [(Blur(every=2, sigma=0.7), lambda x: gaussian_blur(x, 0.7), 3),
                           (Bilateral(every=3, radius=1, sigma_space=1.0, sigma_color=0.3),
                            lambda x: bilateral_filter(x, 1, 1.0, 0.3), 2)]:
        r = render(toy, channel("toy_relu", 0), steps=6, lr=1e-9, init=img, param="pixel", transforms="none",
                   regularizers=[reg], thresholds=[1, 6], progress=False)
        expected = tf.constant(img)
        for _ in range(times):
            expected = fn(expected)
        np.testing.assert_allclose(r.images, expected.numpy(), atol=2e-4)
        np.testing.assert_allclose(r.snapshots[1], img, atol=2e-4)     # step 1: not yet


def test_a_second_render_does_not_retrace(toy):
    """The compiled loop is traced once: across chunks of different sizes, across render calls with
    the same model, objective and settings (a rebuilt equal objective too), and when only the
    steps, thresholds, lr or seed change (inputs of the loop, not constants)."""
    import importlib

    render_module = importlib.import_module("tfinterp.featureviz.render")

    render_module.clear_cache()
    kw = dict(steps=4, transforms="lucid", progress=False)
    a = render(toy, objectives_for_channels("toy_relu", [0, 1, 2]), batch_size=2, **kw)   # chunks of 2 and 1
    r = render_module.renderer_for(toy, objectives_for_channels("toy_relu", [0, 1, 2]), param="fourier",
                                   transforms="lucid", regularizers=(), decorrelation=None, total=3)
    assert r.traces == 1
    b = render(toy, objectives_for_channels("toy_relu", [0, 1, 2]), batch_size=2, **kw)
    np.testing.assert_array_equal(a.images, b.images)
    render(toy, objectives_for_channels("toy_relu", [0, 1, 2]), batch_size=3, steps=7, thresholds=[3, 7], seed=5,
           lr=0.1, progress=False)
    assert r.traces == 1 and r._loop.experimental_get_tracing_count() == 1
    c = render(toy, objectives_for_channels("toy_relu", [0, 1, 2]), seed=1, **kw)           # seed: other images
    assert np.abs(c.images - a.images).max() > 1e-4
    render(toy, objectives_for_channels("toy_relu", [2, 1, 0]), **kw)                        # other channels: new
    assert r.traces == 1
    assert render_module.renderer_for(toy, objectives_for_channels("toy_relu", [2, 1, 0]), param="fourier",
                                      transforms="lucid", regularizers=(), decorrelation=None, total=3) is not r
