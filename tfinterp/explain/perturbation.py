"""Perturbation-based explainers: occlusion, meaningful perturbation, Grid-CAM.

- ``occlusion``: Zeiler & Fergus 2014: slide a ``patch`` x ``patch`` square (stride
  ``stride``) of value ``fill`` over the image; a pixel's saliency is the mean drop of the
  target score over the windows that cover it (drops below zero, windows whose occlusion
  raises the score, count as zero: the map shows positive evidence).
  ``neuron=(layer, channel)`` scores a unit (its spatial ``neuron_reduce`` of the channel's
  map) instead of a class: Zhou et al. 2015's discrepancy map, as Dong et al. 2017 (sec. 2.2)
  draw it over a neuron's top images.
- ``meaningful-perturbation``: Fong & Vedaldi 2017: learn a low-resolution mask m (1 keeps a
  pixel, 0 replaces it with a blurred copy) minimising ``l1*||1-m||_1 + tv*TV_beta(m) +
  f_c(x*m + blur(x)*(1-m))`` with Adam (both regularisers are sums over the mask's cells,
  as in the paper's Eq. 3); saliency = 1 - m. Defaults from the paper (300 steps, lr 0.1,
  l1 1e-4, tv 1e-2, beta 3, 28x28 mask, blur radius 10 at 224 px, f_c the softmax
  probability). Two other scores, for models whose softmax is saturated (p = 1.000, where
  the probability's gradient vanishes and Adam normalises the remaining noise into a
  wandering mask):
  ``score="logit"`` is unbounded below, so deleting everything always pays;
  ``score="margin"`` is ``max(z_c - max_{j != c} z_j, -kappa)``: the deletion game's own
  goal (the smallest deletion that changes the decision, by a margin ``kappa``), bounded
  below, so once the decision has flipped only the regularisers act and the mask shrinks
  back to the evidence that had to go.
- ``gridcam``: the sliding-window activation map of Baek, Jang & Cho ("Can we interpret the
  black box?"): the image is cut into a ``grid`` x ``grid`` lattice; square crops of 4 sizes
  slide over it, each crop (resized to the input size) is scored, and a cell's value is the
  mean score of the windows that contain it, averaged over the 4 crop sizes (or one
  ``level``). The score is the target class probability, or a neuron's mean activation.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfinterp.errors import UserError
from tfinterp.explain.base import Explainer, gather_target, register
from tfinterp.ops.image import gaussian_blur
from tfinterp.ops.optim import adam_minimize
from tfinterp.params import Param


def _scores(model, images, targets, probability=True):
    logits = tf.cast(model(images, training=False), tf.float32)
    return gather_target(tf.nn.softmax(logits) if probability else logits, targets)


def margin_scores(logits, targets, kappa: float):
    """``max(z_c - max_{j != c} z_j, -kappa)`` per row: the target's lead over the best other
    class, floored at ``-kappa`` (Carlini & Wagner's margin, used as a deletion score)."""
    logits = tf.cast(logits, tf.float32)
    own = gather_target(logits, targets)
    others = tf.where(tf.one_hot(targets, tf.shape(logits)[-1]) > 0, tf.float32.min, logits)
    return tf.maximum(own - tf.reduce_max(others, axis=-1), -kappa)


def _is_neuron(v) -> bool:
    """A (layer, channel) pair: a layer name and a non-negative integer channel ("conv,3" from the CLI)."""
    if len(v) != 2 or not isinstance(v[0], str) or isinstance(v[1], bool):
        return False
    try:
        c = float(str(v[1]).strip())
    except ValueError:
        return False
    return c.is_integer() and c >= 0


@register("occlusion")
class Occlusion(Explainer):
    """Occlusion sensitivity (Zeiler & Fergus 2014) with configurable patch, stride and fill."""

    params = {
        "patch": Param(None, int, min=1, none_ok=True,
                       doc="side of the occluding square (default: a quarter of the image)"),
        "stride": Param(None, int, min=1, none_ok=True, doc="step between windows (default: a quarter of the patch)"),
        "fill": Param(0.0, float, doc="value of the occluding square"),
        "probability": Param(True, bool, doc="score the softmax probability (else the logit)"),
        "neuron": Param(None, list, none_ok=True, check=_is_neuron, expect="a (layer, channel) pair",
                        doc="score a unit's activation instead of the class (a discrepancy map)"),
        "neuron_reduce": Param("max", str, choices=("max", "mean"), doc="a unit's score: spatial max or mean"),
        "batch_size": Param(8, int, min=1, doc="images per compiled batch"),
    }

    def validate(self):
        h, w, _ = self.input_shape
        self.patch = int(self.patch or max(2, h // 4))
        self.stride = int(self.stride or max(1, self.patch // 4))
        if not self.patch <= min(h, w):
            raise UserError(f"occlusion: patch must be 1..{min(h, w)} (the image is {h}x{w}), got {self.patch}")

    def prepare(self):
        h, w, _ = self.input_shape
        ys = np.arange(0, h - self.patch + 1, self.stride)
        xs = np.arange(0, w - self.patch + 1, self.stride)
        masks = np.zeros((len(ys) * len(xs), h, w, 1), np.float32)
        for k, (y, x) in enumerate((y, x) for y in ys for x in xs):
            masks[k, y:y + self.patch, x:x + self.patch] = 1.0
        self._masks = tf.constant(masks)
        self._cover = tf.constant(np.maximum(masks.sum(0)[..., 0], 1.0))
        self._unit = None
        if self.neuron is not None:
            from tfinterp.models.layers import feature_model

            self.neuron = (self.neuron[0], int(float(str(self.neuron[1]).strip())))
            fm = feature_model(self.model, [self.neuron[0]])
            channels = int(fm.output[self.neuron[0]].shape[-1])
            if self.neuron[1] >= channels:
                raise UserError(f"occlusion: layer '{self.neuron[0]}' has {channels} channels (0..{channels - 1}), "
                                f"got channel {self.neuron[1]}")
            self._unit = fm

    def summary(self):
        return {"patch": self.patch, "stride": self.stride, "fill": self.fill, "windows": int(self._masks.shape[0]),
                **({"neuron": list(self.neuron), "neuron_reduce": self.neuron_reduce} if self.neuron else {})}

    def _score(self, images, targets):
        if self._unit is None:
            return _scores(self.model, images, targets, self.probability)
        a = tf.cast(self._unit(images, training=False)[self.neuron[0]], tf.float32)[..., self.neuron[1]]
        axes = list(range(1, a.shape.rank))
        if not axes:
            return a
        return tf.reduce_max(a, axis=axes) if self.neuron_reduce == "max" else tf.reduce_mean(a, axis=axes)

    def attribute(self, images, targets):
        k = self._masks.shape[0]
        n = tf.shape(images)[0]
        base = self._score(images, targets)
        occluded = images[:, None] * (1.0 - self._masks[None]) + self.fill * self._masks[None]
        flat = tf.reshape(occluded, tf.concat([[-1], tf.shape(images)[1:]], 0))
        s = tf.reshape(self._score(flat, tf.repeat(targets, k)), [n, k])
        drop = tf.nn.relu(base[:, None] - s)  # positive evidence only: occluding it lowers the score
        return tf.einsum("nk,khw->nhw", drop, self._masks[..., 0]) / self._cover


@register("meaningful-perturbation")
class MeaningfulPerturbation(Explainer):
    """Meaningful perturbation mask (Fong & Vedaldi 2017), blur deletion, Adam, TV + L1.

    ``score``: ``"probability"`` (the paper), ``"logit"``, or ``"margin"`` with ``kappa``
    (see the module docstring)."""

    params = {
        "steps": Param(300, int, min=0, doc="Adam steps"),
        "lr": Param(0.1, float, min=0, min_open=True, doc="Adam's learning rate"),
        "l1": Param(1e-4, float, min=0, doc="weight of the deleted area ||1 - m||_1"),
        "tv": Param(1e-2, float, min=0, doc="weight of the total variation TV_beta(m)"),
        "tv_beta": Param(3.0, float, min=1, doc="exponent beta of the total variation"),
        "mask_size": Param(28, int, min=1, doc="side of the mask (at most the image's)"),
        "blur_sigma": Param(None, float, min=0, min_open=True, none_ok=True,
                            doc="blur of the deleted image (default: radius 10 at 224 px, scaled)"),
        "score": Param("probability", str, choices=("probability", "logit", "margin"),
                       doc="f_c: softmax probability, logit, or the margin floored at -kappa"),
        "kappa": Param(2.0, float, min=0, doc="floor of the margin score"),
    }

    def prepare(self):
        h = self.input_shape[0]
        self.mask_size = int(min(self.mask_size, h))
        self.blur_sigma = float(self.blur_sigma) if self.blur_sigma is not None else 10.0 * h / 224.0

    def summary(self):
        return {"steps": self.steps, "lr": self.lr, "l1": self.l1, "tv": self.tv, "tv_beta": self.tv_beta,
                "mask_size": self.mask_size, "blur_sigma": round(self.blur_sigma, 4), "score": self.score,
                **({"kappa": self.kappa} if self.score == "margin" else {})}

    def _deletion_score(self, images, targets):
        if self.score == "margin":
            return margin_scores(self.model(images, training=False), targets, self.kappa)
        return _scores(self.model, images, targets, self.score == "probability")

    def attribute(self, images, targets):
        size = tf.shape(images)[1:3]
        blurred = gaussian_blur(images, self.blur_sigma)
        m0 = tf.ones([tf.shape(images)[0], self.mask_size, self.mask_size, 1])

        def loss_fn(m):
            up = tf.image.resize(m, size, method="bilinear")
            x = images * up + blurred * (1.0 - up)
            dy = tf.abs(m[:, 1:] - m[:, :-1]) ** self.tv_beta
            dx = tf.abs(m[:, :, 1:] - m[:, :, :-1]) ** self.tv_beta
            tv = tf.reduce_sum(dy, [1, 2, 3]) + tf.reduce_sum(dx, [1, 2, 3])
            return tf.reduce_sum(self.l1 * tf.reduce_sum(tf.abs(1.0 - m), [1, 2, 3]) + self.tv * tv
                                 + self._deletion_score(x, targets))

        m = adam_minimize(loss_fn, m0, self.steps, self.lr, lambda new, old: tf.clip_by_value(new, 0.0, 1.0))
        return 1.0 - tf.image.resize(m, size, method="bilinear")[..., 0]


@register("gridcam")
class GridCAM(Explainer):
    """Grid-CAM (Baek, Jang & Cho): mean score of the sliding crops covering each grid cell.

    ``grid`` cells per side; crop sizes ``sizes`` (in cells; default 4 levels, 1/4 to 5/8 of
    the image: 2, 3, 4, 5 cells of an 8-cell grid); ``level`` picks one crop size (1-based)
    instead of averaging all of them.
    ``neuron=(layer, channel)`` scores a unit's mean activation instead of a class.
    """

    params = {
        "grid": Param(8, int, min=2, doc="cells per side"),
        "sizes": Param(None, list, item=int, none_ok=True, check=lambda v: len(v) > 0 and min(v) >= 1,
                       expect="a list of crop sizes >= 1 (in cells)", doc="crop sizes in cells (default: 4 levels)"),
        "level": Param(None, int, min=1, none_ok=True, doc="use only this crop size (1-based)"),
        "neuron": Param(None, list, none_ok=True, check=_is_neuron, expect="a (layer, channel) pair",
                        doc="score a unit's mean activation instead of the class"),
        "batch_size": Param(8, int, min=1, doc="images per compiled batch"),
    }

    def validate(self):
        sizes = self.sizes
        if sizes is None:  # 4 crop sizes from a quarter to 5/8 of the image (fewer on tiny grids)
            sizes = sorted({min(self.grid, max(1, round(self.grid * f))) for f in (0.25, 0.375, 0.5, 0.625)})
        self.sizes = tuple(int(s) for s in sizes)
        if self.level is not None:
            if not self.level <= len(self.sizes):
                raise UserError(f"gridcam: level must be 1..{len(self.sizes)}, got {self.level}")
            self.sizes = (self.sizes[self.level - 1],)
        if max(self.sizes) > self.grid:
            raise UserError(f"gridcam: crop sizes must be between 1 and grid={self.grid} cells, got {list(self.sizes)}")

    def prepare(self):
        from tfinterp.models.layers import feature_model

        self._unit = None
        if self.neuron is not None:
            layer, channel = self.neuron[0], int(float(str(self.neuron[1]).strip()))
            self.neuron = (layer, channel)
            self._unit = (feature_model(self.model, [layer]), layer, channel)
        # window k's weight in cell (i, j): 1 / (#windows of its size covering the cell) / #sizes,
        # so a cell's value is the mean over sizes of the mean score of the windows containing it
        boxes, weights = [], []
        for s in self.sizes:
            span = range(self.grid - s + 1)
            count = np.zeros((self.grid, self.grid), np.float32)
            count_windows = [(y, x) for y in span for x in span]
            for y, x in count_windows:
                count[y:y + s, x:x + s] += 1.0
            for y, x in count_windows:
                boxes.append([y / self.grid, x / self.grid, (y + s) / self.grid, (x + s) / self.grid])
                w = np.zeros((self.grid, self.grid), np.float32)
                w[y:y + s, x:x + s] = 1.0
                weights.append(w / np.maximum(count, 1.0) / len(self.sizes))
        self._boxes = tf.constant(np.array(boxes, np.float32))
        self._weights = tf.constant(np.array(weights, np.float32))
        self._input_hw = self.input_shape[:2]

    def summary(self):
        return {"grid": self.grid, "sizes": list(self.sizes), "level": self.level,
                "neuron": list(self.neuron) if self.neuron else None, "windows": int(self._boxes.shape[0])}

    def attribute(self, images, targets):
        n = tf.shape(images)[0]
        k = self._boxes.shape[0]
        boxes = tf.tile(self._boxes, [n, 1])
        idx = tf.repeat(tf.range(n), k)
        crops = tf.image.crop_and_resize(images, boxes, idx, self._input_hw)
        if self._unit is None:
            s = _scores(self.model, crops, tf.repeat(targets, k))
        else:
            fm, layer, ch = self._unit
            a = tf.cast(fm(crops, training=False)[layer], tf.float32)
            s = tf.reduce_mean(a[..., ch], axis=list(range(1, a.shape.rank - 1))) if a.shape.rank > 2 else a[:, ch]
        cells = tf.einsum("nk,kij->nij", tf.reshape(s, [n, k]), self._weights)
        return tf.image.resize(cells[..., None], self._input_hw, method="bilinear")[..., 0]
