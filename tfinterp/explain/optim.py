"""In-graph Adam for the optimisation-based explainers (one state per image, no Python per step)."""

from __future__ import annotations

import tensorflow as tf


def adam_minimize(loss_fn, x0, steps: int, lr: float, project, decay_every: int = 0,
                  b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8):
    """Run `steps` Adam steps (Kingma & Ba 2015) on `x0` inside a `tf.while_loop`.

    `loss_fn(x)` returns a scalar (the sum of per-image losses, so every image keeps its own
    gradient); `project(new, old)` maps each step back to the feasible set; with
    `decay_every` the learning rate halves every that many steps (Du et al. 2018, Alg. 2).
    """
    def body(t, x, m, v):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = loss_fn(x)
        g = tape.gradient(loss, x)
        tf1 = tf.cast(t + 1, tf.float32)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * tf.square(g)
        rate = lr * tf.pow(0.5, tf.floor(tf.cast(t, tf.float32) / decay_every)) if decay_every else lr
        step = rate * (m / (1 - b1 ** tf1)) / (tf.sqrt(v / (1 - b2 ** tf1)) + eps)
        return t + 1, project(x - step, x), m, v

    _, x, _, _ = tf.while_loop(lambda t, *_: t < steps, body,
                               (tf.constant(0), x0, tf.zeros_like(x0), tf.zeros_like(x0)))
    return x
