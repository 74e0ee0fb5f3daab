"""Rule-based backward passes over a model's graph, and the ReLU-rule explainers.

- ``guided-backprop``: guided backpropagation (Springenberg, Dosovitskiy, Brox & Riedmiller
  2015, "Striving for Simplicity: The All Convolutional Net"): at every ReLU the backward
  signal is kept only where the forward input was positive AND the signal is positive.
- ``deconvnet``: the deconvolutional network of Zeiler & Fergus (2014, "Visualizing and
  Understanding Convolutional Networks"): at every ReLU the backward signal is rectified
  (kept where it is positive), whatever the forward input was.

Both return |signal at the input|, maximum over channels (like the vanilla gradient).

How: the user's model is never modified. `run_with_rules` re-runs the model's functional
graph node by node with the library's one walker (`tfinterp.models.layers.run_graph`,
descending into nested Sequential / functional sub-models and the zoo's `Classifier`
backbone) and hands every layer call to a rule function, which may
replace it by the same computation carrying a `tf.custom_gradient`. Dense and Conv layers
with a fused ReLU (``activation="relu"``) are split into their linear part (computed with
the layer's own kernel and bias, `layer.convolution_op` for convolutions) followed by the
ReLU rule, so fused and separate ReLUs are treated alike. `tfinterp.explain.relevance`
(LRP, DeepLIFT) uses the same machinery.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfinterp.errors import UserError
from tfinterp.explain.base import Explainer, gather_target, register
from tfinterp.models.layers import is_graph, run_graph, walk_layers


# ----------------------------------------------------------------------------- graph walking

def run_with_rules(model, inputs, rule):
    """Re-run `model` on `inputs`, calling ``rule(layer, call, args, kwargs, graph)`` for every layer.

    ``call(*args, **kwargs)`` is the layer's ordinary inference call (``training=False``); the
    rule returns the layer's output, either ``call(...)`` itself or the same values computed
    with a custom gradient. ``graph`` is the functional graph the layer sits in (for rules
    that look at neighbours, like BatchNorm folding). Nested graphs are descended into (the
    walk is `tfinterp.models.layers.run_graph`'s); the rule sees only the layers inside them.
    """
    def intercept(path, layer, call, args, kwargs, graph):
        if is_graph(layer):  # a nested graph, re-run node by node by `call`
            return call(*args, **kwargs)
        return rule(layer, call, args, kwargs, graph)

    return run_graph(model, inputs, intercept)


# ----------------------------------------------------------------------------- layer anatomy

def activation_name(fn) -> str | None:
    """'relu', 'linear', ... for a Keras activation function (None when there is none)."""
    if fn is None:
        return None
    return getattr(fn, "__name__", type(fn).__name__)


def is_plain_relu_layer(layer) -> bool:
    """A separate ReLU: ``keras.layers.ReLU()`` with default arguments or ``Activation('relu')``."""
    if isinstance(layer, keras.layers.ReLU):
        return (layer.max_value is None and float(layer.negative_slope) == 0.0
                and float(layer.threshold) == 0.0)
    if isinstance(layer, keras.layers.Activation):
        return activation_name(layer.activation) == "relu"
    return False


def is_linear_layer(layer) -> bool:
    """Dense or a (non-transposed) Conv1D/2D/3D, whose pre-activation `linear_part` can compute."""
    from keras.src.layers.convolutional.base_conv import BaseConv

    return isinstance(layer, (keras.layers.Dense, BaseConv))


def linear_part(layer):
    """(fn, kernel, bias): ``fn(x, kernel)`` is the layer's linear map; pre-activation = fn(x, kernel) + bias.

    Uses the layer's own weights (read, never changed); the bias is shaped to broadcast
    over the output (or None without bias).
    """
    from keras.src.layers.convolutional.base_conv import BaseConv

    mode = getattr(getattr(layer, "dtype_policy", None), "quantization_mode", None)
    if mode:
        raise UserError(f"layer '{layer.name}' ({type(layer).__name__}) is quantized ({mode}); "
                        "rule-based explainers need float weights")
    dtype = layer.compute_dtype  # mixed precision: compute as the layer does
    kernel = tf.cast(tf.convert_to_tensor(layer.kernel), dtype)
    bias = tf.cast(tf.convert_to_tensor(layer.bias), dtype) if getattr(layer, "bias", None) is not None else None
    if isinstance(layer, keras.layers.Dense):
        return (lambda x, k: keras.ops.matmul(tf.cast(x, dtype), k)), kernel, bias
    if isinstance(layer, BaseConv):
        if bias is not None:
            shape = ((1,) * (layer.rank + 1) + (layer.filters,) if layer.data_format == "channels_last"
                     else (1, layer.filters) + (1,) * layer.rank)
            bias = tf.reshape(bias, shape)
        return (lambda x, k: layer.convolution_op(tf.cast(x, dtype), k)), kernel, bias
    raise UserError(f"layer '{layer.name}': no linear part known for {type(layer).__name__}")


def preactivation(layer, x):
    """The layer's output before its activation, computed with its own weights."""
    fn, kernel, bias = linear_part(layer)
    z = fn(x, kernel)
    return z + bias if bias is not None else z


def vjp(fn, x, v):
    """v^T (d fn / d x) at `x` (ordinary gradient, for use inside custom backward rules)."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return tape.gradient(y, x, output_gradients=v)


# ----------------------------------------------------------------------------- ReLU rules

def _guided_relu(z):
    @tf.custom_gradient
    def relu(z):
        def grad(g):
            return tf.where((z > 0) & (g > 0), g, tf.zeros_like(g))
        return tf.nn.relu(z), grad
    return relu(z)


def _deconv_relu(z):
    @tf.custom_gradient
    def relu(z):
        def grad(g):
            return tf.nn.relu(g)
        return tf.nn.relu(z), grad
    return relu(z)


def _relu_like_layer(layer) -> bool:
    """A ReLU with non-default arguments (max_value, threshold, ...) or a relu-activated layer."""
    if isinstance(layer, keras.layers.ReLU):
        return True
    return activation_name(getattr(layer, "activation", None)) == "relu"


class _ReLURuleExplainer(Explainer):
    """Shared code: re-run the graph with every ReLU's backward pass replaced by `_relu_rule`."""

    _relu_rule = staticmethod(_guided_relu)

    def check_model(self, model):
        for path, layer in walk_layers(model, containers=False):  # fail early, naming the layer
            if _relu_like_layer(layer) and not is_plain_relu_layer(layer) and not is_linear_layer(layer) \
                    and not isinstance(layer, keras.layers.ReLU):
                raise UserError(f"{self.method_name}: layer '{path}' ({type(layer).__name__}) has a fused ReLU "
                                "that cannot be separated from its linear part; supported: Dense, Conv1D/2D/3D, "
                                "ReLU and Activation('relu') layers")
            hidden = [sub.name for sub in layer._flatten_layers(include_self=False, recursive=True)
                      if _relu_like_layer(sub)]
            if hidden:
                raise UserError(f"{self.method_name}: layer '{path}' ({type(layer).__name__}) hides ReLUs "
                                f"({', '.join(hidden[:3])}) inside a custom layer, where their backward rule "
                                "cannot be replaced; build the block as a functional or Sequential sub-model")

    def _rule(self, layer, call, args, kwargs, graph):
        rule = type(self)._relu_rule
        if is_plain_relu_layer(layer):
            return rule(args[0])
        if isinstance(layer, keras.layers.ReLU):  # ReLU6 / thresholded / leaky: own mask, rectified signal
            x = args[0]

            @tf.custom_gradient
            def relu_variant(x):
                y = call(x)

                def grad(g):
                    if rule is _deconv_relu:
                        return tf.nn.relu(g)
                    return vjp(call, x, tf.nn.relu(g))
                return y, grad
            return relu_variant(x)
        if is_linear_layer(layer) and activation_name(layer.activation) == "relu":
            return rule(preactivation(layer, args[0]))
        return call(*args, **kwargs)

    @tf.autograph.experimental.do_not_convert  # plain Python: no autograph around custom gradients
    def attribute(self, images, targets):
        with tf.GradientTape() as tape:
            tape.watch(images)
            logits = run_with_rules(self.model, images, self._rule)
            score = gather_target(tf.cast(logits, tf.float32), targets)
        grads = tape.gradient(score, images)
        return tf.reduce_max(tf.abs(grads), axis=-1)


@register("guided-backprop")
class GuidedBackprop(_ReLURuleExplainer):
    """Guided backpropagation (Springenberg et al. 2015), without modifying the model.

    At each ReLU (separate layer or fused ``activation="relu"``) the backward signal is
    ``g * (z > 0) * (g > 0)``; the map is |signal at the input|, maximum over channels.
    """

    _relu_rule = staticmethod(_guided_relu)


@register("deconvnet")
class Deconvnet(_ReLURuleExplainer):
    """Deconvnet (Zeiler & Fergus 2014), without modifying the model.

    At each ReLU the backward signal is ``relu(g)`` (the forward mask is not used); the map
    is |signal at the input|, maximum over channels.
    """

    _relu_rule = staticmethod(_deconv_relu)
