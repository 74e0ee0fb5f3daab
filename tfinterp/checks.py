"""One input and target check for every family (attacks, explainers, analyses, runs).

Each check returns a clean NumPy array or raises a `UserError` that says what was wrong.
"""

from __future__ import annotations

import numpy as np

from tfinterp.errors import UserError


def model_input_shape(model) -> tuple[int, ...]:
    """The input shape of a model without the batch axis; `UserError` if it is not fixed."""
    shape = tuple(model.input_shape) if hasattr(model, "input_shape") else None
    if shape is None or len(shape) < 2 or any(s is None for s in shape[1:]):
        raise UserError(f"the model's input shape {shape} is not a fixed shape")
    return tuple(int(s) for s in shape[1:])


def model_image_shape(model) -> tuple[int, int, int]:
    """(H, W, C) of an image model's input; `UserError` if the model does not take images."""
    shape = tuple(model.input_shape) if hasattr(model, "input_shape") else None
    if shape is None or len(shape) != 4 or any(s is None for s in shape[1:]):
        raise UserError(f"the model's input shape {shape} is not a fixed [N, H, W, C] image shape")
    return tuple(int(s) for s in shape[1:])


def model_num_classes(model) -> int:
    """How many classes a classifier outputs (its logits' last axis)."""
    shape = getattr(model, "output_shape", None)
    if shape is not None and not isinstance(shape, dict) and len(shape) == 2 and shape[-1]:
        return int(shape[-1])
    if getattr(model, "num_classes", None):
        return int(model.num_classes)
    raise UserError(f"cannot tell how many classes model '{model.name}' has: it must output [N, classes] logits")


def check_images(images, input_shape=None, *, model=None, what: str = "images",
                 allow_empty: bool = False) -> np.ndarray:
    """A float32 batch [N, ...]: one example is given a batch axis; finite; matching `input_shape`.

    `input_shape` (without the batch axis) may come from `model` instead.
    """
    if input_shape is None and model is not None:
        input_shape = model_input_shape(model)
    x = np.asarray(images, dtype=np.float32)
    rank = len(input_shape) + 1 if input_shape is not None else 4
    if x.ndim == rank - 1:
        x = x[None]
    if x.ndim != rank:
        want = "[N, H, W, C] (or one [H, W, C] image)" if rank == 4 else f"rank {rank} (a batch of {input_shape})"
        raise UserError(f"{what} must be {want}, got shape {x.shape}")
    if len(x) == 0 and not allow_empty:
        raise UserError(f"no {what} given")
    if not np.all(np.isfinite(x)):
        raise UserError(f"{what} contain NaN or infinite values; clean the input first")
    if input_shape is not None and tuple(x.shape[1:]) != tuple(input_shape):
        raise UserError(f"{what} have shape {tuple(x.shape[1:])} but the model takes {tuple(input_shape)}")
    return x


def check_classes(classes, n: int, num_classes: int, what: str = "targets") -> np.ndarray:
    """Integer class indices (int32), one per example (a single one is repeated), in 0..num_classes-1."""
    t = np.asarray(classes).reshape(-1)
    if t.size == 1 and n > 1:
        t = np.repeat(t, n)
    if t.size != n:
        raise UserError(f"got {t.size} {what} for {n} images")
    if t.dtype.kind not in "iuf" or (t.dtype.kind == "f" and not np.all(np.isfinite(t) & (t == np.round(t)))):
        raise UserError(f"{what} must be integer class indices")
    t = t.astype(np.int64)
    bad = t[(t < 0) | (t >= num_classes)]
    if bad.size:
        single = what[:-1] if what.endswith("s") else what
        raise UserError(f"{single} {int(bad[0])} is out of range: the model has {num_classes} classes "
                        f"(0..{num_classes - 1})")
    return t.astype(np.int32)


def check_fit(model, images, labels=None):
    """Images (and labels) of a data set that fit `model`: its input shape and its classes."""
    expected = model_input_shape(model)
    if tuple(images.shape[1:]) != expected:
        raise UserError(f"the data set's images are {tuple(images.shape[1:])} but the model takes {expected}")
    if labels is not None and len(labels):
        k = model_num_classes(model)
        if int(np.max(labels)) >= k:
            raise UserError(f"the data set has labels up to {int(np.max(labels))} but the model has {k} classes")
