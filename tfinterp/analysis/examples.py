"""Dataset examples: the top-q % activating images of every channel of a layer (Dong, Su, Zhu,
Bao 2017, "Towards Interpretable Deep Neural Networks by Leveraging Adversarial Examples",
sec. 2.2: "for each neuron, we find the top 1% images with highest activations").

One streaming pass: a compiled step runs the layer on a batch, reduces each channel's map to
one number (spatial ``max`` or ``mean``), and merges the batch into a running top-k per
channel in-graph (``tf.math.top_k`` over the concatenation [running, batch]). The running
state lives in two `tf.Variable` of shape [C, k], so memory does not depend on the size of
the set and nothing goes back to NumPy between batches.

Ties between equal activations are broken towards the lower image index (the running entries
come first in the concatenation and ``top_k`` keeps the lower position first), so the result
equals a stable descending sort of the full [N, C] activation table.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

import numpy as np

from tfinterp.errors import UserError

REDUCTIONS = ("max", "mean")


@dataclass
class TopExamples:
    """The top images of every channel of a layer: ``indices`` [C, k] int64 into the image
    set (best first), ``values`` [C, k] float32 (the reduced activations), and how they were
    found (``layer``, ``reduce``, ``q``, ``n`` images seen)."""

    indices: np.ndarray
    values: np.ndarray
    layer: str
    reduce: str
    q: float | None = None
    n: int = 0
    meta: dict = field(default_factory=dict)

    @property
    def channels(self) -> int:
        return int(self.indices.shape[0])

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])

    def labels(self, labels) -> np.ndarray:
        """[C, k] labels of the top images (``labels`` indexed like the image set)."""
        return np.asarray(labels)[self.indices]

    def to_dict(self) -> dict:
        return {"layer": self.layer, "reduce": self.reduce, "q": self.q, "n": self.n, "k": self.k,
                "channels": self.channels, "indices": self.indices.tolist(),
                "values": np.round(self.values.astype(np.float64), 6).tolist()}


def check_q(q) -> float:
    """The percentage `q` as a float in (0, 100]; a `UserError` otherwise."""
    try:
        v = float(q)
    except (TypeError, ValueError):
        raise UserError(f"q must be a percentage in (0, 100], got {q!r}")
    if not (0.0 < v <= 100.0) or not math.isfinite(v):
        raise UserError(f"q must be a percentage in (0, 100] (q=1 keeps the top 1 % of the images), got {q}")
    return v


def k_for(q: float, n: int) -> int:
    """How many images the top `q` % of `n` images are: ceil(q/100 * n), at least 1."""
    return max(1, min(n, int(math.ceil(check_q(q) / 100.0 * n - 1e-9))))


def top_examples(model, layer: str, images, q: float = 1.0, k: int | None = None, reduce: str = "max",
                 batch_size: int = 256, progress: bool = False, n: int | None = None) -> TopExamples:
    """The top-`q` % (or top-`k`) images of every channel of `layer` in one streaming pass
    (Dong et al. 2017, sec. 2.2; dataset examples after Zhou et al. 2015).

    `layer` is an alias (``last_conv``), a ``/`` path or a unique layer name, resolved by
    `tfinterp.models.layers.feature_model`. A channel's activation on an image is the spatial
    ``max`` or ``mean`` of its map (a dense layer's unit is its value). `images` is an array
    [N, H, W, C] or a `tf.data.Dataset` of image batches (or of (images, labels) batches);
    for a data set of unknown size give `k` or its size `n`. `progress` shows a bar on stderr.
    """
    import tensorflow as tf

    from tfinterp.checks import check_images, model_image_shape
    from tfinterp.models.layers import feature_model

    if reduce not in REDUCTIONS:
        raise UserError(f"reduce must be one of {', '.join(REDUCTIONS)}, got '{reduce}'")
    if q is not None:
        q = check_q(q)
    if int(batch_size) < 1:
        raise UserError(f"batch_size must be >= 1, got {batch_size}")
    batch_size = int(batch_size)
    shape = model_image_shape(model)
    is_ds = isinstance(images, tf.data.Dataset)
    if is_ds:
        total = n
        if total is None:
            card = int(images.cardinality().numpy())
            if card >= 0:  # a count of batches: the images are only known for an unbatched set
                spec = images.element_spec
                spec = spec[0] if isinstance(spec, tuple) else spec
                total = card if len(spec.shape) == 3 else None
    else:
        images = check_images(images, shape)
        total = len(images)
    from_q = k is None
    if k is None:
        if total is None:
            raise UserError("top_examples: the data set's size is unknown; give k (images per channel) or n")
        k = k_for(q, total)
    k = int(k)
    if k < 1:
        raise UserError(f"k must be >= 1, got {k}")
    if total is not None and k > total:
        raise UserError(f"k={k} is more than the {total} images of the set")

    fm = feature_model(model, [layer])
    out_shape = fm.output[layer].shape if isinstance(fm.output, dict) else fm.output.shape
    channels = int(out_shape[-1])
    axes = list(range(1, len(out_shape) - 1))
    best_v = tf.Variable(tf.fill([channels, k], -np.inf), dtype=tf.float32, trainable=False)
    best_i = tf.Variable(tf.fill([channels, k], tf.constant(-1, tf.int64)), trainable=False)

    def reduced(x):
        a = tf.cast(fm(x, training=False)[layer], tf.float32)
        if axes:
            a = tf.reduce_max(a, axis=axes) if reduce == "max" else tf.reduce_mean(a, axis=axes)
        return a  # [B, C]

    @tf.function(input_signature=[tf.TensorSpec((None,) + shape, tf.float32), tf.TensorSpec((), tf.int64)],
                 reduce_retracing=True)
    def step(x, offset):
        a = tf.transpose(reduced(x))  # [C, B]
        b = tf.shape(a)[1]
        idx = tf.broadcast_to(offset + tf.range(tf.cast(b, tf.int64), dtype=tf.int64)[None], tf.shape(a))
        vals = tf.concat([best_v, a], axis=1)
        ids = tf.concat([best_i, idx], axis=1)
        top_v, pos = tf.math.top_k(vals, k=k, sorted=True)
        best_v.assign(top_v)
        best_i.assign(tf.gather(ids, pos, batch_dims=1))
        return b

    bar = None
    if progress:
        import keras

        print(f"dataset examples of '{layer}' ({reduce}, top {k} per channel):", file=sys.stderr)
        bar = keras.utils.Progbar(total, unit_name="image")
    seen = 0
    if is_ds:
        for batch in images:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            x = tf.cast(x, tf.float32)
            if x.shape.rank == 3:
                x = x[None]
            seen += int(step(x, tf.constant(seen, tf.int64)))
            if bar is not None:
                bar.update(seen)
    else:
        for i in range(0, total, batch_size):
            seen += int(step(tf.constant(images[i:i + batch_size]), tf.constant(i, tf.int64)))
            if bar is not None:
                bar.update(seen)
    if seen < k:
        raise UserError(f"k={k} is more than the {seen} images of the set")
    return TopExamples(indices=best_i.numpy().astype(np.int64), values=best_v.numpy().astype(np.float32),
                       layer=layer, reduce=reduce, q=q if from_q else None, n=seen,
                       meta={"channels": channels, "layer_shape": [None if s is None else int(s) for s in out_shape]})


def layer_channels(model, layer: str) -> int:
    """How many channels (units) `layer` of `model` has (a `UserError` for an unknown layer)."""
    from tfinterp.models.layers import feature_model

    fm = feature_model(model, [layer])
    return int(fm.output[layer].shape[-1])


def layer_activations(model, layer: str, images, reduce: str = "max", batch_size: int = 256) -> np.ndarray:
    """[N, C] reduced activations of `layer` (spatial max or mean per channel): the full table
    that `top_examples` streams over; for checks and for small sets."""
    import tensorflow as tf

    from tfinterp.checks import check_images, model_image_shape
    from tfinterp.models.layers import feature_model

    if reduce not in REDUCTIONS:
        raise UserError(f"reduce must be one of {', '.join(REDUCTIONS)}, got '{reduce}'")
    x = check_images(images, model_image_shape(model))
    fm = feature_model(model, [layer])

    @tf.function(reduce_retracing=True)
    def run(b):
        a = tf.cast(fm(b, training=False)[layer], tf.float32)
        axes = list(range(1, a.shape.rank - 1))
        if axes:
            a = tf.reduce_max(a, axis=axes) if reduce == "max" else tf.reduce_mean(a, axis=axes)
        return a

    return np.concatenate([run(tf.constant(x[i:i + batch_size])).numpy() for i in range(0, len(x), batch_size)])
