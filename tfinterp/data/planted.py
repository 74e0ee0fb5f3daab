"""The planted-motif benchmark: random DNA with known transcription-factor motifs inserted.

The offline stand-in for the TF-binding data sets of DeepBind (Alipanahi et al. 2015) and the
Deep Motif Dashboard (Lanchantin et al. 2016), whose simulated-data experiments it follows:
i.i.d. background letters (seeded), and motif instances sampled letter by letter from
position weight matrices (PWMs, ``(width, 4)`` arrays over ``ACGT``, rows summing to one)
inserted at random non-overlapping positions. The ground truth is known per position.

The classes (`CLASS_MOTIFS`, `CLASS_NAMES`):

- **0 ``none``**: background only; with probability ``decoy_rate`` (default 0.5) it carries a
  *decoy*, ONE motif of the pair (EBOX alone or AP1 alone), so a model has to learn that the
  pair must co-occur rather than detect either half. Decoys are recorded in
  ``data.meta["decoys"]``, not in ``data.motifs`` (they are not evidence for any class).
- **1 ``GATA``**: one GATA-like motif (consensus ``WGATAAGR``, the GATA core ``WGATAR``
  extended).
- **2 ``TATA``**: one TATA-box-like motif (consensus ``TATAWAWR``).
- **3 ``EBOX+AP1``**: an E-box (``CCACGTGG``, the canonical ``CACGTG`` with flanks) and an
  AP-1 site (``TGASTCA``), both.

Each PWM puts `STRENGTH` (0.95) on its consensus letter(s) and shares the rest among the
others (`pwm_from_consensus`). A PWM-score oracle (gradient boosting on the best log-odds
window score of each motif per sequence, `benchmarks/bench_sequence_planted.py`) reaches 0.885
held-out accuracy with these at length 100; with 0.85 (and the 6-wide GATA / E-box cores) a
quick check of the same oracle gave only 0.61, too noisy a benchmark.

Classes are balanced (``n // 4`` each, the remainder to the lowest classes) and shuffled.
Each sequence's ``motifs`` entry lists ``(name, start, end)`` (end exclusive) of the motifs
that make its class; `motif_mask` turns them into the ``(N, length)`` boolean ground truth.
A random background of length L holds a given exact 6-mer by chance with probability about
``L / 4**6`` (0.02 for L = 100), so a few accidental motifs exist, as in real data.
"""

from __future__ import annotations

import numpy as np

from tfinterp.data.sequences import ALPHABETS, SequenceData
from tfinterp.errors import UserError

DNA = ALPHABETS["dna"]
_IUPAC = {"A": "A", "C": "C", "G": "G", "T": "T", "W": "AT", "S": "CG", "R": "AG", "Y": "CT",
          "K": "GT", "M": "AC", "N": "ACGT"}


STRENGTH = 0.95  # probability of the consensus letter(s) at each motif position


def pwm_from_consensus(consensus: str, strength: float = STRENGTH) -> np.ndarray:
    """A ``(width, 4)`` PWM from an IUPAC consensus: the consensus letters share `strength`, the others the rest."""
    rows = []
    for ch in consensus.upper():
        if ch not in _IUPAC:
            raise UserError(f"consensus '{consensus}': '{ch}' is not an IUPAC DNA code ({''.join(_IUPAC)})")
        allowed = _IUPAC[ch]
        if len(allowed) == 4:
            rows.append(np.full(4, 0.25))
            continue
        row = np.full(4, (1.0 - strength) / (4 - len(allowed)))
        for a in allowed:
            row[DNA.index(a)] = strength / len(allowed)
        rows.append(row)
    return np.array(rows, np.float32)


MOTIFS = {
    "GATA": pwm_from_consensus("WGATAAGR"),
    "TATA": pwm_from_consensus("TATAWAWR"),
    "EBOX": pwm_from_consensus("CCACGTGG"),
    "AP1": pwm_from_consensus("TGASTCA"),
}
CLASS_MOTIFS = ((), ("GATA",), ("TATA",), ("EBOX", "AP1"))
CLASS_NAMES = ["none", "GATA", "TATA", "EBOX+AP1"]
DECOYS = ("EBOX", "AP1")


def log_odds(pwm, background=None) -> np.ndarray:
    """``log2(pwm / background)`` per (position, letter): the PWM's scoring matrix."""
    bg = np.full(4, 0.25) if background is None else np.asarray(background, np.float64)
    return np.log2(np.asarray(pwm, np.float64) / bg).astype(np.float32)


