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

import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

import _common  # benchmarks/_common.py (this script's folder is on sys.path); no TensorFlow import
from tfinterp.metrics import (explain_set, localization_scores, make_explainer, paired_comparison,  # no TensorFlow
                              parse_hits, salient_object_scores, tune_alpha)


def main(argv=None):
    ap = _common.parser(__doc__, config="localization_clutter64.toml", out="localization_clutter64.json")
    ap.add_argument("--methods", default=None, help="comma-separated subset of the config's methods")
    only = ap.add_mutually_exclusive_group()
    only.add_argument("--adversarial-only", action="store_true",
                      help="reuse --out's clean results (alphas, parameters) and add the PGD section")
    only.add_argument("--confirm-only", action="store_true",
                      help="reuse --out's clean results (alphas, parameters) and add the confirmation section")
    args = ap.parse_args(argv)
    cfg = _common.read_config(args.config)
    loc = cfg["localization"]
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    from tfinterp.data import load_clutter
    from tfinterp.models import load_model

    model = load_model(loc["model"])
    background = loc.get("background", "black")  # "texture": the textured canvases (clutter64tex)
    generator = loc.get("generator", "mixed")     # "fragments10": the second canvas family (clutter64frag)
    canvases = {"background": background, "generator": generator}
    tune = load_clutter("tune", n=loc["tune_n"], **canvases)
    test = load_clutter("test", n=loc["test_n"], **canvases)
    bs, largest = int(loc["batch_size"]), bool(loc.get("largest_segment", False))
    methods = args.methods.split(",") if args.methods else loc["methods"]
    want_diagnostics = not args.methods or "diagnostics" in methods
    methods = [m for m in methods if m != "diagnostics"]
    variants = cfg.get("variants", {})
    results = _common.header(__file__, argv, config=cfg, model=loc["model"], tune_n=len(tune["labels"]),
                             test_n=len(test["labels"]), methods={})
    if args.methods and Path(args.out).exists():  # re-run some methods into earlier results
        previous = json.loads(Path(args.out).read_text())
        if previous.get("tune_n") == results["tune_n"] and previous.get("test_n") == results["test_n"]:
            previous.setdefault("reruns", []).append({"command": results["command"], "date": results["date"],
                                                      "methods": methods})
            previous["config"] = cfg
            results = previous
    if args.adversarial_only or args.confirm_only:
        part = "adversarial" if args.adversarial_only else "confirmation"
        rerun = {"command": results["command"], "date": results["date"], "methods": [part]}
        results = json.loads(Path(args.out).read_text())
        results["config"] = cfg
        results.setdefault("reruns", []).append(rerun)
        if args.adversarial_only:
            results["adversarial"] = adversarial_section(model, test, cfg["adversarial"], results, largest, bs)
        else:
            results["confirmation"] = confirmation_section(model, cfg["confirm"], results, largest, bs, canvases)
        _common.write_result(args.out, results)
        Path(args.out).with_suffix(".md").write_text(table(results))
        print(table(results))
        return
    # targets: the true class (the localization protocol explains the ground-truth class)
    for name in methods:
        spec = variants.get(name, {"method": name, "params": {}})
        method, params = spec["method"], dict(spec.get("params", {}))
        if spec.get("tuned_from"):  # the tuned parameters of another entry, then this variant's own
            params = dict(results["methods"][spec["tuned_from"]]["ctor_params"], **params)
        grid = cfg.get("tuning", {}).get(name)
        entry = {"method": method}
        t_start = time.perf_counter()
        if grid:
            keys = sorted(grid)
            trials, seen = [], set()
            for values in itertools.product(*(grid[k] for k in keys)):
                trial = dict(params, **dict(zip(keys, values)))
                e = make_explainer(method, model, trial, batch_size=bs)
                key = json.dumps(e.params, sort_keys=True, default=str)
                if key in seen:  # e.g. a temperature with the logit score: the same explainer again
                    continue
                seen.add(key)
                maps, _, _, _ = explain_set(model, method, trial, tune["images"], tune["labels"], bs, explainer=e)
                alpha, err, _ = tune_alpha(maps, tune["boxes"], largest=largest)
                trials.append({"params": trial, "alpha": alpha, "tune_error": err})
                print(f"  tune {name} {trial}: error {err:.3f} at alpha {alpha}", file=sys.stderr, flush=True)
            best = min(trials, key=lambda t: t["tune_error"])
            params = best["params"]
            entry["tuning"] = trials
        maps_tune, _, _, _ = explain_set(model, method, params, tune["images"], tune["labels"], bs)
        alpha, tune_err, curve = tune_alpha(maps_tune, tune["boxes"], largest=largest)
        maps, stage1, sec, used = explain_set(model, method, params, test["images"], test["labels"], bs)
        entry.update({"params": used, "ctor_params": params, "alpha": alpha, "tune_error": tune_err,
                      **localization_scores(maps, test["boxes"], alpha, largest), "seconds_per_image": sec,
                      "salient_object": salient_object_scores(maps, test["masks"]),
                      "wall_seconds_with_tuning": time.perf_counter() - t_start})
        a_l, tune_l, _ = tune_alpha(maps_tune, tune["boxes"], largest=not largest)
        entry["other_protocol"] = {"largest_segment": not largest, "alpha": a_l, "tune_error": tune_l,
                                   **localization_scores(maps, test["boxes"], a_l, not largest)}
        if stage1 is not None:
            a1, _, _ = tune_alpha(explain_set(model, method, dict(params, stage="inversion"), tune["images"],
                                             tune["labels"], bs)[0], tune["boxes"], largest=largest)
            entry["stage1"] = {"alpha": a1, **localization_scores(stage1, test["boxes"], a1, largest),
                               "salient_object": salient_object_scores(stage1, test["masks"])}
        results["methods"][name] = entry
        print(f"{name:26s} loc.err {entry['localization_error']:.3f} (alpha {alpha}) pointing "
              f"{entry['pointing_game']:.3f}  {sec * 1000:.0f} ms/img", file=sys.stderr, flush=True)
        _common.write_result(args.out, results)  # partial results survive an interruption
    if want_diagnostics:
        results["diagnostics"] = diagnostics(model, tune, test, cfg.get("diagnostics", {}), largest, results, bs)
        _common.write_result(args.out, results)
    adv = cfg.get("adversarial")
    if adv:
        results["adversarial"] = adversarial_section(model, test, adv, results, largest, bs)
        _common.write_result(args.out, results)
    if cfg.get("confirm"):
        results["confirmation"] = confirmation_section(model, cfg["confirm"], results, largest, bs, canvases)
        _common.write_result(args.out, results)
    md = table(results)
    Path(args.out).with_suffix(".md").write_text(md)
    print(md)


