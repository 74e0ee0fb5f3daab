"""Localization benchmark of every explainer on the cluttered Fashion-MNIST canvases.

Protocol of Du et al. 2018 (Sections 4.2-4.4): maps thresholded at alpha * mean, tightest
box around all segments, success when IoU >= 0.5; alpha tuned per method on the 'tune'
split (and, for guided inversion, gamma and delta too), every reported number measured on
the 'test' split. Also the pointing game, salient-object scores (precision, recall,
F-beta with beta^2 = 0.3, MAE against the item's pixel mask), and, as the paper's Figure 4,
localization of PGD adversarial examples explained for their true class.

    python benchmarks/bench_localization.py --config configs/localization_clutter64.toml
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import time
import tomllib
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def machine():
    return f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}, Python {platform.python_version()}"


def run_method(model, method, params, x, y, batch_size):
    from tfinterp.explain.run import build_explainer

    e = build_explainer(method, model, params, batch_size=batch_size)
    t0 = time.perf_counter()
    if hasattr(e, "explain_both"):
        maps, stage1 = e.explain_both(x, y, batch_size=batch_size)
    else:
        maps, stage1 = e.explain(x, y, batch_size=batch_size), None
    return maps, stage1, (time.perf_counter() - t0) / len(x), e.params


def scores(maps, boxes, alpha, largest):
    from tfinterp.metrics import localization_error, pointing_game

    return {"localization_error": localization_error(maps, boxes, alpha, largest),
            "pointing_game": pointing_game(maps, boxes)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "configs/localization_clutter64.toml"))
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/localization_clutter64.json"))
    ap.add_argument("--methods", default=None, help="comma-separated subset of the config's methods")
    ap.add_argument("--adversarial-only", action="store_true",
                    help="reuse --out's clean results (alphas, parameters) and add the PGD section")
    args = ap.parse_args(argv)
    cfg = tomllib.loads(Path(args.config).read_text())
    loc = cfg["localization"]
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    from tfinterp.data import load_clutter
    from tfinterp.metrics import salient_object_scores, tune_alpha
    from tfinterp.models import load_model
    from tfinterp.utils import write_json

    model = load_model(loc["model"])
    tune = load_clutter("tune", n=loc["tune_n"])
    test = load_clutter("test", n=loc["test_n"])
    bs, largest = int(loc["batch_size"]), bool(loc.get("largest_segment", False))
    methods = args.methods.split(",") if args.methods else loc["methods"]
    variants = cfg.get("variants", {})
    results = {"command": "python " + " ".join([sys.argv[0]] + list(argv or sys.argv[1:])),
               "config": cfg, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "machine": machine(), "model": loc["model"], "tune_n": len(tune["labels"]),
               "test_n": len(test["labels"]), "methods": {}}
    if args.methods and Path(args.out).exists():  # re-run some methods into earlier results
        previous = json.loads(Path(args.out).read_text())
        if previous.get("tune_n") == results["tune_n"] and previous.get("test_n") == results["test_n"]:
            previous.setdefault("reruns", []).append({"command": results["command"], "date": results["date"],
                                                      "methods": methods})
            previous["config"] = cfg
            results = previous
    if args.adversarial_only:
        results = json.loads(Path(args.out).read_text())
        results["adversarial"] = adversarial_section(model, test, cfg["adversarial"], results, largest, bs)
        write_json(args.out, results)
        Path(args.out).with_suffix(".md").write_text(table(results))
        print(table(results))
        return
    # targets: the true class (the localization protocol explains the ground-truth class)
    for name in methods:
        spec = variants.get(name, {"method": name, "params": {}})
        method, params = spec["method"], dict(spec.get("params", {}))
        grid = cfg.get("tuning", {}).get(name)
        entry = {"method": method}
        t_start = time.perf_counter()
        if grid:
            keys = sorted(grid)
            trials = []
            for values in itertools.product(*(grid[k] for k in keys)):
                trial = dict(params, **dict(zip(keys, values)))
                maps, _, _, _ = run_method(model, method, trial, tune["images"], tune["labels"], bs)
                alpha, err, _ = tune_alpha(maps, tune["boxes"], largest=largest)
                trials.append({"params": trial, "alpha": alpha, "tune_error": err})
                print(f"  tune {name} {trial}: error {err:.3f} at alpha {alpha}", file=sys.stderr, flush=True)
            best = min(trials, key=lambda t: t["tune_error"])
            params = best["params"]
            entry["tuning"] = trials
        maps_tune, _, _, _ = run_method(model, method, params, tune["images"], tune["labels"], bs)
        alpha, tune_err, curve = tune_alpha(maps_tune, tune["boxes"], largest=largest)
        maps, stage1, sec, used = run_method(model, method, params, test["images"], test["labels"], bs)
        entry.update({"params": used, "ctor_params": params, "alpha": alpha, "tune_error": tune_err,
                      **scores(maps, test["boxes"], alpha, largest), "seconds_per_image": sec,
                      "salient_object": salient_object_scores(maps, test["masks"]),
                      "wall_seconds_with_tuning": time.perf_counter() - t_start})
        if stage1 is not None:
            a1, _, _ = tune_alpha(run_method(model, method, dict(params, stage="inversion"), tune["images"],
                                             tune["labels"], bs)[0], tune["boxes"], largest=largest)
            entry["stage1"] = {"alpha": a1, **scores(stage1, test["boxes"], a1, largest),
                               "salient_object": salient_object_scores(stage1, test["masks"])}
        results["methods"][name] = entry
        print(f"{name:26s} loc.err {entry['localization_error']:.3f} (alpha {alpha}) pointing "
              f"{entry['pointing_game']:.3f}  {sec * 1000:.0f} ms/img", file=sys.stderr, flush=True)
        write_json(args.out, results)  # partial results survive an interruption
    adv = cfg.get("adversarial")
    if adv:
        results["adversarial"] = adversarial_section(model, test, adv, results, largest, bs)
        write_json(args.out, results)
    md = table(results)
    Path(args.out).with_suffix(".md").write_text(md)
    print(md)


def adversarial_section(model, test, adv, results, largest, bs):
    """Explain PGD examples for their TRUE class (the paper's Figure 4); same alpha as clean."""
    try:
        from tfinterp.attacks import PGD
    except ImportError:
        return {"skipped": "tfinterp.attacks is not available"}
    n = int(adv["n"])
    x, y, boxes = test["images"][:n], test["labels"][:n], test["boxes"][:n]
    x_adv = PGD(model, eps=adv["eps"], steps=adv["steps"], step_size=adv["step_size"], batch_size=bs).attack(x, y)
    pred = np.concatenate([np.asarray(model(x_adv[i:i + 256])).argmax(-1) for i in range(0, n, 256)])
    out = {"eps": adv["eps"], "steps": adv["steps"], "n": n, "adversarial_accuracy": float((pred == y).mean()),
           "methods": {}}
    for name, entry in results["methods"].items():
        clean, _, _, _ = run_method(model, entry["method"], entry["ctor_params"], x, y, bs)
        advm, _, _, _ = run_method(model, entry["method"], entry["ctor_params"], x_adv, y, bs)
        out["methods"][name] = {"clean": scores(clean, boxes, entry["alpha"], largest),
                                "pgd": scores(advm, boxes, entry["alpha"], largest)}
        print(f"adv {name:22s} clean {out['methods'][name]['clean']['localization_error']:.3f} "
              f"pgd {out['methods'][name]['pgd']['localization_error']:.3f}", file=sys.stderr, flush=True)
    return out


def table(r):
    lines = [f"Localization on {r['test_n']} cluttered test canvases ({r['model']}); alpha tuned on "
             f"{r['tune_n']} 'tune' canvases. {r['date']}, {r['machine']}.", "",
             "| method | loc. error | alpha | pointing game | F-measure | MAE | ms / image |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, e in sorted(r["methods"].items(), key=lambda kv: kv[1]["localization_error"]):
        so = e["salient_object"]
        lines.append(f"| {name} | {e['localization_error']:.3f} | {e['alpha']} | {e['pointing_game']:.3f} | "
                     f"{so['f_measure']:.3f} | {so['mae']:.3f} | {e['seconds_per_image'] * 1000:.1f} |")
        if "stage1" in e:
            s1 = e["stage1"]
            lines.append(f"| {name} (stage 1 only) | {s1['localization_error']:.3f} | {s1['alpha']} | "
                         f"{s1['pointing_game']:.3f} | {s1['salient_object']['f_measure']:.3f} | "
                         f"{s1['salient_object']['mae']:.3f} | |")
    adv = r.get("adversarial")
    if adv and "methods" in adv:
        lines += ["", f"PGD L-inf eps {adv['eps']}, {adv['steps']} steps, {adv['n']} canvases (accuracy under "
                  f"attack {adv['adversarial_accuracy']:.3f}); maps for the true class:", "",
                  "| method | loc. error clean | loc. error PGD | pointing clean | pointing PGD |",
                  "| --- | --- | --- | --- | --- |"]
        for name, e in adv["methods"].items():
            lines.append(f"| {name} | {e['clean']['localization_error']:.3f} | {e['pgd']['localization_error']:.3f} | "
                         f"{e['clean']['pointing_game']:.3f} | {e['pgd']['pointing_game']:.3f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
