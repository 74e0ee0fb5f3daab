"""Explainer parameters tuned by faithfulness for the shipped madry_fashion_mnist model.

Fashion-MNIST has no boxes (the item fills the frame), so the criterion is faithfulness:
deletion and insertion AUC (Petsiuk et al. 2018, RISE; Samek et al. 2017, pixel flipping;
`tfinterp.metrics.faithfulness`), combined as insertion AUC - deletion AUC (higher is better).
A 'tune' split and a disjoint 'test' split of the Fashion-MNIST test set (one seeded order,
`tfinterp.data.splits.permutation`); each method's paper defaults and a small grid over its
key parameters are scored on tune, the best setting is picked there, and the paper default,
the tuned setting and a random-map baseline are scored on test. ``--write-settings`` writes
the winners into the ``"explain"`` section of ``saved_models/<model>.json`` (the other keys
untouched), where `tfinterp explain --model <model>` finds them.

    python benchmarks/bench_explain_tuning_fashion.py --config configs/explain_tuning_madry_fashion.toml
    python benchmarks/bench_explain_tuning_fashion.py --write-settings
"""

from __future__ import annotations

import itertools
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

import _common  # benchmarks/_common.py (this script's folder is on sys.path); no TensorFlow import
from tfinterp.metrics.faithfulness import curve_runner, faithfulness_scores, random_maps  # no TensorFlow

CRITERIA = {"insertion_minus_deletion": "insertion-deletion AUC", "insertion_auc": "insertion AUC",
            "deletion_auc": "deletion AUC (lower is better)"}


def score(model, x, maps, targets, cfg, runner) -> dict:
    """Faithfulness of `maps`: the means and the per-image combined scores (a string-free list)."""
    s = faithfulness_scores(model, x, maps, targets, steps=int(cfg["steps"]), baseline=cfg["baseline"],
                            batch_size=int(cfg["metric_batch_size"]), runner=runner)
    crit = cfg["criterion"]
    per = s["per_image"]["difference"] if crit == "insertion_minus_deletion" else s["per_image"][
        "insertion" if crit == "insertion_auc" else "deletion"]
    return {"deletion_auc": s["deletion_auc"], "insertion_auc": s["insertion_auc"],
            "insertion_minus_deletion": s["insertion_minus_deletion"], "curves": s["curves"],
            "_per_image": np.asarray(per, np.float64)}


def build(method, model, params, batch_size):
    """The explainer (a ``layer`` among `params`, Grad-CAM's, is read by `make_explainer`)."""
    from tfinterp.metrics import make_explainer

    return make_explainer(method, model, params, batch_size=batch_size)


def better(a: float, b: float, crit: str) -> bool:
    return a < b if crit == "deletion_auc" else a > b


def paired(a, b) -> dict:
    """Mean of a - b over the same images, with a normal 95 % interval."""
    d = np.asarray(a) - np.asarray(b)
    se = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else float("nan")
    m = float(d.mean())
    return {"mean": m, "ci95": [m - 1.96 * se, m + 1.96 * se]}


def public(s: dict) -> dict:
    return {k: v for k, v in s.items() if not k.startswith("_")}


