"""Class optimization of a one-hot sequence model to a position probability matrix
(Simonyan et al. 2014's class model visualization, as Lanchantin et al. 2016 and Fontal 2017
apply it to DNA and protein sequences).

For each requested class c, find the input X (length, alphabet) that maximizes

    S_c(X) - gamma * ||X||_2^2,

S_c the class's pre-softmax score (Fontal: "the post-Softmax value can be maximized by just
minimizing the scores of the other classes"), with X kept a position probability matrix:
after every step each position is projected onto the probability simplex (the Euclidean
projection of Duchi et al. 2008), Fontal's "the optimized inputs ... can be forced to behave
as a Position Probability Matrix". The steps are Adam's (`tfinterp.ops.optim`, Kingma & Ba
2015) on the negated objective's gradient within the simplex (each position's mean removed),
which keeps one learning rate meaningful across models.

On the simplex the sign of gamma decides what the L2 term does: with gamma > 0 (Simonyan's
penalty) the term pulls each position towards uniform, so positions the class score ignores
stay at 0 bits and the motif stands out; gamma < 0 rewards the norm, which on the simplex is
largest at one-hot rows (Fontal's formula is written with ``+ gamma ||X||^2`` and his text
says the term is there "to minimize the number of significant amino acids per position").

All classes are optimized together as one batch in one `tf.function` whose loop is a
`tf.while_loop` (traced once per optimizer: the step count, learning rate and gamma are
tensors). Each class gets several seeded random starts (`restarts`) and keeps the best
final score. `motif` cuts the best window (the most information content) of the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tfinterp.errors import UserError


def project_simplex(v):
    """Euclidean projection of each row (last axis) of `v` onto the probability simplex
    (Duchi et al. 2008): ``max(v - theta, 0)`` with theta such that the row sums to 1."""
    import tensorflow as tf

    v = tf.convert_to_tensor(v)
    a = tf.shape(v)[-1]
    u = tf.sort(v, axis=-1, direction="DESCENDING")
    css = tf.cumsum(u, axis=-1) - 1.0
    k = tf.cast(tf.range(1, a + 1), v.dtype)
    rho = tf.reduce_sum(tf.cast(u - css / k > 0, tf.int32), axis=-1)   # >= 1 always
    theta = tf.reduce_sum(css * tf.one_hot(rho - 1, a, dtype=v.dtype), axis=-1, keepdims=True) / \
        tf.cast(rho, v.dtype)[..., None]
    return tf.maximum(v - theta, 0.0)


def class_score_fn(model):
    """x -> (N, classes) pre-softmax scores of `model`: its output, unless its last layer
    applies a softmax (a Softmax / Activation("softmax") layer, or a Dense with
    ``activation="softmax"``), in which case that softmax is skipped."""
    import keras

    from tfinterp.models.layers import run_graph, walk_layers

    try:
        layers = list(walk_layers(model, containers=False))
    except UserError:
        return lambda x: model(x, training=False)
    if not layers:
        return lambda x: model(x, training=False)
    last_path, last = layers[-1]
    act = getattr(last, "activation", None)
    is_softmax = isinstance(last, keras.layers.Softmax) or (
        isinstance(last, keras.layers.Activation) and getattr(act, "__name__", "") == "softmax")
    dense_softmax = isinstance(last, keras.layers.Dense) and getattr(act, "__name__", "") == "softmax"
    if not (is_softmax or dense_softmax):
        return lambda x: model(x, training=False)

    def intercept(path, layer, call, args, kwargs, graph):
        if path != last_path:
            return call(*args, **kwargs)
        if is_softmax:
            return args[0]
        y = keras.ops.matmul(args[0], layer.kernel)
        return y + layer.bias if layer.use_bias else y

    return lambda x: run_graph(model, x, intercept)


def model_sequence_shape(model, length: int | None = None) -> tuple[int, int]:
    """(length, alphabet) of a one-hot sequence model's input; `length` fills a free length."""
    shape = getattr(model, "input_shape", None)
    if isinstance(shape, list):
        shape = shape[0]
    if shape is None or len(shape) != 3:
        raise UserError(f"model '{model.name}' does not take one-hot sequences (N, length, alphabet); "
                        f"its input shape is {shape}")
    L = shape[1] if shape[1] is not None else length
    if L is None:
        raise UserError(f"model '{model.name}' takes sequences of any length; give the length to optimize")
    if shape[2] is None:
        raise UserError(f"model '{model.name}' does not fix its alphabet size (input shape {shape})")
    return int(L), int(shape[2])


@dataclass
class ClassOptimization:
    """The optimized PPMs (classes, length, alphabet) with each class's final pre-softmax
    score (of its best restart), the settings that produced them, and every restart's score
    (classes, restarts)."""

    classes: list
    ppm: np.ndarray
    score: np.ndarray
    steps: int
    lr: float
    gamma: float
    seed: int
    restart_scores: np.ndarray | None = None