def pwm_score(onehot, pwm, background=None) -> np.ndarray:
    """Log-odds score of one-hot windows ``(..., width, 4)`` under `pwm` (sum over positions)."""
    return np.einsum("...wa,wa->...", np.asarray(onehot, np.float32), log_odds(pwm, background))


def _place(rng, length, widths, max_tries=1000):
    """Random non-overlapping starts for motifs of the given widths in a sequence of `length`."""
    if sum(widths) > length:
        raise UserError(f"motifs of total width {sum(widths)} do not fit in sequences of length {length}")
    for _ in range(max_tries):
        starts = [int(rng.integers(0, length - w + 1)) for w in widths]
        spans = sorted(zip(starts, widths))
        if all(s1 + w1 <= s2 for (s1, w1), (s2, _) in zip(spans, spans[1:])):
            return starts
    raise UserError(f"could not place motifs of widths {widths} without overlap in length {length}; "
                    "use longer sequences")


def make_planted(n: int = 2000, length: int = 100, seed: int = 0, decoy_rate: float = 0.5,
                 background=None, motifs=None) -> SequenceData:
    """`n` planted-motif DNA sequences of `length` with labels and motif positions (see the module).

    `background` is the letter distribution of the background (default uniform); `motifs`
    overrides the PWMs by name (``{"GATA": pwm, ...}``). Deterministic for a `seed`.
    Returns a `SequenceData` with ``x`` (n, length, 4), ``y`` the class, ``motifs`` the
    planted ``(name, start, end)`` per sequence, and ``meta`` holding ``pwms``, ``decoys``,
    ``class_motifs`` and the generator settings.
    """
    n, length = int(n), int(length)
    if n < 1:
        raise UserError(f"n must be at least 1, got {n}")
    if not 0.0 <= decoy_rate <= 1.0:
        raise UserError(f"decoy_rate must be in [0, 1], got {decoy_rate}")
    pwms = dict(MOTIFS)
    pwms.update({k: np.asarray(v, np.float32) for k, v in (motifs or {}).items()})
    for name, p in pwms.items():
        if p.ndim != 2 or p.shape[1] != 4 or not np.allclose(p.sum(1), 1, atol=1e-4) or (p < 0).any():
            raise UserError(f"PWM '{name}' must be a (width, 4) array of probabilities over ACGT")
    bg = np.full(4, 0.25) if background is None else np.asarray(background, np.float64)
    if bg.shape != (4,) or (bg < 0).any() or not np.isclose(bg.sum(), 1):
        raise UserError("background must be 4 probabilities over ACGT summing to 1")
    rng = np.random.default_rng(seed)
    k = len(CLASS_MOTIFS)
    y = rng.permutation(np.arange(n) % k).astype(np.int64)
    idx = rng.choice(4, size=(n, length), p=bg)
    planted, decoys = [], []
    for i in range(n):
        names = list(CLASS_MOTIFS[y[i]])
        decoy = []
        if y[i] == 0 and rng.random() < decoy_rate:
            decoy = [DECOYS[int(rng.integers(0, len(DECOYS)))]]
        all_names = names + decoy
        starts = _place(rng, length, [len(pwms[m]) for m in all_names])
        spans = []
        for m, s in zip(all_names, starts):
            p = pwms[m]
            cum = np.cumsum(p, axis=1)
            u = rng.random(len(p))[:, None]
            idx[i, s:s + len(p)] = np.minimum((u > cum).sum(1), 3)
            spans.append((m, s, s + len(p)))
        planted.append(spans[:len(names)])
        decoys.append(spans[len(names):])
    x = np.eye(4, dtype=np.float32)[idx]
    return SequenceData(
        x=x, y=y, names=[f"planted{i}" for i in range(n)], alphabet="dna", length=length,
        class_names=list(CLASS_NAMES), motifs=planted,
        meta={"source": "planted", "pwms": pwms, "decoys": decoys, "class_motifs": CLASS_MOTIFS,
              "n": n, "length": length, "seed": seed, "decoy_rate": decoy_rate,
              "background": bg.tolist()})


def motif_mask(motifs, length: int, names=None) -> np.ndarray:
    """The ``(N, length)`` boolean ground truth: True inside the recorded motifs.

    `motifs` is a `SequenceData` (its ``motifs``) or a list, per sequence, of
    ``(name, start, end)``; `names` keeps only those motif names.
    """
    if isinstance(motifs, SequenceData):
        if motifs.motifs is None:
            raise UserError("these sequences carry no motif positions (not planted data)")
        motifs = motifs.motifs
    mask = np.zeros((len(motifs), int(length)), bool)
    for i, spans in enumerate(motifs):
        for name, start, end in spans:
            if names is None or name in names:
                mask[i, start:end] = True
    return mask
