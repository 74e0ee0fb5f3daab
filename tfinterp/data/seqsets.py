"""Sequence data sets by name: ``planted`` (the generator) or a FASTA / table file, and their split.

`load_sequences(spec)` resolves the ``--data`` of the sequence commands: ``planted`` (or
``planted:n=4000,length=200,seed=1,decoy_rate=0.5``) builds the planted-motif benchmark of
`tfinterp.data.planted`; anything else is a path read by `tfinterp.data.sequences.read_sequences`
(the loader for real TF-binding data, e.g. DeepBind / ENCODE files). `split_sequences` applies
the library's split rule (`tfinterp.data.splits.permutation`: a seeded permutation, the last
fractions held out) so the held-out sequences are never trained on.
"""

from __future__ import annotations

import numpy as np

from tfinterp.data.planted import make_planted
from tfinterp.data.sequences import SequenceData, read_sequences
from tfinterp.data.splits import permutation
from tfinterp.errors import UserError

SEQUENCE_DATASETS = {"planted": "the planted-motif benchmark (tfinterp.data.planted): 4 classes, known motif positions"}
_PLANTED_KEYS = {"n": int, "length": int, "seed": int, "decoy_rate": float}


def parse_planted(spec: str) -> dict:
    """Keyword arguments of `make_planted` from ``planted`` or ``planted:n=4000,length=200``."""
    _, _, rest = spec.partition(":")
    kwargs = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq or key not in _PLANTED_KEYS:
            raise UserError(f"bad planted option '{item}' in '{spec}'; use key=value with keys "
                            f"{', '.join(_PLANTED_KEYS)}")
        try:
            kwargs[key] = _PLANTED_KEYS[key](value)
        except ValueError:
            raise UserError(f"planted option {key} needs a {_PLANTED_KEYS[key].__name__}, got '{value}'") from None
    return kwargs


def is_planted(spec) -> bool:
    return isinstance(spec, str) and (spec == "planted" or spec.startswith("planted:"))


def load_sequences(spec: str, alphabet: str = "dna", window: int | None = None, pad: str = "right",
                   **planted) -> SequenceData:
    """All sequences of `spec`: ``planted[:k=v,...]`` (extra keyword arguments go to `make_planted`) or a file."""
    if is_planted(spec):
        kwargs = {**planted, **parse_planted(spec)}
        if alphabet not in ("dna", "ACGT"):
            raise UserError(f"planted data is DNA; got alphabet '{alphabet}'")
        data = make_planted(**kwargs)
        if window is not None and window != data.length:
            raise UserError(f"planted sequences have length {data.length}; set it with "
                            f"planted:length={window} instead of a window")
        return data
    return read_sequences(spec, alphabet=alphabet, window=window, pad=pad)


def split_sequences(data: SequenceData, val_fraction: float = 0.1, test_fraction: float = 0.2, seed: int = 0):
    """(train, validation or None, test or None) parts of `data` by a seeded permutation.

    The last ``round(N * test_fraction)`` of the permutation are the test part, the
    ``round(N * val_fraction)`` before them validate; the rest train.
    """
    n = len(data)
    order = permutation(n, seed)
    n_test = int(round(n * test_fraction)) if test_fraction > 0 else 0
    n_val = int(round(n * val_fraction)) if val_fraction > 0 else 0
    if n - n_test - n_val < 1:
        raise UserError(f"{n} sequences leave none for training with val_fraction {val_fraction} "
                        f"and test_fraction {test_fraction}")
    train = data.subset(np.sort(order[:n - n_test - n_val]))
    val = data.subset(np.sort(order[n - n_test - n_val:n - n_test])) if n_val else None
    test = data.subset(np.sort(order[n - n_test:])) if n_test else None
    return train, val, test
