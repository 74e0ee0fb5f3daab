"""Input thresholding with a straight-through (BPDA) gradient.

Zheng, Kim, Min, Lim, "Insights from Attacking Interpretable Models: Style Transfer and
Input Thresholding", Sec. 3, Eq. (6): T(x)_ij = 0 if x_ij <= mu else 1. T is piecewise
constant, so attacks use dL/dT as the gradient with respect to x (the straight-through
estimator; Athalye, Carlini, Wagner 2018 call it BPDA) and the attack through the defence
is real. mu comes from a grid search for the value with the fewest training pixels in
[mu - eps, mu + eps].
"""

from __future__ import annotations

import keras
import numpy as np

from tfinterp.errors import UserError


def binarize_straight_through(x, mu):
    """1[x > mu] in the forward pass; the identity's gradient in the backward pass (BPDA)."""
    import tensorflow as tf

    @tf.custom_gradient
    def _t(v):
        def grad(dy):
            return dy

        return tf.cast(v > mu, v.dtype), grad

    return _t(x)


@keras.saving.register_keras_serializable(package="tfinterp")
class InputThreshold(keras.layers.Layer):
    """Keras layer T(x) = 1[x > mu] with the straight-through gradient (Zheng et al., Eq. 6)."""

    def __init__(self, mu: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        mu = float(mu)
        if not np.isfinite(mu):
            raise UserError(f"threshold mu must be a finite number, got {mu}")
        self.mu = mu

    def call(self, x):
        return binarize_straight_through(x, self.mu)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mu": self.mu}


def wrap(model, mu: float, name: str | None = None) -> keras.Model:
    """A NEW model x -> model(T(x)) sharing `model`'s weights; `model` itself is unchanged.

    Zheng et al.'s input-thresholding defence; gradients pass T straight through (BPDA).
    """
    from tfinterp.checks import model_image_shape

    mu = float(mu)
    if not np.isfinite(mu):
        raise UserError(f"threshold mu must be a finite number, got {mu}")
    lo, hi = tuple(getattr(model, "input_range", (0.0, 1.0)))
    if not lo <= mu < hi:
        raise UserError(f"threshold mu {mu} is outside the model's input range [{lo}, {hi})")
    shape = model_image_shape(model)
    inp = keras.Input(shape=shape, name="images")
    out = model(InputThreshold(mu, name="threshold")(inp))
    defended = keras.Model(inp, out, name=name or f"{model.name}_threshold")
    defended.input_range = (lo, hi)
    defended.num_classes = getattr(model, "num_classes", None) or int(out.shape[-1])
    defended.class_names = getattr(model, "class_names", None)
    return defended


def grid_search_mu(images, eps: float, grid=None) -> dict:
    """The mu with the fewest pixels in [mu - eps, mu + eps] (Zheng et al. Sec. 3).

    Returns {"mu", "eps", "fraction_in_band" (at mu), "grid", "fractions"}. Ties go to
    the mu closest to the middle of the range.
    """
    x = np.asarray(images, np.float32).reshape(-1)
    if x.size == 0:
        raise UserError("grid search for mu needs images")
    if not np.isfinite(eps) or eps < 0:
        raise UserError(f"eps must be a non-negative number, got {eps}")
    grid = np.round(np.arange(0.01, 1.0, 0.01), 4) if grid is None else np.asarray(grid, np.float64)
    xs = np.sort(x)
    counts = (np.searchsorted(xs, grid + eps, side="right") - np.searchsorted(xs, grid - eps, side="left"))
    frac = counts / x.size
    best = np.flatnonzero(frac == frac.min())
    i = int(best[np.argmin(np.abs(grid[best] - 0.5))])
    return {"mu": float(grid[i]), "eps": float(eps), "fraction_in_band": float(frac[i]),
            "grid": grid.tolist(), "fractions": frac.tolist()}


def parse_defense(spec: str | None):
    """'threshold' or 'threshold:MU' -> ("threshold", mu or None); None -> None."""
    if spec is None or spec == "" or spec == "none":
        return None
    name, _, arg = spec.partition(":")
    if name != "threshold":
        raise UserError(f"unknown defense '{spec}': use threshold or threshold:MU (e.g. threshold:0.38)")
    if not arg:
        return ("threshold", None)
    try:
        mu = float(arg)
    except ValueError:
        raise UserError(f"threshold mu must be a number in [0, 1), got '{arg}'")
    if not (np.isfinite(mu) and 0.0 <= mu < 1.0):
        raise UserError(f"threshold mu must be a number in [0, 1), got '{arg}'")
    return ("threshold", mu)
