"""The seed's "Madry" feature visualization (Baek et al., "Can we interpret the black box?";
after Engstrom, Ilyas, Santurkar, Tsipras, Tran, Madry, "Adversarial robustness as a prior
for learned representations", 2019): start from a dataset example and maximize a neuron or
channel with targeted L2 steps in input space, on an adversarially robust model, whose
gradients are perceptually aligned, so no transforms, parameterization or regularizer is
needed.

It is the attacks' L2 PGD (`tfinterp.attacks.pgd.PGD`, `tfinterp.ops.norms`) with a
representation objective instead of a loss on labels: each step moves along the
L2-normalised gradient of the objective (`tfinterp.featureviz.objectives`, per image), then
projects onto the L2 ball of radius `eps` around the starting image and the pixel range.
The default `eps` is large (the ball does not bind, as in Engstrom et al.'s visualizations)
and the default step is sqrt(H W C) / 400 (Engstrom et al.'s 1.0 at 224x224x3, scaled with
the image's L2 size). Batched: image i maximizes its own objective (its index is passed as
the attack's "label"), in chunks of `batch_size`.
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np

from tfinterp.attacks.pgd import PGD
from tfinterp.errors import UserError
from tfinterp.featureviz.objectives import INPUT, Objective
from tfinterp.featureviz.render import RenderResult, check_thresholds


class RepresentationPGD(PGD):
    """L2 PGD ascending a feature-visualization objective (image i: its own value, i given
    as the label) instead of a classification loss. Not a registered attack."""

    def __init__(self, model, objective: Objective, **params):
        from tfinterp.featureviz.render import activation_fn

        self.target_objective = objective
        self._features = activation_fn(model, sorted(objective.layers - {INPUT}))
        params.setdefault("norm", "l2")
        params.setdefault("random_start", False)
        super().__init__(model, **params)

    @property
    def attack_name(self) -> str:
        return "madry_style"

    def logits(self, x):  # the representation the objective reads
        acts = self._features(x)
        acts[INPUT] = x
        return acts

    def objective(self, acts, labels, targets):
        return self.target_objective(acts, labels)


def default_step_size(shape) -> float:
    """sqrt(H W C) / 400: Engstrom et al.'s step 1.0 at 224x224x3, scaled with the image size."""
    return math.sqrt(float(np.prod(shape))) / 400.0


