"""ProtoNet training speed against a plain classifier with the same encoder and batch size.

Issue 5: one ProtoNet epoch on the 60,000 Fashion-MNIST training images must cost at most
1.5x an epoch of a plain classifier (the same encoder, a linear layer on its latent code,
cross-entropy). Both are measured in this one run, interleaved (classifier, ProtoNet,
classifier, ProtoNet, ...) so that load from other processes hits both alike; the ratio of
the medians is reported, with the paired ratios and the ratio of the fastest epochs. Each model is traced once on a few batches before timing.

    python benchmarks/bench_protonet_speed.py --config configs/protonet_fashion_mnist.toml
"""

from __future__ import annotations

import json
import os
import sys
import tomllib

import numpy as np

import _common  # benchmarks/_common.py (this script's folder is on sys.path); no TensorFlow import


def main():
    ap = _common.parser(__doc__, config="protonet_fashion_mnist.toml", out="protonet_speed.json")
    ap.add_argument("--repeats", type=int, default=2, help="timed epochs per model (interleaved)")
    ap.add_argument("--limit", type=int, default=None, help="images per epoch (default: all 60,000)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=TOML",
                    help="override a config key, e.g. --set 'decoder_filters=[16,8,8]'")
    args = ap.parse_args()

    import keras
    import tensorflow as tf

    from tfinterp.data import load_arrays
    from tfinterp.training.protonet import ProtoNetConfig, build_protonet
    from tfinterp.training.trainer import StepTrainer, finish_pipeline
    from tfinterp.utils import set_seed

    table = _common.read_config(args.config)["protonet"]
    for item in args.set:
        table.update(tomllib.loads(item))
    cfg = ProtoNetConfig.from_dict(table)
    set_seed(cfg.seed)
    x, y = load_arrays("fashion_mnist", "train", args.limit)
    # the trainers' own pipeline ending (no tf.data autotune stall at the end of an epoch)
    ds = finish_pipeline(tf.data.Dataset.from_tensor_slices((x, y)).batch(cfg.batch_size))
    warm = ds.take(3)

    net = build_protonet(cfg, x.shape[1:], 10)
    proto = StepTrainer(net, "protonet")  # the library's ProtoNet training: the protonet step
    proto.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), jit_compile=bool(cfg.jit))
    # the plain classifier: a fresh copy of the same encoder architecture + one linear layer
    twin = build_protonet(cfg, x.shape[1:], 10)
    inp = keras.Input(x.shape[1:])
    plain = keras.Model(inp, keras.layers.Dense(10, name="logits")(twin.encoder(inp)), name="plain")
    plain.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")], jit_compile=bool(cfg.jit))
    for m in (plain, proto):
        m.fit(warm, epochs=1, verbose=0)
    times = {"classifier": [], "protonet": []}
    for r in range(args.repeats):
        for name, m in (("classifier", plain), ("protonet", proto)):
            times[name].append(_common.clock(lambda: m.fit(ds, epochs=1, verbose=0))[0])
            print(f"repeat {r + 1}: {name} epoch {times[name][-1]:.2f} s", file=sys.stderr)
    med = {k: float(np.median(v)) for k, v in times.items()}
    ratio = med["protonet"] / med["classifier"]
    result = {
        "benchmark": "protonet_epoch_vs_plain_classifier", **_common.header(__file__),
        "tensorflow": tf.__version__, "keras": keras.__version__,
        "images_per_epoch": int(len(x)), "batch_size": cfg.batch_size,
        "encoder_filters": list(cfg.filters),
        "decoder_filters": list(net.decoder_filters), "latent_dim": cfg.latent_dim, "decoder": cfg.decoder,
        "prototypes": cfg.prototypes, "jit_compile": bool(cfg.jit),
        "params": {"classifier": int(plain.count_params()), "protonet": int(proto.count_params())},
        "epoch_seconds": {k: [round(t, 2) for t in v] for k, v in times.items()},
        "median_epoch_seconds": {k: round(v, 2) for k, v in med.items()},
        "ratio_protonet_over_classifier": round(ratio, 3), "target_ratio": 1.5, "pass": ratio <= 1.5,
        # the machine is shared: also the paired ratios and the ratio of the fastest epochs
        "paired_ratios": [round(p / c, 3) for p, c in zip(times["protonet"], times["classifier"])],
        "ratio_of_fastest_epochs": round(min(times["protonet"]) / min(times["classifier"]), 3),
        "load_average_at_end": list(os.getloadavg()),
    }
    _common.write_result(args.out, result)
    print(json.dumps({k: result[k] for k in ("median_epoch_seconds", "ratio_protonet_over_classifier", "pass",
                                             "paired_ratios", "ratio_of_fastest_epochs")}))


if __name__ == "__main__":
    main()