def main(argv=None):
    ap = _common.parser(__doc__, config="explain_tuning_madry_fashion.toml", out="explain_tuning_madry_fashion.json")
    ap.add_argument("--methods", default=None, help="comma-separated subset of the config's methods")
    ap.add_argument("--write-settings", action="store_true",
                    help="only write the winners of --out into saved_models/<model>.json's \"explain\" section")
    args = ap.parse_args(argv)
    cfg_all = _common.read_config(args.config)
    cfg = cfg_all["faithfulness"]
    if args.write_settings:
        write_settings(json.loads(Path(args.out).read_text()))
        return
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    from tfinterp.data import load_arrays
    from tfinterp.data.splits import permutation
    from tfinterp.models import load_model

    model = load_model(cfg["model"])
    x_all, y_all = load_arrays(cfg["dataset"], "test")
    order = permutation(len(x_all), int(cfg["split_seed"]))
    n_tune, n_test = int(cfg["tune_n"]), int(cfg["test_n"])
    idx = {"tune": order[:n_tune], "test": order[n_tune:n_tune + n_test]}
    data = {k: (x_all[v], y_all[v]) for k, v in idx.items()}
    runner = curve_runner(model)
    bs = int(cfg["batch_size"])

    def predict(x):
        return np.concatenate([np.asarray(model(x[i:i + 512], training=False)).argmax(-1)
                               for i in range(0, len(x), 512)])

    targets = {k: (predict(x) if cfg["target"] == "predicted" else y) for k, (x, y) in data.items()}
    crit = cfg["criterion"]
    methods = args.methods.split(",") if args.methods else cfg["methods"]
    results = _common.header(__file__, argv, config=cfg_all, model=cfg["model"], tune_n=n_tune, test_n=n_test,
                             criterion=crit, criterion_name=CRITERIA[crit],
                             test_accuracy={k: float((predict(x) == y).mean()) for k, (x, y) in data.items()},
                             split_indices={k: [int(i) for i in v[:5]] + ["..."] for k, v in idx.items()},
                             methods={})
    out = Path(args.out)
    if args.methods and out.exists():  # re-run some methods into earlier results
        previous = json.loads(out.read_text())
        if previous.get("tune_n") == n_tune and previous.get("test_n") == n_test:
            previous.setdefault("reruns", []).append({"command": results["command"], "date": results["date"],
                                                      "methods": methods})
            previous["config"] = cfg_all
            results = previous

    def evaluate(method, params, split):
        x, _ = data[split]
        t0, c0 = time.perf_counter(), time.process_time()
        e = build(method, model, params, bs)
        maps = e.explain(x, targets[split], batch_size=int(params.get("batch_size", bs)))
        t_explain, c_explain = time.perf_counter() - t0, time.process_time() - c0
        s = score(model, x, maps, targets[split], cfg, runner)
        s.update({"explain_seconds_per_image": t_explain / len(x), "explain_cpu_seconds": c_explain})
        return s, e.params

    random_seed = int(cfg.get("random_seed", 0))
    base = {}
    for split, (x, _) in data.items():
        s_rand = score(model, x, random_maps(len(x), x.shape[1:3], seed=random_seed), targets[split], cfg, runner)
        s_img = score(model, x, x[..., 0], targets[split], cfg, runner)
        base[split] = {"random": s_rand, "image": s_img}
    results["random_baseline"] = {split: public(v["random"]) for split, v in base.items()}
    results["image_as_map"] = {split: public(v["image"]) for split, v in base.items()}
    print(f"random maps: tune {base['tune']['random'][crit]:.4f}, test {base['test']['random'][crit]:.4f}",
          file=sys.stderr, flush=True)
    for name in methods:
        spec = cfg_all.get("variants", {}).get(name, {})
        method, fixed = spec.get("method", name), dict(spec.get("params", {}))
        grid = cfg_all.get("tuning", {}).get(name, {})
        t_start, c_start = time.perf_counter(), time.process_time()
        keys = sorted(grid)
        trials, seen = [], set()
        for values in [None] + list(itertools.product(*(grid[k] for k in keys))):
            trial = dict(fixed) if values is None else dict(fixed, **dict(zip(keys, values)))
            resolved = build(method, model, trial, bs).params
            key = json.dumps(resolved, sort_keys=True, default=str)
            if key in seen:  # e.g. the default again, or a parameter the setting ignores
                continue
            seen.add(key)
            s, _ = evaluate(method, trial, "tune")
            trials.append({"params": {k: v for k, v in trial.items() if k != "batch_size"}, "resolved": resolved,
                           "paper_default": values is None, **public(s), "_s": s})
            print(f"  tune {name} {trials[-1]['params']}: {crit} {s[crit]:.4f} (del {s['deletion_auc']:.3f}, "
                  f"ins {s['insertion_auc']:.3f})", file=sys.stderr, flush=True)
        default = trials[0]
        best = default
        for t in trials[1:]:
            if better(t[crit], best[crit], crit):
                best = t
        s_def_test, used_def = evaluate(method, dict(fixed), "test")
        if best is default:
            s_best_test, used_best = s_def_test, used_def
        else:
            s_best_test, used_best = evaluate(method, dict(fixed, **best["params"]), "test")
        entry = {"method": method, "grid": grid, "tuned_params": best["params"], "tuned_resolved": used_best,
                 "paper_default_resolved": used_def, "tuned_is_default": best is default,
                 "paper_default": {"tune": public(default["_s"]), "test": public(s_def_test)},
                 "tuned": {"tune": public(best["_s"]), "test": public(s_best_test)},
                 "tuned_minus_default_test": paired(s_best_test["_per_image"], s_def_test["_per_image"]),
                 "tuned_minus_random_test": paired(s_best_test["_per_image"], base["test"]["random"]["_per_image"]),
                 "trials": [{k: v for k, v in t.items() if k not in ("_s", "curves")} for t in trials],
                 "wall_seconds": time.perf_counter() - t_start, "cpu_seconds": time.process_time() - c_start}
        results["methods"][name] = entry
        print(f"{name:22s} default {default[crit]:.4f} -> tuned {best[crit]:.4f} on tune; test {s_def_test[crit]:.4f}"
              f" -> {s_best_test[crit]:.4f}  ({entry['cpu_seconds']:.0f} CPU s)", file=sys.stderr, flush=True)
        _common.write_result(out, results)  # partial results survive an interruption
    results["total_cpu_seconds_this_run"] = time.process_time()
    _common.write_result(out, results)
    out.with_suffix(".md").write_text(table(results))
    figure(results, out.with_suffix(".png"))
    print(table(results))


