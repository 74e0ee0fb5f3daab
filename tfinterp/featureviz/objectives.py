"""Feature-visualization objectives that compose with ``+ - *``, unary ``-`` and scalars.

The design follows lucid's (Olah, Mordvintsev, Schubert, "Feature Visualization", Distill
2017): an objective is a function of a model's named activations, and arithmetic on
objectives builds new ones (``channel("last_conv", 3) + 0.5 * diversity("last_conv")``).

Here every objective is **per image**: evaluated on a dict of activations of a batch of N
images it returns a float32 tensor of shape (N,), image i's value. One batch can therefore
render N different objectives at once: an index argument (a channel, a neuron, a class)
may be an int (the same for every image) or a sequence of N ints (image i uses the i-th),
and `objectives_for_channels(layer, channels)` is "image i maximizes channel c_i".

An objective is called as ``obj(acts, idx)``: `acts` maps layer names (as
`tfinterp.models.layers.feature_model` resolves them: aliases, paths, unique names; the key
``"@output"`` is the model's output, the logits for zoo classifiers; ``"@input"`` is the
image the model sees) to tensors, and `idx` (N,) int32 holds each image's position in the
whole render (so a render split into chunks still gives image i its own index). `idx`
defaults to ``range(N)``.

Constructors live in the objectives registry (`OBJECTIVES`), which `parse_objective` uses to
read an expression typed on the command line with a whitelisting `ast` parser.
"""

from __future__ import annotations

import ast
import numbers
from typing import Callable, Sequence

import numpy as np

from tfinterp.errors import UserError
from tfinterp.registry import Registry

OBJECTIVES = Registry("objective")

OUTPUT = "@output"
INPUT = "@input"
TOTAL = "@total"  # a render's total number of images (a scalar), when it runs in chunks


def _merge_batch(a, b):
    if a is None:
        return b
    if b is None or a == b:
        return a
    raise UserError(f"objectives with different batch sizes ({a} and {b} images) cannot be combined")


class Objective:
    """A per-image objective: ``obj(acts, idx)`` -> (N,) float32 (higher is better).

    `fn(acts, idx)` computes it; `layers` are the activation names it reads; `batch` is the
    number of images it requires (None: any), set by per-image index lists; `name` is a
    readable description. Objectives compose with ``+ - *`` (with each other or with
    numbers), unary ``-`` and ``/`` by a number (lucid's design, Olah et al. 2017).
    `key` is a hashable description of what it computes (the constructors and their
    arguments): two objectives with equal keys are the same function, so `render` reuses a
    compiled loop for either; an objective built from a bare `fn` is keyed by its identity.
    """

    def __init__(self, fn: Callable, layers=(), name: str = "objective", batch: int | None = None, key=None):
        self.fn = fn
        self.layers = frozenset(layers)
        self.name = name
        self.batch = batch
        self.key = key if key is not None else ("id", id(self))

    def __call__(self, acts: dict, idx=None):
        import tensorflow as tf

        if idx is None:
            idx = tf.range(_batch_of(acts), dtype=tf.int32)
        return tf.cast(self.fn(acts, idx), tf.float32)

    def __repr__(self):
        return f"Objective({self.name})"

    # ---- arithmetic -----------------------------------------------------------------------
    @staticmethod
    def _lift(other):
        if isinstance(other, Objective):
            return other
        if isinstance(other, numbers.Number):
            v = float(other)
            return Objective(lambda acts, idx: tf_fill(idx, v), (), f"{v:g}", key=("const", v))
        return NotImplemented

    def _combine(self, other, op, symbol, reverse=False):
        other = self._lift(other)
        if other is NotImplemented:
            return NotImplemented
        a, b = (other, self) if reverse else (self, other)
        return Objective(lambda acts, idx: op(a(acts, idx), b(acts, idx)), a.layers | b.layers,
                         f"({a.name} {symbol} {b.name})", _merge_batch(a.batch, b.batch), key=(symbol, a.key, b.key))

    def __add__(self, other):
        return self._combine(other, lambda x, y: x + y, "+")

    def __radd__(self, other):
        return self._combine(other, lambda x, y: x + y, "+", reverse=True)

    def __sub__(self, other):
        return self._combine(other, lambda x, y: x - y, "-")

    def __rsub__(self, other):
        return self._combine(other, lambda x, y: x - y, "-", reverse=True)

    def __mul__(self, other):
        return self._combine(other, lambda x, y: x * y, "*")

    def __rmul__(self, other):
        return self._combine(other, lambda x, y: x * y, "*", reverse=True)

    def __truediv__(self, other):
        if not isinstance(other, numbers.Number):
            return NotImplemented
        if float(other) == 0.0:
            raise UserError("an objective divided by zero")
        return self * (1.0 / float(other))

    def __neg__(self):
        return Objective(lambda acts, idx: -self(acts, idx), self.layers, f"-{self.name}", self.batch,
                         key=("neg", self.key))

    def __pos__(self):
        return self