def diagnostics(model, tune, test, cfg, largest, results=None, bs=50):
    """What the benchmark itself allows, independent of any explainer.

    - ``image_itself``: the canvas as its own map. The background is black, so any map that is
      zero where the image is zero (gradient x input, integrated gradients) inherits the item's
      silhouette; with the largest-segment protocol this trivial map localizes almost perfectly,
      which is why the paper's all-segments protocol is the one reported.
    - ``span_oracle``: for a filter layer l1, the best non-negative combination of its channels
      fitted (non-negative least squares) to the ground-truth box, per test image, then min-max
      normalised and upsampled exactly as guided inversion's mask. It knows the answer, so it
      bounds what any omega (the only thing guided inversion optimises) could reach.
    - ``objective``: does guided inversion's stage-2 objective prefer masks that localize? Its
      terms f_c(Phi) and f_c(Phi_bg) for guided inversion's own masks, the span oracle's, the
      true box, the item's pixels and the whole image; and the localization error (alpha tuned
      on the tune split each time) as stage 2 runs longer (``stage2_steps``, learning-rate
      halving off), beside the objective it reaches.
    """
    import tensorflow as tf
    from scipy.optimize import nnls

    from tfinterp.explain.guided_inversion import GuidedInversion

    out = {}
    img = {"tune": tune["images"][..., 0], "test": test["images"][..., 0]}
    out["image_itself"] = {}
    for lg in (largest, not largest):
        a, _, _ = tune_alpha(img["tune"], tune["boxes"], largest=lg)
        out["image_itself"]["largest_segment" if lg else "all_segments"] = {
            "alpha": a, **localization_scores(img["test"], test["boxes"], a, lg)}

    def oracle_maps(acts, boxes, size):
        n, h, w, k = acts.shape
        target = np.zeros((n, size[0], size[1], 1), np.float32)
        for i, (y0, x0, y1, x1) in enumerate(boxes):
            target[i, y0:y1, x0:x1] = 1.0
        target = tf.image.resize(target, (h, w), method="area").numpy()[..., 0]
        maps = []
        for i in range(n):
            a = acts[i].reshape(-1, k).astype(np.float64)
            wv, _ = nnls(a, target[i].ravel().astype(np.float64))
            m = (a @ wv).reshape(h, w)
            m = (m - m.min()) / max(m.max() - m.min(), 1e-12)
            maps.append(m)
        return tf.image.resize(np.asarray(maps, np.float32)[..., None], size, method="bilinear").numpy()[..., 0]

    out["span_oracle"], oracle_test = {}, {}
    size = tuple(test["images"].shape[1:3])
    for layer in cfg.get("oracle_layers", []):
        # the activations exactly as guided inversion's omega weights them (a '+' hypercolumn too)
        filt = GuidedInversion(model, l1=layer, steps1=0, steps2=0)
        res = {}
        for split, d in (("tune", tune), ("test", test)):
            res[split] = oracle_maps(filt.filter_activations(d["images"], batch_size=200), d["boxes"], size)
        a, _, _ = tune_alpha(res["tune"], tune["boxes"], largest=largest)
        out["span_oracle"][layer] = {"alpha": a, **localization_scores(res["test"], test["boxes"], a, largest)}
        oracle_test[layer] = res["test"]
        print(f"span oracle {layer}: {out['span_oracle'][layer]['localization_error']:.3f}", file=sys.stderr,
              flush=True)
    gi = (results or {}).get("methods", {}).get(cfg.get("objective_of", "guided-inversion"))
    if gi and cfg.get("stage2_steps"):
        out["objective"] = objective_section(model, tune, test, gi, cfg, oracle_test, largest, bs)
    return out


