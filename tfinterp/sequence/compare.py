"""How close a found motif comes to a known one: best-alignment Pearson correlation and KL
divergence between a found position probability matrix (or a filter's PSSM) and a known
position weight matrix, with a shuffled-PWM chance baseline.

The scores are the ones motif-comparison tools use (Tomtom, Gupta et al. 2007, scores
column-wise Pearson correlation and KL-type distances over all alignments): the found matrix
F (length Lf) slides along the known matrix K (length Lk) over every offset whose overlap is
at least `min_overlap` columns (default: the shorter matrix lies wholly inside the longer),
optionally on both strands for DNA (the reverse complement of an ACGT matrix is ``m[::-1,
::-1]``), and the best alignment is kept:

- ``pearson``: Pearson correlation of the overlapping entries (higher is better; 1 when F
  equals K on the overlap);
- ``kl``: the mean over overlapping columns of KL(K_col || F_col) in bits (lower is better;
  0 when equal), both sides smoothed by `pseudocount`.

A first-layer filter is a PSSM (scores, not probabilities): with ``found_kind="pssm"`` the
correlation is taken between the column-centred filter weights and the column-centred
log2-odds ``log2(K / background)`` of the known PWM (scale-free: a filter equal to the
PWM's log-odds times any positive number scores 1), and the KL between K and the PPM the
weights give when read as log2-odds, ``F ∝ 2**w``.

Chance (`shuffled_chance`): the same best-alignment scores against the known PWM with its
columns permuted (seeded, `draws` draws); a found motif beats chance when its Pearson is
above the shuffled draws' 95th percentile (its KL below their 5th).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class Match:
    """The best alignment of a found matrix against a known one: its score, the offset of
    the found matrix's column 0 along the known matrix (negative: it starts before it), the
    strand (``+`` or ``-`` for the reverse complement of the found matrix) and the overlap."""

    pearson: float
    pearson_offset: int
    pearson_strand: str
    kl: float
    kl_offset: int
    kl_strand: str
    overlap: int

    def to_dict(self) -> dict:
        return asdict(self)


def _norm(m, pseudocount: float = 0.0) -> np.ndarray:
    m = np.clip(np.asarray(m, np.float64), 0.0, None) + pseudocount
    s = m.sum(axis=1, keepdims=True)
    return np.where(s > 0, m / np.where(s > 0, s, 1.0), 1.0 / m.shape[1])


def reverse_complement(m) -> np.ndarray:
    """The reverse complement of an ACGT (length, 4) matrix: positions and letters reversed."""
    m = np.asarray(m)
    if m.shape[-1] != 4:
        raise ValueError(f"a reverse complement needs an ACGT matrix (4 columns), got {m.shape[-1]}")
    return m[..., ::-1, ::-1]


def log_odds(pwm, background=None, pseudocount: float = 0.01) -> np.ndarray:
    """``log2((p + pseudocount) / background)`` of a (length, alphabet) PWM, rows renormalised."""
    p = _norm(pwm, pseudocount)
    q = np.full(p.shape[1], 1.0 / p.shape[1]) if background is None else np.asarray(background, np.float64)
    return np.log2(p / (q / q.sum())[None, :])


def information_content(ppm, background=None) -> np.ndarray:
    """Bits per column of a (..., length, alphabet) PPM: KL to `background` (default uniform,
    giving ``log2(A) - H``); rows renormalised."""
    p = np.clip(np.asarray(ppm, np.float64), 0.0, None)
    p = p / np.maximum(p.sum(axis=-1, keepdims=True), 1e-12)
    A = p.shape[-1]
    q = np.full(A, 1.0 / A) if background is None else np.asarray(background, np.float64) / np.sum(background)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.maximum(np.where(p > 0, p * np.log2(p / q), 0.0).sum(axis=-1), 0.0)


def best_window(ppm, width: int, background=None) -> int:
    """Start of the `width`-column window of a (length, alphabet) PPM with the most information
    content (the motif of a class-optimized input); the first such window on ties."""
    ic = information_content(ppm, background)
    width = int(width)
    if not 1 <= width <= len(ic):
        raise ValueError(f"window width must be in 1..{len(ic)}, got {width}")
    sums = np.convolve(ic, np.ones(width), mode="valid")
    return int(np.argmax(sums))


def pssm_to_ppm(weights) -> np.ndarray:
    """The PPM a PSSM's weights give when read as log2-odds against a uniform background:
    ``p ∝ 2**w`` per column (softmax in base 2)."""
    w = np.asarray(weights, np.float64)
    e = np.exp2(w - w.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _prepare(found, known, found_kind, background, pseudocount):
    """(matrix for Pearson, matrix for KL) of each side."""
    found = np.asarray(found, np.float64)
    known = np.asarray(known, np.float64)
    if found.ndim != 2 or known.ndim != 2 or found.shape[1] != known.shape[1]:
        raise ValueError(f"compare needs two (length, alphabet) matrices with one alphabet, got {found.shape} "
                         f"and {known.shape}")
    k_kl = _norm(known, pseudocount)
    if found_kind == "ppm":
        return _norm(found), _norm(found, pseudocount), _norm(known), k_kl
    if found_kind == "pssm":
        f_r = found - found.mean(axis=1, keepdims=True)
        k_r = log_odds(known, background, pseudocount)
        k_r = k_r - k_r.mean(axis=1, keepdims=True)
        return f_r, _norm(pssm_to_ppm(found), pseudocount), k_r, k_kl
    raise ValueError(f"found_kind must be ppm or pssm, got {found_kind!r}")


def _pearson(a, b) -> np.ndarray:
    """Pearson correlation of `a` (rows, A) with each of `b` (D, rows, A) over all entries -> (D,)."""
    a = a.ravel() - a.mean()
    b = b.reshape(len(b), -1)
    b = b - b.mean(axis=1, keepdims=True)
    d = np.sqrt((a * a).sum() * (b * b).sum(axis=1))
    return np.where(d > 1e-12, (b @ a) / np.where(d > 1e-12, d, 1.0), 0.0)


def _kl(k, f) -> np.ndarray:
    """Mean over columns of KL(k_col || f_col) in bits, `k` (D, rows, A), `f` (rows, A) -> (D,)."""
    return np.mean(np.sum(k * np.log2(k / f[None]), axis=2), axis=1)


def _offsets(lf: int, lk: int, min_overlap: int):
    for o in range(-(lf - min_overlap), lk - min_overlap + 1):
        b, e = max(0, o), min(lk, o + lf)      # known columns [b, e) meet found columns [b - o, e - o)
        if e - b >= min_overlap:
            yield o, b, e


def _best(f_r, f_kl, k_r, k_kl, min_overlap, strands):
    """Best alignments of one found matrix against a stack of D known ones (D, Lk, A): arrays
    (pearson, offset, strand index) and (kl, offset, strand index), each (D,)."""
    D = len(k_r)
    bp, bpo, bps = np.full(D, -np.inf), np.zeros(D, int), np.zeros(D, int)
    bk, bko, bks = np.full(D, np.inf), np.zeros(D, int), np.zeros(D, int)
    for si, strand in enumerate(strands):
        fr, fk = (f_r, f_kl) if strand == "+" else (reverse_complement(f_r), reverse_complement(f_kl))
        for o, b, e in _offsets(len(fr), k_r.shape[1], min_overlap):
            p = _pearson(fr[b - o:e - o], k_r[:, b:e])
            better = p > bp + 1e-12
            bp, bpo, bps = np.where(better, p, bp), np.where(better, o, bpo), np.where(better, si, bps)
            k = _kl(k_kl[:, b:e], fk[b - o:e - o])
            better = k < bk - 1e-12
            bk, bko, bks = np.where(better, k, bk), np.where(better, o, bko), np.where(better, si, bks)
    return (bp, bpo, bps), (bk, bko, bks)


def _overlap(f_r, k_r, min_overlap):
    ov = min(len(f_r), len(k_r)) if min_overlap is None else int(min_overlap)
    if not 1 <= ov <= min(len(f_r), len(k_r)):
        raise ValueError(f"min_overlap must be in 1..{min(len(f_r), len(k_r))}, got {min_overlap}")
    return ov


def compare(found, known, both_strands: bool = False, min_overlap: int | None = None, found_kind: str = "ppm",
            background=None, pseudocount: float = 0.01) -> Match:
    """Best-alignment Pearson correlation and KL divergence of `found` against `known`
    (both (length, alphabet); see the module docstring)."""
    f_r, f_kl, k_r, k_kl = _prepare(found, known, found_kind, background, pseudocount)
    ov = _overlap(f_r, k_r, min_overlap)
    strands = ("+", "-") if both_strands else ("+",)
    (p, po, ps), (k, ko, ks) = _best(f_r, f_kl, k_r[None], k_kl[None], ov, strands)
    return Match(pearson=float(p[0]), pearson_offset=int(po[0]), pearson_strand=strands[ps[0]], kl=float(k[0]),
                 kl_offset=int(ko[0]), kl_strand=strands[ks[0]], overlap=ov)


def shuffled_chance(found, known, draws: int = 200, seed: int = 0, both_strands: bool = False,
                    min_overlap: int | None = None, found_kind: str = "ppm", background=None,
                    pseudocount: float = 0.01) -> dict:
    """Chance level of `compare`: the best-alignment scores of `found` against `known` with its
    columns permuted (`draws` seeded permutations, scored together). Returns ``{"pearson":
    {"mean", "p95"}, "kl": {"mean", "p05"}, "draws"}``."""
    rng = np.random.default_rng(seed)
    f_r, f_kl, k_r, k_kl = _prepare(found, known, found_kind, background, pseudocount)
    ov = _overlap(f_r, k_r, min_overlap)
    # the per-column transforms of _prepare commute with permuting the columns
    perms = np.stack([rng.permutation(len(k_r)) for _ in range(int(draws))])
    strands = ("+", "-") if both_strands else ("+",)
    (ps, _, _), (ks, _, _) = _best(f_r, f_kl, k_r[perms], k_kl[perms], ov, strands)
    return {"pearson": {"mean": float(ps.mean()), "p95": float(np.percentile(ps, 95))},
            "kl": {"mean": float(ks.mean()), "p05": float(np.percentile(ks, 5))}, "draws": int(draws)}


def compare_with_chance(found, known, draws: int = 200, seed: int = 0, **kw) -> dict:
    """`compare` and `shuffled_chance` in one dict, with ``beats_chance`` flags (Pearson above
    the shuffled 95th percentile; KL below the shuffled 5th)."""
    m = compare(found, known, **kw).to_dict()
    c = shuffled_chance(found, known, draws=draws, seed=seed, **kw)
    return {**m, "chance": c, "pearson_beats_chance": m["pearson"] > c["pearson"]["p95"],
            "kl_beats_chance": m["kl"] < c["kl"]["p05"]}


def best_match(found, knowns: dict, draws: int = 200, seed: int = 0, **kw) -> dict:
    """The known matrix (of ``{name: PWM}``) that `found` matches best by Pearson, with its
    scores and chance (`compare_with_chance`), and the Pearson against every known one."""
    if not knowns:
        raise ValueError("best_match needs at least one known matrix")
    scores = {name: compare(found, k, **kw).pearson for name, k in knowns.items()}
    name = max(scores, key=scores.get)
    return {"motif": name, **compare_with_chance(found, knowns[name], draws=draws, seed=seed, **kw),
            "pearson_all": scores}


__all__ = ["Match", "compare", "information_content", "best_window", "shuffled_chance", "compare_with_chance",
           "best_match", "reverse_complement", "log_odds", "pssm_to_ppm"]
