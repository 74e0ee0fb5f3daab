"""Running an explainer over a benchmark's images and scoring its maps.

The protocol of Du et al. 2018, "Towards Explanation of DNN-based Prediction with Guided
Feature Inversion" (Sections 4.2-4.4), as `benchmarks/bench_localization.py` runs it: explain
every image of a set for a given class (`explain_set`, timed), threshold each map at
``alpha * mean`` and score its box against the ground truth (`localization_scores`: error,
Wilson 95 % interval, the per-image hits for paired comparisons, pointing game).
"""

from __future__ import annotations

import time

import numpy as np

from tfinterp.errors import UserError
from tfinterp.metrics.localization import localization_hits, pointing_game, wilson_interval


def make_explainer(method: str, model, params: dict | None = None, batch_size: int = 32,
                   layer: str | None = None):
    """The explainer `method` for `model` with `params` (strings as typed after --param, or
    values, checked by the method's parameter table); a ``batch_size`` in `params` wins over
    `batch_size`; `layer` goes to methods that take one (see `tfinterp.explain.get_explainer`).
    A ``layer`` among `params` (``--param layer=...``, a tuned Grad-CAM layer) is read as that
    layer; an explicit `layer` wins over it."""
    from tfinterp.explain import get_explainer
    from tfinterp.explain.base import EXPLAINERS

    params = {"batch_size": batch_size, **(params or {})}
    if "layer" in params:
        given = params.pop("layer")
        cls = EXPLAINERS.get(method)
        if cls.layer_param not in cls.param_spec():
            raise UserError(f"{method} has no layer parameter; drop --param layer")
        layer = given if layer is None else layer
    return get_explainer(method, model, layer=layer, **params)


def explain_set(model, method: str, params: dict | None, images, targets, batch_size: int = 32,
                explainer=None):
    """Explain every image of `images` for its class in `targets` with `method`.

    Returns ``(maps, stage1, seconds_per_image, params_used)``: the maps; for a two-stage
    method (guided inversion, which has ``explain_both``) its stage-1 maps, else None; the
    wall-clock seconds of the explanation (explainer construction excluded) divided by the
    number of images; the explainer's resolved parameters. An `explainer` already built
    (by `make_explainer`) is used as it is, `method` and `params` then being ignored.
    """
    e = explainer if explainer is not None else make_explainer(method, model, params, batch_size)
    t0 = time.perf_counter()
    if hasattr(e, "explain_both"):
        maps, stage1 = e.explain_both(images, targets, batch_size=batch_size)
    else:
        maps, stage1 = e.explain(images, targets, batch_size=batch_size), None
    return maps, stage1, (time.perf_counter() - t0) / len(images), e.params


def hits_string(hits) -> str:
    """Per-image hits as a compact string, '1' for a hit (for a JSON summary)."""
    return "".join("1" if h else "0" for h in np.asarray(hits, bool))


def parse_hits(text: str) -> np.ndarray:
    """The boolean hit vector of a `hits_string`."""
    return np.array([c == "1" for c in text], dtype=bool)


def localization_scores(maps, boxes, alpha: float, largest: bool = False) -> dict:
    """Localization error at `alpha` with its Wilson 95 % interval, the per-image hits as a
    `hits_string` ('1' = IoU >= 0.5, for paired comparisons between methods on the same
    images, `paired_comparison`), and the pointing game."""
    hits = localization_hits(maps, boxes, alpha, largest)
    return {"localization_error": 1.0 - float(hits.mean()),
            "ci95": wilson_interval(int((~hits).sum()), len(hits)),
            "hits": hits_string(hits), "pointing_game": pointing_game(maps, boxes)}
