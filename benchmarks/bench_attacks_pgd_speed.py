"""PGD speed, side by side: tfinterp vs cleverhans vs adversarial-robustness-toolbox vs the floor.

PGD L-inf, eps 0.1, 20 steps of 0.01, random start, the first 1,000 Fashion-MNIST test
images, the natural cnn2 (configs/classifier_cnn2_fashion.toml). Same weights and inputs for
all: the peers run in their own virtualenv (--peers-python) from files this script writes.
The floor is 20 plain batched input-gradient computations (one compiled gradient call per
batch and step) on the same model, inputs and batch size. Every timing is a warm run (one
untimed warm-up first, for tracing); the four contenders run in turn, --repeats rounds, so
all see the same load on a shared machine. Reported: median and minimum wall-clock seconds
and the median CPU seconds of the process (user + system, all threads), which is the
steadier measure of work when other jobs share the cores.

    .venv/bin/python benchmarks/bench_attacks_pgd_speed.py --model runs/cnn2_fashion/cnn2_fashion_mnist.keras \
        --peers-python /work/peers-venv/bin/python

The peers' side is benchmarks/peer_cleverhans_art_pgd_speed.py (`--peers-python ""` leaves the
peers out: tfinterp and the floor only).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile

import numpy as np

import _common  # benchmarks/_common.py (this script's folder is on sys.path); no TensorFlow import

PEER = _common.ROOT / "benchmarks" / "peer_cleverhans_art_pgd_speed.py"


def main():
    ap = _common.parser(__doc__, out="pgd_speed.json")
    ap.add_argument("--model", default="runs/cnn2_fashion/cnn2_fashion_mnist.keras")
    ap.add_argument("--peers-python", default="/work/peers-venv/bin/python",
                    help='the peers\' virtualenv Python ("" leaves the peers out)')
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=250)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import tensorflow as tf

    from tfinterp.attacks import PGD
    from tfinterp.attacks.base import ce_loss
    from tfinterp.attacks.evaluate import predict_classes
    from tfinterp.data import load_arrays
    from tfinterp.models import load_model

    model = load_model(args.model)
    x, y = load_arrays("fashion_mnist", "test", args.n)
    y32 = y.astype(np.int32)
    eps, step, steps, bs = 0.1, 0.01, 20, args.batch_size
    res = _common.header(__file__, task=f"PGD L-inf eps {eps}, {steps} steps of {step}, random start, {len(x)} "
                                        "Fashion-MNIST test images, cnn2 natural",
                         batch_size=bs, repeats=args.repeats, tensorflow=tf.__version__)
    acc = lambda adv: float((predict_classes(model, adv, 500) == y).mean())  # noqa: E731
    res["clean_accuracy"] = acc(x)

    # the peers: a worker process in their own virtualenv, same weights and inputs
    worker = None
    if args.peers_python:
        work = tempfile.mkdtemp(prefix="pgd_speed_")
        np.savez(os.path.join(work, "weights.npz"), *model.backbone.get_weights())
        np.save(os.path.join(work, "x.npy"), x)
        np.save(os.path.join(work, "y.npy"), y)
        json.dump({"batch_size": bs, "eps": eps, "step_size": step, "steps": steps},
                  open(os.path.join(work, "params.json"), "w"))
        worker = subprocess.Popen([args.peers_python, str(PEER), work], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def answer():
        for line in worker.stdout:  # skip anything a library prints on stdout
            if line.startswith("{"):
                return json.loads(line)
        raise SystemExit(f"the peers' worker ended without answering (run {os.path.relpath(PEER)} by hand)")

    if worker is not None:
        peers = answer()
        if abs(peers["clean_accuracy"] - res["clean_accuracy"]) > 1e-9:
            raise SystemExit(f"the peers' model copy differs: clean {peers['clean_accuracy']} vs "
                             f"{res['clean_accuracy']}")

    def peer(name):
        worker.stdin.write(name + "\n")
        worker.stdin.flush()
        return answer()

    # tfinterp
    pgd = PGD(model, eps=eps, steps=steps, step_size=step, norm="inf", random_start=True, restarts=1,
              batch_size=bs, seed=0)

    # the floor: 20 plain batched input-gradient computations
    sig = [tf.TensorSpec((None, 28, 28, 1), tf.float32), tf.TensorSpec((None,), tf.int32)]

    @tf.function(input_signature=sig)
    def grad(xb, yb):
        with tf.GradientTape() as tape:
            tape.watch(xb)
            loss = ce_loss(model(xb, training=False), yb)
        return tape.gradient(loss, xb)

    def floor():
        for i in range(0, len(x), bs):
            xb, yb = tf.constant(x[i:i + bs]), tf.constant(y32[i:i + bs])
            for _ in range(steps):
                g = grad(xb, yb)
        return g.numpy()

    names = ("tfinterp", "floor") + (("cleverhans", "art") if worker is not None else ())
    runs = {k: [] for k in names}
    _common.clock(lambda: pgd.attack(x, y))  # warm-ups (tracing), not timed
    _common.clock(floor)
    if worker is not None:
        peer("cleverhans")
        peer("art")
    for _ in range(args.repeats):
        dt, cpu, adv = _common.clock(lambda: pgd.attack(x, y))
        runs["tfinterp"].append({"seconds": dt, "cpu_seconds": cpu, "robust_accuracy": acc(adv),
                                 "max_linf": float(np.abs(adv - x).max())})
        dt, cpu, _ = _common.clock(floor)
        runs["floor"].append({"seconds": dt, "cpu_seconds": cpu})
        if worker is not None:
            runs["cleverhans"].append(peer("cleverhans"))
            runs["art"].append(peer("art"))
    if worker is not None:
        worker.stdin.write("quit\n")
        worker.stdin.flush()
        worker.wait(timeout=60)
    for k, rows in runs.items():
        res[k] = {"seconds": [r["seconds"] for r in rows], "cpu_seconds": [r["cpu_seconds"] for r in rows]}
        if "robust_accuracy" in rows[0]:
            res[k]["robust_accuracy"] = [r["robust_accuracy"] for r in rows]
            res[k]["max_linf"] = max(r["max_linf"] for r in rows)
    res["tfinterp"]["traces"] = int(pgd._compiled.experimental_get_tracing_count())
    res["floor"]["what"] = f"{steps} x compiled input-gradient call per batch of {bs}"
    if worker is not None:
        res["cleverhans"]["version"] = peers["cleverhans_version"]
        res["art"]["version"] = peers["art_version"]
        res["peers_tensorflow"] = peers["tensorflow"]
    med = {k: _common.median(res[k]["seconds"]) for k in names}
    best = {k: min(res[k]["seconds"]) for k in names}
    cpu = {k: _common.median(res[k]["cpu_seconds"]) for k in names}
    res.update(median_seconds=med, min_seconds=best, median_cpu_seconds=cpu)
    res["ratios"] = {f"{m}: {a}/{b}": d[a] / d[b] for m, d in (("median wall", med), ("min wall", best),
                                                               ("median cpu", cpu))
                     for a, b in (("tfinterp", "floor"), ("cleverhans", "tfinterp"), ("art", "tfinterp"))
                     if a in d and b in d}
    _common.write_result(args.out, res)
    print(json.dumps({"median_seconds": med, "min_seconds": best, "median_cpu_seconds": cpu, "ratios": res["ratios"],
                      "clean": res["clean_accuracy"],
                      "robust": {k: res[k]["robust_accuracy"] for k in names if "robust_accuracy" in res[k]}}))


if __name__ == "__main__":
    main()
