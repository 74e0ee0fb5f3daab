"""First-layer convolution filters of a one-hot sequence model, seen two ways.

- **PSSM logos** (Fontal 2017, after Alipanahi et al. 2015): a Conv1D filter is a (width,
  alphabet) matrix of scores; Fontal rescales it "in a way that the height of the highest
  column is 1", so a column's height shows the position's importance and a letter's height
  its importance at that position. `pssm_logos` does that: each column is first centred
  (a constant added to one column only shifts the response to every one-hot input by that
  constant, so it is the bias's business, not the motif's), then the whole filter is divided
  by its tallest column, a column's height being the stack of its positive letters (what a
  signed logo draws above the axis). Drawn with ``mode="signed"``: negative letters below.
- **Convolution-activation motifs** (Alipanahi et al. 2015, DeepBind; Lanchantin et al. 2016
  call them "convolution activation"): for each filter, the input subsequences at its
  strongest activations over a data set, those above `threshold` times the filter's maximum
  activation (0.5, as Kelley et al.'s Basset does), aligned into a position probability
  matrix. With ``per_sequence="max"`` each sequence gives at most its one best window (as
  DeepBind); with ``"all"`` every window above the threshold counts.

The activations are computed in batches by one `tf.function` per model (the graph re-run up
to the first Conv1D by `models.layers.run_with_taps`; its output after the layer's own activation), reduced in the graph to each
filter's per-sequence maximum and its position.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tfinterp.errors import UserError


def first_conv1d(model):
    """(path, layer) of `model`'s first layer when it is a Conv1D fed by the input;
    otherwise a `UserError` naming what the first layer is."""
    import keras

    from tfinterp.models.layers import walk_layers

    skip = (keras.layers.InputLayer,)
    first = None
    for path, layer in walk_layers(model, containers=False):
        if not isinstance(layer, skip):
            first = (path, layer)
            break
    if first is None:
        raise UserError(f"model '{model.name}' has no layers; filters need a first Conv1D layer")
    path, layer = first
    if not isinstance(layer, keras.layers.Conv1D) or isinstance(layer, keras.layers.Conv1DTranspose):
        raise UserError(f"model '{model.name}' has no Conv1D first layer (its first layer '{path}' is a "
                        f"{type(layer).__name__}); filter logos and activation motifs need a one-hot sequence "
                        "model that starts with a Conv1D")
    if layer.groups != 1:
        raise UserError(f"the first Conv1D '{path}' is grouped (groups={layer.groups}); its filters do not see "
                        "the whole alphabet")
    return path, layer


def filter_weights(model) -> np.ndarray:
    """The first Conv1D's kernel as (filters, width, alphabet) float32."""
    _, layer = first_conv1d(model)
    k = np.asarray(layer.kernel.numpy() if hasattr(layer.kernel, "numpy") else layer.kernel, np.float32)
    return np.transpose(k, (2, 0, 1))


def pssm_logos(weights) -> np.ndarray:
    """Fontal's PSSM-logo rescaling of filters (filters, width, alphabet) (or one (width,
    alphabet)): columns centred, then each filter divided by its tallest column (the sum of
    the column's positive entries), so the tallest column is 1 tall. An all-zero filter stays 0."""
    w = np.asarray(weights, np.float64)
    one = w.ndim == 2
    w = w[None] if one else w
    if w.ndim != 3:
        raise ValueError(f"filters must be (filters, width, alphabet), got shape {np.shape(weights)}")
    c = w - w.mean(axis=2, keepdims=True)
    tallest = np.maximum(c, 0).sum(axis=2).max(axis=1)
    out = c / np.where(tallest > 1e-12, tallest, 1.0)[:, None, None]
    return (out[0] if one else out).astype(np.float32)


@dataclass
class ActivationMotifs:
    """Per filter: the PPM of the aligned windows (filters, width, alphabet), the number of
    windows in it, the filter's maximum activation over the data set and the threshold used,
    and the receptive field (width, dilation, offset of output position 0 in the input)."""

    ppm: np.ndarray
    counts: np.ndarray
    max_activation: np.ndarray
    threshold: np.ndarray
    width: int
    dilation: int
    offset: int

    def to_dict(self) -> dict:
        return {"ppm": self.ppm.tolist(), "counts": self.counts.tolist(),
                "max_activation": self.max_activation.tolist(), "threshold": self.threshold.tolist(),
                "width": self.width, "dilation": self.dilation, "offset": self.offset}


