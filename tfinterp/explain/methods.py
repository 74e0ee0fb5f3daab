"""Gradient-based attribution methods.

- ``gradient``: vanilla gradient saliency (Simonyan, Vedaldi & Zisserman 2014, "Deep Inside
  Convolutional Networks"): |d logit_c / d x|, maximum over channels.
- ``gradcam``: Grad-CAM (Selvaraju et al. 2017): ReLU of the channel-weighted sum of the
  last conv maps, weights = spatial mean of d logit_c / d A; bilinearly upsampled.
"""

from __future__ import annotations

import tensorflow as tf

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


from tfinterp.explain import guided, relevance  # noqa: E402,F401  (registers the rule-based explainers)
