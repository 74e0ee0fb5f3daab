"""The attack interface shared by every adversarial attack.

``Attack(model, **params).attack(images, labels, targets=None)`` returns a float32 NumPy
array of adversarial images, the same shape as `images`. Parameters are validated once, at
construction, through `Param` declarations (errors are `UserError`s a user can act on).
Subclasses implement `perturb(images, labels, targets)` on one batch as TensorFlow ops,
with the whole iteration loop inside; the base compiles it once with `tf.function` and a
fixed input signature (no retracing per batch), validates inputs and batches. Every
iterate is projected onto the eps ball (when the attack has one) and the pixel range
[clip_min, clip_max]. The user's model is never modified.

`perturb` is also usable directly inside another `tf.function` (an adversarial training
step): it takes and returns tensors and never leaves the graph.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from tfinterp.errors import UserError

_REGISTRY: dict[str, type] = {}


def register(name):
    """Class decorator: make an attack available under `name`."""
    def deco(cls):
        cls.attack_name = name
        _REGISTRY[name] = cls
        return cls
    return deco


def list_attacks() -> list[str]:
    import tfinterp.attacks.methods  # noqa: F401  (registers the built-in attacks)

    return sorted(_REGISTRY)


def get_attack(name: str, model, **params):
    """Instantiate the attack registered under `name` (see `list_attacks()`)."""
    names = list_attacks()
    if name not in _REGISTRY:
        raise UserError(f"unknown attack '{name}'; available: {', '.join(names)}")
    return _REGISTRY[name](model, **params)


@dataclass(frozen=True)
class Param:
    """One attack parameter: its default and the check its value must pass.

    `check` returns True for valid values; `expect` says, for the error message, what was
    expected ("a number in (0, 1]").
    """

    default: Any
    check: Callable[[Any], bool]
    expect: str
    cast: Callable[[Any], Any] | None = None


def positive_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1


def nonneg_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0


def finite_number(v):
    return isinstance(v, (int, float, np.number)) and not isinstance(v, bool) and math.isfinite(float(v))


def positive_number(v):
    return finite_number(v) and float(v) > 0


def nonneg_number(v):
    return finite_number(v) and float(v) >= 0


def one_of(*choices):
    return lambda v: v in choices


def check_images(images, input_shape) -> np.ndarray:
    """Validate a batch: 4-D float, finite, matching the model's input shape, inside [0, 1]."""
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise UserError(f"images must be [N, H, W, C] (or one [H, W, C] image), got shape {x.shape}")
    if len(x) == 0:
        raise UserError("no images to attack")
    if not np.all(np.isfinite(x)):
        raise UserError("images contain NaN or infinite values; clean the input first")
    if tuple(x.shape[1:]) != tuple(input_shape):
        raise UserError(f"images have shape {tuple(x.shape[1:])} but the model takes {tuple(input_shape)}")
    return x


def check_labels(labels, n: int, num_classes: int, what: str = "labels") -> np.ndarray:
    """Integer class indices, one per image, inside 0..num_classes-1."""
    t = np.asarray(labels).reshape(-1)
    if t.size == 1 and n > 1:
        t = np.repeat(t, n)
    if t.size != n:
        raise UserError(f"got {t.size} {what} for {n} images")
    if t.dtype.kind not in "iuf" or (t.dtype.kind == "f" and not np.all(t == np.round(t))):
        raise UserError(f"{what} must be integer class indices")
    t = t.astype(np.int64)
    bad = t[(t < 0) | (t >= num_classes)]
    if bad.size:
        raise UserError(f"{what[:-1] if what.endswith('s') else what} {int(bad[0])} is out of range: "
                        f"the model has {num_classes} classes (0..{num_classes - 1})")
    return t.astype(np.int32)


def model_num_classes(model) -> int:
    shape = getattr(model, "output_shape", None)
    if shape is not None and len(shape) == 2 and shape[-1]:
        return int(shape[-1])
    if getattr(model, "num_classes", None):
        return int(model.num_classes)
    raise UserError(f"cannot tell how many classes model '{model.name}' has: it must output [N, classes] logits")