class FilterActivations:
    """Batched activations of a model's first Conv1D (one `tf.function` per view, traced
    once: batch size and length are free dimensions): `reduce` gives each filter's per-sequence maximum and its position,
    `__call__` the (N, positions, filters) activations."""

    def __init__(self, model):
        import tensorflow as tf

        from tfinterp.models.layers import run_with_taps

        self.path, self.layer = first_conv1d(model)
        self.model = model
        tap = tuple(self.path.split("/"))
        self.kernel_size = int(self.layer.kernel_size[0])
        self.stride = int(self.layer.strides[0])
        self.dilation = int(self.layer.dilation_rate[0])
        self.padding = self.layer.padding
        self.alphabet_size = int(self.layer.kernel.shape[1])

        def acts(x):
            _, found = run_with_taps(model, x, [tap])
            return tf.cast(found[tap], tf.float32)

        def reduce(x):
            a = acts(x)
            return tf.reduce_max(a, axis=1), tf.argmax(a, axis=1, output_type=tf.int32)

        spec = [tf.TensorSpec([None, None, self.alphabet_size], tf.float32)]
        self._acts = tf.function(acts, input_signature=spec)
        self._reduce = tf.function(reduce, input_signature=spec)

    def pad_left(self, length: int) -> int:
        """Input positions before position 0 that output position 0's window starts at (Keras' padding)."""
        span = self.dilation * (self.kernel_size - 1) + 1
        if self.padding == "valid":
            return 0
        if self.padding == "causal":
            return span - 1
        out = -(-length // self.stride)
        return max((out - 1) * self.stride + span - length, 0) // 2

    def _check(self, x):
        x = np.asarray(x, np.float32)
        if x.ndim != 3 or x.shape[-1] != self.alphabet_size:
            raise UserError(f"sequences must be one-hot (N, length, {self.alphabet_size}), got shape {x.shape}")
        return x

    def __call__(self, x, batch_size: int = 256) -> np.ndarray:
        x = self._check(x)
        return np.concatenate([self._acts(x[i:i + batch_size]).numpy() for i in range(0, len(x), batch_size)])

    def reduce(self, x, batch_size: int = 256):
        """(max (N, filters), argmax position (N, filters)) of each filter over each sequence."""
        x = self._check(x)
        mx, am = [], []
        for i in range(0, len(x), batch_size):
            m, a = self._reduce(x[i:i + batch_size])
            mx.append(m.numpy())
            am.append(a.numpy())
        return np.concatenate(mx), np.concatenate(am)

    def windows(self, x, rows, positions) -> np.ndarray:
        """The input windows (len(rows), width, alphabet) under output `positions` of
        sequences `rows` (zero rows where a window hangs over the sequence's ends)."""
        x = self._check(x)
        pad = self.pad_left(x.shape[1])
        span = self.dilation * (self.kernel_size - 1) + 1
        xp = np.pad(x, ((0, 0), (pad, span), (0, 0)))
        starts = np.asarray(positions) * self.stride
        idx = starts[:, None] + self.dilation * np.arange(self.kernel_size)[None, :]
        return xp[np.asarray(rows)[:, None], idx]


def activation_motifs(model, x, threshold: float = 0.5, per_sequence: str = "max", batch_size: int = 256,
                      pseudocount: float = 0.0, acts: FilterActivations | None = None) -> ActivationMotifs:
    """Alipanahi et al.'s convolution-activation motifs of `model`'s first Conv1D over one-hot
    sequences `x` (N, length, alphabet): for each filter, the windows whose activation
    exceeds `threshold` times the filter's maximum over `x` (only positive activations count),
    one per sequence (``per_sequence="max"``) or all of them (``"all"``), averaged into a
    (width, alphabet) PPM (rows with no letter, from windows over the ends, count as uniform;
    a filter with no window gives a uniform PPM and count 0)."""
    if not 0 <= threshold <= 1:
        raise UserError(f"threshold must be a fraction of the maximum activation in [0, 1], got {threshold}")
    if per_sequence not in ("max", "all"):
        raise UserError(f"per_sequence must be max or all, got '{per_sequence}'")
    acts = acts or FilterActivations(model)
    x = acts._check(x)
    mx, am = acts.reduce(x, batch_size)
    fmax = mx.max(axis=0)
    thr = np.where(fmax > 0, threshold * fmax, np.inf)
    F, k, A = mx.shape[1], acts.kernel_size, acts.alphabet_size
    sums = np.zeros((F, k, A), np.float64)
    counts = np.zeros(F, np.int64)
    if per_sequence == "max":
        for f in range(F):
            rows = np.nonzero((mx[:, f] >= thr[f]) & (mx[:, f] > 0))[0]
            if len(rows):
                sums[f] = acts.windows(x, rows, am[rows, f]).sum(axis=0)
                counts[f] = len(rows)
    else:
        for i in range(0, len(x), batch_size):
            a = acts(x[i:i + batch_size], batch_size)
            for f in range(F):
                r, p = np.nonzero((a[:, :, f] >= thr[f]) & (a[:, :, f] > 0))
                if len(r):
                    sums[f] += acts.windows(x, r + i, p).sum(axis=0)
                    counts[f] += len(r)
    tot = sums.sum(axis=2, keepdims=True)
    missing = np.maximum(counts[:, None, None] - tot, 0)       # window rows past the ends: uniform
    ppm = (sums + missing / A + pseudocount) / (counts[:, None, None] + A * pseudocount + 1e-12)
    ppm = np.where(counts[:, None, None] > 0, ppm, 1.0 / A)
    ppm = ppm / ppm.sum(axis=2, keepdims=True)
    return ActivationMotifs(ppm=ppm.astype(np.float32), counts=counts, max_activation=fmax.astype(np.float32),
                            threshold=np.where(np.isfinite(thr), thr, 0).astype(np.float32), width=k,
                            dilation=acts.dilation, offset=-acts.pad_left(x.shape[1]))


__all__ = ["first_conv1d", "filter_weights", "pssm_logos", "ActivationMotifs", "FilterActivations",
           "activation_motifs"]
