"""Boxes from saliency maps and their overlap with ground truth.

Following Du et al. (2018), "Towards Explanation of DNN-based Prediction with Guided
Feature Inversion": the map is thresholded at ``alpha * mean(map)`` and the tightest box
is drawn around the largest connected segment (or around all segments).
"""

from __future__ import annotations

import numpy as np


def box_from_map(saliency: np.ndarray, alpha: float = 1.0, largest: bool = True):
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
    ys, xs = np.nonzero(on)
    return (int(ys.min()), int(xs.min()), int(ys.max()) + 1, int(xs.max()) + 1)


def iou(a, b) -> float:
    """Intersection over union of two (ymin, xmin, ymax, xmax) boxes (max exclusive)."""
    if a is None or b is None:
        return 0.0
    ih = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iw = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ih * iw
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])  # noqa: E731
    union = area(a) + area(b) - inter
    return float(inter / union) if union > 0 else 0.0
