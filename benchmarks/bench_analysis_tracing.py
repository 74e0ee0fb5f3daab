"""Prediction-difference tracing speed: PD for all channels of a layer against plain passes of g.

Issue 16 (Dong et al. 2017, sec. 6): PD(i) for all 512 channels of a layer, computed in one
batched computation, must cost at most 3x as much as 512 forward passes of g alone, batched.
For each layer of the config, the model is split into phi and g
(`tfinterp.models.split.split_model`); per repeat, PD of every channel of `images` images
(`tfinterp.analysis.tracing.PredictionDifference`: images x 512 masked feature maps) is timed
against g run on the same number of (unmasked) feature maps in batches of the same size.
The two are interleaved so that load from other processes hits both alike; the ratio of the
medians (wall and CPU seconds) is reported.

    python benchmarks/bench_analysis_tracing.py --config configs/bench_analysis_tracing.toml
"""

from __future__ import annotations

import sys

import numpy as np

import _common  # benchmarks/_common.py; no TensorFlow import


def main():
    ap = _common.parser(__doc__, config="bench_analysis_tracing.toml", out="analysis_tracing.json")
    args = ap.parse_args()

    import keras
    import tensorflow as tf

    from tfinterp import models
    from tfinterp.analysis.tracing import PredictionDifference
    from tfinterp.models.split import split_model
    from tfinterp.utils import set_seed

    cfg = _common.read_config(args.config)["tracing"]
    set_seed(cfg["seed"])
    model = models.get(cfg["model"], input_shape=tuple(cfg["input_shape"]), num_classes=cfg["num_classes"],
                       filters=tuple(cfg["filters"]))
    x = np.random.default_rng(cfg["seed"]).random((cfg["images"], *cfg["input_shape"]), dtype=np.float32)
    bs = int(cfg["batch_size"])
    per_layer = {}
    for layer in cfg["layers"]:
        phi, g = split_model(model, layer)
        feats = phi(x).numpy()
        channels = feats.shape[-1]
        pdc = PredictionDifference(g, batch_size=bs)
        base = pdc.outputs(feats)
        # the baseline: images x channels plain feature maps through g, in batches of bs
        plain = tf.constant(np.repeat(feats, channels, axis=0))
        run_g = tf.function(lambda f: tf.nn.softmax(g(f, training=False)),
                            input_signature=[tf.TensorSpec((None,) + feats.shape[1:], tf.float32)])

        def baseline():
            return [run_g(plain[i:i + bs]).numpy() for i in range(0, len(plain), bs)]

        def pd():
            return pdc(feats, base=base)

        pd(), baseline()  # trace both once
        times = {"pd": [], "g": []}
        for r in range(cfg["repeats"]):
            for name, fn in (("pd", pd), ("g", baseline)):
                wall, cpu, _ = _common.clock(fn)
                times[name].append((wall, cpu))
            print(f"{layer} repeat {r + 1}: PD {times['pd'][-1][0]:.3f} s, g {times['g'][-1][0]:.3f} s",
                  file=sys.stderr)
        med = {k: {"wall": float(np.median([t[0] for t in v])), "cpu": float(np.median([t[1] for t in v]))}
               for k, v in times.items()}
        ratio = med["pd"]["wall"] / med["g"]["wall"]
        per_layer[layer] = {
            "feature_shape": list(feats.shape[1:]), "channels": int(channels),
            "masked_maps_per_repeat": int(len(x) * channels),
            "pd_seconds": [round(t[0], 4) for t in times["pd"]], "g_seconds": [round(t[0], 4) for t in times["g"]],
            "median_seconds": {k: round(v["wall"], 4) for k, v in med.items()},
            "median_cpu_seconds": {k: round(v["cpu"], 4) for k, v in med.items()},
            "ratio_pd_over_g": round(ratio, 3),
            "ratio_pd_over_g_cpu": round(med["pd"]["cpu"] / med["g"]["cpu"], 3),
            "pass": ratio <= cfg["target_ratio"],
        }
    result = {"benchmark": "analysis_tracing_pd_vs_g", **_common.header(__file__),
              "tensorflow": tf.__version__, "keras": keras.__version__, "config": cfg, "layers": per_layer,
              "pass": all(v["pass"] for v in per_layer.values())}
    _common.write_result(args.out, result)
    for layer, v in per_layer.items():
        print(f"{layer} ({v['channels']} channels, {v['masked_maps_per_repeat']} maps): PD "
              f"{v['median_seconds']['pd']:.3f} s vs g {v['median_seconds']['g']:.3f} s -> "
              f"{v['ratio_pd_over_g']:.2f}x (target <= {cfg['target_ratio']})")


if __name__ == "__main__":
    main()
