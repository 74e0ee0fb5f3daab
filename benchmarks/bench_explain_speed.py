"""Explainer speed, measured side by side in one run.

1. Integrated gradients (50 steps) and SmoothGrad (50 samples) on 256 Fashion-MNIST test
   images with the 2-conv CNN of REFERENCES.md: tfinterp versus xplique 2.0.2. xplique pins
   TensorFlow <= 2.20, so it runs in its own venv (`peer_python` in the config) on the same
   saved model and inputs, in the same script run.
2. Guided inversion on the shipped 64x64 model: images per second at batch 1 and at
   batch 32.

    python benchmarks/bench_explain_speed.py --config configs/bench_explain_speed.toml

The peers' side is benchmarks/peer_xplique_explain_speed.py (`peer_python = ""` in the config
leaves xplique out).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import _common  # benchmarks/_common.py (this script's folder is on sys.path); no TensorFlow import

PEER = _common.ROOT / "benchmarks" / "peer_xplique_explain_speed.py"


def main():
    ap = _common.parser(__doc__, config="bench_explain_speed.toml", out="explain_speed.json")
    args = ap.parse_args()
    cfg = _common.read_config(args.config)
    c = cfg["compare"]
    import keras
    import numpy as np
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    from tfinterp import models
    from tfinterp.data import load_arrays
    from tfinterp.explain import get_explainer

    res = _common.header(__file__, config=cfg, tensorflow=tf.__version__)
    keras.utils.set_random_seed(0)
    xtr, ytr = load_arrays("fashion_mnist", "train")
    xte, yte = load_arrays("fashion_mnist", "test")
    net = models.get("cnn2")
    net.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    net.fit(xtr, ytr, batch_size=128, epochs=int(c["train_epochs"]), verbose=0)
    x, y = xte[: c["images"]], yte[: c["images"]]
    res["cnn2_test_accuracy"] = float(net.evaluate(xte, yte, verbose=0)[1])
    bs, reps = int(c["batch_size"]), int(c["repeats"])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        net.backbone.save(tmp / "cnn2.keras")  # a plain functional graph: loads in any Keras 3
        np.save(tmp / "x.npy", x)
        np.save(tmp / "y.npy", y)
        plain = keras.models.load_model(tmp / "cnn2.keras", compile=False)  # same file for both libraries
        for key, method, n, kw in (("integrated_gradients", "ig", c["ig_steps"], {"steps": c["ig_steps"]}),
                                   ("smoothgrad", "sg", c["smoothgrad_samples"],
                                    {"samples": c["smoothgrad_samples"], "noise": c["smoothgrad_noise"]})):
            name = "integrated-gradients" if method == "ig" else "smoothgrad"
            e = get_explainer(name, plain, batch_size=bs, **kw)
            ours_all, _ = _common.timed(lambda: e.explain(x, y, batch_size=bs), reps, warmup=1)  # tracing not timed
            ours = _common.median(ours_all)
            res[key] = {"tfinterp_seconds": ours, "tfinterp_all": ours_all}
            if not c.get("peer_python"):
                print(f"{key}: tfinterp {ours:.3f} s (xplique left out: no peer_python)", flush=True)
                continue
            out = tmp / f"{method}.json"
            subprocess.run([c["peer_python"], str(PEER), str(tmp / "cnn2.keras"),
                            str(tmp / "x.npy"), str(tmp / "y.npy"), method, str(n), str(c["smoothgrad_noise"]),
                            str(bs), str(reps), str(out)], check=True, capture_output=True)
            peer = json.loads(out.read_text())
            res[key].update({"xplique_seconds": peer["seconds"], "xplique_all": peer["all"],
                             "xplique_env": {k: peer[k] for k in ("tensorflow", "xplique")},
                             "speedup": peer["seconds"] / ours})
            print(f"{key}: tfinterp {ours:.3f} s, xplique {peer['seconds']:.3f} s, "
                  f"speed-up {peer['seconds'] / ours:.2f}x", flush=True)
    g = cfg["guided_inversion"]
    gm = models.load_model(g["model"])
    from tfinterp.data import load_clutter

    n1, n32 = int(g["batch1_images"]), int(g["batch32_images"])
    d = load_clutter("test", n=max(n1, n32))
    xi, yi = d["images"], d["labels"]
    res["guided_inversion"] = {}
    for precision in g.get("precisions", ["float32"]):
        gi = get_explainer("guided-inversion", gm, batch_size=32, precision=precision)
        gi.explain(xi[:1], yi[:1], batch_size=1)  # trace both batch shapes before timing
        gi.explain(xi[:32], yi[:32], batch_size=32)
        r1, r32 = [], []
        for _ in range(int(g.get("repeats", 1))):  # interleaved, so load from elsewhere hits both alike
            r1.append(n1 / _common.clock(lambda: gi.explain(xi[:n1], yi[:n1], batch_size=1))[0])
            r32.append(n32 / _common.clock(lambda: gi.explain(xi[:n32], yi[:n32], batch_size=32))[0])
        b1, b32 = _common.median(r1), _common.median(r32)
        res["guided_inversion"][precision] = {
            "batch1_images_per_second": b1, "batch32_images_per_second": b32, "ratio": b32 / b1,
            "batch1_all": r1, "batch32_all": r32, "paired_ratios": [b / a for a, b in zip(r1, r32)],
            "params": gi.params}
        print(f"guided inversion ({precision}): batch 1 {b1:.2f} img/s, batch 32 {b32:.2f} img/s, "
              f"ratio {b32 / b1:.1f}x (paired {', '.join(f'{b / a:.1f}' for a, b in zip(r1, r32))})", flush=True)
    res["load_average_at_end"] = list(os.getloadavg())
    _common.write_result(args.out, res)


if __name__ == "__main__":
    main()