class Attack:
    """Base class of all attacks (see the module docstring for the contract).

    Subclasses declare ``params = {name: Param(...)}`` and implement `perturb`.
    Every attack takes ``batch_size`` and the pixel range ``clip_min`` / ``clip_max``.
    """

    attack_name = "base"
    targeted_only = False
    common = {
        "batch_size": Param(256, positive_int, "a positive integer"),
        "clip_min": Param(0.0, finite_number, "a number", float),
        "clip_max": Param(1.0, finite_number, "a number", float),
        "seed": Param(None, lambda v: v is None or nonneg_int(v), "None or a non-negative integer"),
    }
    params: dict[str, Param] = {}

    def __init__(self, model, **kwargs):
        import tensorflow as tf

        self.model = model
        spec = {**self.common, **self.params}
        unknown = sorted(set(kwargs) - set(spec))
        if unknown:
            raise UserError(f"{self.attack_name}: unknown parameter(s) {', '.join(unknown)}; "
                            f"known: {', '.join(sorted(spec))}")
        for name, p in spec.items():
            value = kwargs.get(name, p.default)
            if not p.check(value):
                raise UserError(f"{self.attack_name}: {name} must be {p.expect}, got {value!r}")
            setattr(self, name, p.cast(value) if (p.cast and value is not None) else value)
        if not self.clip_min < self.clip_max:
            raise UserError(f"{self.attack_name}: clip_min {self.clip_min} must be below clip_max {self.clip_max}")
        self.validate()
        from tfinterp.data.imageio import model_input_shape

        self.input_shape = model_input_shape(model)
        self.num_classes = model_num_classes(model)
        self._rng = tf.random.Generator.from_seed(self.seed) if self.seed is not None else \
            tf.random.Generator.from_non_deterministic_state()
        sig = [tf.TensorSpec((None,) + self.input_shape, tf.float32), tf.TensorSpec((None,), tf.int32),
               tf.TensorSpec((None,), tf.int32)]
        self._compiled = tf.function(self.perturb, input_signature=sig)

    def validate(self):
        """Cross-parameter checks of a subclass (raise `UserError`)."""

    @property
    def config(self) -> dict:
        """The attack's name and parameters (for JSON summaries)."""
        out = {"method": self.attack_name}
        for name in {**self.common, **self.params}:
            out[name] = getattr(self, name)
        return out

    @property
    def is_targeted(self) -> bool:
        return bool(getattr(self, "targeted", self.targeted_only))

    def perturb(self, images, labels, targets):
        """Adversarial images for one batch, as TensorFlow ops (subclasses override)."""
        raise NotImplementedError

    def logits(self, x):
        return self.model(x, training=False)

    def attack(self, images, labels, targets=None) -> np.ndarray:
        """Adversarial versions of `images` (float32 NumPy, same shape), batched and compiled.

        `labels` are the true classes; `targets` the classes a targeted attack aims at (one
        per image, or one for all; see `tfinterp.attacks.targets` for random / least-likely).
        """
        x = check_images(images, self.input_shape)
        y = check_labels(labels, len(x), self.num_classes)
        if self.is_targeted:
            if targets is None:
                raise UserError(f"{self.attack_name} is targeted: give targets (see tfinterp.attacks.targets: "
                                "random_targets, least_likely_targets)")
            t = check_labels(targets, len(x), self.num_classes, "targets")
        else:
            if targets is not None:
                raise UserError(f"{self.attack_name} is untargeted: targets were given; "
                                "pass targeted=True to aim at them")
            t = y
        bs = int(self.batch_size)
        out = [self._compiled(x[i:i + bs], y[i:i + bs], t[i:i + bs]).numpy() for i in range(0, len(x), bs)]
        squeeze = np.asarray(images).ndim == 3
        adv = np.concatenate(out).astype(np.float32)
        return adv[0] if squeeze else adv


# ---- tensor helpers shared by the attacks ---------------------------------------------------

def ce_loss(logits, classes):
    """Per-example cross-entropy of integer `classes` under `logits`."""
    import tensorflow as tf

    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=classes, logits=tf.cast(logits, tf.float32))


def margin(logits, classes):
    """Per-example C&W margin z_c - max_{j != c} z_j (Carlini & Wagner 2017)."""
    import tensorflow as tf

    logits = tf.cast(logits, tf.float32)
    onehot = tf.one_hot(classes, tf.shape(logits)[-1], dtype=logits.dtype)
    own = tf.reduce_sum(logits * onehot, axis=-1)
    other = tf.reduce_max(logits - 1e9 * onehot, axis=-1)
    return own - other


def attack_objective(logits, labels, targets, loss: str, targeted: bool):
    """Per-example objective an attack ascends: untargeted raises the loss of the true class,
    targeted lowers the loss of the target class."""
    if loss == "ce":
        return -ce_loss(logits, targets) if targeted else ce_loss(logits, labels)
    return margin(logits, targets) if targeted else -margin(logits, labels)


def batch_norm(v, norm: str):
    """Per-example L-inf or L2 norm of a batch of images, shaped [N, 1, 1, 1]."""
    import tensorflow as tf

    if norm == "inf":
        return tf.reduce_max(tf.abs(v), axis=[1, 2, 3], keepdims=True)
    return tf.sqrt(tf.reduce_sum(tf.square(v), axis=[1, 2, 3], keepdims=True))


def project(x_adv, x, eps, norm: str, clip_min, clip_max):
    """Project `x_adv` onto the eps ball around `x` (L-inf or L2), then onto the pixel range.

    Clipping to the pixel range after projection only moves coordinates towards `x`, so
    the result stays inside the ball.
    """
    import tensorflow as tf

    if eps is not None:
        if norm == "inf":
            x_adv = tf.clip_by_value(x_adv, x - eps, x + eps)
        else:
            delta = x_adv - x
            n = batch_norm(delta, "l2")
            delta = delta * tf.minimum(1.0, eps / tf.maximum(n, 1e-12))
            x_adv = x + delta
    return tf.clip_by_value(x_adv, clip_min, clip_max)
