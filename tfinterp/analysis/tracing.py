"""Prediction-difference tracing (Dong, Su, Zhu, Bao 2017, "Towards Interpretable Deep Neural
Networks by Leveraging Adversarial Examples", section 6).

The model is split at a layer into phi (input -> the layer) and g (the layer -> logits) by
`tfinterp.models.split.split_model`. The contribution of neuron (channel) i to the prediction
for x is the prediction difference

    PD(i) = || g(phi(x)) - g(phi(x) without i) ||_C^2 = d^T C d,   d = p - p_{\\i},

where ``phi(x) without i`` zeroes channel i at every spatial position, p = softmax(g(.)) are
the class probabilities (this module compares softmax outputs, not logits; pass
``probabilities=False`` for the raw outputs of g), and C [K, K] is a class-similarity matrix
(the identity by default, giving the plain squared Euclidean distance; with a similarity
such as the WordNet C_ij = exp(-d_ij^2 / 2 sigma^2) of `tfinterp.analysis.consistency`,
probability moved between two similar classes counts 2 a^2 (1 - C_ij) instead of 2 a^2).
The neurons with the largest PD are the ones the prediction rests on.

All channels of all images are computed in batched calls of g: the (image, channel) pairs are
flattened, each batch gathers its images' features and multiplies them by a one-hot channel
mask, so there is no Python loop over neurons (nor over images beyond the batching). The
channel axis is the last one (channels-last, as every tfinterp model is).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tfinterp.errors import UserError


def similarity_matrix(similarity, num_classes: int) -> np.ndarray:
    """The class-similarity matrix C [K, K] as float32: the identity for None; else checked
    (square, the model's class count, finite, symmetric)."""
    if similarity is None:
        return np.eye(num_classes, dtype=np.float32)
    c = np.asarray(similarity, np.float32)
    if c.shape != (num_classes, num_classes):
        raise UserError(f"the class-similarity matrix must be {num_classes}x{num_classes} (the model's classes), "
                        f"got shape {c.shape}")
    if not np.all(np.isfinite(c)):
        raise UserError("the class-similarity matrix has NaN or infinite entries")
    if not np.allclose(c, c.T, atol=1e-6):
        raise UserError("the class-similarity matrix must be symmetric")
    return c


class PredictionDifference:
    """PD(i) for every channel i of g's input, batched (see the module docstring; Dong et al. 2017 sec. 6).

    `g` maps features [N, ..., Cch] to outputs [N, K]. `batch_size` is the number of masked
    feature maps (image, channel pairs) per call of g.
    """

    def __init__(self, g, similarity=None, batch_size: int = 256, probabilities: bool = True):
        import tensorflow as tf

        shape = tuple(g.input_shape[1:]) if hasattr(g, "input_shape") else None
        if not shape or any(s is None for s in shape):
            raise UserError("prediction difference needs g with a fixed feature shape")
        if int(batch_size) < 1:
            raise UserError(f"batch_size must be at least 1, got {batch_size}")
        self.g = g
        self.shape = shape
        self.channels = int(shape[-1])
        self.num_classes = int(g.output_shape[-1])
        self.similarity = similarity_matrix(similarity, self.num_classes)
        self.batch_size = int(batch_size)
        self.probabilities = bool(probabilities)
        cm = tf.constant(self.similarity)
        rank = len(shape)

        def out(f):
            y = tf.cast(g(f, training=False), tf.float32)
            return tf.nn.softmax(y) if self.probabilities else y

        def pairs(feats, base, img, ch):
            f = tf.gather(feats, img)
            keep = 1.0 - tf.one_hot(ch, self.channels, dtype=f.dtype)
            keep = tf.reshape(keep, tf.concat([[-1], tf.ones([rank - 1], tf.int32), [self.channels]], 0))
            d = out(f * keep) - tf.gather(base, img)
            return tf.reduce_sum(tf.matmul(d, cm) * d, axis=-1)

        spec = tf.TensorSpec((None,) + shape, tf.float32)
        self._out = tf.function(out, input_signature=[spec])
        self._pairs = tf.function(pairs, input_signature=[spec, tf.TensorSpec((None, self.num_classes), tf.float32),
                                                         tf.TensorSpec((None,), tf.int32),
                                                         tf.TensorSpec((None,), tf.int32)])

    def outputs(self, features) -> np.ndarray:
        """g's outputs (softmax probabilities unless ``probabilities=False``) [N, K], batched."""
        import tensorflow as tf

        f = self._check(features)
        return np.concatenate([self._out(tf.constant(f[i:i + self.batch_size])).numpy()
                               for i in range(0, len(f), self.batch_size)], 0)

    def _check(self, features):
        f = np.asarray(features, np.float32)
        if f.ndim == len(self.shape):
            f = f[None]
        if tuple(f.shape[1:]) != self.shape:
            raise UserError(f"features have shape {tuple(f.shape[1:])} but g takes {self.shape}")
        return f

    def __call__(self, features, base=None) -> np.ndarray:
        """PD [N, Cch] of every channel for each feature map in `features` [N, ..., Cch].

        `base` [N, K] are g's unmasked outputs when already known."""
        import tensorflow as tf

        f = self._check(features)
        n, c = len(f), self.channels
        base = self.outputs(f) if base is None else np.asarray(base, np.float32)
        feats, base_t = tf.constant(f), tf.constant(base)
        out = np.empty(n * c, np.float32)
        for start in range(0, n * c, self.batch_size):
            idx = np.arange(start, min(start + self.batch_size, n * c), dtype=np.int32)
            out[idx] = self._pairs(feats, base_t, tf.constant(idx // c), tf.constant(idx % c)).numpy()
        return out.reshape(n, c)


def prediction_difference(g, features, similarity=None, batch_size: int = 256, probabilities: bool = True):
    """PD [N, Cch]: `PredictionDifference(g, similarity, batch_size)(features)` (Dong et al. 2017, sec. 6)."""
    return PredictionDifference(g, similarity, batch_size, probabilities)(features)


def top_neurons(pd, k: int = 2) -> np.ndarray:
    """The `k` channels of largest PD per row [N, k], largest first (ties: lower index first)."""
    pd = np.asarray(pd)
    if not 1 <= k <= pd.shape[-1]:
        raise UserError(f"k must be between 1 and {pd.shape[-1]} (the layer's channels), got {k}")
    return np.argsort(-pd, axis=-1, kind="stable")[..., :k]


@dataclass
class Trace:
    """A traced prediction: PD per channel [N, Cch], g's probabilities [N, K], the predicted
    classes [N], the top channels [N, k] and the layer."""
    pd: np.ndarray
    probs: np.ndarray
    pred: np.ndarray
    top: np.ndarray
    layer: str


def trace_predictions(model, layer: str, images, similarity=None, top: int = 2, batch_size: int = 256) -> Trace:
    """Trace `model`'s predictions for `images` to the channels of `layer` (Dong et al. 2017, sec. 6)."""
    import tensorflow as tf

    from tfinterp.checks import check_images, model_num_classes
    from tfinterp.models.split import split_model

    x = check_images(images, model=model)
    phi, g = split_model(model, layer)
    pdc = PredictionDifference(g, similarity if similarity is None else
                               similarity_matrix(similarity, model_num_classes(model)), batch_size)
    run_phi = tf.function(lambda b: phi(b, training=False))
    feats = np.concatenate([run_phi(tf.constant(x[i:i + batch_size])).numpy() for i in range(0, len(x), batch_size)])
    probs = pdc.outputs(feats)
    pd = pdc(feats, base=probs)
    return Trace(pd=pd, probs=probs, pred=probs.argmax(-1), top=top_neurons(pd, min(top, pd.shape[-1])), layer=layer)