def tf_fill(idx, value):
    import tensorflow as tf

    return tf.fill(tf.shape(idx), tf.constant(value, tf.float32))


def _batch_of(acts):
    import tensorflow as tf

    first = next(v for k, v in acts.items() if k != TOTAL)
    return tf.shape(first)[0]


def _index(n, what: str):
    """(per-image int32 constant or int, batch or None) for an int or a sequence of ints."""
    if isinstance(n, (numbers.Integral, np.integer)) and not isinstance(n, bool):
        if int(n) < 0:
            raise UserError(f"{what} must be >= 0, got {n}")
        return int(n), None
    try:
        values = [int(v) for v in n]
    except (TypeError, ValueError):
        raise UserError(f"{what} must be an integer or a list of integers, got {n!r}")
    if not values:
        raise UserError(f"{what}: an empty list")
    if min(values) < 0:
        raise UserError(f"{what} must be >= 0, got {min(values)}")
    return np.asarray(values, np.int32), len(values)


def _key(per):
    """A hashable form of an index (int) or of a per-image array."""
    if isinstance(per, int):
        return per
    a = np.asarray(per)
    return (a.shape, str(a.dtype), a.tobytes())


def _pick(per_image, idx):
    """Image i's index: the int, or the idx[i]-th entry of the per-image list."""
    import tensorflow as tf

    if isinstance(per_image, int):
        return tf.fill(tf.shape(idx), per_image)
    return tf.gather(tf.constant(per_image), idx)


def _check_channel(t, n, layer, what="channel"):
    hi = int(np.max(n)) if not isinstance(n, int) else n
    c = t.shape[-1]
    if c is not None and hi >= c:
        raise UserError(f"{what} {hi} is out of range for layer '{layer}' ({c} channels: 0-{c - 1})")


def _describe(n):
    if isinstance(n, int):
        return str(n)
    v = list(map(int, n))
    return f"[{v[0]}..{v[-1]}]" if len(v) > 3 else str(v)


# ---- constructors -------------------------------------------------------------------------

@OBJECTIVES.register("channel", doc="channel(layer, n): the mean of channel n's map over positions")
def channel(layer: str, n) -> Objective:
    """Mean activation of channel `n` of `layer` over all positions (Olah et al. 2017, "channel").

    `n` an int, or one channel per image (a sequence of N ints). A dense layer's unit is its value.
    """
    per, batch = _index(n, "channel")

    def fn(acts, idx):
        import tensorflow as tf

        t = tf.cast(acts[layer], tf.float32)
        _check_channel(t, per, layer)
        c = _pick(per, idx)
        if t.shape.rank > 2:
            t = tf.reduce_mean(t, axis=list(range(1, t.shape.rank - 1)))
        return tf.gather(t, c, batch_dims=1)

    return Objective(fn, [layer], f"channel({layer}, {_describe(n)})", batch, key=("channel", layer, _key(per)))


