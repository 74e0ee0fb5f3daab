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

On one-hot sequence models (N, length, alphabet) the gradient methods return the raw signed
per-letter map: the gradient itself, gradient x input (the saliency map of Lanchantin et al.
2016, "Deep Motif Dashboard": x * d score / d x, nonzero at the present letters), integrated
gradients' (x - baseline) * average gradient, and SmoothGrad's average of its base's map.
"""

from __future__ import annotations

import tensorflow as tf

from tfinterp.errors import UserError
from tfinterp.explain.base import EXPLAINERS, Explainer, gather_target, get_explainer, register
from tfinterp.params import Param


@register("gradient")
class Gradient(Explainer):
    """Vanilla gradient saliency (Simonyan et al. 2014)."""

    inputs = ("images", "sequences")

    def attribute_letters(self, seqs, targets):
        return input_gradients(self.model, seqs, targets)

    def positions(self, maps):
        """Saliency per position as on images: max over the alphabet of |gradient|."""
        import numpy as np

        return np.abs(np.asarray(maps, dtype=np.float32)).max(axis=-1)

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
    """Gradient times input (Shrikumar et al. 2016): |sum_c x * d logit / d x|; on sequences
    Lanchantin et al.'s (2016) saliency map x * d logit / d x per letter."""

    inputs = ("images", "sequences")

    def attribute_letters(self, seqs, targets):
        return seqs * input_gradients(self.model, seqs, targets)

    def attribute(self, images, targets):
        return tf.abs(tf.reduce_sum(images * input_gradients(self.model, images, targets), axis=-1))


@register("integrated-gradients")
class IntegratedGradients(Explainer):
    """Integrated gradients (Sundararajan et al. 2017) from a constant `baseline` in `steps` points.

    All path points of a batch go through the model as one batch (``steps * N`` images).
    On sequences the map is the signed (x - baseline) * average gradient per letter.
    """

    inputs = ("images", "sequences")

    params = {
        "steps": Param(50, int, min=2, doc="points on the path, trapezoidal rule"),
        "baseline": Param(0.0, float, doc="the constant image the path starts from"),
    }

    def raw(self, images, targets):
        n = tf.shape(images)[0]
        alphas = tf.linspace(0.0, 1.0, self.steps)
        base = tf.fill(tf.shape(images), self.baseline)
        path = base[None] + tf.reshape(alphas, [-1] + [1] * images.shape.rank) * (images - base)[None]
        flat = tf.reshape(path, tf.concat([[-1], tf.shape(images)[1:]], 0))
        grads = input_gradients(self.model, flat, tf.tile(targets, [self.steps]))
        grads = tf.reshape(grads, tf.concat([[self.steps, n], tf.shape(images)[1:]], 0))
        avg = (tf.reduce_sum(grads, 0) - 0.5 * (grads[0] + grads[-1])) / (self.steps - 1)  # trapezoid
        return (images - base) * avg

    def attribute_letters(self, seqs, targets):
        return self.raw(seqs, targets)

    def attribute(self, images, targets):
        return tf.abs(tf.reduce_sum(self.raw(images, targets), axis=-1))


