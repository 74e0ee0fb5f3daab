"""LC, CS1 and CS2 of a Fashion-MNIST model (Dong et al. 2017, sec. 2.2, Eqs. 2-5; issue 16).

    python benchmarks/bench_analysis_lc.py --config configs/bench_analysis_lc.toml

For each model of the config: mean LC of its last conv layer at sigma 1 and 2 (raw and over
the class-prior null, bootstrap intervals), then an adversarial set (targeted PGD towards the
k least-likely classes of the first test images, in the shared .npz format) and CS1 / CS2
against LC for that layer and for all conv layers pooled. Writes
benchmarks/results/analysis_lc_<model>.json and the figures beside it.
"""

from __future__ import annotations

import json
from pathlib import Path

import _common  # benchmarks/_common.py (this script's folder is on sys.path); no TensorFlow import


def adversarial_set(model, path, x, y, k, eps, steps, batch_size, spec):
    """Targeted PGD towards each image's k least-likely classes; the issue-16 .npz format."""
    import numpy as np

    from tfinterp.attacks.base import get_attack
    from tfinterp.attacks.targets import least_likely_targets

    t = np.asarray(least_likely_targets(model, x, k, batch_size)).reshape(len(x), k)
    rep = np.repeat(np.arange(len(x)), k)
    att = get_attack("pgd", model, targeted=True, eps=eps, steps=steps, batch_size=batch_size, seed=0)
    adv = att.attack(x[rep], y[rep], t.reshape(-1))
    pred = np.concatenate([np.argmax(np.asarray(model(adv[i:i + batch_size], training=False)), -1)
                           for i in range(0, len(adv), batch_size)])
    meta = {"model": spec, "input_shape": list(x.shape[1:]), "num_classes": 10, "dataset": "fashion_mnist",
            "split": "test", "attack": "pgd", "attack_config": att.config, "k": k}
    np.savez(path, images=adv.astype(np.float32), index=rep.astype(np.int64), labels=y[rep].astype(np.int64),
             targets=t.reshape(-1).astype(np.int64), success=pred == t.reshape(-1), meta=np.array(json.dumps(meta)))
    return float((pred == t.reshape(-1)).mean())


def main():
    ap = _common.parser(__doc__, config="bench_analysis_lc.toml", out="analysis_lc.json")
    args = ap.parse_args()
    cfg = _common.read_config(args.config)
    c, a = cfg["lc"], cfg["adversarial"]
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    from tfinterp.data import load_arrays
    from tfinterp.models import load_model
    from tfinterp.runs.analysis_lc import run_consistency, run_lc

    out_base = Path(args.out)
    x, y = load_arrays(c["dataset"], "test", int(a["images"]))
    for name, spec in c["models"].items():
        if not Path(spec).is_file():
            raise SystemExit(f"model {spec} not found; train it first (see the config's header)")
        res = _common.header(__file__, config=cfg, model=spec, tensorflow=tf.__version__)
        folder = out_base.with_name(f"{out_base.stem}_{name}")
        folder.mkdir(parents=True, exist_ok=True)
        res["lc"] = {}
        for layer in c["layers"]:
            r = run_lc(spec, c["dataset"], layer, q=c["q"], reduce=c["reduce"], sigmas=c["sigmas"],
                       n_boot=int(c["bootstrap"]), seed=int(c["seed"]), out=folder / f"lc_{layer}", progress=False)
            res["lc"][layer] = {s: {k: v[k] for k in ("mean_lc", "mean_lc_interval", "null", "mean_normalized",
                                                      "mean_normalized_interval")}
                                for s, v in r["sigmas"].items()}
            res["lc"][layer].update(neurons=r["neurons"], k=r["k"])
            for s, v in r["sigmas"].items():
                print(f"{name} {layer} sigma {s}: mean LC {v['mean_lc']:.4f} {v['mean_lc_interval']}, null "
                      f"{v['null']:.4f}, normalised {v['mean_normalized']:.3f}", flush=True)
        model = load_model(spec)
        adv_path = folder / "adversarial_set.npz"
        res["adversarial"] = {**a, "success_rate": adversarial_set(model, adv_path, x, y, int(a["k"]), float(a["eps"]),
                                                                    int(a["steps"]), int(a["batch_size"]), spec)}
        res["consistency"] = {}
        for label, layers in [(ly, [ly]) for ly in c["layers"]] + [("+".join(c["pooled_layers"]), c["pooled_layers"])]:
            r = run_consistency(spec, adv_path, layers, q=c["q"], reduce=c["reduce"], sigmas=c["sigmas"],
                                out=folder / f"consistency_{label}", progress=False)
            res["consistency"][label] = {"neurons": r["neurons"], "k_real": r["k_real"],
                                         "k_adversarial": r["k_adversarial"], "sigmas": {
                s: {k: v[k] for k in ("mean_lc", "mean_cs1", "mean_cs2", "mean_lc_adversarial_original",
                                      "mean_lc_adversarial_target", "corr_lc_cs1", "corr_lc_cs2", "binned")}
                for s, v in r["sigmas"].items()}}
            for s, v in r["sigmas"].items():
                print(f"{name} {label} sigma {s}: CS1 {v['mean_cs1']:.3f} CS2 {v['mean_cs2']:.3f} "
                      f"corr(LC,CS1) {v['corr_lc_cs1']} corr(LC,CS2) {v['corr_lc_cs2']}", flush=True)
        adv_path.unlink()  # 30 MB: rebuilt by the script
        _common.write_result(folder.with_suffix(".json"), res)


if __name__ == "__main__":
    main()
