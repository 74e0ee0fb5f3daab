"""The CIFAR-10 and ImageNet code paths of feature visualization and model inversion, on real
architectures with random weights and small shapes: the CIFAR ResNet-18 at 32x32
(`tfinterp.models.archs.build_resnet18`) and keras.applications ResNet50 with weights=None
at 64x64 (`build_application`, nested behind the Caffe preprocessing). A few steps each: the
rendered channel's objective rises and the inversion's representation error falls."""

import keras
import numpy as np
import pytest

from tfinterp import models
from tfinterp.featureviz import channel, render
from tfinterp.featureviz.inversion import Inverter


def _image(size, seed=0):
    yy, xx = np.mgrid[0:size, 0:size] / size
    rng = np.random.default_rng(seed)
    return np.stack([0.5 + 0.35 * np.sin(2 * np.pi * (rng.uniform(1, 3) * xx + rng.uniform(1, 3) * yy))
                     for _ in range(3)], -1).astype(np.float32)


def _check_render_and_invert(model, render_layer, invert_layer, size, steps_render, steps_invert):
    r = render(model, channel(render_layer, 1), steps=steps_render, thresholds=[1, steps_render], transforms="none",
               progress=False)
    assert r.images.shape == (1, size, size, 3) and np.all(np.isfinite(r.images))
    first, last = float(r.history[1][0]), float(r.history[steps_render][0])
    assert last > first, (first, last)
    assert float(r.values[0]) > first  # the final image (history: before each step's update)
    inv = Inverter(model, invert_layer, steps=steps_invert, lr=0.1)
    x0 = _image(size)
    res = inv.run(x0, seeds=2)
    start = inv.param.to_image(inv.start(2, [0, 1])).numpy()
    phi0 = inv.representation(x0[None])
    start_err = np.linalg.norm((inv.representation(start) - phi0).reshape(2, -1), axis=1) / np.linalg.norm(phi0)
    assert res.images.shape == (2, size, size, 3)
    assert np.all(res.rel_error < 0.8 * start_err), (res.rel_error, start_err)
    return res


def test_cifar_resnet18_32px():
    keras.utils.set_random_seed(0)
    m = models.get("resnet18", input_shape=(32, 32, 3), num_classes=10, width=16)
    res = _check_render_and_invert(m, "last_conv", "stage1_block1_out", 32, 12, 40)
    assert res.settings["tv_weight"] == pytest.approx(1.0 * (32 / 227) ** 2)  # a shallow layer


def test_imagenet_resnet50_weights_none_64px():
    keras.utils.set_random_seed(0)
    m = models.get("resnet50", input_shape=(64, 64, 3), num_classes=10, weights=None)
    assert m.layer_aliases["last_conv"] == "resnet50/conv5_block3_out"
    res = _check_render_and_invert(m, "last_conv", "resnet50/conv2_block1_out", 64, 4, 15)
    assert res.settings["depth"] < 0.25
