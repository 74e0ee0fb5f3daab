"""Relevance propagation: LRP (epsilon and alpha-beta rules) and DeepLIFT (rescale rule).

- ``lrp-epsilon`` / ``lrp-alphabeta``: Layer-wise Relevance Propagation (Bach, Binder,
  Montavon, Klauschen, Mueller & Samek 2015, "On Pixel-Wise Explanations for Non-Linear
  Classifier Decisions by Layer-Wise Relevance Propagation"). The target logit is the
  relevance at the top; each layer redistributes the relevance of its outputs onto its
  inputs, and the map is the input relevance summed over channels (signed).
- ``deeplift``: DeepLIFT with the rescale rule (Shrikumar, Greenside & Kundaje 2017,
  "Learning Important Features Through Propagating Activation Differences"): multipliers
  are back-propagated with Delta y / Delta x at every nonlinearity; the map is
  (x - baseline) * multiplier summed over channels, and it sums to f(x) - f(baseline).

How: the model's functional graph is re-run node by node (`run_with_rules` in
`tfinterp.explain.guided`; the user's model is never modified) and every layer call is
given a `tf.custom_gradient` whose backward pass is the method's rule, so one
`tape.gradient` computes the whole backward pass, compiled once by the base class.
For LRP the "gradient" flowing backwards *is* the relevance (started with
``output_gradients = onehot(target) * logits``); for DeepLIFT it is the multiplier and the
forward pass runs on ``[x; baseline]`` at once, so every nonlinearity sees its input
and its reference input.

Layer rules (LRP / DeepLIFT):

- Dense, Conv1D/2D/3D (any padding, strides, dilation): the epsilon or alpha-beta rule on
  the linear part, a fused ReLU passing relevance through / linear, and a fused
  elementwise activation gets the rescale rule.
- BatchNormalization: folded into the preceding Dense/Conv when it is that layer's only
  consumer; otherwise epsilon treats it as an affine layer and alpha-beta passes relevance
  through (one input per neuron) / linear.
- ReLU, Activation('relu'): identity / rescale. Other elementwise activations (sigmoid,
  tanh, ELU, LeakyReLU, ...): unsupported / rescale.
- Max pooling (local and global): winner takes all / the window's winner in x or in the
  reference (the one with the larger Delta x) gets the multiplier scaled by Delta y /
  Delta x, so the window's difference is kept exactly (2-D channels-last pools take the
  winners from one argmax; other layouts from the gradient, exact unless a window ties).
- AveragePooling, GlobalAveragePooling: the rule on the linear, non-negative pooling map /
  linear.
- Add: split in proportion to the summands (epsilon) or to their positive and negative
  parts (alpha-beta) / linear.
- Flatten, Reshape, Permute, Dropout (identity at inference), ZeroPadding, Cropping,
  Concatenate: relevance moves with the values / linear.
- CaffePreprocess, Rescaling (fixed input preprocessing): relevance passes through, the
  channel flip undone / linear.
- Nested Sequential / functional sub-models and zoo Classifiers: descended into.

Any other layer raises a `UserError` naming its path and type. Recurrent layers (LSTM, GRU,
SimpleRNN, Bidirectional) are refused by name: their gates multiply two signals, for which
neither rule here is exact (the map would not sum to f(x) - f(baseline)); integrated
gradients, gradient x input and in-silico mutagenesis (``ism``) explain such models.

One-hot sequence models (N, length, alphabet): Conv1D, MaxPooling1D and GlobalMaxPooling1D
(channels-last pools take their winners from one argmax, as the 2-D ones) and the layers
above; the map is the signed per-letter relevance (LRP) or (x - baseline) * multiplier
(DeepLIFT), not summed over the alphabet.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tfinterp.errors import UserError
from tfinterp.explain.base import Explainer, gather_target, register
from tfinterp.explain.guided import (activation_name, is_linear_layer, is_plain_relu_layer, linear_part,
                                     preactivation, run_with_rules, vjp)
from tfinterp.models.layers import walk_layers
from tfinterp.params import Param

_ELEMENTWISE = {"relu", "relu6", "sigmoid", "tanh", "elu", "selu", "softplus", "softsign", "gelu", "silu",
                "swish", "leaky_relu", "hard_sigmoid", "hard_silu", "hard_swish", "mish", "exponential",
                "log_sigmoid", "celu"}


def _layer_classes(*names):
    return tuple(getattr(keras.layers, n) for n in names if hasattr(keras.layers, n))


_MOVE = _layer_classes("Flatten", "Reshape", "Permute", "Dropout", "SpatialDropout1D", "SpatialDropout2D",
                       "SpatialDropout3D", "GaussianDropout", "GaussianNoise", "AlphaDropout",
                       "ActivityRegularization", "Identity", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D",
                       "Cropping1D", "Cropping2D", "Cropping3D", "Concatenate", "InputLayer")
_AVG_GLOBAL = _layer_classes("GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D")
_MAX_GLOBAL = _layer_classes("GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D")
_ELEMENTWISE_LAYERS = _layer_classes("ReLU", "LeakyReLU", "ELU", "PReLU", "Softplus")


def layer_kind(layer) -> str | None:
    """How the rules see `layer`: 'linear', 'bn', 'relu', 'activation', 'avgpool', 'maxpool', 'add',
    'move', 'caffe', 'rescaling' or None (unsupported)."""
    from keras.src.layers.pooling.base_pooling import BasePooling

    from tfinterp.models.archs import CaffePreprocess

    if is_linear_layer(layer):
        return "linear"
    if isinstance(layer, keras.layers.BatchNormalization):
        return "bn"
    if is_plain_relu_layer(layer):
        return "relu"
    if isinstance(layer, keras.layers.Activation):
        name = activation_name(layer.activation)
        if name == "linear":
            return "move"
        return "activation" if name in _ELEMENTWISE else None
    if isinstance(layer, _ELEMENTWISE_LAYERS):
        return "activation"
    if isinstance(layer, BasePooling):
        return {"max": "maxpool", "average": "avgpool"}.get(layer.pool_mode)
    if isinstance(layer, _AVG_GLOBAL):
        return "avgpool"
    if isinstance(layer, _MAX_GLOBAL):
        return "maxpool"
    if isinstance(layer, keras.layers.Add):
        return "add"
    if isinstance(layer, _MOVE):
        return "move"
    if isinstance(layer, CaffePreprocess):
        return "caffe"
    if isinstance(layer, keras.layers.Rescaling):
        return "rescaling"
    return None


_RECURRENT = _layer_classes("RNN", "LSTM", "GRU", "SimpleRNN", "Bidirectional", "ConvLSTM1D", "ConvLSTM2D",
                            "ConvLSTM3D")


def _check_supported(model, method, lrp: bool):
    """UserError naming the first layer the method has no rule for."""
    for path, layer in walk_layers(model, containers=False):
        if isinstance(layer, _RECURRENT):
            raise UserError(f"{method}: layer '{path}' ({type(layer).__name__}) is recurrent, which {method} has no "
                            "exact rule for (its gates multiply two signals); explain this model with "
                            "integrated-gradients, gradient-x-input or ism")
        kind = layer_kind(layer)
        act = activation_name(getattr(layer, "activation", None)) if kind == "linear" else None
        if kind == "activation" and lrp:
            kind = None
        if kind == "linear" and act not in (None, "linear", "relu") and (lrp or act not in _ELEMENTWISE):
            raise UserError(f"{method}: layer '{path}' ({type(layer).__name__}) has activation '{act}', which "
                            f"{method} has no rule for; explain a model that outputs logits "
                            f"(activations supported: {'relu, linear' if lrp else ', '.join(sorted(_ELEMENTWISE))})")
        if kind is None:
            raise UserError(f"{method}: layer '{path}' of type {type(layer).__name__} is not supported; supported: "
                            "Dense, Conv1D/2D/3D, BatchNormalization, ReLU, Max/Average/Global pooling, Add, "
                            "Concatenate, Flatten, Reshape, Dropout, ZeroPadding, Cropping, CaffePreprocess, "
                            "Rescaling" + ("" if lrp else ", elementwise activations") + " and nested models")


def bn_affine(bn):
    """(scale, shift) of an inference-mode BatchNormalization: y = scale * x + shift, per channel."""
    inv = tf.math.rsqrt(tf.convert_to_tensor(bn.moving_variance) + bn.epsilon)
    scale = inv * tf.convert_to_tensor(bn.gamma) if bn.scale else inv
    shift = -tf.convert_to_tensor(bn.moving_mean) * scale
    if bn.center:
        shift = shift + tf.convert_to_tensor(bn.beta)
    return scale, shift


def _channel_shape(v, rank, axis):
    axis = axis if axis >= 0 else rank + axis
    shape = [1] * rank
    shape[axis] = -1
    return tf.reshape(v, shape)


def _bn_folds(graph):
    """{id(linear layer): BatchNormalization} for BN layers that can be folded into their producer.

    A BN folds when its input is the output of a Dense / channels-last Conv with no
    activation, that output feeds nothing else, both layers are called once in this graph,
    and the BN normalises the last axis.
    """
    nodes = [n for depth in graph._nodes_by_depth.values() for n in depth
             if n.operation is not None and not n.is_input]
    consumers, calls = {}, {}
    for n in nodes:
        calls[id(n.operation)] = calls.get(id(n.operation), 0) + 1
        for t in n.input_tensors:
            consumers[id(t)] = consumers.get(id(t), 0) + 1
    for t in graph.outputs:
        consumers[id(t)] = consumers.get(id(t), 0) + 1
    folds = {}
    for n in nodes:
        bn = n.operation
        if not isinstance(bn, keras.layers.BatchNormalization) or len(n.input_tensors) != 1:
            continue
        t = n.input_tensors[0]
        producer = t._keras_history.operation
        axis = bn.axis if isinstance(bn.axis, int) else (bn.axis[0] if len(bn.axis) == 1 else None)
        if axis is None or axis not in (-1, len(t.shape) - 1):
            continue
        if not is_linear_layer(producer) or activation_name(producer.activation) not in (None, "linear"):
            continue
        if getattr(producer, "data_format", "channels_last") != "channels_last":
            continue
        if consumers.get(id(t), 0) == 1 and calls.get(id(producer)) == 1 and calls.get(id(bn)) == 1:
            folds[id(producer)] = bn
    return folds


def _identity_backward(x, forward):
    """forward(x) with relevance passed back unchanged (ReLU under LRP, elementwise preprocessing)."""
    @tf.custom_gradient
    def f(x):
        def grad(r):
            return r
        return forward(x), grad
    return f(x)


def _sign0(z):
    return tf.where(z >= 0, tf.ones_like(z), -tf.ones_like(z))


class _LRP(Explainer):
    """Shared LRP machinery; subclasses define `_redistribute` (linear layers) and `_split` (Add)."""

    inputs = ("images", "sequences")

    def check_model(self, model):
        _check_supported(model, self.method_name, lrp=True)

    def prepare(self):
        self._folds = {}

    # --- rules -----------------------------------------------------------------------
    def _redistribute(self, fn, kernel, x, z, r):
        """Input relevance of a linear layer z = fn(x, kernel) + bias, given output relevance r."""
        raise NotImplementedError

    def _split(self, xs, z, r):
        """Relevance of each summand of z = sum(xs), given r."""
        raise NotImplementedError

    def _affine(self, x, scale, shift):
        """A BatchNorm that could not be folded: y = scale * x + shift, one input per neuron."""
        return self._linear(lambda a, k: a * k, scale, shift, x)

    def _linear(self, fn, kernel, bias, x):
        @tf.custom_gradient
        def f(x):
            z = fn(x, kernel)
            if bias is not None:
                z = z + bias

            def grad(r):
                return self._redistribute(fn, kernel, x, z, r)
            return z, grad
        return f(x)

    def _rule(self, layer, call, args, kwargs, graph):
        kind = layer_kind(layer)
        if kind == "linear":
            folds = self._folds.setdefault(id(graph), _bn_folds(graph))
            fn, kernel, bias = linear_part(layer)
            bn = folds.get(id(layer))
            if bn is not None:  # fold: W' = W * s, b' = b * s + t
                scale, shift = (tf.cast(v, kernel.dtype) for v in bn_affine(bn))
                kernel = kernel * scale
                bias = shift if bias is None else bias * scale + shift
            z = self._linear(fn, kernel, bias, args[0])
            if activation_name(layer.activation) == "relu":
                return _identity_backward(z, tf.nn.relu)
            return z
        if kind == "bn":
            folds = self._folds.setdefault(id(graph), _bn_folds(graph))
            if any(b is layer for b in folds.values()):
                return args[0]  # already applied by the layer it was folded into
            x = args[0]
            scale, shift = (tf.cast(v, x.dtype) for v in bn_affine(layer))
            rank, axis = x.shape.rank, layer.axis if isinstance(layer.axis, int) else layer.axis[0]
            scale, shift = _channel_shape(scale, rank, axis), _channel_shape(shift, rank, axis)
            return self._affine(x, scale, shift)
        if kind == "relu":
            return _identity_backward(args[0], tf.nn.relu)
        if kind == "avgpool":
            return self._linear(lambda a, k: call(a), None, None, args[0])
        if kind == "add":
            xs = list(args[0])

            @tf.custom_gradient
            def add(*xs):
                z = call(list(xs))

                def grad(r):
                    return self._split(xs, z, r)
                return z, grad
            return add(*xs)
        if kind == "caffe":  # y = 255 * flip(x) - mean: relevance moves back with the channel flip
            @tf.custom_gradient
            def caffe(x):
                def grad(r):
                    return tf.reverse(r, axis=[-1])
                return call(x), grad
            return caffe(args[0])
        if kind == "rescaling":
            return _identity_backward(args[0], call)
        # maxpool (the gradient routes all relevance to the winner) and value-moving layers
        return call(*args, **kwargs)

    @tf.autograph.experimental.do_not_convert  # plain Python: no autograph around custom gradients
    def relevance(self, images, targets):
        """The input relevance (the input's shape) for one batch."""
        with tf.GradientTape() as tape:
            tape.watch(images)
            logits = tf.cast(run_with_rules(self.model, images, self._rule), tf.float32)
        start = tf.stop_gradient(tf.one_hot(targets, tf.shape(logits)[-1], dtype=logits.dtype) * logits)
        return tape.gradient(logits, images, output_gradients=start)

    def attribute_letters(self, seqs, targets):
        return self.relevance(seqs, targets)

    def attribute(self, images, targets):
        return tf.reduce_sum(self.relevance(images, targets), axis=-1)


@register("lrp-epsilon")
class LRPEpsilon(_LRP):
    """LRP with the epsilon rule (Bach et al. 2015).

    R_i = sum_j x_i w_ij / (z_j + epsilon * sign(z_j)) * R_j, with z_j including the bias;
    starts from the target logit and returns the input relevance summed over channels.
    As epsilon -> 0 on a bias-free ReLU network the relevance sums to the logit and equals
    gradient x input.
    """

    params = {"epsilon": Param(0.01, float, min=0, doc="stabiliser of the denominators")}

    def _stabilise(self, z):
        return z + self.epsilon * _sign0(z)

    def _redistribute(self, fn, kernel, x, z, r):
        s = tf.math.divide_no_nan(r, self._stabilise(z))
        return x * vjp(lambda a: fn(a, kernel), x, s)

    def _split(self, xs, z, r):
        s = tf.math.divide_no_nan(r, self._stabilise(z))
        return [x * s for x in xs]


@register("lrp-alphabeta")
class LRPAlphaBeta(_LRP):
    """LRP with the alpha-beta rule (Bach et al. 2015); alpha=1, beta=0 is the z+ rule.

    R_i = sum_j (alpha * (x_i w_ij)^+ / sum_i (x_i w_ij)^+ - beta * (x_i w_ij)^- / sum_i
    (x_i w_ij)^-) R_j with alpha - beta = 1 and biases ignored, so relevance is conserved
    layer by layer; returns the input relevance summed over channels.
    """

    params = {
        "alpha": Param(1.0, float, doc="weight of the positive contributions"),
        "beta": Param(0.0, float, min=0, doc="weight of the negative contributions (alpha - beta = 1)"),
    }

    def validate(self):
        if abs(self.alpha - self.beta - 1.0) > 1e-9:
            raise UserError(f"lrp-alphabeta: need alpha - beta = 1 and beta >= 0, got alpha={self.alpha}, "
                            f"beta={self.beta}")

    def _affine(self, x, scale, shift):
        # one input per neuron: it receives all the relevance (the rule with alpha - beta = 1
        # would drop it where scale * x < 0, e.g. a negative BatchNorm scale after a ReLU)
        return _identity_backward(x, lambda a: a * scale + shift)

    def _share(self, fn, kernel, xp, xn, r, positive):
        """Relevance of x = xp + xn in proportion to the positive (or negative) contributions."""
        if kernel is None:  # pooling: all weights are 1/k > 0
            kp, kn = None, None
        else:
            kp, kn = tf.nn.relu(kernel), -tf.nn.relu(-kernel)
        with tf.GradientTape(persistent=False) as tape:
            tape.watch([xp, xn])
            if kernel is None:
                total = fn(xp if positive else xn, None)
            elif positive:
                total = fn(xp, kp) + fn(xn, kn)
            else:
                total = fn(xp, kn) + fn(xn, kp)
        gp, gn = tape.gradient(total, [xp, xn], output_gradients=tf.math.divide_no_nan(r, total),
                               unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return xp * gp + xn * gn

    def _redistribute(self, fn, kernel, x, z, r):
        xp, xn = tf.nn.relu(x), -tf.nn.relu(-x)
        out = self.alpha * self._share(fn, kernel, xp, xn, r, True)
        if self.beta:
            out -= self.beta * self._share(fn, kernel, xp, xn, r, False)
        return out

    def _split(self, xs, z, r):
        pos = [tf.nn.relu(x) for x in xs]
        sp = tf.math.divide_no_nan(r, tf.add_n(pos))
        out = [self.alpha * p * sp for p in pos]
        if self.beta:
            neg = [-tf.nn.relu(-x) for x in xs]
            sn = tf.math.divide_no_nan(r, tf.add_n(neg))
            out = [o - self.beta * q * sn for o, q in zip(out, neg)]
        return out


# ----------------------------------------------------------------------------- DeepLIFT

def _array_like(v) -> bool:
    try:
        np.asarray(v, dtype=np.float32)
    except (TypeError, ValueError):
        return False
    return True


def _rescale(fn, x, tol):
    """fn (elementwise) on [x; x0] with multipliers Delta y / Delta x (the gradient where |Delta x| < tol)."""
    @tf.custom_gradient
    def f(x):
        y = fn(x)

        def grad(g, variables=None):  # `variables`: an activation layer with weights (PReLU)
            n = tf.shape(x)[0] // 2
            dx, dy = x[:n] - x[n:], y[:n] - y[n:]
            local = vjp(fn, x, g)[:n]
            near = tf.abs(dx) < tol
            m = tf.where(near, local, g[:n] * dy / tf.where(near, tf.ones_like(dx), dx))
            m = tf.concat([m, tf.zeros_like(m)], axis=0)
            return (m, [tf.zeros_like(v) for v in variables]) if variables else m
        return y, grad
    return f(x)


def _max_route(layer, x):
    """(gather, scatter) of a max pooling at `x`: the window winners' values, and its transpose.

    Built from one argmax, so the two maps are exact transposes of each other even where a
    window has ties (TF's MaxPoolGrad and MaxPoolGradGrad may break ties differently).
    A 1-D pooling (N, length, channels) takes the 2-D argmax on (N, length, 1, channels), whose
    flat indices are those of `x`. None for layouts other than channels-last 1-D / 2-D pooling.
    """
    from keras.src.layers.pooling.base_pooling import BasePooling

    if getattr(layer, "data_format", "channels_last") != "channels_last":
        return None
    rank = x.shape.rank
    if rank not in (3, 4):
        return None
    shape = tf.shape(x, out_type=tf.int64)
    if isinstance(layer, BasePooling):
        pad = [1] * (4 - rank)  # the 1-D pooling's extra unit width
        _, idx = tf.nn.max_pool_with_argmax(x[:, :, None, :] if rank == 3 else x, list(layer.pool_size) + pad,
                                            list(layer.strides) + pad, layer.padding.upper(),
                                            include_batch_in_index=True)
        idx = idx[:, :, 0, :] if rank == 3 else idx
        size = tf.reduce_prod(shape)

        def gather(d):
            return tf.gather(tf.reshape(d, [-1]), idx)

        def scatter(v):
            return tf.reshape(tf.scatter_nd(idx[..., None], v, size[None]), shape)
        return gather, scatter
    # global max pooling: one winner per (input, channel)
    channels = x.shape[-1]
    flat = tf.reshape(x, tf.stack([shape[0], -1, shape[-1]]))
    onehot = tf.one_hot(tf.argmax(flat, axis=1), tf.shape(flat)[1], axis=1, dtype=x.dtype)

    def gather(d):
        out = tf.reduce_sum(tf.reshape(d, tf.shape(flat)) * onehot, axis=1)
        return tf.reshape(out, [-1] + [1] * (rank - 2) + [channels]) if layer.keepdims else out

    def scatter(v):
        return tf.reshape(onehot * tf.reshape(v, [-1, 1, channels]), shape)
    return gather, scatter


def _scaled_max(layer, fn, x, tol):
    """Max pooling on [x; x0] with multipliers that keep each window's Delta y exactly.

    The output multiplier goes to one input per window, the window's winner in x (the
    gradient route) or its winner in the reference, whichever has the larger |Delta x|,
    scaled by Delta y / Delta x_winner.
    """
    @tf.custom_gradient
    def f(x):
        y = fn(x)

        def grad(g):
            n = tf.shape(x)[0] // 2
            direction = tf.concat([x[:n] - x[n:], tf.zeros_like(x[n:])], axis=0)
            route = _max_route(layer, x)
            if route is not None:
                gather, scatter = route
            else:  # other layouts: the route and its transpose from the gradient and its gradient
                def scatter(v):
                    return vjp(fn, x, v)

                def gather(d):
                    v = tf.zeros_like(y)
                    with tf.GradientTape() as outer:
                        outer.watch(v)
                        inner = tf.reduce_sum(scatter(v) * d)
                    return outer.gradient(inner, v)
            # Delta x at each window's winner in x, and at its winner in the reference: either
            # route keeps Delta y exactly; use the one with the larger |Delta x| (if the x winner
            # has none while Delta y != 0, the reference winner has one).
            jd = gather(direction)[:n]
            jd0 = gather(tf.concat([tf.zeros_like(x[n:]), x[:n] - x[n:]], axis=0))[n:]
            use_ref = tf.abs(jd0) > tf.abs(jd)
            best = tf.where(use_ref, jd0, jd)
            dy = y[:n] - y[n:]
            near = tf.abs(best) < tol
            scaled = tf.where(near, g[:n], g[:n] * dy / tf.where(near, tf.ones_like(best), best))
            zero = tf.zeros_like(scaled)
            at_x = scatter(tf.concat([tf.where(use_ref, zero, scaled), zero], axis=0))[:n]
            at_ref = scatter(tf.concat([zero, tf.where(use_ref, scaled, zero)], axis=0))[n:]
            m = at_x + at_ref
            return tf.concat([m, tf.zeros_like(m)], axis=0)
        return y, grad
    return f(x)


@register("deeplift")
class DeepLIFT(Explainer):
    """DeepLIFT, rescale rule (Shrikumar et al. 2017), against a baseline image (default all zeros).

    Multipliers are back-propagated with the chain rule, linear layers by their weights and
    every elementwise nonlinearity by Delta y / Delta x; max pooling routes like the gradient,
    scaled per window so that differences are kept. The map is (x - baseline) * multiplier
    summed over channels; over the image it sums to f_c(x) - f_c(baseline). On one-hot
    sequences it is (x - baseline) * multiplier per letter (Shrikumar et al. explain DNA
    models this way; ``baseline=0.25`` is the uniform-background reference).
    """

    inputs = ("images", "sequences")

    params = {
        "baseline": Param(0.0, float, alt=object, check=_array_like,
                          expect="a number or an array that broadcasts to the input",
                          doc="the reference input (a constant or an image)"),
        "tolerance": Param(1e-6, float, min=0, doc="|Delta x| below which the gradient is the multiplier"),
    }

    def check_model(self, model):
        _check_supported(model, "deeplift", lrp=False)

    def validate(self):
        b = np.asarray(self.baseline, dtype=np.float32)
        try:
            b = np.broadcast_to(b, self.input_shape)
        except ValueError:
            raise UserError(f"deeplift: baseline of shape {b.shape} does not broadcast to the input {self.input_shape}")
        if not np.all(np.isfinite(b)):
            raise UserError("deeplift: baseline contains NaN or infinite values")
        self._baseline_array = b

    def prepare(self):
        b = self._baseline_array
        self._baseline = tf.constant(b)
        self._baseline_desc = float(b.flat[0]) if np.all(b == b.flat[0]) else "image"

    def summary(self):
        return {"baseline": self._baseline_desc}

    def _rule(self, layer, call, args, kwargs, graph):
        kind = layer_kind(layer)
        tol = self.tolerance
        if kind == "linear":
            act = layer.activation
            if activation_name(act) in (None, "linear"):
                return call(*args, **kwargs)
            return _rescale(act, preactivation(layer, args[0]), tol)
        if kind in ("relu", "activation"):
            return _rescale(call, args[0], tol)
        if kind == "maxpool":
            return _scaled_max(layer, call, args[0], tol)
        return call(*args, **kwargs)  # linear or value-moving layers: ordinary chain rule

    @tf.autograph.experimental.do_not_convert  # plain Python: no autograph around custom gradients
    def contributions(self, images, targets):
        """(x - baseline) * multiplier, the input's shape, for one batch."""
        n = tf.shape(images)[0]
        reference = tf.broadcast_to(self._baseline[None], tf.shape(images))
        both = tf.concat([images, reference], axis=0)
        with tf.GradientTape() as tape:
            tape.watch(both)
            logits = tf.cast(run_with_rules(self.model, both, self._rule), tf.float32)
            score = gather_target(logits[:n], targets)
        multipliers = tape.gradient(score, both)[:n]
        return (images - reference) * multipliers

    def attribute_letters(self, seqs, targets):
        return self.contributions(seqs, targets)

    def attribute(self, images, targets):
        return tf.reduce_sum(self.contributions(images, targets), axis=-1)
