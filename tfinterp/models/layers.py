"""Clean access to intermediate layers, and the one walker over nested functional graphs.

`feature_model(model, ["pool5", "vgg19/block5_conv4", "logits"])` returns a new
`keras.Model` that shares the weights of `model` (the user's model is not changed) and
outputs the named layers. Names may be a zoo alias (``pool5``, ``conv5_4``, ``last_conv``,
``logits``), a path through nested models joined by ``/``, or a plain layer name that is
unique anywhere in the nesting. Peer libraries fail on nested models with "Graph
disconnected"; here the graph is re-run node by node, descending into sub-models.

The walker, used by layer access, the rule-based explainers (guided backprop, deconvnet, LRP,
DeepLIFT) and, next, tracing and feature visualization:

- `is_graph(layer)`: what it descends into: functional models, Sequentials, and zoo models
  (a subclassed `keras.Model` around a functional ``backbone``);
- `walk_layers(model)`: every layer as (path, layer), nested graphs expanded, in graph order;
- `run_graph(model, inputs, intercept, descend)`: re-runs the graph node by node, handing every
  layer call to `intercept`, which may return it unchanged, record it, or replace it (by the
  same computation with a custom gradient, say).
"""

from __future__ import annotations

from typing import Callable, Iterator

import keras

from tfinterp.errors import UserError


def graph_of(model):
    """The functional graph behind `model`: itself, a Sequential's graph, or a zoo model's backbone."""
    from keras.src.models.functional import Functional

    if isinstance(model, keras.Sequential):
        if not model.built or getattr(model, "_functional", None) is None:
            raise UserError(f"Sequential model '{model.name}' is not built; call it on data or give it an Input first")
        return model._functional
    if isinstance(model, Functional):
        return model
    backbone = getattr(model, "backbone", None)
    if backbone is not None:
        return graph_of(backbone)
    raise UserError(f"layer access needs a Sequential or functional model (or a zoo model); "
                    f"'{model.name}' is a subclassed {type(model).__name__} without a functional backbone")


def is_graph(layer) -> bool:
    """Whether the walker descends into `layer`: a functional model, a Sequential, or a zoo model
    (a subclassed `keras.Model` around a functional ``backbone``)."""
    from keras.src.models.functional import Functional

    if isinstance(layer, (Functional, keras.Sequential)):
        return True
    return isinstance(layer, keras.Model) and getattr(layer, "backbone", None) is not None


def walk_layers(model, containers: bool = True) -> Iterator[tuple[str, object]]:
    """Every layer of `model` as (path, layer), nested graphs expanded, input layers skipped.

    A path joins the names through the nesting with ``/`` (``outer/inner``). A nested graph
    is yielded before its own layers when `containers` is true, and not at all otherwise
    (then only the layers that compute something are yielded).
    """
    def walk(graph, prefix):
        for layer in graph.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            path = prefix + (layer.name,)
            nested = is_graph(layer)
            if containers or not nested:
                yield "/".join(path), layer
            if nested:
                yield from walk(graph_of(layer), path)

    yield from walk(graph_of(model), ())


def run_graph(model, inputs, intercept: Callable | None = None, descend: Callable | None = None,
              training: bool = False):
    """Re-run `model`'s functional graph on `inputs` node by node, nested graphs included.

    Every layer call goes through ``intercept(path, layer, call, args, kwargs, graph)``, which
    returns the layer's output: ``call(*args, **kwargs)`` is the ordinary call (with
    `training`) or, for a nested graph that is descended into, the node-by-node re-run of that
    graph (whose own layers are intercepted in turn); `graph` is the functional graph the
    layer sits in. ``descend(path, layer)`` says whether a nested graph is re-run node by node
    (the default: always) or called whole. Without `intercept` every call is the ordinary one.
    Works symbolically (KerasTensors) and eagerly / inside `tf.function`; returns the model's
    output (one tensor when the graph has one output). The model is not changed.
    """
    from keras.src.models.functional import operation_fn as keras_operation_fn

    def run(graph, x, prefix):
        def wrap(op):
            path = prefix + (op.name,)
            name = "/".join(path)
            if is_graph(op) and (descend is None or descend(name, op)):
                def call(*args, **kwargs):
                    return run(graph_of(op), args[0] if len(args) == 1 else list(args), path)
            else:
                call = keras_operation_fn(op, training=training)
            if intercept is None:
                return call

            def intercepted(*args, **kwargs):
                return intercept(name, op, call, args, kwargs, graph)
            return intercepted

        out = graph._run_through_graph(x, operation_fn=wrap)
        return out[0] if isinstance(out, (list, tuple)) and len(out) == 1 else out

    return run(graph_of(model), inputs, ())


