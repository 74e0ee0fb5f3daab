"""Per-example norms and projections onto eps balls (Madry et al. 2018's PGD projection)."""

from __future__ import annotations

import tensorflow as tf

NORMS = ("inf", "l2")


def batch_norm(v, norm: str):
    """Per-example L-inf or L2 norm of a batch, shaped [N, 1, ..., 1] (broadcasts against `v`)."""
    axes = list(range(1, v.shape.rank))
    if norm == "inf":
        return tf.reduce_max(tf.abs(v), axis=axes, keepdims=True)
    return tf.sqrt(tf.reduce_sum(tf.square(v), axis=axes, keepdims=True))


def project(x_adv, x, eps, norm: str, clip_min, clip_max):
    """Project `x_adv` onto the eps ball around `x` (L-inf or L2), then onto the pixel range.

    Clipping to the pixel range after projection only moves coordinates towards `x`, so
    the result stays inside the ball. `eps` None skips the ball.
    """
    if eps is not None:
        if norm == "inf":
            x_adv = tf.clip_by_value(x_adv, x - eps, x + eps)
        else:
            delta = x_adv - x
            n = batch_norm(delta, "l2")
            x_adv = x + delta * tf.minimum(1.0, eps / tf.maximum(n, 1e-12))
    return tf.clip_by_value(x_adv, clip_min, clip_max)


def safe_l2(v):
    """Per-example Euclidean norm whose gradient at 0 is 0 (not NaN)."""
    axes = list(range(1, v.shape.rank))
    sq = tf.reduce_sum(tf.square(v), axis=axes)
    return tf.where(sq > 0, tf.sqrt(tf.maximum(sq, 1e-20)), tf.zeros_like(sq))
