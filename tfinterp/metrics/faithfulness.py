"""Faithfulness of attribution maps without ground truth: deletion and insertion curves.

A map is faithful when the pixels it ranks first are the ones the model's decision rests on.
Pixel flipping (Samek et al. 2017, "Evaluating the visualization of what a deep neural network
has learned", IEEE TNNLS) and its deletion / insertion form (Petsiuk, Das & Saenko 2018, "RISE:
Randomized Input Sampling for Explanation of Black-box Models", BMVC, Section 4.1) measure it:

- **deletion**: the pixels are set, most important first, to a baseline in `steps` equal
  steps; the model's probability of the explained class is read after each step. A faithful
  map makes it fall at once: a *low* area under the curve is good.
- **insertion**: starting from the baseline, the pixels of the image are put back in the same
  order; the probability should rise at once: a *high* area is good.

The curve has ``steps + 1`` points (0 % ... 100 % of the pixels changed) at x = 0, 1/steps,
..., 1, and its area is the trapezoidal rule on [0, 1] (`auc`). All channels of a pixel move
together. Pixels of equal importance are ordered by a seeded random key (not by position),
so a constant map is a random order and a map with large ties is not favoured by where its
ties happen to lie. The baseline is a constant, ``"blur"`` (a Gaussian-blurred copy of the
image, RISE's insertion start) or an array like the images.

Every step image of a chunk of inputs is built in one compiled graph from the inputs, their
pixel ranks and the baselines, and goes through the model as one batch of about `batch_size`
images; there is no Python loop per image. Importing this module does not import TensorFlow.
"""

from __future__ import annotations

import numpy as np

from tfinterp.errors import UserError

MODES = ("deletion", "insertion")


def auc(curve, axis: int = -1):
    """Area under curve(s) sampled at equally spaced x in [0, 1] (trapezoidal rule): for
    ``k + 1`` points, ``(sum(c) - (c[0] + c[-1]) / 2) / k``."""
    c = np.asarray(curve, dtype=np.float64)
    k = c.shape[axis] - 1
    if k < 1:
        raise UserError("a curve needs at least two points for its area")
    first = np.take(c, 0, axis=axis)
    last = np.take(c, -1, axis=axis)
    return (c.sum(axis=axis) - 0.5 * (first + last)) / k


def pixel_ranks(maps, seed: int = 0) -> np.ndarray:
    """(N, H, W) int32: each pixel's place in its map's order, 0 = most important.

    Ties are broken by a seeded random key, the same for every map of a call, so two maps
    that order the pixels alike get the same ranks."""
    m = np.asarray(maps, dtype=np.float64)
    if m.ndim != 3:
        raise UserError(f"maps must be (N, H, W), got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise UserError("maps contain NaN or infinite values")
    n, h, w = m.shape
    flat = m.reshape(n, h * w)
    key = np.random.RandomState(int(seed)).random_sample(h * w)
    order = np.lexsort((np.broadcast_to(key, flat.shape), -flat), axis=-1)  # last key sorts first
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(h * w)[None].repeat(n, 0), axis=-1)
    return ranks.reshape(n, h, w).astype(np.int32)


def step_counts(n_pixels: int, steps: int) -> np.ndarray:
    """How many pixels are changed at each of the ``steps + 1`` points: round(j * P / steps)."""
    if int(steps) < 1:
        raise UserError(f"steps must be an integer >= 1, got {steps}")
    j = np.arange(int(steps) + 1, dtype=np.float64)
    return np.rint(j * n_pixels / int(steps)).astype(np.int32)


def _baselines(images, baseline, blur_sigma):
    """The baseline images (N, H, W, C) float32 for `images`."""
    if isinstance(baseline, str):
        if baseline != "blur":
            raise UserError(f"baseline must be a number, 'blur' or an array like the images, got '{baseline}'")
        import tensorflow as tf

        from tfinterp.ops.image import gaussian_blur

        sigma = float(blur_sigma) if blur_sigma is not None else max(1.0, 5.0 * images.shape[1] / 224.0)
        if sigma <= 0:
            raise UserError(f"blur_sigma must be > 0, got {blur_sigma}")
        out = [gaussian_blur(tf.constant(images[i:i + 512]), sigma).numpy() for i in range(0, len(images), 512)]
        return np.concatenate(out).astype(np.float32)
    if np.ndim(baseline) == 0:
        try:
            value = float(baseline)
        except (TypeError, ValueError):
            raise UserError(f"baseline must be a number, 'blur' or an array like the images, got {baseline!r}")
        return np.full_like(images, value)
    b = np.asarray(baseline, dtype=np.float32)
    try:
        return np.broadcast_to(b, images.shape).astype(np.float32)
    except ValueError:
        raise UserError(f"baseline of shape {b.shape} does not fit the images {images.shape}")


class _CurveRunner:
    """The compiled step-image builder and model call for one model (built once, reused)."""

    def __init__(self, model, probability: bool):
        import tensorflow as tf

        self.model = model
        shape = tuple(int(v) for v in model.input_shape[1:])
        h, w = shape[0], shape[1]
        spec = [tf.TensorSpec((None,) + shape, tf.float32), tf.TensorSpec((None,) + shape, tf.float32),
                tf.TensorSpec((None, h, w), tf.int32), tf.TensorSpec((None,), tf.int32),
                tf.TensorSpec((None,), tf.int32), tf.TensorSpec((), tf.bool)]

        def run(images, baselines, ranks, targets, counts, insert):
            # changed[i, j, y, x]: pixel (y, x) of image i is among the first counts[j] at step j
            changed = ranks[:, None, :, :] < counts[None, :, None, None]
            changed = changed[..., None]
            x = images[:, None]
            b = baselines[:, None]
            stack = tf.where(tf.math.logical_xor(changed, insert), b, x)  # deletion: changed -> baseline
            n, s = tf.shape(images)[0], tf.shape(counts)[0]
            flat = tf.reshape(stack, tf.concat([[n * s], tf.shape(images)[1:]], 0))
            out = tf.cast(self.model(flat, training=False), tf.float32)
            if probability:
                out = tf.nn.softmax(out)
            out = tf.reshape(out, [n, s, -1])
            return tf.gather(out, targets, axis=2, batch_dims=1)

        self.fn = tf.function(run, input_signature=spec, autograph=False)


