"""Feature-visualization speed, measured side by side in one run (issue 17).

(a) Batching: per neuron, 32 channels rendered in one batch (image i maximizing channel i)
    versus one channel alone, same steps, on the shipped small models; target at most 1/8 of
    the single-neuron cost per neuron.
(b) Overhead: on ResNet-50 (keras.applications, weights=None) at 128x128, one batched render
    step (Fourier parameterization, lucid transforms, Adam, in-graph loop) versus the bare
    batched forward-backward pass of the same batch (the gradient of the same channel
    objective with respect to the input); target at most 1.2x. From the measured step, the
    cost per neuron of the seed's protocol (1000 neurons x 200 steps; 10.48 s / 18.34 s per
    neuron on a GTX 1080 for Madry / Lucid) here.

    nice -n 10 python benchmarks/bench_featureviz_speed.py --config configs/bench_featureviz_speed.toml

Wall and CPU seconds (this process, all threads) are both recorded: the machine is shared,
CPU seconds are the steadier measure of work.
"""

from __future__ import annotations

import _common  # benchmarks/_common.py; no TensorFlow import


def _interleaved(fns: dict, repeats: int):
    """{name: (wall list, cpu list)}: one warm-up each, then `repeats` rounds calling each in turn."""
    for f in fns.values():
        f()
    out = {k: ([], []) for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            w, c, _ = _common.clock(f)
            out[k][0].append(w)
            out[k][1].append(c)
    return out


def _bare(model, obj, b):
    """One bare forward-backward pass of `obj` on a batch of `b` images (compiled): what any
    optimizer must pay per step, the floor of a render step."""
    import numpy as np
    import tensorflow as tf

    from tfinterp.featureviz.render import activation_fn

    fm = activation_fn(model, sorted(obj.layers))
    shape = tuple(model.input_shape[1:])
    x = tf.constant(np.random.default_rng(0).uniform(0, 1, (b,) + shape).astype(np.float32))
    idx = tf.range(b, dtype=tf.int32)

    @tf.function
    def grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            v = tf.reduce_sum(obj(fm(x), idx))
        return tape.gradient(v, x)

    return lambda: grad(x).numpy()


def batching(cfg):
    from tfinterp.featureviz import channel, objectives_for_channels
    from tfinterp.featureviz.render import Renderer
    from tfinterp.models import load_model

    rows = {}
    n, steps = int(cfg["neurons"]), int(cfg["steps"])
    for spec in cfg["models"]:
        model = load_model(spec)
        many = Renderer(model, objectives_for_channels(cfg["layer"], range(n)), steps=steps)
        one = Renderer(model, channel(cfg["layer"], 0), steps=steps)
        bare_many = _bare(model, objectives_for_channels(cfg["layer"], range(n)), n)
        bare_one = _bare(model, channel(cfg["layer"], 0), 1)
        t = _interleaved({"batch": lambda: many.run(0, n), "single": lambda: one.run(0, 1),
                          "bare_batch": bare_many, "bare_single": bare_one}, int(cfg["repeats"]))
        wb, cb = _common.median(t["batch"][0]), _common.median(t["batch"][1])
        w1, c1 = _common.median(t["single"][0]), _common.median(t["single"][1])
        fb, f1 = _common.median(t["bare_batch"][1]), _common.median(t["bare_single"][1])
        fbw, f1w = _common.median(t["bare_batch"][0]), _common.median(t["bare_single"][0])
        rows[spec] = {"input_shape": list(model.input_shape[1:]), "neurons": n, "steps": steps,
                      "batch_wall_s": wb, "batch_cpu_s": cb, "single_wall_s": w1, "single_cpu_s": c1,
                      "per_neuron_ratio_wall": (wb / n) / w1, "per_neuron_ratio_cpu": (cb / n) / c1,
                      "bare_fwd_bwd_cpu_s": {"batch": fb, "single": f1},
                      "bare_per_neuron_ratio_cpu": (fb / n) / f1, "bare_per_neuron_ratio_wall": (fbw / n) / f1w,
                      "bare_note": "the model's own forward-backward pass, batch of n vs 1: the floor of the "
                                   "render's per-neuron ratio (a render step cannot cost less than it)",
                      "render_step_over_bare_cpu": {"batch": cb / steps / fb, "single": c1 / steps / f1},
                      "target": 1 / 8, "raw": t}
        print(f"{spec}: batch of {n} {wb:.2f} s wall / {cb:.2f} s CPU, one neuron {w1:.2f} / {c1:.2f}: "
              f"per-neuron ratio {rows[spec]['per_neuron_ratio_wall']:.3f} wall, "
              f"{rows[spec]['per_neuron_ratio_cpu']:.3f} CPU (target <= 0.125); the bare forward-backward "
              f"pass alone: {rows[spec]['bare_per_neuron_ratio_cpu']:.3f} CPU", flush=True)
    return rows


def overhead(cfg):
    import numpy as np
    import tensorflow as tf

    from tfinterp import models
    from tfinterp.featureviz import objectives_for_channels
    from tfinterp.featureviz.render import Renderer, activation_fn

    s, b = int(cfg["image_size"]), int(cfg["batch"])
    model = models.get("resnet50", input_shape=(s, s, 3), num_classes=1000, weights=None)
    obj = objectives_for_channels(cfg["layer"], range(b))
    steps = int(cfg["steps"])
    r = Renderer(model, obj, steps=steps)
    params0 = r.start(0, b)
    ridx = tf.range(b, dtype=tf.int32)

    def loop_only():  # the compiled step loop alone (no final forward pass of the last images)
        (img, _, _), _ = r.optimize(params0, ridx)
        img.numpy()

    fm = activation_fn(model, sorted(obj.layers))
    x = tf.constant(np.random.default_rng(0).uniform(0, 1, (b, s, s, 3)).astype(np.float32))
    idx = tf.range(b, dtype=tf.int32)

    @tf.function
    def bare(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            v = tf.reduce_sum(obj(fm(x), idx))
        return tape.gradient(v, x)

    t = _interleaved({"render_loop": loop_only, "bare": lambda: bare(x).numpy(), "render_run": lambda: r.run(0, b)},
                     int(cfg["repeats"]))
    wr, cr = _common.median(t["render_loop"][0]) / steps, _common.median(t["render_loop"][1]) / steps
    wb, cb = _common.median(t["bare"][0]), _common.median(t["bare"][1])
    wrun = _common.median(t["render_run"][0])
    n, st = int(cfg["seed_protocol_neurons"]), int(cfg["seed_protocol_steps"])
    per_neuron = wr * st / b
    row = {"image_size": s, "batch": b, "steps_timed": steps, "render_step_wall_s": wr, "render_step_cpu_s": cr,
           "bare_fwd_bwd_wall_s": wb, "bare_fwd_bwd_cpu_s": cb, "ratio_wall": wr / wb, "ratio_cpu": cr / cb,
           "target": 1.2, "render_run_wall_s": wrun,
           "render_run_over_steps_times_bare_wall": wrun / (steps * wb),
           "note": "render step = the compiled loop (steps Fourier/decorrelation/transforms/objective/Adam "
                   "steps) / steps; render_run adds the start and one forward pass of the final images",
           "seed_protocol": {"neurons": n, "steps": st, "per_neuron_wall_s_here_128px": per_neuron,
                             "total_hours_here_128px": per_neuron * n / 3600,
                             "per_neuron_wall_s_here_224px_extrapolated": per_neuron * (224 / s) ** 2,
                             "how": f"measured render step of a batch of {b} at {s}px x {st} steps / {b}; the "
                                    "224px figure scales by pixel count (not measured)",
                             "seed_gtx1080_per_neuron_s": {"madry": 10.48, "lucid": 18.34}},
           "raw": t}
    print(f"resnet50 {s}px batch {b}: render step {wr:.2f} s wall / {cr:.2f} s CPU, bare fwd+bwd {wb:.2f} / "
          f"{cb:.2f}: ratio {row['ratio_wall']:.3f} wall, {row['ratio_cpu']:.3f} CPU (target <= 1.2); "
          f"seed protocol ({st} steps) {per_neuron:.2f} s per neuron here at {s}px", flush=True)
    return row


def main():
    ap = _common.parser(__doc__, config="bench_featureviz_speed.toml", out="featureviz_speed.json")
    ap.add_argument("--only", choices=("batching", "resnet50"), default=None)
    args = ap.parse_args()
    cfg = _common.read_config(args.config)
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    res = _common.header(__file__, config=cfg, tensorflow=tf.__version__,
                         note="shared machine: 2 cores for several agents; wall times are noisy, "
                              "ratios are measured side by side in one run")
    if args.only in (None, "batching"):
        res["batching"] = batching(cfg["batching"])
    if args.only in (None, "resnet50"):
        res["resnet50"] = overhead(cfg["resnet50"])
    _common.write_result(args.out, res)


if __name__ == "__main__":
    main()
