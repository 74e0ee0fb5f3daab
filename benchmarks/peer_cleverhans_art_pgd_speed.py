"""Peer PGD timings (cleverhans 4.0.0 tf2, adversarial-robustness-toolbox) on the SAME weights
and inputs as benchmarks/bench_attacks_pgd_speed.py. Runs in the peers' own virtualenv (no
tfinterp import; benchmarks/_common.py imports only the standard library):

    /work/peers-venv/bin/python benchmarks/peer_cleverhans_art_pgd_speed.py WORKDIR

WORKDIR holds weights.npz (the cnn2 backbone's arrays in Keras order), x.npy, y.npy and
params.json. The process is a small worker so that the driver can interleave the peers'
runs with its own (the machine is shared; interleaving exposes all to the same load): it
reads one command per line on stdin ("cleverhans", "art" or "quit"), runs that attack once
and answers one JSON line {"seconds", "robust_accuracy", "max_linf"} on stdout. The first
answer ("ready") carries the versions and the clean accuracy of its copy of the model.
"""

import json
import os
import sys

import numpy as np

import _common  # benchmarks/_common.py (this script's folder is on sys.path): the standard library only


def build_cnn2():
    """The same graph as tfinterp.models.archs.build_cnn2, with plain Keras layers."""
    import keras
    from keras import layers

    inp = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, 3, activation="relu")(inp)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    out = layers.Dense(10)(x)
    return keras.Model(inp, out)


def main(work):
    import tensorflow as tf

    p = json.load(open(os.path.join(work, "params.json")))
    w = np.load(os.path.join(work, "weights.npz"))
    model = build_cnn2()
    model.set_weights([w[f"arr_{i}"] for i in range(len(w.files))])
    x = np.load(os.path.join(work, "x.npy"))
    y = np.load(os.path.join(work, "y.npy"))
    bs, eps, step, steps = p["batch_size"], p["eps"], p["step_size"], p["steps"]
    out = {"tensorflow": tf.__version__}

    def acc(adv):
        pred = np.concatenate([model(adv[i:i + 500], training=False).numpy().argmax(-1)
                               for i in range(0, len(adv), 500)])
        return float((pred == y).mean())

    out["clean_accuracy"] = acc(x)

    import art
    import cleverhans
    from art.attacks.evasion import ProjectedGradientDescent
    from art.estimators.classification import TensorFlowV2Classifier
    from cleverhans.tf2.attacks.projected_gradient_descent import projected_gradient_descent

    def run_ch():
        advs = []
        for i in range(0, len(x), bs):
            advs.append(projected_gradient_descent(model, tf.constant(x[i:i + bs]), eps, step, steps, np.inf,
                                                   clip_min=0.0, clip_max=1.0, y=tf.constant(y[i:i + bs]),
                                                   rand_init=True, sanity_checks=False).numpy())
        return np.concatenate(advs)

    clf = TensorFlowV2Classifier(model=model, nb_classes=10, input_shape=(28, 28, 1),
                                 loss_object=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                                 clip_values=(0.0, 1.0))
    pgd = ProjectedGradientDescent(clf, norm=np.inf, eps=eps, eps_step=step, max_iter=steps, targeted=False,
                                   num_random_init=1, batch_size=bs, verbose=False)
    runs = {"cleverhans": run_ch, "art": lambda: pgd.generate(x=x, y=y)}
    out.update(ready=True, cleverhans_version=getattr(cleverhans, "__version__", "4.0.0"),
               art_version=art.__version__)
    print(json.dumps(out), flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "quit":
            break
        dt, cpu, adv = _common.clock(runs[cmd])
        print(json.dumps({"seconds": dt, "cpu_seconds": cpu, "robust_accuracy": acc(adv), "max_linf": float(np.abs(adv - x).max())}),
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