@register("smoothgrad")
class SmoothGrad(Explainer):
    """SmoothGrad (Smilkov et al. 2017) around any gradient method (``base``, default "gradient").

    ``samples`` noisy copies with Gaussian noise of std ``noise`` x (input range); the base
    method's raw attributions are averaged (``square=True`` gives SmoothGrad-squared). The
    ``samples`` noise images are drawn once from ``seed`` and added to every image, so a map does
    not depend on the batch the image is explained in. Every
    other parameter goes to the base method and is validated by its table
    (``get_explainer("smoothgrad", model, base="integrated-gradients", steps=20)``).
    """

    params = {
        "base": Param("gradient", str, check=lambda v: v != "smoothgrad",
                      expect="another explanation method (smoothgrad cannot wrap itself)",
                      doc="the method whose attributions are averaged"),
        "samples": Param(50, int, min=1, doc="noisy copies per image"),
        "noise": Param(0.15, float, min=0, doc="noise std as a fraction of the input range"),
        "square": Param(False, bool, doc="average the squared attributions (SmoothGrad-squared)"),
        "seed": Param(0, int, doc="seed of the (stateless) noise"),
    }

    inputs = ("images", "sequences")  # sequences when its base method explains them

    @classmethod
    def params_note(cls) -> str:
        return "any other parameter goes to the base method"

    def __init__(self, model, **params):
        spec = self.param_spec()
        self._base_params = {k: v for k, v in params.items() if k not in spec}
        super().__init__(model, **{k: v for k, v in params.items() if k in spec})

    def validate(self):
        if self.base not in EXPLAINERS:
            others = ", ".join(n for n in EXPLAINERS.names() if n != "smoothgrad")
            raise UserError(f"smoothgrad: base must be one of {others}, got '{self.base}'")
        base_spec = EXPLAINERS.get(self.base).param_spec()
        unknown = sorted(set(self._base_params) - set(base_spec))
        if unknown:
            theirs = ", ".join(sorted(k for k in base_spec if k not in self.common)) or "none"
            raise UserError(f"smoothgrad: unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                            f"known: {', '.join(sorted(self.param_spec()))}, and its base {self.base}'s: {theirs}")

    def prepare(self):
        self.base_explainer = get_explainer(self.base, self.model, batch_size=self.batch_size, **self._base_params)
        lo, hi = getattr(self.model, "input_range", (0.0, 1.0))
        self.sigma = self.noise * (hi - lo)

    def summary(self):
        return {"base": self.base, "samples": self.samples, "noise": self.noise, "square": self.square,
                **self.base_explainer.params}

    def attribute_letters(self, seqs, targets):
        return self._average(self.base_explainer.attribute_letters, seqs, targets)

    def positions(self, maps):
        """The base method's per-position reduction."""
        return self.base_explainer.positions(maps)

    def attribute(self, images, targets):
        return self._average(self.base_explainer.attribute, images, targets)

    def _average(self, attribute, images, targets):
        n = tf.shape(images)[0]
        # one noise draw per sample, the same for every image: an image's map does not depend on
        # the batch it is explained in (nor on its position there); rows ordered sample-major
        noise = tf.random.stateless_normal((self.samples,) + tuple(images.shape[1:]), seed=[self.seed, 0],
                                           stddev=self.sigma)
        noisy = tf.reshape(images[None] + noise[:, None], tf.concat([[-1], tf.shape(images)[1:]], 0))
        maps = attribute(noisy, tf.tile(targets, [self.samples]))
        maps = tf.square(maps) if self.square else maps
        return tf.reduce_mean(tf.reshape(maps, tf.concat([[self.samples, n], tf.shape(maps)[1:]], 0)), 0)


@register("gradcam")
class GradCAM(Explainer):
    """Grad-CAM (Selvaraju et al. 2017) at `layer` (default: the model's ``last_conv`` alias)."""

    params = {"layer": Param("last_conv", str, none_ok=True,
                             doc="the convolutional layer (an alias, a path or a unique name)")}

    def prepare(self):
        from tfinterp.models.layers import feature_model

        self.layer = self.layer or "last_conv"
        self._features = feature_model(self.model, [self.layer], include_output=True)
        rank = len(self._features.output[self.layer].shape)
        if rank != 4:
            raise UserError(f"gradcam: layer '{self.layer}' must be convolutional (rank 4), it has rank {rank}")

    def attribute(self, images, targets):
        with tf.GradientTape() as tape:
            out = self._features(images, training=False)
            acts = out[self.layer]
            tape.watch(acts)
            score = gather_target(out["output"], targets)
        grads = tape.gradient(score, acts)
        weights = tf.reduce_mean(grads, axis=[1, 2], keepdims=True)
        cam = tf.nn.relu(tf.reduce_sum(weights * acts, axis=-1, keepdims=True))
        cam = tf.image.resize(cam, self.input_shape[:2], method="bilinear")
        return cam[..., 0]


from tfinterp.explain import guided_inversion, perturbation  # noqa: E402,F401  (register their methods)
from tfinterp.explain import guided, relevance  # noqa: E402,F401  (registers the rule-based explainers)
from tfinterp.explain import mutagenesis  # noqa: E402,F401  (registers in-silico mutagenesis, for sequences)
