"""Adversarial training speed: an epoch of PGD-7 madry training against (7 + 1) plain passes.

Issue 15 (Speed): one epoch of `madry` training with PGD-7 (`StepTrainer(model, "madry",
{"eps": 0.1, "steps": 7})`, L-inf, random start, Adam) must cost at most 1.15x the time of
(7 + 1) plain forward-backward passes over the same data. Measured side by side in one run,
on the same batches (the trainers' own `pipeline`, seeded shuffle), the madry architecture,
three contenders timed in turn each round, so that load from other processes hits all alike:

- ``madry``: one `fit` epoch of the madry step (per batch: 7 PGD gradient steps w.r.t. the
  input, then one forward-backward pass and one Adam update of the weights);
- ``fb8`` (the floor the target names): per batch, 8 calls of one compiled function that
  runs the model forward (training mode) and takes the gradient of the mean cross-entropy
  with respect to the input *and* every weight (no optimizer update, nothing else);
- ``natural8``: 8 `fit` epochs of the natural step (8 forward-backward passes and 8 Adam
  updates per batch): the same work through the same trainer.

Each contender is traced first on two batches (a full one and the epoch's last, smaller one).
Reported: per-round wall and CPU seconds (user + system of this process, all threads: the
steadier measure when other jobs share the cores), medians, and madry's ratio to each floor.

    nice -n 10 python benchmarks/bench_training_speed.py --config configs/training_speed.toml
"""

from __future__ import annotations

import sys

import numpy as np

import _common  # benchmarks/_common.py (this script's folder is on sys.path); no TensorFlow import