def objective_section(model, tune, test, gi, cfg, oracle_test, largest, bs):
    """Guided inversion's stage-2 objective on reference masks, and error against stage-2 length."""
    params = dict(gi["ctor_params"])
    explainer = make_explainer("guided-inversion", model, params, batch_size=bs)
    lam = explainer.lam
    x, y = test["images"], test["labels"]
    box = np.zeros(x.shape[:3], np.float32)
    for i, (y0, x0, y1, x1) in enumerate(test["boxes"]):
        box[i, y0:y1, x0:x1] = 1.0
    masks = {"guided inversion (its own map)": explainer.explain(x, y, batch_size=bs)}
    if explainer.l1 in oracle_test:
        masks[f"span oracle ({explainer.l1})"] = oracle_test[explainer.l1]
    masks.update({"the true box": box, "the item's pixels": test["masks"].astype(np.float32),
                  "the whole image (m = 1)": np.ones_like(box)})
    out = {"params": params, "lambda": lam, "masks": {}, "stage2_steps": []}
    for name, m in masks.items():
        fg, bg = explainer.target_terms(x, y, m, batch_size=bs)
        out["masks"][name] = {"f_c(Phi)": float(fg.mean()), "f_c(Phi_bg)": float(bg.mean()),
                              "objective": float(np.mean(-fg + lam * bg)), "area": float(m.mean())}
        print(f"objective {name}: {out['masks'][name]['objective']:.2f}", file=sys.stderr, flush=True)
    for steps in cfg["stage2_steps"]:
        trial = make_explainer("guided-inversion", model, dict(params, steps2=int(steps), decay_every=10 ** 6),
                                batch_size=bs)  # one explainer for the tune and the test canvases
        alpha, _, _ = tune_alpha(trial.explain(tune["images"], tune["labels"], batch_size=bs), tune["boxes"],
                                 largest=largest)
        maps = trial.explain(x, y, batch_size=bs)
        fg, bg = explainer.target_terms(x, y, maps, batch_size=bs)
        row = {"steps2": int(steps), "alpha": alpha, **localization_scores(maps, test["boxes"], alpha, largest),
               "objective": float(np.mean(-fg + lam * bg))}
        out["stage2_steps"].append(row)
        print(f"stage 2 for {steps} steps: objective {row['objective']:.2f}, loc. error "
              f"{row['localization_error']:.3f}", file=sys.stderr, flush=True)
    return out


