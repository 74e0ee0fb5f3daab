"""Robustness evaluation over given arrays: clean and adversarial accuracy per eps, with an
optional defence, and pixel statistics of natural vs adversarial images (Zheng et al. Sec. 3,
Fig. 7). No data loading and no figures here: `tfinterp.runs.robustness` does both."""

from __future__ import annotations

import time

import numpy as np

from tfinterp.attacks.robust import predict_classes  # noqa: F401  (the one compiled predictor)
from tfinterp.errors import UserError

_EPS_ATTACKS = ("pgd", "fgsm", "ifgs", "ensemble")


def parse_eps_list(text) -> list[float]:
    """'0.1,0.2,0.3' -> [0.1, 0.2, 0.3]; every value a positive finite number."""
    if isinstance(text, (int, float)):
        items = [text]
    else:
        items = [s.strip() for s in str(text).split(",") if s.strip()]
    if not items:
        raise UserError("--eps needs at least one value, e.g. --eps 0.1,0.2,0.3")
    out = []
    for s in items:
        try:
            v = float(s)
        except ValueError:
            raise UserError(f"eps values must be numbers, got '{s}' (e.g. --eps 0.1,0.2,0.3)")
        if not np.isfinite(v) or v <= 0:
            raise UserError(f"eps values must be positive, got {s}")
        out.append(v)
    return out


def pixel_statistics(sets: dict, bins: int = 20, black: float = 0.5 / 255) -> dict:
    """Fraction of black pixels (value below `black`) and the histogram of the other grey levels.

    `sets` maps a name ("natural", "adversarial") to images in [0, 1]. Zheng et al. report
    80.72 % black pixels in natural MNIST and 30.38 % in PGD-adversarial MNIST.
    """
    edges = np.linspace(0.0, 1.0, bins + 1)
    out = {"black_threshold": black, "bin_edges": edges.tolist(), "sets": {}}
    for name, images in sets.items():
        v = np.asarray(images, np.float32).reshape(-1)
        grey = v[v >= black]
        h, _ = np.histogram(grey, bins=edges)
        out["sets"][name] = {"black_fraction": float((v < black).mean()),
                             "white_fraction": float((v > 1 - black).mean()),
                             "grey_histogram": (h / max(len(grey), 1)).tolist(), "pixels": int(v.size)}
    return out


def make_attack(method: str, model, eps=None, steps=None, step_size=None, **params):
    """An attack by name with CLI-style options (None = the attack's default)."""
    from tfinterp.attacks.base import get_attack, list_attacks

    if method not in list_attacks():
        raise UserError(f"unknown attack '{method}'; available: {', '.join(list_attacks())}")
    kw = {k: v for k, v in params.items() if v is not None}
    if eps is not None:
        if method == "cw":
            raise UserError("cw minimises the distance itself and takes no --eps")
        kw["eps"] = eps
    if steps is not None:
        if method == "fgsm":
            raise UserError("fgsm is a single step and takes no --steps")
        kw["steps"] = steps
    if step_size is not None:
        if method == "fgsm":
            raise UserError("fgsm takes no --step-size (its step is eps)")
        kw["step_size" if method != "cw" else "learning_rate"] = step_size
    return get_attack(method, model, **kw)


def defended_model(model, defense, eps=None, train_images=None):
    """(model to attack, info): the model itself, or wrapped in input thresholding (Zheng et al.).

    `defense` is the parsed ("threshold", mu or None); mu None runs the grid search on
    `train_images` for this eps (a `UserError` when none are given).
    """
    if defense is None:
        return model, None
    from tfinterp.defenses.thresholding import grid_search_mu, wrap

    _, mu = defense
    info = {"defense": "threshold", "mu": mu, "mu_source": "given"}
    if mu is None:
        if train_images is None:
            raise UserError("cannot grid-search mu without training images; give it as --defense threshold:MU")
        search = grid_search_mu(train_images, eps if eps is not None else 0.1)
        info.update(mu=search["mu"], mu_source="grid search on training images",
                    fraction_in_band=search["fraction_in_band"], search_eps=search["eps"])
    return wrap(model, info["mu"]), info


def robustness(model, images, labels, method="pgd", eps_list=(0.1,), defense=None, train_images=None,
               batch_size=256, pixel_stats=False, **attack_params) -> dict:
    """Clean and adversarial accuracy of `model` (optionally defended) for each eps.

    The attack runs on the defended model (white box, gradients through the defence by
    BPDA, Athalye et al. 2018). `train_images` feed the grid search of the threshold's mu
    when `defense` gives none. Returns {"clean_accuracy", "results": [{eps, accuracy,
    seconds, ...}], ...}.
    """
    if method not in _EPS_ATTACKS:
        raise UserError(f"robustness curves need an eps-bounded attack ({', '.join(_EPS_ATTACKS)}), got '{method}'")
    from tfinterp.checks import check_classes, check_images, model_num_classes

    x = check_images(images, model=model)
    y = check_classes(labels, len(x), model_num_classes(model), what="labels")
    results = []
    clean_by_mu = {}
    stats_sets = {"natural": x} if pixel_stats else None
    for eps in eps_list:
        net, info = defended_model(model, defense, eps, train_images)
        key = None if info is None else info["mu"]
        if key not in clean_by_mu:
            clean_by_mu[key] = float((predict_classes(net, x, batch_size) == y).mean())
        params = dict(attack_params)
        targets = None
        if method in ("ifgs", "ensemble"):
            from tfinterp.attacks.targets import least_likely_targets

            targets = least_likely_targets(net, x, 1, batch_size)
        attack = make_attack(method, net, eps=eps, batch_size=batch_size, **params)
        t0 = time.perf_counter()
        adv = attack.attack(x, y, targets)
        dt = time.perf_counter() - t0
        pred = predict_classes(net, adv, batch_size)
        row = {"eps": eps, "accuracy": float((pred == y).mean()), "clean_accuracy": clean_by_mu[key],
               "seconds": dt, "attack": attack.config,
               "max_linf": float(np.abs(adv - x).max())}
        if info is not None:
            row["defense"] = info
        results.append(row)
        if pixel_stats:
            stats_sets[f"adversarial eps {eps:g}"] = adv
    out = {"method": method, "examples": int(len(x)), "clean_accuracy": results[0]["clean_accuracy"],
           "defense": None if defense is None else {"name": "threshold", "mu": defense[1]},
           "results": results}
    if pixel_stats:
        out["pixel_statistics"] = pixel_statistics(stats_sets)
    return out