class ClassOptimizer:
    """Simonyan-style class optimization of a one-hot sequence `model` to PPMs (see the module
    docstring). ``optimize(classes)`` runs every class in one batch; its graph is traced once
    per optimizer, whatever the classes, step count, learning rate or gamma."""

    def __init__(self, model, length: int | None = None):
        import tensorflow as tf

        from tfinterp.ops.optim import adam_update

        self.model = model
        self.length, self.alphabet_size = model_sequence_shape(model, length)
        from tfinterp.checks import model_num_classes

        self.num_classes = model_num_classes(model)
        score_fn = class_score_fn(model)

        def objective(x, classes, gamma):
            s = tf.cast(score_fn(x), tf.float32)
            sc = tf.gather(s, classes, axis=1, batch_dims=1)
            return sc, sc - gamma * tf.reduce_sum(tf.square(x), axis=[1, 2])

        def run(x0, classes, steps, lr, gamma):
            def body(t, x, m, v):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    total = tf.reduce_sum(objective(x, classes, gamma)[1])
                g = -tape.gradient(total, x)
                # the gradient within the simplex (each position's mean removed): Adam's
                # per-entry scaling of the raw gradient would otherwise move every letter alike
                g = g - tf.reduce_mean(g, axis=-1, keepdims=True)
                step, m, v = adam_update(g, m, v, t + 1, lr)
                return t + 1, project_simplex(x - step), m, v

            _, x, _, _ = tf.while_loop(lambda t, *_: t < steps, body,
                                       (tf.constant(0), project_simplex(x0), tf.zeros_like(x0), tf.zeros_like(x0)))
            return x, objective(x, classes, gamma)[0]

        L, A = self.length, self.alphabet_size
        self._run = tf.function(run, input_signature=[
            tf.TensorSpec([None, L, A], tf.float32), tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.float32), tf.TensorSpec([], tf.float32)])

    def optimize(self, classes, steps: int = 300, lr: float = 0.05, gamma: float = 0.01, seed: int = 0,
                 noise: float = 1.0, restarts: int = 4, batch_size: int = 32) -> ClassOptimization:
        """Optimize one PPM per class of `classes` (a list of class indices; repeats allowed):
        `restarts` starts per class, each the uniform PPM plus seeded Gaussian `noise` (then
        projected), all optimized as one batch (`batch_size` starts at a time); the start with
        the highest final score is kept. Near the uniform PPM a ReLU model's score can be flat
        (a class that needs two motifs at once), so a single start from uniform may stay stuck."""
        import tensorflow as tf

        classes = [int(c) for c in (classes if np.ndim(classes) else [classes])]
        if not classes:
            raise UserError("give at least one class to optimize")
        if self.num_classes is not None:
            bad = [c for c in classes if not 0 <= c < self.num_classes]
            if bad:
                raise UserError(f"class {bad[0]} is out of range for a model with {self.num_classes} classes "
                                f"(0-{self.num_classes - 1})")
        if isinstance(steps, bool) or int(steps) < 1:
            raise UserError(f"steps must be a positive integer, got {steps}")
        if not lr > 0:
            raise UserError(f"the learning rate must be > 0, got {lr}")
        for name, v in (("batch_size", batch_size), ("restarts", restarts)):
            if isinstance(v, bool) or int(v) < 1:
                raise UserError(f"{name} must be a positive integer, got {v}")
        if not noise >= 0:
            raise UserError(f"noise must be >= 0, got {noise}")
        R = int(restarts)
        starts = [c for c in classes for _ in range(R)]
        rng = np.random.default_rng(seed)
        x0 = (1.0 / self.alphabet_size + noise * rng.standard_normal(
            (len(starts), self.length, self.alphabet_size))).astype(np.float32)
        ppms, scores = [], []
        for i in range(0, len(starts), int(batch_size)):
            x, s = self._run(tf.constant(x0[i:i + batch_size]), tf.constant(starts[i:i + batch_size], tf.int32),
                             tf.constant(int(steps), tf.int32), tf.constant(float(lr), tf.float32),
                             tf.constant(float(gamma), tf.float32))
            ppms.append(x.numpy())
            scores.append(s.numpy())
        ppm = np.concatenate(ppms).reshape(len(classes), R, self.length, self.alphabet_size)
        score = np.concatenate(scores).reshape(len(classes), R)
        best = score.argmax(axis=1)
        idx = np.arange(len(classes))
        return ClassOptimization(classes=classes, ppm=ppm[idx, best], score=score[idx, best], steps=int(steps),
                                 lr=float(lr), gamma=float(gamma), seed=int(seed), restart_scores=score)

    @property
    def tracing_count(self) -> int:
        """How many times the optimization graph has been traced (1 after any number of calls)."""
        return self._run.experimental_get_tracing_count()


def class_optimize(model, classes, steps: int = 300, lr: float = 0.05, gamma: float = 0.01, seed: int = 0,
                   length: int | None = None, restarts: int = 4, batch_size: int = 32) -> ClassOptimization:
    """One-call `ClassOptimizer(model, length).optimize(classes, ...)` (Simonyan et al. 2014)."""
    return ClassOptimizer(model, length).optimize(classes, steps=steps, lr=lr, gamma=gamma, seed=seed,
                                                  restarts=restarts, batch_size=batch_size)


def motif(ppm, width: int, background=None) -> tuple[int, np.ndarray]:
    """(start, window) of the `width`-column window of a class-optimized (length, alphabet) PPM
    with the most information content: the motif logo of the class."""
    from tfinterp.sequence.compare import best_window

    start = best_window(ppm, width, background)
    return start, np.asarray(ppm)[start:start + int(width)]


__all__ = ["project_simplex", "class_score_fn", "model_sequence_shape", "ClassOptimization", "ClassOptimizer",
           "class_optimize", "motif"]
