"""Runs xplique on saved inputs (called by bench_explain_speed.py inside the peer venv, which has
no tfinterp; benchmarks/_common.py imports only the standard library).

argv: model.keras inputs.npy targets.npy method steps_or_samples noise batch_size repeats out.json
"""

import json
import sys

import _common  # benchmarks/_common.py (this script's folder is on sys.path)
import keras
import numpy as np
import tensorflow as tf
from xplique.attributions import IntegratedGradients, SmoothGrad

model_path, x_path, y_path, method, n, noise, bs, repeats, out = sys.argv[1:10]
model = keras.models.load_model(model_path, compile=False)
x = np.load(x_path)
y = tf.one_hot(np.load(y_path), model.output_shape[-1]).numpy()
if method == "ig":
    explainer = IntegratedGradients(model, batch_size=int(bs), steps=int(n), baseline_value=0.0)
else:
    explainer = SmoothGrad(model, batch_size=int(bs), nb_samples=int(n), noise=float(noise))
explainer(x[: int(bs)], y[: int(bs)])  # warm-up (tracing) on one batch, then the timed runs
times, _ = _common.timed(lambda: explainer(x, y), int(repeats), warmup=0)
import xplique  # noqa: E402

json.dump({"seconds": _common.median(times), "all": times, "tensorflow": tf.__version__,
           "xplique": getattr(xplique, "__version__", "?")}, open(out, "w"))
