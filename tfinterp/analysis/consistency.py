"""The LC metric and the real-vs-adversarial consistency CS1 / CS2 (Dong, Su, Zhu, Bao 2017,
"Towards Interpretable Deep Neural Networks by Leveraging Adversarial Examples", sec. 2.2,
Eqs. 2-5).

- C_ij = exp(-d_ij^2 / (2 sigma^2)), d the WordNet distance of classes i and j
  (`tfinterp.analysis.wordnet`);
- p: a neuron's class histogram over its top-q % real images (fractions);
- LC(n) = p^T C p (Eq. 3): high when the top images concentrate on a few close classes;
- the null: the LC of the class prior, pi^T C pi (a neuron whose top images have the set's
  class mix); for k images drawn at random with replacement E[LC] = pi^T C pi +
  (sum_i pi_i C_ii - pi^T C pi) / k (`lc_null` gives both); normalised LC = LC / pi^T C pi;
- CS1 = cos_C(p, q), CS2 = cos_C(p, q~) (Eqs. 4-5), q / q~ the histograms of the original /
  target classes of the neuron's top adversarial images, cos_C(a, b) = a^T C b / sqrt(a^T C a
  b^T C b).
Everything is vectorised over neurons (rows).
"""

from __future__ import annotations

import numpy as np

from tfinterp.errors import UserError


def class_histograms(labels, num_classes: int) -> np.ndarray:
    """[C, K] class fractions of each row of `labels` [C, k] (the labels of a neuron's top images)."""
    lab = np.asarray(labels, dtype=np.int64)
    if lab.ndim == 1:
        lab = lab[None]
    if lab.size and (lab.min() < 0 or lab.max() >= num_classes):
        raise UserError(f"labels must be class indices 0..{num_classes - 1}")
    rows = lab.shape[0]
    flat = (np.arange(rows)[:, None] * num_classes + lab).ravel()
    counts = np.bincount(flat, minlength=rows * num_classes).reshape(rows, num_classes)
    return counts / np.maximum(lab.shape[1], 1)


def _check_c(C, k):
    C = np.asarray(C, dtype=np.float64)
    if C.shape != (k, k):
        raise UserError(f"the class correlation matrix is {C.shape}, but the histograms have {k} classes")
    return C


def lc(p, C) -> np.ndarray:
    """LC = p^T C p per row of `p` [C, K] (Dong et al. Eq. 3)."""
    p = np.atleast_2d(np.asarray(p, dtype=np.float64))
    C = _check_c(C, p.shape[1])
    return np.einsum("ni,ij,nj->n", p, C, p)


def c_cosine(p, q, C) -> np.ndarray:
    """cos_C(p, q) = p^T C q / sqrt(p^T C p * q^T C q) per row (Dong et al. Eqs. 4-5);
    NaN where a histogram is empty."""
    p = np.atleast_2d(np.asarray(p, dtype=np.float64))
    q = np.atleast_2d(np.asarray(q, dtype=np.float64))
    C = _check_c(C, p.shape[1])
    num = np.einsum("ni,ij,nj->n", p, C, q)
    den = np.sqrt(np.einsum("ni,ij,nj->n", p, C, p) * np.einsum("ni,ij,nj->n", q, C, q))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def lc_null(prior, C, k: int | None = None) -> float:
    """The LC of the class prior, pi^T C pi: what a neuron scores whose top images are the set's
    class mix. With `k`, the expected LC of a histogram of k images drawn at random (with
    replacement) from the prior: pi^T C pi + (sum_i pi_i C_ii - pi^T C pi) / k."""
    pi = np.asarray(prior, dtype=np.float64)
    pi = pi / pi.sum()
    C = _check_c(C, len(pi))
    base = float(pi @ C @ pi)
    if k is None:
        return base
    return base + (float(pi @ np.diag(C)) - base) / int(k)