def list_layer_paths(model) -> list[str]:
    """Every layer path in `model`, nested sub-models expanded (``outer/inner``)."""
    return [path for path, _ in walk_layers(model)]


def resolve_layer(model, name: str) -> tuple[str, ...]:
    """Resolve an alias, a ``/`` path or a unique plain name to a path tuple; `UserError` if unknown."""
    aliases = getattr(model, "layer_aliases", None) or {}
    target = aliases.get(name, name)
    if target == "@output":
        return ()
    paths = list_layer_paths(model)
    if target in paths:
        return tuple(target.split("/"))
    matches = [p for p in paths if p.split("/")[-1] == target]
    if len(matches) == 1:
        return tuple(matches[0].split("/"))
    known = ", ".join(sorted(aliases)) or "none"
    if len(matches) > 1:
        raise UserError(f"layer name '{name}' is ambiguous ({', '.join(matches)}); give the full path")
    raise UserError(f"unknown layer '{name}' in model '{model.name}'; aliases: {known}; "
                    f"layers: {', '.join(paths[:12])}{' ...' if len(paths) > 12 else ''}")


def run_with_taps(model, inputs, paths, training=False):
    """Run `model` on `inputs`, returning (final output, {path: tensor}) for the tapped layer paths.

    `paths` are tuples as `resolve_layer` gives them (``()`` is the model's output). A nested
    graph is re-run node by node only when a tap lies inside it. Works symbolically
    (KerasTensors) and eagerly / inside `tf.function`.
    """
    taps = {"/".join(p): tuple(p) for p in paths}
    found = {}

    def descend(path, layer):
        return any(t.startswith(path + "/") for t in taps)

    def intercept(path, layer, call, args, kwargs, graph):
        y = call(*args, **kwargs)
        if path in taps:
            found[taps[path]] = y
        return y

    final = run_graph(model, inputs, intercept, descend, training=training)
    if "" in taps:
        found[()] = final
    missing = [name for name, p in taps.items() if p not in found]
    if missing:
        raise UserError(f"layers {', '.join(missing)} are not on the path from the input to the output")
    return final, found


_PRECISIONS = {"float32": None, "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


def compute_copy(model, precision: str):
    """A copy of `model`'s functional graph whose layers compute in `precision`.

    ``"bfloat16"`` / ``"float16"`` give Keras mixed-precision policies (float32 variables,
    16-bit compute); the weights are copied, so later changes to `model` are not seen, and
    `model` itself is not touched. On CPUs with AMX or AVX512-BF16 units, bfloat16
    convolutions run several times faster than float32 (Micikevicius et al. 2018 for the
    mixed-precision recipe). ``"float32"`` returns `model` unchanged.
    """
    if precision not in _PRECISIONS:
        raise UserError(f"precision must be one of {', '.join(_PRECISIONS)}, got '{precision}'")
    policy = _PRECISIONS[precision]
    if policy is None:
        return model
    graph = graph_of(model)

    def clone(layer):
        cfg = layer.get_config()
        if "dtype" in cfg and not isinstance(layer, keras.layers.InputLayer):
            cfg["dtype"] = policy
        return layer.__class__.from_config(cfg)

    from keras.src.saving.serialization_lib import SafeModeScope

    # the layers come from the user's live model, not from a file: Lambda layers may be rebuilt
    with SafeModeScope(False):
        copy = keras.models.clone_model(graph, clone_function=clone, recursive=True)
    copy.set_weights(graph.get_weights())
    return copy


def feature_model(model, names, include_output: bool = False, precision: str = "float32") -> keras.Model:
    """A multi-output `keras.Model` sharing `model`'s weights, returning the named layers' outputs.

    Returns a dict keyed by the given names (plus ``"output"`` when `include_output`). With
    ``precision="bfloat16"`` (or ``"float16"``) the layers run on a mixed-precision copy of
    the model's weights (see `compute_copy`) instead of sharing them.
    """
    if isinstance(names, str):
        names = [names]
    paths = {n: resolve_layer(model, n) for n in names}
    from tfinterp.checks import model_input_shape

    inp = keras.Input(shape=model_input_shape(model), name="images")
    final, found = run_with_taps(compute_copy(model, precision), inp, list(paths.values()))
    outputs = {n: (final if p == () else found[p]) for n, p in paths.items()}
    if include_output:
        outputs["output"] = final
    return keras.Model(inp, outputs, name=f"{model.name}_features")
