"""Split a model at a layer into phi (input -> the layer) and g (the layer -> the output).

Used by prediction-difference tracing (Dong, Su, Zhu, Bao 2017, "Towards Interpretable Deep
Neural Networks by Leveraging Adversarial Examples", section 6), where g is re-run on
representations with one neuron removed. Both halves are new `keras.Model`s built on the
shared graph walker (`tfinterp.models.layers.run_graph`) and share the weights of `model`
(which is not changed). Works for functional and Sequential models, models nested inside
them, and the zoo's `Classifier` wrapper (through its functional ``backbone``).
"""

from __future__ import annotations

import keras

from tfinterp.errors import UserError


def split_model(model, layer: str):
    """(phi, g) with g(phi(x)) == model(x): phi outputs the layer's activations, g maps them to
    the model's output.

    `layer` is an alias (``last_conv``), a ``/`` path through nested models, or a unique layer
    name (`tfinterp.models.layers.resolve_layer`). The split must cut the graph: a layer
    bypassed by a skip connection (a residual block's inner conv) gives a `UserError`; split at
    the block's output instead.
    """
    from tfinterp.checks import model_input_shape
    from tfinterp.models.layers import resolve_layer, run_graph, run_with_taps

    path = resolve_layer(model, layer)
    if path == ():
        raise UserError(f"cannot split '{model.name}' at its output; name a layer before it")
    shape = model_input_shape(model)
    x_in = keras.Input(shape=shape, name="inputs")
    _, found = run_with_taps(model, x_in, [path])
    phi = keras.Model(x_in, found[path], name=f"{model.name}_phi")
    name = "/".join(path)
    feat = keras.Input(shape=tuple(found[path].shape[1:]), name="features")

    def descend(p, lay):
        return name.startswith(p + "/")

    def intercept(p, lay, call, args, kwargs, graph):
        return feat if p == name else call(*args, **kwargs)

    out = run_graph(model, keras.Input(shape=shape, name="inputs"), intercept, descend)
    if getattr(model, "backbone", None) is not None:  # the Classifier casts logits to float32
        out = keras.ops.cast(out, "float32")
    try:
        g = keras.Model(feat, out, name=f"{model.name}_g")
    except ValueError:
        raise UserError(f"cannot split '{model.name}' at '{layer}': the output also depends on the input by "
                        "another path (a skip connection around it); split at a block's output") from None
    return phi, g