def bootstrap_lc(labels, num_classes: int, C, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                 chunk: int = 200) -> dict:
    """Bootstrap intervals of LC: per neuron (resampling its top images with replacement) and of
    the mean over neurons (resampling neurons, and each one's images). Seeded; returns
    {"lc", "low", "high" per neuron, "mean", "mean_low", "mean_high", "level", "n_boot"}."""
    lab = np.atleast_2d(np.asarray(labels, dtype=np.int64))
    C = _check_c(C, num_classes)
    rows, k = lab.shape
    rng = np.random.default_rng(seed)
    point = lc(class_histograms(lab, num_classes), C)
    boots = np.empty((n_boot, rows))
    for s in range(0, n_boot, chunk):
        b = min(chunk, n_boot - s)
        pick = rng.integers(0, k, size=(b, rows, k))
        resampled = np.take_along_axis(np.broadcast_to(lab, (b, rows, k)), pick, axis=2)
        hist = class_histograms(resampled.reshape(b * rows, k), num_classes)
        boots[s:s + b] = lc(hist, C).reshape(b, rows)
    a = (1.0 - level) / 2.0
    neuron_pick = rng.integers(0, rows, size=(n_boot, rows))
    means = np.take_along_axis(boots, neuron_pick, axis=1).mean(axis=1)
    return {"lc": point, "low": np.quantile(boots, a, axis=0), "high": np.quantile(boots, 1 - a, axis=0),
            "mean": float(point.mean()), "mean_low": float(np.quantile(means, a)),
            "mean_high": float(np.quantile(means, 1 - a)), "level": level, "n_boot": int(n_boot), "seed": int(seed)}


def lc_report(labels, num_classes: int, distances, sigmas=(1.0, 2.0), prior=None, n_boot: int = 1000,
              seed: int = 0) -> dict:
    """LC of every neuron at each sigma, raw and normalised by the class-prior null pi^T C pi,
    with bootstrap intervals (Dong et al. sec. 2.2.1). `labels` [C, k]: the classes of each
    neuron's top images; `prior`: the class fractions of the whole set (default uniform)."""
    from tfinterp.analysis.wordnet import correlation_matrix

    lab = np.atleast_2d(np.asarray(labels, dtype=np.int64))
    pi = np.full(num_classes, 1.0 / num_classes) if prior is None else np.asarray(prior, np.float64)
    pi = pi / pi.sum()
    out = {"neurons": int(lab.shape[0]), "k": int(lab.shape[1]), "prior": pi.tolist(), "sigmas": {}}
    for sigma in sigmas:
        C = correlation_matrix(distances, sigma)
        boot = bootstrap_lc(lab, num_classes, C, n_boot=n_boot, seed=seed)
        null = lc_null(pi, C)
        null_k = lc_null(pi, C, lab.shape[1])
        out["sigmas"][str(float(sigma))] = {
            "sigma": float(sigma), "null": null, "null_at_k": null_k,
            "lc": boot["lc"].tolist(), "lc_low": boot["low"].tolist(), "lc_high": boot["high"].tolist(),
            "normalized": (boot["lc"] / null).tolist(),
            "mean_lc": boot["mean"], "mean_lc_interval": [boot["mean_low"], boot["mean_high"]],
            "mean_normalized": boot["mean"] / null,
            "mean_normalized_interval": [boot["mean_low"] / null, boot["mean_high"] / null],
            "level": boot["level"], "n_boot": boot["n_boot"], "seed": boot["seed"],
        }
    return out


def consistency(real_labels, adv_labels, adv_targets, num_classes: int, C) -> dict:
    """LC, CS1 and CS2 per neuron (Dong et al. Eqs. 3-5): `real_labels` [C, k] classes of each
    neuron's top real images, `adv_labels` / `adv_targets` [C, k'] original / target classes of
    its top adversarial images."""
    p = class_histograms(real_labels, num_classes)
    q = class_histograms(adv_labels, num_classes)
    qt = class_histograms(adv_targets, num_classes)
    return {"lc": lc(p, C), "cs1": c_cosine(p, q, C), "cs2": c_cosine(p, qt, C),
            "lc_adv_original": lc(q, C), "lc_adv_target": lc(qt, C)}


def binned(x, ys: dict, bins: int = 10, min_count: int = 1) -> dict:
    """Means of each of `ys` over equal-width bins of `x` (the paper's Figs. 4 / 8: CS1 and CS2
    averaged over the neurons around a given LC), with the number of neurons per bin."""
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(x)
    lo, hi = (float(x[ok].min()), float(x[ok].max())) if ok.any() else (0.0, 1.0)
    if hi <= lo:
        hi = lo + 1e-9
    edges = np.linspace(lo, hi, bins + 1)
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, bins - 1)
    out = {"edges": edges.tolist(), "centers": ((edges[:-1] + edges[1:]) / 2).tolist(), "count": [], "mean": {}}
    counts = np.array([int(np.sum(ok & (which == b))) for b in range(bins)])
    out["count"] = counts.tolist()
    for name, y in ys.items():
        y = np.asarray(y, dtype=np.float64)
        means = []
        for b in range(bins):
            sel = ok & (which == b) & np.isfinite(y)
            means.append(float(y[sel].mean()) if sel.sum() >= min_count else None)
        out["mean"][name] = means
    return out
