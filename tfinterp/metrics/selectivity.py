"""How well feature visualizations single out their units, and how class-like class
visualizations are.

- Erhan-style selectivity (Erhan, Bengio, Courville, Vincent, "Visualizing higher-layer
  features of a deep network", 2009; Olah et al., "Feature Visualization", Distill 2017):
  render one image per channel of a layer, then read every channel's mean activation on every
  rendered image (`channel_activation_matrix`, rows: images, columns: channels). A good
  visualization of channel c drives c harder than the other channels' visualizations do, so
  the matrix is diagonal-dominant: `diagonal_dominance` counts the channels whose own image
  is the strict argmax of their column (chance 1/N for N images), and, across a row, the
  images whose own channel is the row's argmax after each column is scaled by its maximum.
- Recognition by an independent classifier (`recognition`): the fraction of class
  visualizations that a judge classifies as their target class, with a Wilson interval and a
  cluster bootstrap over the classes (the images of one class are not independent draws).
"""

from __future__ import annotations

import numpy as np

from tfinterp.errors import UserError


def channel_activation_matrix(model, layer: str, images, batch_size: int = 256) -> np.ndarray:
    """(N, C) float32: channel j of `layer`'s activation averaged over positions, on image i.

    `layer` as `tfinterp.featureviz.render.activation_fn` reads it (aliases such as
    ``last_conv``, and ``name:pre`` for the pre-activation); a dense layer's units are its
    channels. The model is not changed.
    """
    import tensorflow as tf

    from tfinterp.checks import check_images, model_image_shape
    from tfinterp.featureviz.render import activation_fn

    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise UserError(f"batch_size must be a positive integer, got {batch_size!r}")
    x = check_images(images, model_image_shape(model))
    fm = activation_fn(model, [layer])

    @tf.function(input_signature=[tf.TensorSpec((None,) + x.shape[1:], tf.float32)])
    def means(batch):
        t = tf.cast(fm(batch)[layer], tf.float32)
        if t.shape.rank > 2:
            t = tf.reduce_mean(t, axis=list(range(1, t.shape.rank - 1)))
        return t

    return np.concatenate([means(tf.constant(x[i:i + batch_size])).numpy()
                           for i in range(0, len(x), batch_size)]).astype(np.float32)


def diagonal_dominance(matrix, channels=None) -> dict:
    """Diagonal dominance of a selectivity matrix (Erhan et al. 2009's check of a visualization).

    `matrix` (N, C): row i is the activation of every channel on the image rendered for channel
    ``channels[i]`` (default ``range(N)``, needs N <= C). Returns a dict:

    - ``column_hits`` (N bools): channel c_i's largest value over the N images is on its own
      image, strictly (a tie, e.g. a channel that is 0 on every image, is no hit);
      ``column_fraction`` their mean, ``chance`` = 1/N (a random image order);
    - ``row_hits``: image i's own channel is the strict argmax of row i after every column is
      divided by its largest absolute value over the N images (channels have different
      scales); ``row_fraction``, ``row_chance`` = 1/C;
    - ``own_rank`` (N ints): the rank of image i in its channel's column (0 = the top),
      ``mean_own_rank``; ``n``, ``channels``.
    """
    m = np.asarray(matrix, np.float64)
    if m.ndim != 2 or m.size == 0:
        raise UserError(f"the selectivity matrix must be (images, channels), got shape {m.shape}")
    n, c = m.shape
    chans = list(range(n)) if channels is None else [int(v) for v in channels]
    if len(chans) != n:
        raise UserError(f"{len(chans)} channels for a matrix of {n} rows")
    if min(chans) < 0 or max(chans) >= c:
        raise UserError(f"channel {max(chans)} is out of range for a matrix of {c} channels")
    if len(set(chans)) != n:
        raise UserError("each row must be a different channel's image")
    rows = np.arange(n)
    own = m[rows, chans]                                   # (N,) channel c_i on its own image
    cols = m[:, chans]                                     # (N, N): column k = channel c_k on every image
    others = np.where(np.eye(n, dtype=bool), -np.inf, cols)
    column_hits = own > others.max(axis=0) if n > 1 else np.ones(1, bool)
    own_rank = (cols > own[None, :]).sum(axis=0)
    scale = np.abs(m).max(axis=0)
    scaled = np.where(scale > 0, m / np.where(scale > 0, scale, 1.0), 0.0)
    own_scaled = scaled[rows, chans]
    rest = scaled.copy()
    rest[rows, chans] = -np.inf
    row_hits = own_scaled > rest.max(axis=1) if c > 1 else np.ones(n, bool)
    return {"n": n, "channels": chans, "column_hits": column_hits.tolist(),
            "column_fraction": float(column_hits.mean()), "chance": 1.0 / n,
            "row_hits": row_hits.tolist(), "row_fraction": float(row_hits.mean()), "row_chance": 1.0 / c,
            "own_rank": own_rank.astype(int).tolist(), "mean_own_rank": float(own_rank.mean())}


def recognition(predicted, targets, groups=None, n_boot: int = 2000, seed: int = 0) -> dict:
    """How many images an independent classifier recognizes as their target class.

    `predicted`, `targets`: (N,) class ids. Returns ``hits`` (N bools), ``count``, ``n``,
    ``fraction``, ``wilson95`` (Wilson score interval, the images taken as independent) and,
    with `groups` (N,) (e.g. the target class: several seeds of one class are not independent),
    ``bootstrap95``: the 2.5 / 97.5 percentiles of the fraction over `n_boot` resamplings of
    whole groups with replacement (a cluster bootstrap, Efron & Tibshirani 1993).
    """
    from tfinterp.metrics.localization import wilson_interval

    p, t = np.asarray(predicted).reshape(-1), np.asarray(targets).reshape(-1)
    if p.shape != t.shape or len(p) == 0:
        raise UserError("predicted and targets must be non-empty vectors of the same length")
    hits = p == t
    k, n = int(hits.sum()), len(hits)
    out = {"hits": hits.tolist(), "count": k, "n": n, "fraction": k / n, "wilson95": list(wilson_interval(k, n))}
    if groups is not None:
        g = np.asarray(groups).reshape(-1)
        if g.shape != hits.shape:
            raise UserError("groups must have one entry per image")
        names = np.unique(g)
        per = np.array([[hits[g == v].sum(), (g == v).sum()] for v in names], np.float64)
        rng = np.random.default_rng(seed)
        draw = rng.integers(0, len(names), size=(int(n_boot), len(names)))
        fr = per[draw, 0].sum(axis=1) / per[draw, 1].sum(axis=1)
        out["bootstrap95"] = [float(np.percentile(fr, 2.5)), float(np.percentile(fr, 97.5))]
        out["per_group"] = {str(v): [int(a), int(b)] for v, (a, b) in zip(names, per)}
    return out


__all__ = ["channel_activation_matrix", "diagonal_dominance", "recognition"]
