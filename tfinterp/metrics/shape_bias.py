"""Shape bias on cue-conflict images (Geirhos et al., "ImageNet-trained CNNs are biased towards
texture; increasing shape bias improves accuracy and robustness", ICLR 2019).

Of a model's decisions on images whose shape says one class and whose texture another
(`tfinterp.data.cueconflict.cue_conflict_set`), only those for one of the two classes count:
shape bias = shape decisions / (shape decisions + texture decisions). 1 is a model that
follows shape only, 0 one that follows texture only.
"""

from __future__ import annotations

import numpy as np

from tfinterp.errors import UserError


def shape_bias(predictions, shape_labels, texture_labels) -> dict:
    """``shape_bias`` (None when no decision was for either class), the fractions of all
    images decided for the shape's class, for the texture's class and for neither, and the
    counts."""
    p = np.asarray(predictions).reshape(-1)
    s = np.asarray(shape_labels).reshape(-1)
    t = np.asarray(texture_labels).reshape(-1)
    if not (len(p) == len(s) == len(t)):
        raise UserError(f"shape bias: {len(p)} predictions, {len(s)} shape labels, {len(t)} texture labels")
    if len(p) == 0:
        raise UserError("shape bias: no cue-conflict images")
    if np.any(s == t):
        raise UserError("shape bias: a cue-conflict image has the same shape and texture class")
    n_shape, n_tex = int(np.sum(p == s)), int(np.sum(p == t))
    n = len(p)
    return {"shape_bias": n_shape / (n_shape + n_tex) if n_shape + n_tex else None,
            "shape_fraction": n_shape / n, "texture_fraction": n_tex / n,
            "other_fraction": (n - n_shape - n_tex) / n,
            "shape_decisions": n_shape, "texture_decisions": n_tex, "images": n}


def model_shape_bias(model, images, shape_labels, texture_labels, batch_size: int = 256) -> dict:
    """`shape_bias` of `model`'s arg-max decisions on `images` (batched)."""
    from tfinterp.attacks.robust import predict_classes

    return shape_bias(predict_classes(model, images, batch_size), shape_labels, texture_labels)
