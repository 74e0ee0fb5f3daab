"""The motif a map points at: the best-scoring contiguous window of width w.

Lanchantin et al. 2016 ("Deep Motif Dashboard") read a sequence's motif off its saliency map
as the stretch of highest importance; here that is the window ``[start, start + width)`` with
the largest sum of per-position scores (`best_window`), found for every sequence at once with
one cumulative sum. `overlaps` says whether a window meets given intervals (a planted motif),
as the planted-motif benchmark counts it. Positions are 0-based, ends exclusive.
"""

from __future__ import annotations

import numpy as np

from tfinterp.errors import UserError


def _scores_2d(scores) -> tuple[np.ndarray, bool]:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim == 3:  # (N, length, alphabet) letter maps: the position's sum
        s = s.sum(axis=-1)
    single = s.ndim == 1
    if single:
        s = s[None]
    if s.ndim != 2:
        raise UserError(f"scores must be (length,), (N, length) or (N, length, alphabet), got shape {s.shape}")
    if not np.all(np.isfinite(s)):
        raise UserError("scores contain NaN or infinite values")
    return s, single


def window_scores(scores, width: int) -> np.ndarray:
    """(N, length - width + 1): the sum of `scores` over every window of `width` positions."""
    s, single = _scores_2d(scores)
    width = int(width)
    if width < 1 or width > s.shape[1]:
        raise UserError(f"window width must be 1..{s.shape[1]} (the sequence length), got {width}")
    c = np.concatenate([np.zeros((len(s), 1)), np.cumsum(s, axis=1)], axis=1)
    out = c[:, width:] - c[:, :-width]
    return out[0] if single else out


def best_window(scores, width: int) -> dict:
    """The best-scoring window of `width` per sequence (Lanchantin et al. 2016's motif from a map).

    `scores`: (length,) or (N, length) per-position importance ((N, length, alphabet) letter
    maps are summed over the alphabet). Returns ``{"start", "end", "score"}``: arrays (N,)
    (scalars for one sequence), ``end = start + width`` exclusive, ``score`` the window's sum;
    ties go to the leftmost window.
    """
    w = window_scores(scores, width)
    single = w.ndim == 1
    w2 = w[None] if single else w
    start = w2.argmax(axis=1)
    score = w2[np.arange(len(w2)), start]
    out = {"start": start.astype(np.int64), "end": (start + int(width)).astype(np.int64), "score": score}
    return {k: v[0].item() for k, v in out.items()} if single else out


def overlaps(start: int, end: int, intervals) -> bool:
    """Whether ``[start, end)`` shares a position with any ``(s, e)`` of `intervals` (ends exclusive)."""
    return any(int(start) < int(e) and int(s) < int(end) for s, e in intervals)


def interval_mask(length: int, intervals) -> np.ndarray:
    """(length,) bool: the positions covered by `intervals` ((start, end) pairs, ends exclusive)."""
    mask = np.zeros(int(length), bool)
    for s, e in intervals:
        mask[max(int(s), 0):max(min(int(e), int(length)), 0)] = True
    return mask