def adversarial_section(model, test, adv, results, largest, bs):
    """Explain PGD examples for their TRUE class (the paper's Figure 4); same alpha as clean."""
    try:
        from tfinterp.attacks import PGD
    except ImportError:
        return {"skipped": "tfinterp.attacks is not available"}
    n = int(adv["n"])
    x, y, boxes = test["images"][:n], test["labels"][:n], test["boxes"][:n]
    x_adv = PGD(model, eps=adv["eps"], steps=adv["steps"], step_size=adv["step_size"], batch_size=bs,
                seed=adv.get("seed")).attack(x, y)  # the random start is seeded: the same examples every run
    pred = np.concatenate([np.asarray(model(x_adv[i:i + 256])).argmax(-1) for i in range(0, n, 256)])
    out = {"eps": adv["eps"], "steps": adv["steps"], "seed": adv.get("seed"), "n": n,
           "adversarial_accuracy": float((pred == y).mean()),
           "methods": {}}
    for name, entry in results["methods"].items():
        clean, _, _, _ = explain_set(model, entry["method"], entry["ctor_params"], x, y, bs)
        advm, _, _, _ = explain_set(model, entry["method"], entry["ctor_params"], x_adv, y, bs)
        out["methods"][name] = {"clean": localization_scores(clean, boxes, entry["alpha"], largest),
                                "pgd": localization_scores(advm, boxes, entry["alpha"], largest)}
        print(f"adv {name:22s} clean {out['methods'][name]['clean']['localization_error']:.3f} "
              f"pgd {out['methods'][name]['pgd']['localization_error']:.3f}", file=sys.stderr, flush=True)
    return out


def confirmation_section(model, conf, results, largest, bs, canvases):
    """Every method as tuned (its parameters and alpha from the tune split), run unchanged on
    canvases drawn with a fresh seed from the same held-out items: a check that the test split's
    ranking, which earlier choices were compared on, holds on canvases no choice has seen."""
    from tfinterp.data import load_clutter

    d = load_clutter("test", n=int(conf["n"]), seed=int(conf["seed"]), **canvases)
    out = {"n": len(d["labels"]), "seed": int(conf["seed"]), "methods": {}}
    for name, entry in results["methods"].items():
        maps, _, _, _ = explain_set(model, entry["method"], entry["ctor_params"], d["images"], d["labels"], bs)
        out["methods"][name] = localization_scores(maps, d["boxes"], entry["alpha"], largest)
        print(f"confirm {name:22s} {out['methods'][name]['localization_error']:.3f}", file=sys.stderr, flush=True)
    return out


def paired_table(methods, what: str, of: str = "guided-inversion"):
    """Markdown rows: `of` against every other entry of `methods` on the same `what` (per-image
    hits, McNemar)."""
    if of not in methods or "hits" not in methods[of]:
        return []

    def hits(e):
        return parse_hits(e["hits"])

    ref = hits(methods[of])
    lines = ["", f"Paired on the same {len(ref)} {what}: {of} against each method (difference of "
             f"localization errors, negative when {of} is better; 95 % CI; canvases only one of "
             "the two localizes; McNemar's exact p):", "",
             f"| against | difference (95 % CI) | only {of} | only the other | p |",
             "| --- | --- | --- | --- | --- |"]
    for name, e in sorted(methods.items(), key=lambda kv: kv[1]["localization_error"]):
        if name == of or "hits" not in e:
            continue
        c = paired_comparison(ref, hits(e))
        lines.append(f"| {name} | {c['difference']:+.3f} ({c['ci95'][0]:+.3f} to {c['ci95'][1]:+.3f}) | "
                     f"{c['a_only']} | {c['b_only']} | {c['p_value']:.2g} |")
    return lines


