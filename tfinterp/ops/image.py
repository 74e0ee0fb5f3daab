"""Image operations on NHWC batches, all differentiable and usable inside `tf.function`.

`gaussian_blur` is the blurred background of guided inversion (Du et al. 2018) and meaningful
perturbation (Fong & Vedaldi 2017). `pad`, `jitter`, `scale` and `rotate` are the random
transformations that make feature visualization robust (Olah et al., "Feature Visualization",
Distill 2017; lucid's `optvis.transform`): each takes a `seed` pair for stateless randomness,
so a batch is transformed reproducibly.
"""

from __future__ import annotations

import math

import tensorflow as tf


def gaussian_blur(images, sigma: float):
    """Separable Gaussian blur of NHWC images with reflect padding (kernel radius 2*sigma)."""
    radius = max(1, int(math.ceil(2.0 * sigma)))
    xs = tf.range(-radius, radius + 1, dtype=tf.float32)
    k = tf.exp(-0.5 * tf.square(xs / sigma))
    k = k / tf.reduce_sum(k)
    c = images.shape[-1]
    pad_ = tf.pad(images, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    kh = tf.tile(tf.reshape(k, [-1, 1, 1, 1]), [1, 1, c, 1])
    kw = tf.tile(tf.reshape(k, [1, -1, 1, 1]), [1, 1, c, 1])
    out = tf.nn.depthwise_conv2d(pad_, kh, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(out, kw, [1, 1, 1, 1], "VALID")


def pad(images, width: int, mode: str = "REFLECT", value: float = 0.5):
    """Pad `width` pixels on every side (``REFLECT``, ``SYMMETRIC`` or ``CONSTANT`` with `value`)."""
    paddings = [[0, 0], [width, width], [width, width], [0, 0]]
    if mode.upper() == "CONSTANT":
        return tf.pad(images, paddings, mode="CONSTANT", constant_values=value)
    return tf.pad(images, paddings, mode=mode.upper())


def jitter(images, max_shift: int, seed):
    """Random crop that shifts the whole batch by up to `max_shift` pixels in each direction.

    The output is `max_shift` pixels smaller on each axis than the input (pad first to keep
    the size). One shift per call, drawn from the stateless `seed` ([2] int32).
    """
    if max_shift <= 0:
        return images
    shape = tf.shape(images)
    h, w = shape[1] - max_shift, shape[2] - max_shift
    off = tf.random.stateless_uniform([2], seed=seed, minval=0, maxval=max_shift + 1, dtype=tf.int32)
    return images[:, off[0]:off[0] + h, off[1]:off[1] + w, :]


def scale(images, factors, seed):
    """Resize the batch by a factor drawn uniformly from the list `factors` (bilinear)."""
    factors = tf.constant(list(factors), tf.float32)
    i = tf.random.stateless_uniform([], seed=seed, minval=0, maxval=int(factors.shape[0]), dtype=tf.int32)
    f = factors[i]
    size = tf.cast(tf.round(tf.cast(tf.shape(images)[1:3], tf.float32) * f), tf.int32)
    return tf.image.resize(images, size, method="bilinear")


def rotation_matrix_transform(angle, height, width):
    """The 8 projective-transform parameters of a rotation by `angle` radians about the centre."""
    cy, cx = (tf.cast(height, tf.float32) - 1) / 2, (tf.cast(width, tf.float32) - 1) / 2
    c, s = tf.cos(angle), tf.sin(angle)
    # output pixel (x, y) samples input (c*x - s*y + tx, s*x + c*y + ty): rotation about the centre
    tx = cx - c * cx + s * cy
    ty = cy - s * cx - c * cy
    return tf.stack([c, -s, tx, s, c, ty, 0.0, 0.0])


def rotate(images, angles_degrees, seed, fill_mode: str = "reflect"):
    """Rotate the batch by an angle drawn uniformly from the list `angles_degrees` (bilinear)."""
    angles = tf.constant([a * math.pi / 180.0 for a in angles_degrees], tf.float32)
    i = tf.random.stateless_uniform([], seed=seed, minval=0, maxval=int(angles.shape[0]), dtype=tf.int32)
    shape = tf.shape(images)
    t = rotation_matrix_transform(angles[i], shape[1], shape[2])
    t = tf.tile(t[None], [shape[0], 1])
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=t, output_shape=shape[1:3], fill_value=0.0,
        interpolation="BILINEAR", fill_mode=fill_mode.upper())


def crop_to(images, height: int, width: int):
    """Central crop to `height` x `width`; an image smaller on an axis is first resized up
    (bilinear) so that axis fits. An image already that size is returned unchanged."""
    shape = tf.shape(images)
    h, w = shape[1], shape[2]
    nh, nw = tf.maximum(h, height), tf.maximum(w, width)
    images = tf.cond(tf.logical_or(nh > h, nw > w),
                     lambda: tf.image.resize(images, tf.stack([nh, nw]), method="bilinear"),
                     lambda: images)
    oy, ox = (nh - height) // 2, (nw - width) // 2
    out = images[:, oy:oy + height, ox:ox + width, :]
    return tf.ensure_shape(out, [None, height, width, images.shape[-1]])


def bilateral_filter(images, radius: int = 2, sigma_space: float = 1.0, sigma_color: float = 0.1):
    """Bilateral filter (Tomasi & Manduchi 1998) of NHWC images: each pixel becomes the mean of
    its (2r+1)^2 neighbours weighted by exp(-d^2 / 2 sigma_space^2) * exp(-|I_p - I_q|^2 /
    2 sigma_color^2) (colour distance over the channels); reflect padding. Smooths while
    keeping edges (the survey's bilateral-filter regularizer for feature visualization)."""
    if radius <= 0:
        return images
    r = int(radius)
    h, w = tf.shape(images)[1], tf.shape(images)[2]
    padded = tf.pad(images, [[0, 0], [r, r], [r, r], [0, 0]], mode="REFLECT")
    num = tf.zeros_like(images)
    den = tf.zeros_like(images[..., :1])
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            q = padded[:, r + dy:r + dy + h, r + dx:r + dx + w, :]
            ws = math.exp(-(dx * dx + dy * dy) / (2.0 * sigma_space ** 2))
            wc = tf.exp(-tf.reduce_sum(tf.square(q - images), axis=-1, keepdims=True) / (2.0 * sigma_color ** 2))
            weight = ws * wc
            num += weight * q
            den += weight
    return num / den