def perturbation_curves(model, images, maps, targets=None, mode: str = "deletion", baseline=0.0,
                        steps: int = 28, batch_size: int = 256, blur_sigma: float | None = None,
                        probability: bool = True, seed: int = 0, runner=None) -> np.ndarray:
    """(N, steps + 1) deletion or insertion curves (Petsiuk et al. 2018; Samek et al. 2017).

    `mode` ``"deletion"``: point j is the model's probability (``probability=False``: logit)
    of ``targets[i]`` once the ``round(j * H * W / steps)`` most important pixels of ``maps[i]``
    are set to the baseline; ``"insertion"``: once they are copied from the image into the
    baseline. `targets` default to the predicted classes. `baseline`: a number, ``"blur"``
    (Gaussian blur, `blur_sigma` default max(1, 5 * H / 224), RISE's kernel scaled) or an
    array broadcastable to the images. About `batch_size` step images go through the model at
    once (at least one input's ``steps + 1``).
    """
    from tfinterp.checks import check_classes, check_images, model_num_classes

    if mode not in MODES:
        raise UserError(f"mode must be one of {', '.join(MODES)}, got '{mode}'")
    if int(batch_size) < 1:
        raise UserError(f"batch_size must be an integer >= 1, got {batch_size}")
    x = check_images(images, model=model)
    m = np.asarray(maps, dtype=np.float32)
    if m.ndim == 4 and m.shape[-1] == 1:
        m = m[..., 0]
    if m.shape != x.shape[:3]:
        raise UserError(f"maps of shape {m.shape} do not match the images {x.shape} (one (H, W) map per image)")
    ranks = pixel_ranks(m, seed)
    b = _baselines(x, baseline, blur_sigma)
    if targets is None:
        targets = np.concatenate([np.asarray(model(x[i:i + 512], training=False)).argmax(-1)
                                  for i in range(0, len(x), 512)])
    t = check_classes(targets, len(x), model_num_classes(model))
    counts = step_counts(x.shape[1] * x.shape[2], steps)
    runner = runner or _CurveRunner(model, probability)
    chunk = max(1, int(batch_size) // len(counts))
    insert = mode == "insertion"
    out = [runner.fn(x[i:i + chunk], b[i:i + chunk], ranks[i:i + chunk], t[i:i + chunk], counts, insert).numpy()
           for i in range(0, len(x), chunk)]
    return np.concatenate(out).astype(np.float64)


def faithfulness_scores(model, images, maps, targets=None, steps: int = 28, baseline=0.0,
                        insertion_baseline=None, batch_size: int = 256, blur_sigma: float | None = None,
                        probability: bool = True, seed: int = 0, runner=None) -> dict:
    """Deletion and insertion AUC of `maps` (Petsiuk et al. 2018), per image and averaged.

    Deletion sets pixels to `baseline`; insertion starts from `insertion_baseline` (None: the
    same `baseline`; RISE starts insertion from ``"blur"``). Returns ``{"deletion_auc",
    "insertion_auc", "insertion_minus_deletion"}`` (means over the images; the last is the
    combined score, higher is better), ``"curves"`` (the mean deletion and insertion curves,
    lists of ``steps + 1`` values) and ``"per_image"`` (arrays ``deletion``, ``insertion``,
    ``difference`` of the AUCs, for paired comparisons on the same images). A `runner` from
    `curve_runner` is reused (its own `probability` then applies).
    """
    kw = dict(steps=steps, batch_size=batch_size, blur_sigma=blur_sigma, probability=probability, seed=seed)
    if runner is None:
        runner = _CurveRunner(model, probability)
    if targets is None:
        x = np.asarray(images, np.float32)
        targets = np.concatenate([np.asarray(model(x[i:i + 512], training=False)).argmax(-1)
                                  for i in range(0, len(x), 512)])
    ins_base = baseline if insertion_baseline is None else insertion_baseline
    dc = perturbation_curves(model, images, maps, targets, "deletion", baseline, runner=runner, **kw)
    ic = perturbation_curves(model, images, maps, targets, "insertion", ins_base, runner=runner, **kw)
    d, i = auc(dc), auc(ic)
    return {"deletion_auc": float(d.mean()), "insertion_auc": float(i.mean()),
            "insertion_minus_deletion": float((i - d).mean()),
            "curves": {"deletion": dc.mean(0).tolist(), "insertion": ic.mean(0).tolist()},
            "per_image": {"deletion": d, "insertion": i, "difference": i - d}}


def curve_runner(model, probability: bool = True):
    """A compiled curve builder for `model`, to pass as ``runner=`` to many calls (one trace)."""
    return _CurveRunner(model, probability)


def random_maps(n: int, shape, seed: int = 0) -> np.ndarray:
    """(n, H, W) uniform random maps: the baseline every faithful map should beat."""
    h, w = (int(v) for v in shape[:2])
    return np.random.RandomState(int(seed)).random_sample((int(n), h, w)).astype(np.float32)


__all__ = ["auc", "pixel_ranks", "step_counts", "perturbation_curves", "faithfulness_scores", "curve_runner",
           "random_maps", "MODES"]
