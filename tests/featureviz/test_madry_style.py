"""The Madry-style method: targeted L2 steps of the attacks' PGD on a representation
objective, checked on a linear model where every step is known by hand."""

import keras
import numpy as np
import pytest

from tfinterp.errors import UserError
from tfinterp.featureviz import channel, objectives_for_channels
from tfinterp.featureviz.madry_style import best_start_images, default_step_size, madry_render


@pytest.fixture(scope="module")
def linear():
    """channel 0 = mean brightness, channel 1 = minus it (a 1x1 linear conv), and a 2-class head."""
    inp = keras.Input((6, 6, 1), name="images")
    conv = keras.layers.Conv2D(2, 1, name="conv")
    x = conv(inp)
    model = keras.Model(inp, keras.layers.GlobalAveragePooling2D(name="gap")(x))
    conv.set_weights([np.array([1.0, -1.0], np.float32).reshape(1, 1, 1, 2), np.zeros(2, np.float32)])
    return model


def test_each_step_is_a_unit_l2_step_along_the_gradient(linear):
    x0 = np.full((2, 6, 6, 1), 0.5, np.float32)
    alpha = 0.06  # 6 steps of 0.06 / sqrt(36) = 0.01 per pixel per step
    r = madry_render(linear, objectives_for_channels("conv", [0, 1]), x0, steps=6, step_size=alpha,
                     thresholds=[2, 4, 6], progress=False)
    for t in (2, 4, 6):
        np.testing.assert_allclose(r.snapshots[t][0], 0.5 + t * 0.01, atol=1e-5)   # brighter: channel 0
        np.testing.assert_allclose(r.snapshots[t][1], 0.5 - t * 0.01, atol=1e-5)   # darker: channel 1
    np.testing.assert_allclose(r.values, [0.56, -0.44], atol=1e-5)   # each image's own channel at the end


def test_the_l2_ball_and_the_pixel_range_bind(linear):
    x0 = np.full((1, 6, 6, 1), 0.5, np.float32)
    r = madry_render(linear, channel("conv", 0), x0, eps=0.3, steps=20, step_size=0.1, progress=False)
    assert np.linalg.norm(r.images[0] - x0[0]) == pytest.approx(0.3, rel=1e-4)   # 20 x 0.1 > eps: on the sphere
    r = madry_render(linear, channel("conv", 0), x0, steps=50, step_size=1.0, progress=False)
    np.testing.assert_allclose(r.images, 1.0)                                      # clipped at the top of the range


def test_best_start_images_pick_each_objectives_best_example(linear):
    images = np.stack([np.full((6, 6, 1), v, np.float32) for v in (0.2, 0.9, 0.5, 0.1)])
    start, idx = best_start_images(linear, objectives_for_channels("conv", [0, 1]), 2, images)
    assert list(idx) == [1, 3]
    np.testing.assert_array_equal(start, images[[1, 3]])


def test_defaults_and_bad_input(linear):
    assert default_step_size((224, 224, 3)) == pytest.approx(0.97, abs=0.01)
    with pytest.raises(UserError, match="start images"):
        madry_render(linear, objectives_for_channels("conv", [0, 1]), np.zeros((3, 6, 6, 1), np.float32),
                     progress=False)
    with pytest.raises(UserError, match="steps"):
        madry_render(linear, channel("conv", 0), np.zeros((1, 6, 6, 1), np.float32), steps=0, progress=False)
