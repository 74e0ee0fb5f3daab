"""Explanation quality against ground truth (Du et al. 2018, "Towards Explanation of
DNN-based Prediction with Guided Feature Inversion", Sections 4.2-4.4).

- Localization error: the map is thresholded at ``alpha * mean(map)``, the tightest box is
  drawn around all segments (the paper's protocol; ``largest=True`` keeps only the largest
  connected segment), and a localization succeeds when IoU >= 0.5 with the ground truth.
  ``alpha`` is tuned on a separate split (`tune_alpha`), never on the test split.
- Pointing game (Zhang et al. 2016): a hit when the map's maximum lies in the box (with a
  tolerance of 15 px at 224 px, scaled to the image size).
- Salient-object detection: threshold at twice the mean; precision, recall,
  F_beta with beta^2 = 0.3, and the mean absolute error to the ground-truth mask.
- Uncertainty (not in the paper, which reports 48,238 images): a Wilson 95 % interval for an
  error rate, and a paired comparison of two methods on the same images (the difference of
  their error rates with a 95 % interval, and McNemar's exact test on the images where
  exactly one of them succeeds).
"""

from __future__ import annotations

import numpy as np

ALPHAS = tuple(np.round(np.arange(0.0, 10.01, 0.5), 2))


def box_from_map(saliency: np.ndarray, alpha: float = 1.0, largest: bool = False):
    """(ymin, xmin, ymax, xmax), max exclusive, around the thresholded map; None if empty."""
    from scipy import ndimage

    m = np.asarray(saliency, np.float32)
    on = m > alpha * m.mean()
    if not on.any():
        return None
    if largest:
        labels, n = ndimage.label(on)
        if n > 1:
            sizes = ndimage.sum(on, labels, index=np.arange(1, n + 1))
            on = labels == (1 + int(np.argmax(sizes)))
    ys = np.nonzero(on.any(axis=1))[0]
    xs = np.nonzero(on.any(axis=0))[0]
    return (int(ys[0]), int(xs[0]), int(ys[-1]) + 1, int(xs[-1]) + 1)


def iou(a, b) -> float:
    """Intersection over union of two (ymin, xmin, ymax, xmax) boxes (max exclusive)."""
    if a is None or b is None:
        return 0.0
    ih = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iw = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ih * iw
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def localization_hits(maps, boxes, alpha: float, largest: bool = False) -> np.ndarray:
    """Per image, True when the thresholded map's box has IoU >= 0.5 with the ground-truth box."""
    return np.array([iou(box_from_map(m, alpha, largest), tuple(b)) >= 0.5 for m, b in zip(maps, boxes)],
                    dtype=bool)


def localization_error(maps, boxes, alpha: float, largest: bool = False) -> float:
    """Fraction of maps whose thresholded box has IoU < 0.5 with the ground-truth box."""
    return 1.0 - float(np.mean(localization_hits(maps, boxes, alpha, largest)))


def wilson_interval(errors: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval (95 % by default) for an error rate of `errors` out of `n`."""
    if n <= 0:
        raise ValueError("n must be positive")
    p = errors / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def paired_comparison(hits_a, hits_b, z: float = 1.959964) -> dict:
    """Method A against method B on the same images (boolean hit vectors).

    ``difference`` = error(A) - error(B) (negative: A localizes better), with a 95 % Wald
    interval for paired proportions; ``a_only`` / ``b_only`` count the images that only A /
    only B localizes; ``p_value`` is McNemar's exact two-sided test on those discordant pairs.
    """
    from scipy.stats import binomtest

    a, b = np.asarray(hits_a, bool), np.asarray(hits_b, bool)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError("hits_a and hits_b must be non-empty vectors of the same length")
    n = len(a)
    a_only, b_only = int(np.sum(a & ~b)), int(np.sum(~a & b))
    diff = (b_only - a_only) / n
    se = np.sqrt(max(a_only + b_only - (b_only - a_only) ** 2 / n, 0.0)) / n
    p = binomtest(a_only, a_only + b_only, 0.5).pvalue if a_only + b_only else 1.0
    return {"difference": float(diff), "ci95": (float(diff - z * se), float(diff + z * se)), "a_only": a_only,
            "b_only": b_only, "p_value": float(p), "n": n}


def tune_alpha(maps, boxes, alphas=ALPHAS, largest: bool = False):
    """(best alpha, its error, {alpha: error}) over `alphas`, on a tuning split."""
    curve = {float(a): localization_error(maps, boxes, a, largest) for a in alphas}
    best = min(curve, key=lambda a: (curve[a], a))
    return best, curve[best], curve


def pointing_game(maps, boxes, tolerance: float | None = None) -> float:
    """Fraction of maps whose maximum is inside the box (grown by `tolerance` px)."""
    maps = np.asarray(maps)
    tol = 15.0 * maps.shape[1] / 224.0 if tolerance is None else float(tolerance)
    hits = []
    for m, (y0, x0, y1, x1) in zip(maps, boxes):
        y, x = np.unravel_index(int(np.argmax(m)), m.shape)
        hits.append(y0 - tol <= y < y1 + tol and x0 - tol <= x < x1 + tol)
    return float(np.mean(hits))


def salient_object_scores(maps, masks, beta2: float = 0.3) -> dict:
    """Precision, recall, F_beta (beta^2 = 0.3) at threshold 2 x mean, and MAE, averaged over images."""
    p, r, f, mae = [], [], [], []
    for m, g in zip(np.asarray(maps, np.float32), np.asarray(masks, bool)):
        on = m > 2.0 * m.mean()
        tp = float(np.logical_and(on, g).sum())
        prec = tp / on.sum() if on.any() else 0.0
        rec = tp / g.sum() if g.any() else 0.0
        p.append(prec)
        r.append(rec)
        f.append((1 + beta2) * prec * rec / (beta2 * prec + rec) if prec + rec > 0 else 0.0)
        mae.append(float(np.abs(m - g).mean()))
    return {"precision": float(np.mean(p)), "recall": float(np.mean(r)), "f_measure": float(np.mean(f)),
            "mae": float(np.mean(mae))}
