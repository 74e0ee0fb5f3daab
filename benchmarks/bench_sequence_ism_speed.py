"""In-silico mutagenesis speed (issue 18): ISM of 1,000 sequences of length 200 against the same
number of forward passes through ``model.predict`` (1000 * 200 * 3 mutants + 1000 references).

The ISM side is `tfinterp.explain.mutagenesis` (``ism``): one compiled call per block of
sequences, the mutants built in the graph and scored chunk by chunk. The predict side gets its
mutants built in NumPy beforehand (that time is NOT counted, which favours predict) and calls
``model.predict`` on them. Both run in one process, side by side, after a warm-up of each; wall
and CPU time (user + system of this process) are reported. Target: ISM <= 1.3x predict.

    nice -n 10 python benchmarks/bench_sequence_ism_speed.py --config configs/bench_sequence_ism_speed.toml
"""

from __future__ import annotations

import _common  # benchmarks/_common.py; no TensorFlow import


def numpy_mutants(x):
    """Every single-letter mutant of `x` (B, L, A), in ism's order, and the references: ((B*L*(A-1) + B), L, A)."""
    import numpy as np

    b, length, a = x.shape
    present = x.argmax(-1)
    out = np.repeat(x[:, None, None], length, 1).repeat(a - 1, 2)          # (B, L, A-1, L, A)
    for k in range(1, a):
        letters = (present + k) % a                                        # (B, L)
        rows = np.eye(a, dtype=x.dtype)[letters]                           # (B, L, A)
        idx = np.arange(length)
        out[:, idx, k - 1, idx, :] = rows
    return np.concatenate([out.reshape(-1, length, a), x])


def main():
    ap = _common.parser(__doc__, config="bench_sequence_ism_speed.toml", out="sequence_ism_speed.json")
    args = ap.parse_args()
    cfg = _common.read_config(args.config)
    import numpy as np
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    from tfinterp import models
    from tfinterp.explain import get_explainer

    res = _common.header(__file__, config=cfg, tensorflow=tf.__version__,
                         note="shared machine: 2 cores for several agents; wall and CPU time side by side in one run")
    d, m = cfg["data"], cfg["model"]
    rng = np.random.default_rng(d["seed"])
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (d["n"], d["length"]))]
    model = models.get(m["arch"], input_shape=(d["length"], 4), num_classes=m["num_classes"])
    e = get_explainer("ism", model, batch_size=cfg["ism"]["batch_size"], chunk=cfg["ism"]["chunk"])
    pb, block = cfg["predict"]["batch_size"], cfg["predict"]["block"]
    blocks = [numpy_mutants(x[i:i + block]) for i in range(0, len(x), block)]   # built once, not timed
    passes = sum(len(b) for b in blocks)
    res["forward_passes"] = passes
    e.explain(x[:16], 0)                                    # warm-up: trace the compiled block
    model.predict(blocks[0][:pb * 2], batch_size=pb, verbose=0)

    def run_ism():
        return e.explain(x, 0)

    def run_predict():
        return [model.predict(b, batch_size=pb, verbose=0) for b in blocks]

    ism_wall, ism_cpu, maps = _common.clock(run_ism)
    pr_wall, pr_cpu, logits = _common.clock(run_predict)
    # the same numbers: ISM's deltas equal predict's mutant scores minus the reference's (class 0 logit)
    first = logits[0][:, 0]
    k = len(blocks[0]) - block
    ref = first[k:]
    delta = (first[:k] - np.repeat(ref, d["length"] * 3)).reshape(block, d["length"], 3)
    present = x[:block].argmax(-1)
    ism_delta = np.stack([np.take_along_axis(maps[:block], ((present + j) % 4)[..., None], -1)[..., 0]
                          for j in range(1, 4)], -1)
    res["max_abs_difference_ism_vs_predict"] = float(np.abs(ism_delta - delta).max())
    res.update({"ism_wall_seconds": ism_wall, "ism_cpu_seconds": ism_cpu,
                "predict_wall_seconds": pr_wall, "predict_cpu_seconds": pr_cpu,
                "ratio_wall": ism_wall / pr_wall, "ratio_cpu": ism_cpu / pr_cpu, "target_ratio": 1.3,
                "load_average_at_end": list(__import__("os").getloadavg())})
    res["meets_target"] = bool(res["ratio_wall"] <= 1.3)
    print(f"ISM of {d['n']} x {d['length']}: {ism_wall:.1f} s wall, {ism_cpu:.1f} s CPU; predict on the same "
          f"{passes} inputs: {pr_wall:.1f} s wall, {pr_cpu:.1f} s CPU; ratio {res['ratio_wall']:.2f}x wall, "
          f"{res['ratio_cpu']:.2f}x CPU (target <= 1.3x); max |ISM - predict| {res['max_abs_difference_ism_vs_predict']:.2e}",
          flush=True)
    _common.write_result(args.out, res)


if __name__ == "__main__":
    main()