@OBJECTIVES.register("neuron", doc="neuron(layer, n, x=None, y=None): channel n at one position (centre default)")
def neuron(layer: str, n, x: int | None = None, y: int | None = None) -> Objective:
    """Activation of channel `n` of `layer` at one spatial position (column `x`, row `y`;
    the centre ``(W // 2, H // 2)`` by default) (Olah et al. 2017, "neuron")."""
    per, batch = _index(n, "neuron")

    def fn(acts, idx):
        import tensorflow as tf

        t = tf.cast(acts[layer], tf.float32)
        _check_channel(t, per, layer, "neuron")
        c = _pick(per, idx)
        if t.shape.rank == 4:
            h, w = t.shape[1], t.shape[2]
            yy = h // 2 if y is None else int(y)
            xx = w // 2 if x is None else int(x)
            if not (0 <= yy < h and 0 <= xx < w):
                raise UserError(f"neuron position (x={xx}, y={yy}) is outside layer '{layer}' ({h}x{w})")
            t = t[:, yy, xx, :]
        elif t.shape.rank != 2:
            raise UserError(f"neuron: layer '{layer}' has rank {t.shape.rank}; expected a conv map or a dense layer")
        return tf.gather(t, c, batch_dims=1)

    return Objective(fn, [layer], f"neuron({layer}, {_describe(n)}" + (f", {x}, {y})" if x is not None else ")"), batch,
                     key=("neuron", layer, _key(per), x, y))


@OBJECTIVES.register("layer", doc="layer(layer): DeepDream, the mean of squares of the whole layer")
def layer_objective(layer: str) -> Objective:
    """DeepDream (Mordvintsev et al. 2015): the mean of the squared activations of `layer`."""
    def fn(acts, idx):
        import tensorflow as tf

        t = tf.cast(acts[layer], tf.float32)
        return tf.reduce_mean(tf.square(t), axis=list(range(1, t.shape.rank)))

    return Objective(fn, [layer], f"layer({layer})", key=("layer", layer))


@OBJECTIVES.register("logit", doc="logit(k): the logit of class k (the model's output)")
def class_logit(k) -> Objective:
    """The logit (pre-softmax output) of class `k` (Simonyan et al. 2014's class visualization).

    The model's output is taken as the logits (every zoo classifier outputs logits).
    """
    per, batch = _index(k, "class")

    def fn(acts, idx):
        import tensorflow as tf

        t = tf.cast(acts[OUTPUT], tf.float32)
        _check_channel(t, per, "output", "class")
        return tf.gather(t, _pick(per, idx), batch_dims=1)

    return Objective(fn, [OUTPUT], f"logit({_describe(k)})", batch, key=("logit", _key(per)))


@OBJECTIVES.register("prob", doc="prob(k): the softmax probability of class k (prefer logit)")
def class_prob(k) -> Objective:
    """The softmax probability of class `k`.

    Warning: maximizing the probability can be done by lowering the other classes' logits,
    and may lower class `k`'s own logit (Simonyan et al. 2014; the survey "Network
    interpretability" repeats it): `class_logit` is the default for class visualization.
    """
    per, batch = _index(k, "class")

    def fn(acts, idx):
        import tensorflow as tf

        t = tf.nn.softmax(tf.cast(acts[OUTPUT], tf.float32), axis=-1)
        _check_channel(t, per, "output", "class")
        return tf.gather(t, _pick(per, idx), batch_dims=1)

    return Objective(fn, [OUTPUT], f"prob({_describe(k)})", batch, key=("prob", _key(per)))


@OBJECTIVES.register("direction", doc="direction(layer, [v0, v1, ...]): the mean dot product with a vector")
def direction(layer: str, vector) -> Objective:
    """The mean over positions of the dot product of `layer`'s activation vectors with
    `vector` (C,) (a direction in activation space; Olah et al. 2017). A (N, C) array gives
    one direction per image."""
    v = np.asarray(vector, np.float32)
    if v.ndim not in (1, 2) or v.size == 0:
        raise UserError(f"direction: vector must be (C,) or (N, C), got shape {v.shape}")
    batch = v.shape[0] if v.ndim == 2 else None

    def fn(acts, idx):
        import tensorflow as tf

        t = tf.cast(acts[layer], tf.float32)
        if t.shape[-1] is not None and t.shape[-1] != v.shape[-1]:
            raise UserError(f"direction: layer '{layer}' has {t.shape[-1]} channels, the vector {v.shape[-1]}")
        vec = tf.constant(v)
        vec = tf.gather(vec, idx) if v.ndim == 2 else tf.broadcast_to(vec, [tf.shape(idx)[0], v.shape[-1]])
        if t.shape.rank > 2:
            t = tf.reduce_mean(t, axis=list(range(1, t.shape.rank - 1)))
        return tf.reduce_sum(t * vec, axis=-1)

    return Objective(fn, [layer], f"direction({layer})", batch, key=("direction", layer, _key(v)))