def table(r):
    loc = r["config"]["localization"]
    kind = ("textured " if loc.get("background") == "texture" else "") + "cluttered" + (
        " (10x10-fragment generator)" if loc.get("generator") == "fragments10" else "")
    lines = [f"Localization on {r['test_n']} {kind} test canvases ({r['model']}); alpha tuned on "
             f"{r['tune_n']} 'tune' canvases. {r['date']}, {r['machine']}.", "",
             "| method | loc. error (95 % CI) | alpha | pointing game | F-measure | MAE | ms / image | "
             "loc. error, other protocol* (alpha) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]

    def err(e):
        ci = e.get("ci95")
        return f"{e['localization_error']:.3f}" + (f" ({ci[0]:.3f}-{ci[1]:.3f})" if ci else "")

    for name, e in sorted(r["methods"].items(), key=lambda kv: kv[1]["localization_error"]):
        so = e["salient_object"]
        other = e.get("other_protocol")
        other = f"{other['localization_error']:.3f} ({other['alpha']})" if other else ""
        lines.append(f"| {name} | {err(e)} | {e['alpha']} | {e['pointing_game']:.3f} | "
                     f"{so['f_measure']:.3f} | {so['mae']:.3f} | {e['seconds_per_image'] * 1000:.1f} | {other} |")
        if "stage1" in e:
            s1 = e["stage1"]
            lines.append(f"| {name} (stage 1 only) | {err(s1)} | {s1['alpha']} | "
                         f"{s1['pointing_game']:.3f} | {s1['salient_object']['f_measure']:.3f} | "
                         f"{s1['salient_object']['mae']:.3f} | | |")
    largest = bool(r["config"]["localization"].get("largest_segment", False))
    lines += ["", f"\\* the {'all-segments' if largest else 'largest-segment'} box, alpha tuned on the same "
              "tune split."]
    lines += paired_table(r["methods"], "test canvases")
    dg = r.get("diagnostics")
    if dg:
        lines += ["", "Diagnostics (not explainers):", "", "| map | loc. error | alpha | pointing game |",
                  "| --- | --- | --- | --- |"]
        for proto, e in dg.get("image_itself", {}).items():
            lines.append(f"| the image itself, {proto.replace('_', ' ')} | {e['localization_error']:.3f} | "
                         f"{e['alpha']} | {e['pointing_game']:.3f} |")
        for layer, e in dg.get("span_oracle", {}).items():
            lines.append(f"| span oracle: best omega >= 0 for {layer}, fitted to the true box | "
                         f"{e['localization_error']:.3f} | {e['alpha']} | {e['pointing_game']:.3f} |")
    ob = (dg or {}).get("objective")
    if ob:
        lines += ["", f"Guided inversion's stage-2 objective, -f_c(Phi) + {ob['lambda']:g} f_c(Phi_bg) (lower is "
                  "better for the optimiser), on the test canvases, with its tuned parameters:", "",
                  "| mask | f_c(Phi) | f_c(Phi_bg) | objective | area |", "| --- | --- | --- | --- | --- |"]
        for name, e in ob["masks"].items():
            lines.append(f"| {name} | {e['f_c(Phi)']:.2f} | {e['f_c(Phi_bg)']:.2f} | {e['objective']:.2f} | "
                         f"{e['area']:.3f} |")
        lines += ["", "| stage-2 steps (no lr halving) | objective reached | loc. error | alpha | pointing game |",
                  "| --- | --- | --- | --- | --- |"]
        for e in ob["stage2_steps"]:
            lines.append(f"| {e['steps2']} | {e['objective']:.2f} | {e['localization_error']:.3f} | {e['alpha']} | "
                         f"{e['pointing_game']:.3f} |")
    conf = r.get("confirmation")
    if conf:
        lines += ["", f"Confirmation: every method as tuned, on {conf['n']} fresh canvases (the test items, "
                  f"layouts drawn with seed {conf['seed']}):", "", "| method | loc. error (95 % CI) | pointing game |",
                  "| --- | --- | --- |"]
        for name, e in sorted(conf["methods"].items(), key=lambda kv: kv[1]["localization_error"]):
            lines.append(f"| {name} | {err(e)} | {e['pointing_game']:.3f} |")
        lines += paired_table(conf["methods"], "fresh canvases")
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