def main():
    ap = _common.parser(__doc__, config="training_speed.toml", out="training_speed.json")
    ap.add_argument("--images", type=int, default=None, help="override the config's image count")
    ap.add_argument("--rounds", type=int, default=None, help="override the config's interleaved rounds")
    ap.add_argument("--parts", action="store_true",
                    help="instead: where a madry batch's time goes (per-batch costs of its parts), "
                         "to benchmarks/results/training_speed_parts.json unless --out is given")
    args = ap.parse_args()
    cfg = _common.read_config(args.config)["speed"]
    if args.parts:
        return parts(cfg, args)
    head = _common.header(__file__, config=cfg)  # date and load when the run starts
    n = args.images or int(cfg["images"])
    rounds = args.rounds or int(cfg["rounds"])
    bs, eps, steps = int(cfg["batch_size"]), float(cfg["eps"]), int(cfg["steps"])

    import keras
    import tensorflow as tf

    from tfinterp.data import load_arrays
    from tfinterp.models import get
    from tfinterp.training.steps import cross_entropy
    from tfinterp.training.trainer import StepTrainer, pipeline
    from tfinterp.utils import set_seed

    x, y = load_arrays(cfg["dataset"], "train", n)
    shape = x.shape[1:]
    set_seed(int(cfg["seed"]))

    def fresh():
        return get(cfg["model"], input_shape=shape, num_classes=10)

    madry = StepTrainer(fresh(), "madry", {"eps": eps, "steps": steps})
    madry.compile(optimizer=keras.optimizers.Adam(float(cfg["learning_rate"])))
    natural = StepTrainer(fresh(), "natural")
    natural.compile(optimizer=keras.optimizers.Adam(float(cfg["learning_rate"])))
    plain = fresh()

    @tf.function(reduce_retracing=True)
    def forward_backward(xb, yb):
        """One plain pass: forward, and the gradient w.r.t. the input and every weight."""
        with tf.GradientTape() as tape:
            tape.watch(xb)
            loss = cross_entropy(yb, plain(xb, training=True))
        grads = tape.gradient(loss, [xb, *plain.trainable_variables])
        return tf.add_n([tf.reduce_sum(g) for g in grads])  # a fetched value depends on every gradient

    ds = pipeline((x, y), bs, shuffle_seed=int(cfg["seed"]))
    last = n % bs or bs
    warm = pipeline((x[:bs + last], y[:bs + last]), bs)  # both batch shapes of the epoch

    def fb8(data):
        total = 0.0
        for xb, yb in data:
            for _ in range(steps + 1):
                total += float(forward_backward(xb, yb))
        return total

    contenders = {
        "madry": lambda data: madry.fit(data, epochs=1, verbose=0, shuffle=False),
        "fb8": fb8,
        "natural8": lambda data: natural.fit(data, epochs=steps + 1, verbose=0, shuffle=False),
    }
    for run in contenders.values():
        run(warm)
    wall = {k: [] for k in contenders}
    cpu = {k: [] for k in contenders}
    for r in range(rounds):
        for name, run in contenders.items():
            w, c, _ = _common.clock(lambda: run(ds))
            wall[name].append(w)
            cpu[name].append(c)
            print(f"round {r + 1}: {name} {w:.2f} s wall, {c:.2f} s CPU", file=sys.stderr, flush=True)

    med_w = {k: _common.median(v) for k, v in wall.items()}
    med_c = {k: _common.median(v) for k, v in cpu.items()}
    target = float(cfg["target_ratio"])
    ratio = med_w["madry"] / med_w["fb8"]
    result = {
        "benchmark": "madry_epoch_vs_plain_forward_backward", **head,
        "finished": _common.header(__file__)["date"],
        "tensorflow": tf.__version__, "keras": keras.__version__,
        "task": f"one epoch of madry training (PGD-{steps} L-inf eps {eps}, random start, Adam) vs "
                f"{steps + 1} plain forward-backward passes, {len(x)} {cfg['dataset']} training images, "
                f"batch {bs}, the {cfg['model']} architecture",
        "images": int(len(x)), "batches_per_epoch": -(-len(x) // bs), "params": int(plain.count_params()),
        "rounds": rounds,
        "wall_seconds": {k: [round(t, 2) for t in v] for k, v in wall.items()},
        "cpu_seconds": {k: [round(t, 2) for t in v] for k, v in cpu.items()},
        "median_wall_seconds": {k: round(v, 2) for k, v in med_w.items()},
        "median_cpu_seconds": {k: round(v, 2) for k, v in med_c.items()},
        "ratio_madry_over_fb8_wall": round(ratio, 3),
        "ratio_madry_over_fb8_cpu": round(med_c["madry"] / med_c["fb8"], 3),
        "ratio_madry_over_natural8_wall": round(med_w["madry"] / med_w["natural8"], 3),
        "ratio_madry_over_natural8_cpu": round(med_c["madry"] / med_c["natural8"], 3),
        "paired_ratios_madry_over_fb8_wall": [round(a / b, 3) for a, b in zip(wall["madry"], wall["fb8"])],
        "target_ratio": target, "pass": bool(ratio <= target and med_c["madry"] / med_c["fb8"] <= target),
        "final_madry_train_accuracy": float(madry.get_metrics_result()["accuracy"]),
    }
    print(f"madry epoch {med_w['madry']:.2f} s wall ({med_c['madry']:.2f} CPU); {steps + 1} plain passes "
          f"{med_w['fb8']:.2f} s ({med_c['fb8']:.2f}); {steps + 1} natural epochs {med_w['natural8']:.2f} s "
          f"({med_c['natural8']:.2f}); ratio to the plain passes {ratio:.3f} wall, "
          f"{result['ratio_madry_over_fb8_cpu']:.3f} CPU (target <= {target})")
    _common.write_result(args.out, result)


def parts(cfg, args):
    """Per-batch CPU cost of what a madry step does, each part its own compiled function, on the
    same batches: forward only; the gradient w.r.t. the input only (one PGD step's work); the
    gradient w.r.t. the input and the weights (one plain pass); PGD-7's whole `perturb`; the
    whole madry train step (PGD-7, forward-backward, Adam) through `StepTrainer.fit`."""
    import keras
    import tensorflow as tf

    from tfinterp.attacks.pgd import PGD
    from tfinterp.data import load_arrays
    from tfinterp.models import get
    from tfinterp.training.steps import cross_entropy
    from tfinterp.training.trainer import StepTrainer, pipeline
    from tfinterp.utils import set_seed

    head = _common.header(__file__, config=cfg)
    bs, eps, steps = int(cfg["batch_size"]), float(cfg["eps"]), int(cfg["steps"])
    nb = 20
    n = nb * bs
    x, y = load_arrays(cfg["dataset"], "train", n)
    set_seed(int(cfg["seed"]))
    model = get(cfg["model"], input_shape=x.shape[1:], num_classes=10)
    batches = [(tf.constant(x[i:i + bs]), tf.constant(y[i:i + bs])) for i in range(0, n, bs)]
    attack = PGD(model, eps=eps, steps=steps)

    @tf.function
    def forward(xb, yb):
        return cross_entropy(yb, model(xb, training=True))

    @tf.function
    def grad_input(xb, yb):
        with tf.GradientTape() as tape:
            tape.watch(xb)
            loss = cross_entropy(yb, model(xb, training=False))
        return tf.reduce_sum(tape.gradient(loss, xb))

    @tf.function
    def grad_all(xb, yb):
        with tf.GradientTape() as tape:
            tape.watch(xb)
            loss = cross_entropy(yb, model(xb, training=True))
        return tf.add_n([tf.reduce_sum(g) for g in tape.gradient(loss, [xb, *model.trainable_variables])])

    @tf.function
    def pgd(xb, yb):
        y32 = tf.cast(yb, tf.int32)
        return tf.reduce_sum(attack.perturb(xb, y32, y32))

    trainer = StepTrainer(get(cfg["model"], input_shape=x.shape[1:], num_classes=10), "madry",
                          {"eps": eps, "steps": steps})
    trainer.compile(optimizer=keras.optimizers.Adam(float(cfg["learning_rate"])))
    ds = pipeline((x, y), bs)

    def each(fn):
        return lambda: [float(fn(xb, yb)) for xb, yb in batches]

    contenders = {"forward": each(forward), "grad_input": each(grad_input), "grad_input_and_weights": each(grad_all),
                  f"pgd{steps}_perturb": each(pgd),
                  "madry_train_step": lambda: trainer.fit(ds, epochs=1, verbose=0, shuffle=False)}
    for run in contenders.values():
        run()
    cpu = {k: [] for k in contenders}
    wall = {k: [] for k in contenders}
    for _ in range(int(args.rounds or cfg["rounds"])):
        for name, run in contenders.items():
            w, c, _ = _common.clock(run)
            cpu[name].append(c / nb * 1000)
            wall[name].append(w / nb * 1000)
    med = {k: round(_common.median(v), 1) for k, v in cpu.items()}
    full = med["grad_input_and_weights"]
    result = {"benchmark": "madry_step_parts", **head, "tensorflow": tf.__version__,
              "batches": nb, "batch_size": bs,
              "median_cpu_ms_per_batch": med,
              "median_wall_ms_per_batch": {k: round(_common.median(v), 1) for k, v in wall.items()},
              "relative_to_one_plain_pass": {k: round(v / full, 3) for k, v in med.items()}}
    for k, v in med.items():
        print(f"{k:24s} {v:8.1f} ms CPU per batch  ({v / full:.2f} plain passes)")
    out = args.out if args.out != str(_common.RESULTS / "training_speed.json") else \
        str(_common.RESULTS / "training_speed_parts.json")
    _common.write_result(out, result)


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
