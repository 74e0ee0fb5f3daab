"""Regularizers of feature visualization (the survey "Network interpretability" and Olah et al.,
"Feature Visualization", Distill 2017, "The enemy of feature visualization"):

- penalties added to the loss, each per image ((N,), already weighted): `L1` and `L2`
  (of the image's distance from grey 0.5; Simonyan et al. 2014 use L2), `TotalVariation`
  (Mahendran & Vedaldi 2015's natural-image prior);
- steps that replace the image every `every` steps: `Blur` (Gaussian blur, Nguyen et al.
  2015 / Yosinski et al. 2015's "blur every k steps") and `Bilateral` (edge-preserving
  smoothing, Tyka 2016), both over `tfinterp.ops.image`.

A penalty has ``penalty(images) -> (N,)``; a step has ``every`` and ``apply(images)``.
`parse_regularizer("tv=0.05")`, ``"l1=0.01"``, ``"l2=0.01"``, ``"blur=4"`` (every 4 steps,
sigma 0.5), ``"bilateral=8"`` reads the command-line form.
"""

from __future__ import annotations

from dataclasses import dataclass

from tfinterp.errors import UserError


@dataclass(frozen=True)
class L1:
    """weight * mean |x - centre| per image."""
    weight: float = 0.01
    centre: float = 0.5
    kind = "penalty"

    def penalty(self, images):
        import tensorflow as tf

        return self.weight * tf.reduce_mean(tf.abs(images - self.centre), axis=[1, 2, 3])


@dataclass(frozen=True)
class L2:
    """weight * mean (x - centre)^2 per image."""
    weight: float = 0.01
    centre: float = 0.5
    kind = "penalty"

    def penalty(self, images):
        import tensorflow as tf

        return self.weight * tf.reduce_mean(tf.square(images - self.centre), axis=[1, 2, 3])


@dataclass(frozen=True)
class TotalVariation:
    """weight * mean of |dx|^beta + |dy|^beta per image (beta 1: anisotropic TV; 2: squared)."""
    weight: float = 0.05
    beta: float = 1.0
    kind = "penalty"

    def penalty(self, images):
        import tensorflow as tf

        dy = images[:, 1:, :, :] - images[:, :-1, :, :]
        dx = images[:, :, 1:, :] - images[:, :, :-1, :]
        if self.beta == 1.0:
            fy, fx = tf.abs(dy), tf.abs(dx)
        elif self.beta == 2.0:
            fy, fx = tf.square(dy), tf.square(dx)
        else:
            fy, fx = tf.pow(tf.abs(dy) + 1e-8, self.beta), tf.pow(tf.abs(dx) + 1e-8, self.beta)
        return self.weight * (tf.reduce_mean(fy, axis=[1, 2, 3]) + tf.reduce_mean(fx, axis=[1, 2, 3]))


@dataclass(frozen=True)
class Blur:
    """Every `every` steps, replace the image by its Gaussian blur (sigma `sigma`)."""
    every: int = 4
    sigma: float = 0.5
    kind = "step"

    def apply(self, images):
        from tfinterp.ops.image import gaussian_blur

        return gaussian_blur(images, self.sigma)


@dataclass(frozen=True)
class Bilateral:
    """Every `every` steps, replace the image by its bilateral filter (edge-preserving)."""
    every: int = 8
    radius: int = 2
    sigma_space: float = 1.0
    sigma_color: float = 0.1
    kind = "step"

    def apply(self, images):
        from tfinterp.ops.image import bilateral_filter

        return bilateral_filter(images, self.radius, self.sigma_space, self.sigma_color)


_FORMS = {"l1": (L1, float), "l2": (L2, float), "tv": (TotalVariation, float), "blur": (Blur, int),
          "bilateral": (Bilateral, int)}


def parse_regularizer(text):
    """A regularizer from ``name=value`` (l1, l2, tv: the weight; blur, bilateral: every k steps),
    or the object itself."""
    if not isinstance(text, str):
        if getattr(text, "kind", None) in ("penalty", "step"):
            return text
        raise UserError(f"a regularizer must be a string such as 'tv=0.05' or a regularizer object, got {text!r}")
    name, _, value = text.partition("=")
    name = name.strip().lower()
    if name not in _FORMS:
        raise UserError(f"unknown regularizer '{name}'; use {', '.join(f'{k}=...' for k in _FORMS)}")
    cls, typ = _FORMS[name]
    if not value.strip():
        return cls()
    try:
        v = typ(value)
    except ValueError:
        raise UserError(f"regularizer {name}: '{value}' is not {'an integer' if typ is int else 'a number'}")
    if typ is int and v < 1:
        raise UserError(f"regularizer {name}: every must be >= 1, got {v}")
    if typ is float and v < 0:
        raise UserError(f"regularizer {name}: the weight must be >= 0, got {v}")
    return cls(v)


def split_regularizers(items):
    """(penalties, steps) of the parsed `items`."""
    regs = [parse_regularizer(r) for r in (items or ())]
    for r in regs:
        if r.kind == "step" and int(r.every) < 1:
            raise UserError(f"{type(r).__name__}: every must be >= 1, got {r.every}")
    return [r for r in regs if r.kind == "penalty"], [r for r in regs if r.kind == "step"]


__all__ = ["L1", "L2", "TotalVariation", "Blur", "Bilateral", "parse_regularizer", "split_regularizers"]