def madry_render(model, objective: Objective, images, *, eps: float = 1000.0, steps: int = 200,
                 step_size: float | None = None, thresholds=None, batch_size: int = 32,
                 progress: bool = True) -> RenderResult:
    """Madry-style visualization of `objective` from the starting `images` ([N, H, W, C] in
    [0, 1], one per image of the objective; e.g. each channel's top dataset example, see
    `top_start_images`). `steps` targeted L2 steps of `step_size` (default
    `default_step_size`) inside the L2 ball of radius `eps` around each start. Snapshots at
    `thresholds` (the PGD runs in segments between thresholds; each segment's end is
    projected onto the ball around the start). Returns a `RenderResult` like `render`.
    """
    import tensorflow as tf

    from tfinterp.checks import check_images, model_image_shape
    from tfinterp.ops.norms import project

    if not isinstance(objective, Objective):
        raise UserError(f"madry_render needs an Objective, got {type(objective).__name__}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise UserError(f"steps must be a positive integer, got {steps!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise UserError(f"batch_size must be a positive integer, got {batch_size!r}")
    shape = model_image_shape(model)
    x0 = check_images(images, shape)
    total = len(x0)
    if objective.batch is not None and objective.batch != total:
        raise UserError(f"{total} start images for an objective of {objective.batch} images")
    step_size = default_step_size(shape) if step_size is None else float(step_size)
    ths = check_thresholds(thresholds, int(steps))
    t0 = time.perf_counter()
    bounds = [0, *ths] if ths[-1] == steps else [0, *ths, int(steps)]
    segments = sorted({b - a for a, b in zip(bounds[:-1], bounds[1:])})
    attacks = {s: RepresentationPGD(model, objective, eps=float(eps), steps=s, step_size=step_size,
                                    batch_size=batch_size) for s in segments}
    bar = None
    if progress:
        import keras

        print(f"madry-style {objective.name}: {total} image(s), {steps} L2 steps of {step_size:.3g}", file=sys.stderr)
        bar = keras.utils.Progbar(total, unit_name="image")
    snaps = {t: [] for t in ths}
    finals = []
    for start in range(0, total, batch_size):
        stop = min(total, start + batch_size)
        origin = tf.constant(x0[start:stop])
        idx = tf.range(start, stop, dtype=tf.int32)
        x = origin
        for a, b in zip(bounds[:-1], bounds[1:]):
            x = attacks[b - a]._compiled(x, idx, idx)
            x = project(x, origin, float(eps), "l2", 0.0, 1.0)
            if b in snaps:
                snaps[b].append(x.numpy())
        finals.append(x.numpy())
        if bar is not None:
            bar.update(stop)
    final = np.concatenate(finals).astype(np.float32)
    values = _evaluate(attacks[segments[0]], final, batch_size)
    settings = {"method": "madry", "objective": objective.name, "n": total, "steps": int(steps), "eps": float(eps),
                "step_size": step_size, "norm": "l2", "thresholds": list(ths), "batch_size": int(batch_size),
                "init": "image"}
    return RenderResult(images=final, snapshots={t: np.concatenate(v) for t, v in snaps.items()}, values=values,
                        settings=settings, seconds=time.perf_counter() - t0)


def _evaluate(attack, images, batch_size):
    import tensorflow as tf

    out = []
    for i in range(0, len(images), batch_size):
        x = tf.constant(images[i:i + batch_size])
        idx = tf.range(i, i + len(x), dtype=tf.int32)
        out.append(attack.objective(attack.logits(x), idx, idx).numpy())
    return np.concatenate(out).astype(np.float32)


def top_start_images(model, layer: str, channels, images, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(start images [len(channels), H, W, C], their indices in `images`): for each channel of
    `layer`, the data set image that activates it most (spatial max; the dataset examples of
    `tfinterp.analysis.examples.top_examples`)."""
    from tfinterp.analysis.examples import top_examples

    top = top_examples(model, layer, images, k=1, batch_size=batch_size)
    chans = [int(c) for c in channels]
    if max(chans) >= top.indices.shape[0]:
        raise UserError(f"channel {max(chans)} is out of range for layer '{layer}' ({top.indices.shape[0]} channels)")
    idx = top.indices[chans, 0]
    return np.asarray(images)[idx], idx





def best_start_images(model, objective: Objective, n: int, images, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(start images [n, H, W, C], their indices in `images`): for each image i of the render,
    the data set image with the highest value of `objective` for image i (its own channel,
    class, ...): the seed's "start from a dataset example". Costs n passes over `images`."""
    import tensorflow as tf

    from tfinterp.checks import check_images, model_image_shape
    from tfinterp.featureviz.render import activation_fn

    x = check_images(images, model_image_shape(model))
    fm = activation_fn(model, sorted(objective.layers - {INPUT}))

    @tf.function(input_signature=[tf.TensorSpec((None,) + x.shape[1:], tf.float32), tf.TensorSpec((), tf.int32)],
                 reduce_retracing=True)
    def values(batch, i):
        acts = fm(batch)
        acts[INPUT] = batch
        return objective(acts, tf.fill([tf.shape(batch)[0]], i))

    best = np.zeros(n, np.int64)
    for i in range(int(n)):
        v = np.concatenate([values(tf.constant(x[j:j + batch_size]), tf.constant(i)).numpy()
                            for j in range(0, len(x), batch_size)])
        best[i] = int(np.argmax(v))
    return x[best], best


__all__ = ["RepresentationPGD", "madry_render", "top_start_images", "best_start_images", "default_step_size"]
