"""The one in-graph Adam (Kingma & Ba, ICLR 2015) of the library.

`adam_update` is one step on tensors (state passed in and out), for loops that do more than
minimise (Carlini-Wagner keeps the best iterate, the ensemble attack projects);
`adam_minimize` runs a whole optimisation inside one `tf.while_loop` (the explainers').
Every state is per element, so a batch of images is a batch of independent problems.
"""

from __future__ import annotations

import tensorflow as tf


def adam_update(g, m, v, t, lr, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8):
    """(step, m, v): the Adam step to subtract for gradient `g` at 1-based iteration `t`."""
    t = tf.cast(t, tf.float32)
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * tf.square(g)
    step = lr * (m / (1 - tf.pow(b1, t))) / (tf.sqrt(v / (1 - tf.pow(b2, t))) + eps)
    return step, m, v


def adam_minimize(loss_fn, x0, steps: int, lr: float, project=None, decay_every: int = 0,
                  b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8):
    """Run `steps` Adam steps on `x0` inside a `tf.while_loop`; return the last iterate.

    `loss_fn(x)` returns a scalar (the sum of per-image losses, so every image keeps its own
    gradient); `project(new, old)` maps each step back to the feasible set; with
    `decay_every` the learning rate halves every that many steps (Du et al. 2018, Alg. 2).
    """
    def body(t, x, m, v):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = loss_fn(x)
        g = tape.gradient(loss, x)
        rate = lr * tf.pow(0.5, tf.floor(tf.cast(t, tf.float32) / decay_every)) if decay_every else lr
        step, m, v = adam_update(g, m, v, t + 1, rate, b1, b2, eps)
        new = x - step
        return t + 1, (project(new, x) if project is not None else new), m, v

    _, x, _, _ = tf.while_loop(lambda t, *_: t < steps, body,
                               (tf.constant(0), x0, tf.zeros_like(x0), tf.zeros_like(x0)))
    return x
