"""The explainer interface shared by every attribution method.

``Explainer(model, **params).explain(images, targets=None, batch_size=32)`` returns a
float32 NumPy array (N, H, W) in [0, 1] at input resolution; targets default to the
predicted class. Subclasses implement `attribute(images, targets)` on one batch as
TensorFlow ops; the base compiles it once with `tf.function` (fixed input signature, so no
retracing per batch), validates inputs, batches, and normalises. The user's model is never
modified.
"""

from __future__ import annotations

import numpy as np

from tfinterp.errors import UserError

_REGISTRY: dict[str, type] = {}


def register(name):
    """Class decorator: make an explainer available under `name`."""
    def deco(cls):
        cls.method_name = name
        _REGISTRY[name] = cls
        return cls
    return deco


def list_methods() -> list[str]:
    import tfinterp.explain.methods  # noqa: F401  (registers the built-in methods)

    return sorted(_REGISTRY)


def get_explainer(name: str, model, **params):
    """Instantiate the explainer registered under `name`."""
    methods = list_methods()
    if name not in _REGISTRY:
        raise UserError(f"unknown explanation method '{name}'; available: {', '.join(methods)}")
    return _REGISTRY[name](model, **params)


def check_images(images, model=None) -> np.ndarray:
    """Validate a batch: float, 4-D, finite, matching the model's input shape."""
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise UserError(f"images must be [N, H, W, C] (or one [H, W, C] image), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise UserError("images contain NaN or infinite values; clean the input first")
    if model is not None:
        from tfinterp.data.imageio import model_input_shape

        expected = model_input_shape(model)
        if tuple(x.shape[1:]) != expected:
            raise UserError(f"images have shape {tuple(x.shape[1:])} but the model takes {expected}")
    return x


def check_targets(targets, n: int, num_classes: int) -> np.ndarray:
    t = np.asarray(targets).reshape(-1)
    if t.size == 1 and n > 1:
        t = np.repeat(t, n)
    if t.size != n:
        raise UserError(f"got {t.size} targets for {n} images")
    if not np.issubdtype(t.dtype, np.integer) and not np.all(t == np.round(t)):
        raise UserError("targets must be integer class indices")
    t = t.astype(np.int32)
    if t.min() < 0 or t.max() >= num_classes:
        raise UserError(f"target class {int(t.max() if t.max() >= num_classes else t.min())} is out of range: "
                        f"the model has {num_classes} classes (0..{num_classes - 1})")
    return t


def normalize_maps(maps):
    """Per-map min-max scaling to [0, 1] (a constant map becomes all zeros)."""
    import tensorflow as tf

    lo = tf.reduce_min(maps, axis=[1, 2], keepdims=True)
    hi = tf.reduce_max(maps, axis=[1, 2], keepdims=True)
    return tf.math.divide_no_nan(maps - lo, hi - lo)


class Explainer:
    """Base class of all explainers (see the module docstring for the contract)."""

    method_name = "base"

    def __init__(self, model, batch_size: int = 32):
        import tensorflow as tf

        self.model = model
        self.batch_size = int(batch_size)
        self.num_classes = int(model.output_shape[-1]) if hasattr(model, "output_shape") else \
            int(getattr(model, "num_classes"))
        from tfinterp.data.imageio import model_input_shape

        self.input_shape = model_input_shape(model)
        spec = [tf.TensorSpec((None,) + self.input_shape, tf.float32), tf.TensorSpec((None,), tf.int32)]
        # autograph off: every loop is an explicit tf.while_loop, and autograph has been seen to
        # rewrite custom-gradient code in the rule-based explainers (a flaky TypeError)
        self._compiled = tf.function(self._explain_batch, input_signature=spec, autograph=False)

    @property
    def params(self) -> dict:
        """The method's parameters (for JSON summaries)."""
        return {}

    def attribute(self, images, targets):
        """Raw attribution map (N, H, W) for one batch, as TensorFlow ops. Subclasses override."""
        raise NotImplementedError

    def _explain_batch(self, images, targets):
        return normalize_maps(self.attribute(images, targets))

    def predict_logits(self, images, batch_size=None):
        bs = batch_size or max(self.batch_size, 64)
        return np.concatenate([np.asarray(self.model(images[i:i + bs], training=False))
                               for i in range(0, len(images), bs)])

    def explain(self, images, targets=None, batch_size: int | None = None) -> np.ndarray:
        """Maps (N, H, W) float32 in [0, 1]; `targets` default to the predicted classes."""
        x = check_images(images, self.model)
        if targets is None:
            targets = self.predict_logits(x).argmax(-1)
        t = check_targets(targets, len(x), self.num_classes)
        bs = int(batch_size or self.batch_size)
        out = [self._compiled(x[i:i + bs], t[i:i + bs]).numpy() for i in range(0, len(x), bs)]
        return np.concatenate(out).astype(np.float32)


def gather_target(logits, targets):
    """logits[i, targets[i]] for a batch."""
    import tensorflow as tf

    return tf.gather(logits, targets, axis=1, batch_dims=1)
