"""Peer PGD timings (cleverhans 4.0.0 tf2, adversarial-robustness-toolbox) on the SAME weights
and inputs as benchmarks/pgd_speed.py. Runs in the peers' own virtualenv (no tfinterp import):

    /work/peers-venv/bin/python benchmarks/peers_pgd.py WORKDIR

WORKDIR holds weights.npz (the cnn2 backbone's arrays in Keras order), x.npy, y.npy and
params.json; the result is printed as one JSON line.
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


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


def timed(fn, repeats):
    fn()  # warm-up: tracing and first-call costs are not counted, as for tfinterp
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return times, result


def main(work):
    import tensorflow as tf

    p = json.load(open(os.path.join(work, "params.json")))
    w = np.load(os.path.join(work, "weights.npz"))
    model = build_cnn2()
    model.set_weights([w[f"arr_{i}"] for i in range(len(w.files))])
    x = np.load(os.path.join(work, "x.npy"))
    y = np.load(os.path.join(work, "y.npy"))
    bs, eps, step, steps, reps = p["batch_size"], p["eps"], p["step_size"], p["steps"], p["repeats"]
    out = {"tensorflow": tf.__version__}

    def acc(adv):
        pred = np.concatenate([model(adv[i:i + 500], training=False).numpy().argmax(-1)
                               for i in range(0, len(adv), 500)])
        return float((pred == y).mean())

    out["clean_accuracy"] = acc(x)

    import cleverhans
    from cleverhans.tf2.attacks.projected_gradient_descent import projected_gradient_descent

    def run_ch():
        advs = []
        for i in range(0, len(x), bs):
            advs.append(projected_gradient_descent(model, tf.constant(x[i:i + bs]), eps, step, steps, np.inf,
                                                   clip_min=0.0, clip_max=1.0, y=tf.constant(y[i:i + bs]),
                                                   rand_init=True, sanity_checks=False).numpy())
        return np.concatenate(advs)

    t, adv = timed(run_ch, reps)
    out["cleverhans"] = {"version": cleverhans.__version__ if hasattr(cleverhans, "__version__") else "4.0.0",
                         "seconds": t, "robust_accuracy": acc(adv),
                         "max_linf": float(np.abs(adv - x).max())}

    import art
    from art.attacks.evasion import ProjectedGradientDescent
    from art.estimators.classification import TensorFlowV2Classifier

    clf = TensorFlowV2Classifier(model=model, nb_classes=10, input_shape=(28, 28, 1),
                                 loss_object=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                                 clip_values=(0.0, 1.0))
    pgd = ProjectedGradientDescent(clf, norm=np.inf, eps=eps, eps_step=step, max_iter=steps, targeted=False,
                                   num_random_init=1, batch_size=bs, verbose=False)
    t, adv = timed(lambda: pgd.generate(x=x, y=y), reps)
    out["art"] = {"version": art.__version__, "seconds": t, "robust_accuracy": acc(adv),
                  "max_linf": float(np.abs(adv - x).max())}
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
