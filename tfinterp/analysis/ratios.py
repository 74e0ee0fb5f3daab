"""Representation distance ratios r1 and r2 (Dong, Su, Zhu, Bao 2017, "Towards Interpretable
Deep Neural Networks by Leveraging Adversarial Examples", section 4.3, Eqs. 6-7).

For an adversarial image x* made from a real image of class y towards the target class y*,
with phi the representation at a layer and d the Euclidean distance:

    r1 = mean_{x in X_y}  d(phi(x*), phi(x)) / mean_{x != x' in X_y} d(phi(x), phi(x'))
    r2 = mean_{x in X_y*} d(phi(x*), phi(x)) / mean_{x in X_y, x' in X_y*} d(phi(x), phi(x'))

X_c is the bank of real images of class c. r1 > 1 says x* lies farther from its original
class than that class's own images lie from each other; r2 < 1 says x* is closer to the
target class than the original class is. The paper: r1 1.07-1.34 and r2 0.73-0.80 for
natural ImageNet models, r1 0.98-0.99 and r2 0.87-0.92 after consistent-loss training.

The class-wise sums of distances are computed once, in blocks of rows (a [block, N] distance
matrix at a time, reduced to [block, K] class sums by a matrix product with the one-hot
labels), so memory stays at block x N and there is no Python loop per image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tfinterp.errors import UserError


@dataclass
class Ratios:
    """Per adversarial image r1 [M] and r2 [M], and the class-level denominators.

    ``within`` [K] is the mean pairwise distance inside each class of the bank (NaN for a class
    with fewer than two images), ``between`` [K, K] the mean distance between two classes.
    """
    r1: np.ndarray
    r2: np.ndarray
    within: np.ndarray
    between: np.ndarray
    counts: np.ndarray

    def summary(self, mask=None) -> dict:
        """Means and medians of r1 and r2 (over `mask` when given), NaNs (empty classes) skipped."""
        r1, r2 = (self.r1, self.r2) if mask is None else (self.r1[mask], self.r2[mask])
        out = {"n": int(len(r1))}
        for name, r in (("r1", r1), ("r2", r2)):
            ok = r[np.isfinite(r)]
            out[f"mean_{name}"] = float(ok.mean()) if ok.size else None
            out[f"median_{name}"] = float(np.median(ok)) if ok.size else None
            out[f"frac_{name}_above_1"] = float((ok > 1).mean()) if ok.size else None
        return out


def _class_distance_sums(a, b, onehot_b, block: int, same: bool = False):
    """[len(a), K] sums over the columns of each class of d(a_i, b_j), Euclidean, in row blocks.

    With `same` (a is b) the self-distances d(a_i, a_i) are set to exactly zero (the expansion
    |a|^2 + |b|^2 - 2ab leaves a round-off there)."""
    import tensorflow as tf

    b = tf.constant(b, tf.float32)
    oh = tf.constant(onehot_b, tf.float32)
    bsq = tf.reduce_sum(b * b, axis=1)

    @tf.function(reduce_retracing=True)
    def sums(rows, start):
        cross = tf.matmul(rows, b, transpose_b=True)
        sq = tf.reduce_sum(rows * rows, axis=1, keepdims=True) + bsq[None, :] - 2.0 * cross
        d = tf.sqrt(tf.maximum(sq, 0.0))
        if same:
            cols = tf.range(tf.shape(b)[0])[None, :]
            own = start + tf.range(tf.shape(rows)[0])[:, None]
            d = tf.where(tf.equal(cols, own), 0.0, d)
        return tf.matmul(d, oh)

    out = [sums(tf.constant(a[i:i + block], tf.float32), tf.constant(i, tf.int32)).numpy()
           for i in range(0, len(a), block)]
    return np.concatenate(out, 0).astype(np.float64) if out else np.zeros((0, oh.shape[1]))


def _flat(x, what):
    x = np.asarray(x, np.float32)
    if x.ndim < 2:
        raise UserError(f"{what} must be a batch [N, ...] of representations, got shape {x.shape}")
    return x.reshape(len(x), -1)


def class_distances(features, labels, num_classes: int, block: int = 512):
    """Mean Euclidean distances inside and between classes of a representation bank.

    Returns ``(within [K], between [K, K], counts [K])``: ``within[c]`` averages over the
    n_c (n_c - 1) ordered distinct pairs of class c (NaN when n_c < 2); ``between[a, b]`` over
    all n_a n_b pairs (its diagonal includes the zero self-distances; use ``within`` there).
    """
    f = _flat(features, "features")
    y = np.asarray(labels, np.int64).reshape(-1)
    onehot = np.eye(num_classes, dtype=np.float32)[y]
    per_row = _class_distance_sums(f, f, onehot, block, same=True)  # [N, K]
    sums = onehot.T.astype(np.float64) @ per_row  # [K, K]
    counts = onehot.sum(0).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        between = sums / np.outer(counts, counts)
        within = np.diag(sums) / (counts * (counts - 1))
    within = np.where(counts >= 2, within, np.nan)
    return within, between, counts.astype(np.int64)


def ratios_from_features(adv_features, adv_labels, adv_targets, features, labels, num_classes=None,
                         block: int = 512) -> Ratios:
    """r1 and r2 (Dong et al. 2017, Eqs. 6-7) for each adversarial representation.

    `adv_features` [M, ...] are phi(x*), with original classes `adv_labels` [M] and targets
    `adv_targets` [M]; `features` [N, ...] and `labels` [N] are the real bank. Representations
    are flattened. A ratio whose class has no (or, for r1's denominator, one) real image is NaN.
    """
    a = _flat(adv_features, "adversarial features")
    f = _flat(features, "features")
    if a.shape[1] != f.shape[1]:
        raise UserError(f"adversarial and real representations differ in size ({a.shape[1]} vs {f.shape[1]})")
    y = np.asarray(labels, np.int64).reshape(-1)
    ya = np.asarray(adv_labels, np.int64).reshape(-1)
    yt = np.asarray(adv_targets, np.int64).reshape(-1)
    if len(y) != len(f):
        raise UserError(f"got {len(y)} labels for {len(f)} real representations")
    if not (len(ya) == len(yt) == len(a)):
        raise UserError(f"got {len(ya)} labels and {len(yt)} targets for {len(a)} adversarial representations")
    k = int(num_classes if num_classes is not None else max(y.max(initial=0), ya.max(initial=0), yt.max(initial=0)) + 1)
    for name, v in (("labels", y), ("adversarial labels", ya), ("targets", yt)):
        if v.size and (v.min() < 0 or v.max() >= k):
            raise UserError(f"{name} must be class indices in 0..{k - 1}")
    # distances do not change under a common shift; centring keeps |a|^2 + |b|^2 - 2ab accurate
    centre = f.mean(0, keepdims=True) if len(f) else 0.0
    f, a = f - centre, a - centre
    within, between, counts = class_distances(f, y, k, block)
    onehot = np.eye(k, dtype=np.float32)[y]
    adv_sums = _class_distance_sums(a, f, onehot, block)  # [M, K]
    with np.errstate(invalid="ignore", divide="ignore"):
        adv_means = adv_sums / counts[None, :]
        idx = np.arange(len(a))
        r1 = adv_means[idx, ya] / within[ya]
        r2 = adv_means[idx, yt] / between[ya, yt]
    return Ratios(r1=r1.astype(np.float64), r2=r2.astype(np.float64), within=within, between=between,
                  counts=counts)


def layer_features(model, layer: str, images, batch_size: int = 256, progress=None):
    """phi(images) at `layer` of `model`, batched, as float32 NumPy [N, ...];
    `progress(done, total)` is called after every batch."""
    import tensorflow as tf

    from tfinterp.checks import check_images
    from tfinterp.models.layers import feature_model

    x = check_images(images, model=model)
    fm = feature_model(model, [layer])

    @tf.function(reduce_retracing=True)
    def run(batch):
        return fm(batch, training=False)[layer]

    parts = []
    for i in range(0, len(x), batch_size):
        parts.append(run(tf.constant(x[i:i + batch_size])).numpy())
        if progress is not None:
            progress(min(i + batch_size, len(x)), len(x))
    return np.concatenate(parts, 0)


def representation_ratios(model, layer: str, images, labels, adv_images, adv_labels, adv_targets,
                          batch_size: int = 256, block: int = 512) -> Ratios:
    """r1 and r2 (Dong et al. 2017, Eqs. 6-7) at `layer` of `model`.

    `images` / `labels` are the real bank (the class sets X_c); `adv_images` with original
    classes `adv_labels` and targets `adv_targets` the adversarial images.
    """
    from tfinterp.checks import check_classes, model_num_classes

    k = model_num_classes(model)
    y = check_classes(labels, len(images), k, "labels")
    ya = check_classes(adv_labels, len(adv_images), k, "labels")
    yt = check_classes(adv_targets, len(adv_images), k, "targets")
    f = layer_features(model, layer, images, batch_size)
    a = layer_features(model, layer, adv_images, batch_size)
    return ratios_from_features(a, ya, yt, f, y, num_classes=k, block=block)
