"""Robustness evaluation: clean and adversarial accuracy per eps, with an optional defence,
and pixel statistics of natural vs adversarial images (Zheng et al. Sec. 3, Fig. 7)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

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


def predict_classes(model, images, batch_size=256) -> np.ndarray:
    """Arg-max predictions, batched."""
    import tensorflow as tf

    fn = tf.function(lambda x: tf.argmax(model(x, training=False), axis=-1))
    x = np.asarray(images, np.float32)
    return np.concatenate([fn(x[i:i + batch_size]).numpy() for i in range(0, len(x), batch_size)])


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


def defended_model(model, defense, dataset=None, eps=None, train_images=None):
    """(model to attack, info): the model itself, or wrapped in input thresholding.

    `defense` is the parsed ("threshold", mu or None); mu None runs the grid search on the
    training images (of `dataset`, or `train_images`) for this eps.
    """
    if defense is None:
        return model, None
    from tfinterp.defenses.thresholding import grid_search_mu, wrap

    _, mu = defense
    info = {"defense": "threshold", "mu": mu, "mu_source": "given"}
    if mu is None:
        if train_images is None:
            from tfinterp.data import load_arrays

            arrays = load_arrays(dataset, "train") if dataset else None
            if arrays is None:
                raise UserError(f"cannot grid-search mu: no training images for '{dataset}'; "
                                "give it as --defense threshold:MU")
            train_images = arrays[0]
        search = grid_search_mu(train_images, eps if eps is not None else 0.1)
        info.update(mu=search["mu"], mu_source="grid search on training images",
                    fraction_in_band=search["fraction_in_band"], search_eps=search["eps"])
    return wrap(model, info["mu"]), info


def robustness(model, images, labels, method="pgd", eps_list=(0.1,), defense=None, dataset=None,
               batch_size=256, pixel_stats=False, **attack_params) -> dict:
    """Clean and adversarial accuracy of `model` (optionally defended) for each eps.

    The attack runs on the defended model (white box, gradients through the defence by
    BPDA). Returns {"clean_accuracy", "results": [{eps, accuracy, seconds, ...}], ...}.
    """
    if method not in _EPS_ATTACKS:
        raise UserError(f"robustness curves need an eps-bounded attack ({', '.join(_EPS_ATTACKS)}), got '{method}'")
    from tfinterp.attacks.base import check_images, check_labels, model_num_classes
    from tfinterp.data.imageio import model_input_shape

    x = check_images(images, model_input_shape(model))
    y = check_labels(labels, len(x), model_num_classes(model))
    results = []
    clean_by_mu = {}
    train_images = None
    stats_sets = {"natural": x} if pixel_stats else None
    for eps in eps_list:
        net, info = defended_model(model, defense, dataset, eps, train_images)
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


def evaluate_robustness(model_spec, dataset: str, split="test", limit=None, method="pgd", eps_list=(0.1,),
                        defense=None, batch_size=256, pixel_stats=False, out=None, seed=0,
                        **attack_params) -> dict:
    """Load `model_spec` and `dataset`, run `robustness`, write robustness.json and robustness.png
    (and pixel_stats.json / pixel_stats.png) under `out`."""
    from tfinterp.data import load_arrays
    from tfinterp.defenses.thresholding import parse_defense
    from tfinterp.models import load_model
    from tfinterp.utils import set_seed, write_json

    set_seed(seed)
    parsed = parse_defense(defense) if isinstance(defense, (str, type(None))) else defense
    model = load_model(model_spec) if isinstance(model_spec, str) else model_spec
    arrays = load_arrays(dataset, split, limit)
    if arrays is None:
        from tfinterp.data import load

        ys, xs = [], []
        for xb, yb in load(dataset, split, limit).batch(512):
            xs.append(xb.numpy())
            ys.append(yb.numpy())
        if not xs:
            raise UserError("the data set is empty")
        arrays = (np.concatenate(xs), np.concatenate(ys))
    x, y = arrays
    result = robustness(model, x, y, method=method, eps_list=eps_list, defense=parsed, dataset=dataset,
                        batch_size=batch_size, pixel_stats=pixel_stats, seed=seed, **attack_params)
    result.update(model=model_spec if isinstance(model_spec, str) else model.name, dataset=dataset, split=split)
    if out is not None:
        from tfinterp.viz.attacks import save_pixel_stats, save_robustness_curve

        out = Path(out)
        stats = result.pop("pixel_statistics", None)
        write_json(out / "robustness.json", result)
        label = method + ("" if parsed is None else " + threshold")
        curve = {label: ([0.0] + [r["eps"] for r in result["results"]],
                         [result["clean_accuracy"]] + [r["accuracy"] for r in result["results"]])}
        save_robustness_curve(out / "robustness.png", curve,
                              title=f"{result['model']} on {dataset}/{split} ({len(x)} images)")
        if stats is not None:
            write_json(out / "pixel_stats.json", stats)
            save_pixel_stats(out / "pixel_stats.png", stats, title=f"{result['model']} on {dataset}/{split}")
            result["pixel_statistics"] = stats
    return result
