"""Natural vs madry vs consistent vs trades on Fashion-MNIST (issue 15's quality rows).

For every model of the config's [models] table (each trained by configs/robust_fashion_*.toml):
clean accuracy on the 10,000 test images; PGD-20 (L-inf eps 0.1, step 0.01, random start,
cross-entropy) on the whole test set; PGD-100 with 5 random restarts and the C&W margin loss
on the first 1,000 test images (an example counts as robust only if it survives every run);
accuracy under targeted iterative FGS towards the least likely class (10 steps, Dong et al.'s
G); and the representation ratios r1 / r2 (Dong et al. 2017, Eqs. 6-7) of those targeted
examples at the last conv layer, against the test set's real images of the original and
target classes.

    python benchmarks/bench_robust_training.py [--models madry,natural]
"""

from __future__ import annotations

import time

import numpy as np

import _common
from _common import RESULTS, ROOT


def evaluate(name, path, ev, x, y):
    from tfinterp.attacks import get_attack
    from tfinterp.attacks.robust import predict_classes, robust_evaluation
    from tfinterp.attacks.targets import least_likely_targets
    from tfinterp.models import load_model

    model = load_model(str(ROOT / path))
    bs, eps, seed = int(ev["batch_size"]), float(ev["eps"]), int(ev["seed"])
    row = {"model": name, "path": path}
    t0 = time.perf_counter()
    row["clean_accuracy"] = float((predict_classes(model, x, bs) == y).mean())
    n20 = int(ev["pgd20_examples"])
    pgd20 = get_attack("pgd", model, eps=eps, steps=20, step_size=float(ev["pgd20_step"]), seed=seed, batch_size=bs)
    r = robust_evaluation(model, x[:n20], y[:n20], pgd20, batch_size=bs)
    row["pgd20"] = {"examples": n20, "accuracy": r.accuracy, "attack": pgd20.config}
    n100 = int(ev["pgd100_examples"])
    pgd100 = get_attack("pgd", model, eps=eps, steps=100, loss="margin", seed=seed, batch_size=bs)
    r = robust_evaluation(model, x[:n100], y[:n100], pgd100, restarts=int(ev["pgd100_restarts"]), batch_size=bs)
    row["pgd100_restarts"] = {"examples": n100, "restarts": int(ev["pgd100_restarts"]), "accuracy": r.accuracy,
                              "clean_accuracy_on_these": r.clean_accuracy, "attack": pgd100.config,
                              "runs": r.runs}
    nt = int(ev["targeted_examples"])
    xt, yt = x[:nt], y[:nt]
    targets = least_likely_targets(model, xt)
    ifgs = get_attack("ifgs", model, steps=10, step_size=2.5 * eps / 10, eps=eps, batch_size=bs)
    adv = ifgs.attack(xt, yt, targets)
    pred = predict_classes(model, adv, bs)
    row["targeted"] = {"examples": nt, "accuracy": float((pred == yt).mean()),
                       "target_success": float((pred == targets).mean()), "attack": ifgs.config,
                       "targets": "least likely class"}
    try:
        from tfinterp.analysis.ratios import representation_ratios
    except ImportError as e:  # the ratios arrive with issue 16's analysis package
        row["ratios"] = {"skipped": f"tfinterp.analysis.ratios unavailable: {e}"}
    else:
        rr = representation_ratios(model, ev["ratio_layer"], x, y, adv, yt, targets, batch_size=bs)
        ok = pred == targets
        row["ratios"] = {"layer": ev["ratio_layer"], "all": rr.summary(), "successful_targeted": rr.summary(ok),
                         "against": "the 10,000 test images' representations of the original / target class"}
    row["seconds"] = round(time.perf_counter() - t0, 1)
    print(f"{name}: clean {row['clean_accuracy']:.4f}  PGD-20 {row['pgd20']['accuracy']:.4f}  "
          f"PGD-100x{ev['pgd100_restarts']} {row['pgd100_restarts']['accuracy']:.4f}  "
          f"targeted {row['targeted']['accuracy']:.4f}  ratios {row.get('ratios')}", flush=True)
    return row


def main():
    ap = _common.parser(__doc__, config="bench_robust_training.toml", out="robust_training_fashion.json")
    ap.add_argument("--models", default=None, help="comma-separated subset of the config's models")
    args = ap.parse_args()
    cfg = _common.read_config(args.config)
    ev = cfg["eval"]
    names = args.models.split(",") if args.models else list(cfg["models"])
    from tfinterp.data import load_arrays
    from tfinterp.utils import set_seed

    set_seed(int(ev["seed"]))
    x, y = load_arrays(ev["dataset"], "test", materialize=True)
    out = {**_common.header(__file__), "config": cfg, "models": {}}
    import json
    from pathlib import Path

    prev = Path(args.out)
    if prev.exists() and args.models:  # adding or redoing some models keeps the others' rows
        out["models"] = json.loads(prev.read_text()).get("models", {})
    for name in names:
        out["models"][name] = evaluate(name, cfg["models"][name], ev, x, y)
        _common.write_result(args.out, out)


if __name__ == "__main__":
    main()
