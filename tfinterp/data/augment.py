"""Data augmentation as batched TensorFlow ops for tf.data pipelines."""

from __future__ import annotations

import math


def _gaussian_kernel(sigma: float):
    import tensorflow as tf

    radius = max(1, int(math.ceil(3.0 * sigma)))
    t = tf.range(-radius, radius + 1, dtype=tf.float32)
    k = tf.exp(-0.5 * tf.square(t / sigma))
    return k / tf.reduce_sum(k)


def elastic_deform(images, alpha: float = 20.0, sigma: float = 4.0, seed=None):
    """Elastic distortion of a batch (Simard, Steinkraus & Platt, ICDAR 2003).

    Per image and axis, a displacement field drawn from U(-1, 1) per pixel is smoothed by a
    Gaussian of std `sigma` (pixels), scaled by `alpha`, and the image is resampled at the
    displaced positions with bilinear interpolation (zero outside), as the ProtoNet
    reference code (Li et al. 2018) does. `images`: float [N, H, W, C]; returns the same shape.
    """
    import tensorflow as tf

    images = tf.convert_to_tensor(images, tf.float32)
    shape = tf.shape(images)
    n, h, w = shape[0], shape[1], shape[2]
    if seed is None:
        noise = tf.random.uniform([n, h, w, 2], -1.0, 1.0)
    else:
        noise = tf.random.stateless_uniform([n, h, w, 2], seed=seed, minval=-1.0, maxval=1.0)
    k = _gaussian_kernel(float(sigma))
    size = int(k.shape[0])
    # separable smoothing of both displacement channels (depthwise, zero padding)
    kx = tf.tile(tf.reshape(k, [1, size, 1, 1]), [1, 1, 2, 1])
    ky = tf.tile(tf.reshape(k, [size, 1, 1, 1]), [1, 1, 2, 1])
    field = tf.nn.depthwise_conv2d(noise, kx, [1, 1, 1, 1], "SAME")
    field = tf.nn.depthwise_conv2d(field, ky, [1, 1, 1, 1], "SAME") * float(alpha)
    gy, gx = tf.meshgrid(tf.range(h, dtype=tf.float32), tf.range(w, dtype=tf.float32), indexing="ij")
    y = gy[None] + field[..., 0]
    x = gx[None] + field[..., 1]
    return _bilinear(images, y, x)


def _bilinear(images, y, x):
    """Sample images [N,H,W,C] at float positions y, x [N,H,W]; zero outside the image."""
    import tensorflow as tf

    shape = tf.shape(images)
    n, h, w = shape[0], shape[1], shape[2]
    y0, x0 = tf.floor(y), tf.floor(x)
    wy, wx = (y - y0)[..., None], (x - x0)[..., None]
    batch = tf.broadcast_to(tf.range(n)[:, None, None], tf.shape(y))

    def at(yy, xx):
        yi, xi = tf.cast(yy, tf.int32), tf.cast(xx, tf.int32)
        inside = (yi >= 0) & (yi < h) & (xi >= 0) & (xi < w)
        idx = tf.stack([batch, tf.clip_by_value(yi, 0, h - 1), tf.clip_by_value(xi, 0, w - 1)], axis=-1)
        return tf.gather_nd(images, idx) * tf.cast(inside, images.dtype)[..., None]

    top = at(y0, x0) * (1 - wx) + at(y0, x0 + 1) * wx
    bottom = at(y0 + 1, x0) * (1 - wx) + at(y0 + 1, x0 + 1) * wx
    return top * (1 - wy) + bottom * wy
