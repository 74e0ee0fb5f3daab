"""Gradient-based attribution methods.

- ``gradient``: vanilla gradient saliency (Simonyan, Vedaldi & Zisserman 2014, "Deep Inside
  Convolutional Networks"): |d logit_c / d x|, maximum over channels.
- ``gradient-x-input``: gradient times input (Shrikumar et al. 2016), |sum over channels|.
- ``integrated-gradients``: Sundararajan, Taly & Yan 2017, path integral from a baseline
  (zero by default), trapezoidal rule with ``steps`` points; |sum over channels|.
- ``smoothgrad``: Smilkov et al. 2017, a wrapper around any gradient method (captum's
  NoiseTunnel idea): average the base method's raw attribution over noisy copies.
- ``gradcam``: Grad-CAM (Selvaraju et al. 2017): ReLU of the channel-weighted sum of the
  last conv maps, weights = spatial mean of d logit_c / d A; bilinearly upsampled.
"""

from __future__ import annotations

import tensorflow as tf

from tfinterp.errors import UserError
from tfinterp.explain.base import Explainer, gather_target, register


@register("gradient")
class Gradient(Explainer):
    """Vanilla gradient saliency (Simonyan et al. 2014)."""

    def attribute(self, images, targets):
        with tf.GradientTape() as tape:
            tape.watch(images)
            score = gather_target(self.model(images, training=False), targets)
        grads = tape.gradient(score, images)
        return tf.reduce_max(tf.abs(grads), axis=-1)


def input_gradients(model, images, targets):
    """d logit_target / d images for a batch (one backward pass)."""
    with tf.GradientTape() as tape:
        tape.watch(images)
        score = gather_target(tf.cast(model(images, training=False), tf.float32), targets)
    return tape.gradient(score, images)


@register("gradient-x-input")
class GradientXInput(Explainer):
    """Gradient times input (Shrikumar et al. 2016): |sum_c x * d logit / d x|."""

    def attribute(self, images, targets):
        return tf.abs(tf.reduce_sum(images * input_gradients(self.model, images, targets), axis=-1))


@register("integrated-gradients")
class IntegratedGradients(Explainer):
    """Integrated gradients (Sundararajan et al. 2017) from a constant `baseline` in `steps` points.

    All path points of a batch go through the model as one batch (``steps * N`` images).
    """

    def __init__(self, model, steps: int = 50, baseline: float = 0.0, batch_size: int = 32):
        if steps < 2:
            raise UserError("integrated gradients needs steps >= 2")
        self.steps, self.baseline = int(steps), float(baseline)
        super().__init__(model, batch_size=batch_size)

    @property
    def params(self):
        return {"steps": self.steps, "baseline": self.baseline}

    def raw(self, images, targets):
        n = tf.shape(images)[0]
        alphas = tf.linspace(0.0, 1.0, self.steps)
        base = tf.fill(tf.shape(images), self.baseline)
        path = base[None] + alphas[:, None, None, None, None] * (images - base)[None]
        flat = tf.reshape(path, tf.concat([[-1], tf.shape(images)[1:]], 0))
        grads = input_gradients(self.model, flat, tf.tile(targets, [self.steps]))
        grads = tf.reshape(grads, tf.concat([[self.steps, n], tf.shape(images)[1:]], 0))
        avg = (tf.reduce_sum(grads, 0) - 0.5 * (grads[0] + grads[-1])) / (self.steps - 1)  # trapezoid
        return (images - base) * avg

    def attribute(self, images, targets):
        return tf.abs(tf.reduce_sum(self.raw(images, targets), axis=-1))


@register("smoothgrad")
class SmoothGrad(Explainer):
    """SmoothGrad (Smilkov et al. 2017) around any gradient method (``base``, default "gradient").

    ``samples`` noisy copies with Gaussian noise of std ``noise`` x (input range); the base
    method's raw attributions are averaged (``square=True`` gives SmoothGrad-squared).
    """

    def __init__(self, model, base: str = "gradient", samples: int = 50, noise: float = 0.15,
                 square: bool = False, seed: int = 0, batch_size: int = 32, **base_params):
        from tfinterp.explain.base import get_explainer

        if samples < 1 or noise < 0:
            raise UserError("smoothgrad needs samples >= 1 and noise >= 0")
        if base == "smoothgrad":
            raise UserError("smoothgrad cannot wrap itself")
        self.base_name, self.samples, self.noise, self.square, self.seed = base, int(samples), float(noise), \
            bool(square), int(seed)
        self.base = get_explainer(base, model, batch_size=batch_size, **base_params)
        lo, hi = getattr(model, "input_range", (0.0, 1.0))
        self.sigma = self.noise * (hi - lo)
        super().__init__(model, batch_size=batch_size)

    @property
    def params(self):
        return {"base": self.base_name, "samples": self.samples, "noise": self.noise, "square": self.square,
                **self.base.params}

    def attribute(self, images, targets):
        n = tf.shape(images)[0]
        rep = tf.tile(images, [self.samples, 1, 1, 1])
        noisy = rep + tf.random.stateless_normal(tf.shape(rep), seed=[self.seed, 0], stddev=self.sigma)
        maps = self.base.attribute(noisy, tf.tile(targets, [self.samples]))
        maps = tf.square(maps) if self.square else maps
        return tf.reduce_mean(tf.reshape(maps, tf.concat([[self.samples, n], tf.shape(maps)[1:]], 0)), 0)


@register("gradcam")
class GradCAM(Explainer):
    """Grad-CAM (Selvaraju et al. 2017) at `layer` (default: the model's ``last_conv`` alias)."""

    def __init__(self, model, layer: str | None = None, batch_size: int = 32):
        from tfinterp.models.layers import feature_model

        self.layer = layer or "last_conv"
        self._features = feature_model(model, [self.layer], include_output=True)
        super().__init__(model, batch_size=batch_size)

    @property
    def params(self):
        return {"layer": self.layer}

    def attribute(self, images, targets):
        with tf.GradientTape() as tape:
            out = self._features(images, training=False)
            acts = out[self.layer]
            tape.watch(acts)
            score = gather_target(out["output"], targets)
        grads = tape.gradient(score, acts)
        if acts.shape.rank != 4:
            raise ValueError(f"Grad-CAM needs a convolutional layer, '{self.layer}' has rank {acts.shape.rank}")
        weights = tf.reduce_mean(grads, axis=[1, 2], keepdims=True)
        cam = tf.nn.relu(tf.reduce_sum(weights * acts, axis=-1, keepdims=True))
        cam = tf.image.resize(cam, self.input_shape[:2], method="bilinear")
        return cam[..., 0]
from tfinterp.explain import guided_inversion, perturbation  # noqa: E402,F401  (register their methods)
from tfinterp.explain import guided, relevance  # noqa: E402,F401  (registers the rule-based explainers)