def table(r: dict) -> str:
    """The Markdown table of BENCHMARKS.md."""
    crit = r["criterion"]
    rb = r["random_baseline"]
    lines = [f"Criterion: {r['criterion_name']} (deletion and insertion with baseline "
             f"{r['config']['faithfulness']['baseline']}, {r['config']['faithfulness']['steps']} steps); "
             f"{r['tune_n']} tune / {r['test_n']} test images; random maps: tune {rb['tune'][crit]:.3f}, "
             f"test {rb['test'][crit]:.3f}; the image itself as map: test {r['image_as_map']['test'][crit]:.3f}.", "",
             "| method | paper default tune | paper default test | tuned params | tuned tune | tuned test "
             "(del / ins) | tuned - default, test (95 % CI) | random test |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, e in sorted(r["methods"].items(), key=lambda kv: -kv[1]["tuned"]["test"][crit]):
        d, t = e["paper_default"], e["tuned"]
        prm = ", ".join(f"{k}={v}" for k, v in e["tuned_params"].items()) or "(default)"
        if e["tuned_is_default"]:
            prm = "(paper default)" if e["grid"] else "(no parameters)"
        diff = e["tuned_minus_default_test"]
        lines.append(f"| {name} | {d['tune'][crit]:.3f} | {d['test'][crit]:.3f} | {prm} | {t['tune'][crit]:.3f} | "
                     f"{t['test'][crit]:.3f} ({t['test']['deletion_auc']:.3f} / {t['test']['insertion_auc']:.3f}) | "
                     f"{diff['mean']:+.3f} [{diff['ci95'][0]:+.3f}, {diff['ci95'][1]:+.3f}] | "
                     f"{rb['test'][crit]:.3f} |")
    return "\n".join(lines) + "\n"


def figure(r: dict, path: Path):
    """Mean deletion and insertion curves on the test split (tuned settings, random maps)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tfinterp.utils import atomic_path

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    curves = {name: e["tuned"]["test"]["curves"] for name, e in r["methods"].items()}
    curves["random maps"] = r["random_baseline"]["test"]["curves"]
    for ax, mode in zip(axes, ("deletion", "insertion")):
        for name, c in curves.items():
            ys = np.asarray(c[mode])
            xs = np.linspace(0, 1, len(ys))
            ax.plot(xs, ys, "--k" if name == "random maps" else "-", label=name, lw=1.5)
        ax.set_title(f"{mode} (test, tuned settings)")
        ax.set_xlabel("fraction of pixels " + ("set to 0" if mode == "deletion" else "inserted into 0"))
        ax.set_ylabel("p(explained class)")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8, loc="lower right")
    fig.suptitle(f"{r['model']}: faithfulness of the tuned explainers ({r['test_n']} test images)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    print(f"wrote {path}", file=sys.stderr)


def write_settings(r: dict):
    """The winners of a run `r` as the ``"explain"`` section of saved_models/<model>.json."""
    from tfinterp.utils import write_json

    path = _common.ROOT / "saved_models" / f"{r['model']}.json"
    meta = json.loads(path.read_text())
    crit = r["criterion"]
    cfg = r["config"]["faithfulness"]
    methods = {}
    for name, e in r["methods"].items():
        if name != e["method"]:
            continue  # a variant under another name: not a setting `tfinterp explain --method` can pick
        methods[name] = {"params": e["tuned_params"],
                         "tune_score": round(e["tuned"]["tune"][crit], 4),
                         "test_score": round(e["tuned"]["test"][crit], 4),
                         "paper_default_tune_score": round(e["paper_default"]["tune"][crit], 4),
                         "paper_default_test_score": round(e["paper_default"]["test"][crit], 4),
                         "test_deletion_auc": round(e["tuned"]["test"]["deletion_auc"], 4),
                         "test_insertion_auc": round(e["tuned"]["test"]["insertion_auc"], 4)}
    meta["explain"] = {
        "note": (f"explainer parameters tuned on the {r['tune_n']} images of the {cfg['dataset']} 'tune' split "
                 f"(the test set in the order of tfinterp.data.splits.permutation(10000, {cfg['split_seed']}): "
                 f"the first {r['tune_n']}; scores on the next {r['test_n']}, 'test') by {CRITERIA[crit]} "
                 f"(Petsiuk et al. 2018), pixels set to / inserted into {cfg['baseline']} in {cfg['steps']} steps, "
                 f"explaining the {cfg['target']} class; alpha not tuned (no boxes on Fashion-MNIST: the box "
                 "threshold stays at the default 1.0). `tfinterp explain` with this model uses these unless "
                 "--param / --alpha override; --param preset=paper restores the method's paper defaults"),
        "criterion": CRITERIA[crit],
        "split": "tune",
        "found_by": r["command"],
        "date": r["date"],
        "random_map_test_score": round(r["random_baseline"]["test"][crit], 4),
        "methods": methods}
    write_json(path, meta)
    print(f"wrote the \"explain\" section of {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
