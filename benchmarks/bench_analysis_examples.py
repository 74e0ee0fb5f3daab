"""Dataset-examples speed (Dong et al. 2017 sec. 2.2; issue 16): `top_examples` (one streaming
pass, running top-k per channel merged in-graph) against a plain Keras `predict` of the same
layer over the same images, side by side in one run (target: <= 1.3x the predict).

    python benchmarks/bench_analysis_examples.py --config configs/bench_analysis_examples.toml

Also timed: a bare compiled loop that computes the layer batch by batch and keeps nothing (the
floor any method pays), so the cost of the top-k merge itself shows. Timings interleave the
three methods, one untimed warm-up each; medians of wall seconds and of process CPU seconds.
"""

from __future__ import annotations

import _common  # benchmarks/_common.py (this script's folder is on sys.path); no TensorFlow import


def main():
    ap = _common.parser(__doc__, config="bench_analysis_examples.toml", out="analysis_examples.json")
    args = ap.parse_args()
    cfg = _common.read_config(args.config)
    c = cfg["examples"]
    import keras
    import numpy as np
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    from tfinterp import models
    from tfinterp.analysis.examples import layer_activations, top_examples
    from tfinterp.data import load_arrays
    from tfinterp.models.layers import feature_model

    res = _common.header(__file__, config=cfg, tensorflow=tf.__version__, keras=keras.__version__)
    x, _ = load_arrays("fashion_mnist", "test", int(c["images"]))
    bs, reps, layer = int(c["batch_size"]), int(c["repeats"]), c["layer"]
    res["results"] = {}
    for name in c["models"]:
        keras.utils.set_random_seed(0)
        net = models.get(name, input_shape=x.shape[1:], num_classes=10)
        fm = feature_model(net, [layer])
        shape = fm.output[layer].shape

        @tf.function(reduce_retracing=True)
        def bare(b):
            return tf.reduce_sum(fm(b, training=False)[layer])

        def run_bare():
            for i in range(0, len(x), bs):
                bare(tf.constant(x[i:i + bs]))

        methods = {"top_examples": lambda: top_examples(net, layer, x, q=c["q"], reduce=c["reduce"], batch_size=bs),
                   "keras_predict": lambda: fm.predict(x, batch_size=bs, verbose=0),
                   "bare_compiled_loop": run_bare}
        for fn in methods.values():  # warm-up: tracing not timed
            fn()
        wall = {k: [] for k in methods}
        cpu = {k: [] for k in methods}
        for _ in range(reps):
            for k, fn in methods.items():
                w, cp, _r = _common.clock(fn)
                wall[k].append(w)
                cpu[k].append(cp)
        top = top_examples(net, layer, x, q=c["q"], reduce=c["reduce"], batch_size=bs)
        acts = layer_activations(net, layer, x, reduce=c["reduce"], batch_size=bs)
        order = np.argsort(-acts, axis=0, kind="stable")[: top.k].T
        med = {k: _common.median(v) for k, v in wall.items()}
        medc = {k: _common.median(v) for k, v in cpu.items()}
        r = {"layer_shape": [None if s is None else int(s) for s in shape], "k": top.k,
             "equals_full_sort": bool(np.array_equal(order, top.indices)),
             "wall_seconds": med, "cpu_seconds": medc, "wall_all": wall, "cpu_all": cpu,
             "ratio_to_predict_wall": med["top_examples"] / med["keras_predict"],
             "ratio_to_predict_cpu": medc["top_examples"] / medc["keras_predict"],
             "ratio_to_bare_loop_wall": med["top_examples"] / med["bare_compiled_loop"]}
        res["results"][name] = r
        print(f"{name} {layer} {r['layer_shape']}: top_examples {med['top_examples']:.3f} s, keras predict "
              f"{med['keras_predict']:.3f} s (ratio {r['ratio_to_predict_wall']:.2f}x wall, "
              f"{r['ratio_to_predict_cpu']:.2f}x CPU), bare loop {med['bare_compiled_loop']:.3f} s; "
              f"equals full sort: {r['equals_full_sort']}", flush=True)
    res["load_average_at_end"] = list(__import__("os").getloadavg())
    _common.write_result(args.out, res)


if __name__ == "__main__":
    main()
