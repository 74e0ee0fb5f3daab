"""Target classes for targeted attacks: random, least-likely, or given."""

from __future__ import annotations

import numpy as np

from tfinterp.errors import UserError


def random_targets(labels, num_classes: int, seed: int | None = 0) -> np.ndarray:
    """A uniformly random class different from each label."""
    y = np.asarray(labels, np.int64).reshape(-1)
    if num_classes < 2:
        raise UserError("random targets need at least 2 classes")
    rng = np.random.default_rng(seed)
    shift = rng.integers(1, num_classes, size=len(y))
    return ((y + shift) % num_classes).astype(np.int32)


def least_likely_targets(models, images, k: int = 1, batch_size: int = 256) -> np.ndarray:
    """The k classes of least average softmax probability over `models` (Dong et al. 2017).

    Returns [N] for k = 1 and [N, k] (least likely first) otherwise.
    """
    import tensorflow as tf

    models = list(models) if isinstance(models, (list, tuple)) else [models]
    x = np.asarray(images, np.float32)
    probs = 0.0
    for m in models:
        p = np.concatenate([tf.nn.softmax(m(x[i:i + batch_size], training=False)).numpy()
                            for i in range(0, len(x), batch_size)])
        probs = probs + p / len(models)
    num_classes = probs.shape[-1]
    if not 1 <= k < num_classes:
        raise UserError(f"k must be between 1 and {num_classes - 1}, got {k}")
    order = np.argsort(probs, axis=-1, kind="stable")[:, :k].astype(np.int32)
    return order[:, 0] if k == 1 else order


def given_targets(targets, n: int, num_classes: int) -> np.ndarray:
    """Validate user-given targets: one class for all, or one per image."""
    from tfinterp.checks import check_classes

    return check_classes(targets, n, num_classes, "targets")


def select_targets(kind, model, images, labels, seed: int | None = 0, batch_size: int = 256) -> np.ndarray:
    """Targets by name: 'random', 'least_likely' (or 'll'), or a class index (int or digit string)."""
    from tfinterp.checks import model_num_classes

    models = list(model) if isinstance(model, (list, tuple)) else [model]
    k = model_num_classes(models[0])
    if isinstance(kind, str) and kind in ("random",):
        return random_targets(labels, k, seed)
    if isinstance(kind, str) and kind in ("least_likely", "least-likely", "ll"):
        return least_likely_targets(models, images, 1, batch_size)
    if isinstance(kind, str):
        try:
            kind = int(kind)
        except ValueError:
            raise UserError(f"unknown target '{kind}': use random, least_likely or a class index 0..{k - 1}")
    return given_targets(kind, len(labels), k)
