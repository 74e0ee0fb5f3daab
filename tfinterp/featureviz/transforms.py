"""Random transformations applied before every step of feature visualization
("transformation robustness", Olah et al., "Feature Visualization", Distill 2017; lucid's
``optvis.transform``): the image must keep activating the unit when it is padded, shifted,
scaled and rotated a little, which suppresses high-frequency adversarial patterns.

Every transform is a small object called as ``t(images, seed)`` (NHWC, `seed` a [2] int32
tensor for stateless randomness: one draw for the whole batch) over `tfinterp.ops.image`,
and each is the identity at its zero setting (``Pad(0)``, ``Jitter(0)``, ``Scale([1])``,
``Rotate([0])``, `Crop` to the same size). `lucid_recipe(size)` is the default: the recipe of
REFERENCES.md (pad 16, jitter 16, scale {1, 0.975, 1.025, 0.95, 1.05}, rotate -5..5 degrees,
jitter 8, crop), with the pixel amounts given for 128-px images and scaled down in proportion
for smaller ones (a 28-px image gets pad 4, jitter 4, jitter 2: shifts of 16 px would move a
28-px image by more than half its width).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from tfinterp.errors import UserError


@dataclass(frozen=True)
class Pad:
    """Pad `width` pixels on every side (constant `value`, lucid's 0.5 grey, or reflect)."""
    width: int
    mode: str = "CONSTANT"
    value: float = 0.5

    def __call__(self, images, seed):
        from tfinterp.ops.image import pad

        return images if self.width <= 0 else pad(images, self.width, self.mode, self.value)


@dataclass(frozen=True)
class Jitter:
    """Random crop shifting the batch by up to `max_shift` pixels (output `max_shift` smaller)."""
    max_shift: int

    def __call__(self, images, seed):
        from tfinterp.ops.image import jitter

        return jitter(images, self.max_shift, seed)


@dataclass(frozen=True)
class Scale:
    """Resize by a factor drawn from `factors` (bilinear)."""
    factors: tuple = (1.0,)

    def __call__(self, images, seed):
        from tfinterp.ops.image import scale

        if all(f == 1.0 for f in self.factors):
            return images
        return scale(images, self.factors, seed)


@dataclass(frozen=True)
class Rotate:
    """Rotate about the centre by an angle (degrees) drawn from `angles` (bilinear, reflect fill)."""
    angles: tuple = (0.0,)

    def __call__(self, images, seed):
        from tfinterp.ops.image import rotate

        if all(a == 0.0 for a in self.angles):
            return images
        return rotate(images, self.angles, seed)


@dataclass(frozen=True)
class Crop:
    """Central crop (resizing up an axis that is too small) to the model's `height` x `width`."""
    height: int
    width: int

    def __call__(self, images, seed):
        from tfinterp.ops.image import crop_to

        return crop_to(images, self.height, self.width)


def _px(amount: int, size: int) -> int:
    return amount if size >= 128 else max(1, round(amount * size / 128))


def lucid_recipe(size: int) -> list:
    """The default transforms for `size`-px images (see the module docstring); no final crop
    (`compose` adds it)."""
    return [Pad(_px(16, size)), Jitter(_px(16, size)), Scale((1.0, 0.975, 1.025, 0.95, 1.05)),
            Rotate(tuple(float(a) for a in range(-5, 6))), Jitter(_px(8, size))]


def make_transforms(spec, size: int) -> list:
    """Transforms from `spec`: ``"lucid"`` (the default recipe for `size`-px images),
    ``"none"`` / None / ``()``, or a sequence of transform objects."""
    if spec is None or (isinstance(spec, str) and spec == "none"):
        return []
    if isinstance(spec, str):
        if spec == "lucid":
            return lucid_recipe(size)
        raise UserError(f"unknown transforms '{spec}'; use 'lucid', 'none' or a list of transforms")
    items = list(spec)
    for t in items:
        if not callable(t):
            raise UserError(f"a transform must be callable as t(images, seed), got {t!r}")
    return items


def compose(transforms: Sequence, height: int, width: int):
    """One function ``f(images, seed)`` applying `transforms` in order (each with its own seed,
    derived from `seed`) and then cropping to the model's `height` x `width`."""
    import tensorflow as tf

    crop = Crop(height, width)
    items = list(transforms)

    def apply(images, seed):
        for k, t in enumerate(items):
            images = t(images, tf.stack([seed[0], seed[1] * 31 + k + 1]))
        return crop(images, seed)

    return apply


__all__ = ["Pad", "Jitter", "Scale", "Rotate", "Crop", "lucid_recipe", "make_transforms", "compose"]