@OBJECTIVES.register("interpolate", doc="interpolate(a, b, n): image i maximizes (1 - t_i) a + t_i b, t_i = i/(n-1)")
def interpolate(a: Objective, b: Objective, n: int | None = None) -> Objective:
    """Neuron interpolation across the batch (Olah et al. 2017, "interaction between neurons"):
    image i of n maximizes ``(1 - t_i) * a + t_i * b`` with ``t_i = i / (n - 1)``, so the
    first image is `a`'s, the last `b`'s. `n` defaults to the render's number of images."""
    if not isinstance(a, Objective) or not isinstance(b, Objective):
        raise UserError("interpolate(a, b, n): a and b must be objectives")
    batch = _merge_batch(_merge_batch(a.batch, b.batch), None if n is None else int(n))
    if batch is not None and batch < 2:
        raise UserError("interpolate needs at least 2 images")

    def fn(acts, idx):
        import tensorflow as tf

        if batch is not None:
            total = tf.constant(float(batch))
        elif TOTAL in acts:
            total = tf.cast(acts[TOTAL], tf.float32)
        else:
            total = tf.cast(tf.shape(idx)[0], tf.float32)
        t = tf.cast(idx, tf.float32) / tf.maximum(total - 1.0, 1.0)
        return (1.0 - t) * a(acts, idx) + t * b(acts, idx)

    return Objective(fn, a.layers | b.layers, f"interpolate({a.name}, {b.name})", batch,
                     key=("interpolate", a.key, b.key, batch))


@OBJECTIVES.register("diversity", doc="diversity(layer): minus the mean cosine similarity of Gram matrices")
def diversity(layer: str) -> Objective:
    """Diversity across the batch (Olah et al. 2017, "Diversity"): image i's value is minus
    the mean, over the other images j, of the cosine similarity of the Gram matrices of
    `layer` (G = A^T A over positions, flattened). Higher is more diverse, so add it:
    ``channel(L, 3) + 0.5 * diversity(L)``. A batch of one image gives 0."""
    def fn(acts, idx):
        import tensorflow as tf

        t = tf.cast(acts[layer], tf.float32)
        n = tf.shape(t)[0]
        c = t.shape[-1]
        flat = tf.reshape(t, [n, -1, c])
        gram = tf.reshape(tf.matmul(flat, flat, transpose_a=True), [n, c * c])
        gram = tf.math.l2_normalize(gram, axis=-1, epsilon=1e-10)
        sim = tf.matmul(gram, gram, transpose_b=True)  # [N, N] cosine similarities
        off = tf.reduce_sum(sim, axis=1) - tf.linalg.diag_part(sim)
        return -off / tf.maximum(tf.cast(n - 1, tf.float32), 1.0)

    return Objective(fn, [layer], f"diversity({layer})", key=("diversity", layer))


def objectives_for_channels(layer: str, channels: Sequence[int]) -> Objective:
    """Image i maximizes channel ``channels[i]`` of `layer` (a batch of len(channels) images)."""
    return channel(layer, list(channels))


def per_image(objectives: Sequence[Objective]) -> Objective:
    """Image i maximizes ``objectives[i]`` (any objectives; each is evaluated on the whole
    batch and image i keeps the i-th one's value, so prefer index lists when they exist)."""
    objs = list(objectives)
    if not objs or not all(isinstance(o, Objective) for o in objs):
        raise UserError("per_image needs a non-empty list of objectives")
    layers = frozenset().union(*(o.layers for o in objs))

    def fn(acts, idx):
        import tensorflow as tf

        values = tf.stack([o(acts, idx) for o in objs], axis=1)  # [N, K]
        return tf.gather(values, idx, batch_dims=1)

    return Objective(fn, layers, f"per_image[{len(objs)}]", len(objs), key=("per_image",) + tuple(o.key for o in objs))


# ---- parsing -------------------------------------------------------------------------------

_BINOPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.Div: lambda a, b: a / b}
_ALIASES = {"class_logit": "logit", "class_prob": "prob", "deepdream": "layer"}


