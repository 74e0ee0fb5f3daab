"""`tfinterp attack` and `tfinterp detect`: attack a data set's images (adversarial.npz,
examples.png, summary.json, pixel statistics), or fit and score Dong et al.'s Gaussian
detector (detector.json, roc.png)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from tfinterp.errors import UserError


def run_attack(model_spec, method="pgd", dataset="mnist", split="test", limit=100, eps=None, steps=None,
               step_size=None, norm=None, loss=None, restarts=None, target=None, ensemble=None, defense=None,
               batch_size=256, seed=0, out=None, command=None, unsafe_deserialization=False) -> dict:
    """Attack the first `limit` images of `dataset`; write adversarial.npz, examples.png,
    summary.json, pixel_stats.json / .png under `out`. Returns the summary.

    `unsafe_deserialization` loads `.keras` files (the model and the `ensemble` ones) with
    Keras' safe mode off, for files the user trusts (`tfinterp.models.load_model`)."""
    from tfinterp.attacks.evaluate import defended_model, make_attack, pixel_statistics, predict_classes
    from tfinterp.attacks.targets import select_targets
    from tfinterp.checks import check_fit
    from tfinterp.data import dataset_info, load_arrays
    from tfinterp.defenses.thresholding import parse_defense
    from tfinterp.models import load_model
    from tfinterp.runs.robustness import threshold_train_images
    from tfinterp.utils import atomic_path, set_seed, write_json

    set_seed(seed)
    parsed = parse_defense(defense)
    base = load_model(model_spec, unsafe_deserialization=unsafe_deserialization)
    x, y = load_arrays(dataset, split, limit, materialize=True)
    check_fit(base, x, y)
    train_images = threshold_train_images(parsed, dataset)
    net, info = defended_model(base, parsed, eps, train_images)
    models = [net]
    if ensemble:
        if method != "ensemble":
            raise UserError("--ensemble is only for --method ensemble")
        for spec in [s.strip() for s in ensemble.split(",") if s.strip()]:
            m = load_model(spec, unsafe_deserialization=unsafe_deserialization)
            check_fit(m, x, y)
            models.append(defended_model(m, parsed, eps, train_images)[0] if parsed else m)
    targeted_only = method in ("ifgs", "ensemble")
    params = {"norm": norm, "loss": loss, "restarts": restarts, "seed": seed}
    if target is not None and not targeted_only:
        params["targeted"] = True
    if target is None and targeted_only:
        target = "least_likely"
    attack = make_attack(method, models if method == "ensemble" else net, eps=eps, steps=steps,
                         step_size=step_size, batch_size=batch_size, **params)
    targets = select_targets(target, models, x, y, seed=seed, batch_size=batch_size) if target is not None else None
    pred_clean = predict_classes(net, x, batch_size)
    t0 = time.perf_counter()
    adv = attack.attack(x, y, targets)
    seconds = time.perf_counter() - t0
    pred_adv = predict_classes(net, adv, batch_size)
    delta = (adv - x).reshape(len(x), -1)
    names = getattr(base, "class_names", None) or dataset_info(dataset)["class_names"]
    summary = {
        "command": command, "model": model_spec, "dataset": dataset, "split": split, "examples": int(len(x)),
        "method": method, "attack": attack.config, "defense": info,
        "targets": None if targets is None else str(target),
        "clean_accuracy": float((pred_clean == y).mean()),
        "adversarial_accuracy": float((pred_adv == y).mean()),
        "success_rate": float((pred_adv != y)[pred_clean == y].mean()) if (pred_clean == y).any() else None,
        "target_success": None if targets is None else float((pred_adv == targets).mean()),
        "mean_linf": float(np.abs(delta).max(1).mean()), "max_linf": float(np.abs(delta).max()),
        "mean_l2": float(np.linalg.norm(delta, axis=1).mean()), "seconds": seconds,
    }
    if out is not None:
        from tfinterp.viz.attacks import save_adversarial_grid, save_pixel_stats

        out = Path(out)
        with atomic_path(out / "adversarial.npz") as tmp:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, images=x, adversarial=adv, labels=y, pred_clean=pred_clean,
                                    pred_adversarial=pred_adv,
                                    targets=targets if targets is not None else np.full(len(y), -1))
        stats = pixel_statistics({"natural": x, "adversarial": adv})
        summary["black_fraction"] = {k: v["black_fraction"] for k, v in stats["sets"].items()}
        write_json(out / "summary.json", summary)
        write_json(out / "pixel_stats.json", stats)
        title = (f"{method} on {summary['model']}" + (f" + threshold mu={info['mu']:.2f}" if info else "")
                 + f": accuracy {summary['clean_accuracy']:.3f} -> {summary['adversarial_accuracy']:.3f}")
        save_adversarial_grid(out / "examples.png", x, adv, y, pred_clean, pred_adv, names, title=title)
        save_pixel_stats(out / "pixel_stats.png", stats, title=f"{dataset}/{split}, {method}")
    return summary


def run_detector(model_spec, dataset, layer="features", method="pgd", eps=None, steps=None, limit=1000,
                 fit_limit=None, batch_size=256, seed=0, out=None, unsafe_deserialization=False) -> dict:
    """Fit Dong et al.'s class-conditional Gaussian detector on training images; ROC of natural
    test images vs the successful adversarial examples of `method`. Writes detector.json and roc.png.
    `unsafe_deserialization`: see `run_attack`."""
    from tfinterp.attacks.evaluate import make_attack, predict_classes
    from tfinterp.attacks.targets import least_likely_targets
    from tfinterp.checks import check_fit
    from tfinterp.data import load_arrays
    from tfinterp.defenses.detector import GaussianDetector, roc
    from tfinterp.models import load_model
    from tfinterp.utils import set_seed, write_json

    set_seed(seed)
    model = load_model(model_spec, unsafe_deserialization=unsafe_deserialization)
    xtr, ytr = load_arrays(dataset, "train", fit_limit, materialize=True)
    x, y = load_arrays(dataset, "test", limit, materialize=True)
    check_fit(model, x, y)
    det = GaussianDetector(model, layer=layer, batch_size=batch_size).fit(xtr, ytr)
    attack = make_attack(method, model, eps=eps, steps=steps, batch_size=batch_size, seed=seed)
    targets = least_likely_targets(model, x, 1, batch_size) if attack.is_targeted else None
    adv = attack.attack(x, y, targets)
    pred = predict_classes(model, adv, batch_size)
    ok = (pred == targets) if targets is not None else (pred != y)
    if not ok.any():
        raise UserError(f"no {method} example succeeded; nothing to detect (raise --eps or --steps)")
    result = roc(det.score(x), det.score(adv[ok]))
    result.update(model=model_spec, dataset=dataset, layer=layer, method=method, attack=attack.config,
                  fit_examples=int(len(xtr)))
    if out is not None:
        from tfinterp.viz.attacks import save_roc

        out = Path(out)
        write_json(out / "detector.json", result)
        save_roc(out / "roc.png", {method: result}, title=f"Gaussian detector on {layer} of {model_spec}")
    return result