def parse_objective(expr: str, default_layer: str | None = None, variables: dict | None = None) -> Objective:
    """An objective from an expression such as ``"channel(last_conv, 3) + 0.5*diversity(last_conv)"``
    or ``"logit(3)"``.

    Only numbers, the registered constructors (`OBJECTIVES`; ``class_logit``, ``class_prob``
    and ``deepdream`` are accepted as other names), ``+ - * /``, unary minus, lists of
    numbers and layer names (bare words or quoted strings) are allowed; keyword arguments
    (``x=3``) too. Anything else is a `UserError` of one line. `default_layer` stands for
    a missing layer in ``channel(3)``; `variables` maps bare words to values (the CLI's
    ``c``: each image's channel, a list, so ``channel(last_conv, c)`` is one image per channel).
    """
    if not isinstance(expr, str) or not expr.strip():
        raise UserError("the objective expression is empty; e.g. 'channel(last_conv, 3)' or 'logit(3)'")
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as e:
        raise UserError(f"cannot parse the objective '{expr}': {e.msg}; e.g. 'channel(last_conv, 3) - 0.5*diversity(last_conv)'")
    try:
        value = _eval(tree.body, expr, default_layer, dict(variables or {}))
    except UserError as e:
        raise UserError(str(e).splitlines()[0]) from None
    if isinstance(value, numbers.Number):
        raise UserError(f"the objective '{expr}' is a number, not an objective")
    if not isinstance(value, Objective):
        raise UserError(f"the objective '{expr}' is not an objective")
    return value


def _bad(expr, what):
    names = ", ".join(OBJECTIVES.names())
    return UserError(f"cannot parse the objective '{expr}': {what} (allowed: {names}, numbers, + - * /)")


def _eval(node, expr, default_layer, variables=None):
    variables = variables or {}
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name):  # a bare word is a variable, else a layer name
        return variables.get(node.id, node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _eval(node.operand, expr, default_layer, variables)
        if isinstance(v, (str, list)):
            raise _bad(expr, f"'-' before '{ast.unparse(node.operand)}'")
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        a, b = _eval(node.left, expr, default_layer, variables), _eval(node.right, expr, default_layer, variables)
        if isinstance(a, (str, list)) or isinstance(b, (str, list)):
            raise _bad(expr, "arithmetic on a name or a list")
        if isinstance(node.op, ast.Div) and not isinstance(b, numbers.Number):
            raise _bad(expr, "division by an objective")
        try:
            return _BINOPS[type(node.op)](a, b)
        except ZeroDivisionError:
            raise _bad(expr, "division by zero")
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_eval(e, expr, default_layer, variables) for e in node.elts]
        if not all(isinstance(i, numbers.Number) for i in items):
            raise _bad(expr, "a list of something other than numbers")
        return items
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        name = _ALIASES.get(node.func.id, node.func.id)
        if name not in OBJECTIVES:
            raise _bad(expr, f"unknown function '{node.func.id}'")
        args = [_eval(a, expr, default_layer, variables) for a in node.args]
        kwargs = {k.arg: _eval(k.value, expr, default_layer, variables) for k in node.keywords if k.arg is not None}
        if len(kwargs) != len(node.keywords):
            raise _bad(expr, "'**' arguments")
        if name in ("channel", "neuron", "direction") and args and not isinstance(args[0], str):
            if default_layer is None:
                raise _bad(expr, f"{name}() needs a layer first")
            args = [default_layer, *args]
        if name in ("layer", "diversity") and not args and "layer" not in kwargs:
            if default_layer is None:
                raise _bad(expr, f"{name}() needs a layer")
            args = [default_layer]
        try:
            return OBJECTIVES.create(name, *args, **kwargs)
        except TypeError as e:
            raise _bad(expr, f"bad arguments to {name}(): {e}")
    raise _bad(expr, f"'{ast.unparse(node)}' is not allowed")


__all__ = ["Objective", "OBJECTIVES", "channel", "neuron", "layer_objective", "class_logit", "class_prob",
           "direction", "interpolate", "diversity", "objectives_for_channels", "per_image", "parse_objective",
           "OUTPUT", "INPUT", "TOTAL"]
