"""Batched activation maximization: `render(model, objective)` (Olah et al., "Feature
Visualization", Distill 2017; Erhan et al. 2009; lucid's ``render_vis``).

One call optimizes N images at once, image i for its own objective (an objective is per
image, see `tfinterp.featureviz.objectives`): the parameter of the whole batch is one tensor
(one FFT op for the batch with the Fourier parameterization), and the whole step loop runs
inside one `tf.function` (a `tf.while_loop` with the shared in-graph Adam,
`tfinterp.ops.optim.adam_update`). Every step draws the random transforms (one draw per
batch, stateless, from `seed` and the step number), runs the model, and ascends the sum of
the per-image objectives minus the penalties; Adam's state is per element, so the images are
independent problems (only the diversity term couples them, by design, within a chunk of
`batch_size`; keep all images in one chunk when it matters). Images are kept at
the `thresholds` (the seed's iteration study: steps 30, 60, ...). More than `batch_size`
objectives run in chunks of `batch_size` through the same compiled loop (its signature has
a free batch axis: no retracing), with a progress bar across the chunks.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from tfinterp.errors import UserError
from tfinterp.featureviz.objectives import INPUT, TOTAL, Objective


@dataclass
class RenderResult:
    """What `render` returns.

    images: (N, H, W, C) float32 in [0, 1], the last iterate; snapshots: {step: (N, H, W, C)}
    at the thresholds; values: (N,) the objective of the final images (no transforms);
    history: {step: (N,)} the objective at each threshold's step (under that step's
    transforms); settings: the render's settings (JSON-ready); seconds: wall time.
    """

    images: np.ndarray
    snapshots: dict
    values: np.ndarray
    history: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    seconds: float = 0.0


PRE = ":pre"


def activation_fn(model, names):
    """A function ``x -> {name: tensor}`` of `model`'s activations for the objective's layer
    `names` (usable inside `tf.function`; the model is not changed).

    A name ending in ``:pre`` (``last_conv:pre``) is the layer's pre-activation: the
    convolution or dense product plus bias, before a fused ReLU (lucid's ``*_pre_relu``
    tensors): a ReLU channel that is 0 on the starting image has no gradient, its
    pre-activation does. Other names are `tfinterp.models.layers.feature_model`'s.
    """
    from tfinterp.models.layers import feature_model, resolve_layer, run_graph

    names = list(names)
    pre = {n: "/".join(resolve_layer(model, n[:-len(PRE)])) for n in names if n.endswith(PRE)}
    plain = [n for n in names if not n.endswith(PRE)]
    if not pre:
        if not plain:
            return lambda x: {}
        fm = feature_model(model, plain)
        return lambda x: dict(fm(x, training=False))
    from tfinterp.models.layers import walk_layers

    layers = dict(walk_layers(model))
    for n, path in pre.items():
        layer = layers.get(path)
        if layer is None or not hasattr(layer, "kernel") or not (hasattr(layer, "convolution_op")
                                                                  or type(layer).__name__ == "Dense"):
            raise UserError(f"'{n}': the pre-activation needs a Conv or Dense layer, '{path}' is "
                            f"{type(layer).__name__ if layer is not None else 'not a layer'}")
    paths = {n: "/".join(resolve_layer(model, n)) for n in plain}
    wanted = set(pre.values()) | set(paths.values())

    def descend(path, layer):
        return any(t.startswith(path + "/") for t in wanted)

    def run(x):
        import keras

        found, pre_found = {}, {}

        def intercept(path, layer, call, args, kwargs, graph):
            if path in pre.values():
                inp = args[0]
                if hasattr(layer, "convolution_op"):
                    z = layer.convolution_op(inp, layer.kernel)
                else:
                    z = keras.ops.matmul(inp, layer.kernel)
                if getattr(layer, "use_bias", False):
                    z = z + layer.bias
                pre_found[path] = z
                y = layer.activation(z) if layer.activation is not None else z
            else:
                y = call(*args, **kwargs)
            if path in paths.values():
                found[path] = y
            return y

        final = run_graph(model, x, intercept, descend, training=False)
        out = {n: pre_found[p] for n, p in pre.items()}
        out.update({n: (final if p == "" else found[p]) for n, p in paths.items()})
        return out

    return run


def check_thresholds(thresholds, steps: int) -> tuple[int, ...]:
    """Sorted distinct thresholds in [1, steps] (None: just `steps`)."""
    if thresholds is None:
        return (int(steps),)
    try:
        ts = sorted({int(t) for t in thresholds})
    except (TypeError, ValueError):
        raise UserError(f"thresholds must be step numbers, got {thresholds!r}")
    if not ts:
        return (int(steps),)
    if ts[0] < 1 or ts[-1] > steps:
        raise UserError(f"thresholds must lie in [1, {steps}] (the step count), got {ts[0]}..{ts[-1]}")
    return tuple(ts)


def _start_noise(param, start: int, stop: int, seed: int, sd: float = 0.01) -> np.ndarray:
    """Image i's starting noise depends on (seed, i) only, so it does not depend on the batching."""
    shape = param.param_shape(1)[1:]
    return np.stack([(sd * np.random.default_rng([int(seed), i]).standard_normal(shape)).astype(np.float32)
                     for i in range(start, stop)])


class Renderer:
    """The compiled loop behind `render` for one model, objective and settings; `run(start, stop)`
    renders images start..stop-1 of the objective (reused across chunks without retracing).

    The step count, thresholds, learning rate and seed are inputs of the compiled loop, not
    constants in it, so `run` may override them (``run(0, n, steps=..., seed=...)``) without
    retracing; `render` keeps a few Renderers (`renderer_for`) so that a second call with the
    same model, objective and settings reuses the compiled graph. ``traces`` counts the
    loop's traces (1 after any number of runs at any batch size).
    """

    def __init__(self, model, objective: Objective, *, param="fourier", steps=512, lr=0.05, transforms="lucid",
                 regularizers=(), thresholds=None, decorrelation=None, seed=0, total: int | None = None):
        import tensorflow as tf

        from tfinterp.checks import model_image_shape
        from tfinterp.featureviz.param import make_param
        from tfinterp.featureviz.regularizers import split_regularizers
        from tfinterp.featureviz.transforms import compose, make_transforms
        from tfinterp.ops.optim import adam_update

        if not isinstance(objective, Objective):
            raise UserError(f"render needs an Objective (see tfinterp.featureviz.objectives), got {type(objective).__name__}")
        self.steps, self.lr, self.seed, self.thresholds = _check_steps(steps, lr, seed, thresholds)
        h, w, c = model_image_shape(model)
        self.shape = (h, w, c)
        self.model = model
        self.param = make_param(param, (1, h, w, c), decorrelation)
        self.transforms = make_transforms(transforms, min(h, w))
        self.penalties, self.step_regs = split_regularizers(regularizers)
        self.objective = objective
        self.traces = 0
        names = sorted(objective.layers - {INPUT, TOTAL})
        self.layer_names = names
        fm = activation_fn(model, names)
        tfm = compose(self.transforms, h, w)
        p, obj, penalties, step_regs = self.param, objective, self.penalties, self.step_regs

        def evaluate(img, x, idx):
            acts = fm(x)
            acts[INPUT] = img
            if total is not None:
                acts[TOTAL] = tf.constant(int(total), tf.int32)
            return obj(acts, idx)

        pshape = p.param_shape(1)[1:]
        pspec = tf.TensorSpec((None,) + tuple(pshape), tf.float32)
        ispec = tf.TensorSpec((None,), tf.int32)
        scalar = tf.TensorSpec((), tf.int32)

        # the forward-backward pass, called from the loop; not inlined so the graph optimiser
        # rewrites its body (see tfinterp.attacks.base.Attack.graph_function)
        @tf.function(input_signature=[pspec, ispec, tf.TensorSpec((2,), tf.int32)],
                     experimental_attributes={"_noinline": True})
        def value_and_grad(params, idx, step_seed):
            with tf.GradientTape() as tape:
                tape.watch(params)
                img = p.to_image(params)
                x = tf.ensure_shape(tfm(img, step_seed), [None, h, w, c])
                values = evaluate(img, x, idx)
                loss = -tf.reduce_sum(values)
                for r in penalties:
                    loss += tf.reduce_sum(r.penalty(img))
            return values, tape.gradient(loss, params)

        @tf.function(input_signature=[pspec, ispec, scalar, tf.TensorSpec((None,), tf.int32),
                                      tf.TensorSpec((), tf.float32), scalar])
        def loop(params0, idx, steps, ths, lr, seed):
            self.traces += 1  # Python side effect: runs only while tracing
            n = tf.shape(params0)[0]
            k = tf.size(ths)
            snaps0 = tf.zeros(tf.stack([k, n, h, w, c]), tf.float32)
            hist0 = tf.zeros(tf.stack([k, n]), tf.float32)

            def body(t, params, m, v, snaps, hist):
                values, g = value_and_grad(params, idx, tf.stack([seed, t]))
                step, m, v = adam_update(g, m, v, t + 1, lr)
                params = params - step
                for r in step_regs:
                    params = tf.cond(tf.equal((t + 1) % int(r.every), 0),
                                     lambda params=params, r=r: p.from_image(r.apply(p.to_image(params))),
                                     lambda params=params: params)
                hit = tf.equal(ths, t + 1)

                def keep():
                    j = tf.argmax(tf.cast(hit, tf.int32), output_type=tf.int32)
                    return (tf.tensor_scatter_nd_update(snaps, [[j]], p.to_image(params)[None]),
                            tf.tensor_scatter_nd_update(hist, [[j]], values[None]))

                snaps, hist = tf.cond(tf.reduce_any(hit), keep, lambda: (snaps, hist))
                return t + 1, params, m, v, snaps, hist

            zeros = tf.zeros_like(params0)
            _, params, _, _, snaps, hist = tf.while_loop(
                lambda t, *_: t < steps, body, (tf.constant(0), params0, zeros, zeros, snaps0, hist0))
            return p.to_image(params), snaps, hist

        # the objective of the final images, without transforms (one forward pass per render)
        @tf.function(input_signature=[tf.TensorSpec((None, h, w, c), tf.float32), ispec])
        def final(img, idx):
            return evaluate(img, img, idx)

        self._loop = loop
        self._final = final
        self._value_and_grad = value_and_grad

    def start(self, start: int, stop: int, init=None, seed=None):
        """The starting parameter of images start..stop-1: seeded noise, or `init`'s images."""
        import tensorflow as tf

        if init is not None:
            return self.param.init(image=init, n=stop - start)
        return tf.constant(_start_noise(self.param, start, stop, self.seed if seed is None else int(seed)))

    def optimize(self, params0, idx, *, steps=None, thresholds=None, lr=None, seed=None):
        """The compiled step loop alone: (images, snapshots [K, n, ...], history [K, n]) as tensors."""
        import tensorflow as tf

        steps_, lr_, seed_, ths = _check_steps(self.steps if steps is None else steps, self.lr if lr is None else lr,
                                               self.seed if seed is None else seed,
                                               self.thresholds if thresholds is None and steps is None else thresholds)
        return self._loop(params0, idx, tf.constant(steps_, tf.int32), tf.constant(ths, tf.int32),
                          tf.constant(lr_, tf.float32), tf.constant(seed_, tf.int32)), ths

    def run(self, start: int, stop: int, init=None, *, steps=None, thresholds=None, lr=None, seed=None):
        """(images, values, snapshots [K, n, ...], history [K, n]) of images start..stop-1 (numpy);
        `steps`, `thresholds`, `lr`, `seed` override the constructor's without retracing."""
        import tensorflow as tf

        params0 = self.start(start, stop, init, seed)
        idx = tf.range(start, stop, dtype=tf.int32)
        (img, snaps, hist), _ = self.optimize(params0, idx, steps=steps, thresholds=thresholds, lr=lr, seed=seed)
        values = self._final(img, idx)
        return img.numpy(), values.numpy(), snaps.numpy(), hist.numpy()


def _check_steps(steps, lr, seed, thresholds):
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise UserError(f"steps must be a positive integer, got {steps!r}")
    if not (float(lr) > 0):
        raise UserError(f"lr must be > 0, got {lr}")
    return int(steps), float(lr), int(seed), check_thresholds(thresholds, int(steps))


_CACHE: dict = {}
_CACHE_SIZE = 4


def _freeze(x):
    """A hashable form of a setting (lists, arrays, dicts, dataclasses; anything else by identity)."""
    if isinstance(x, (str, bytes, int, float, bool, type(None))):
        return x
    if isinstance(x, np.ndarray):
        return ("array", x.shape, str(x.dtype), x.tobytes())
    if isinstance(x, (list, tuple)):
        return tuple(_freeze(v) for v in x)
    if isinstance(x, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in x.items()))
    try:
        hash(x)
        return x
    except TypeError:
        return ("id", id(x))


def renderer_for(model, objective: Objective, **settings) -> Renderer:
    """A `Renderer` for these arguments, reused from the last few calls when the model (the same
    object), the objective (`Objective.key`: the same constructors and arguments) and the
    settings that shape the graph are the same; steps, thresholds, lr and seed are inputs of
    the compiled loop (pass them to `Renderer.run`), so they do not enter the key."""
    shaping = {k: v for k, v in settings.items() if k not in ("steps", "thresholds", "lr", "seed")}
    if shaping.get("decorrelation") is not None:
        shaping["decorrelation"] = np.asarray(shaping["decorrelation"], np.float32)
    key = (id(model), getattr(objective, "key", ("id", id(objective))), _freeze(shaping))
    r = _CACHE.pop(key, None)
    if r is None or r.model is not model:
        r = Renderer(model, objective, **settings)
    _CACHE[key] = r  # most recent last
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    return r


def clear_cache():
    """Forget the Renderers `render` keeps (they hold their models and compiled graphs)."""
    _CACHE.clear()


def render(model, objective: Objective, *, n: int | None = None, param="fourier", steps: int = 512,
           lr: float = 0.05, transforms="lucid", regularizers=(), thresholds=None, init=None, decorrelation=None,
           seed: int = 0, batch_size: int = 32, progress: bool = True) -> RenderResult:
    """Render `objective` on `model`: N images, image i maximizing its own value (Olah et al. 2017).

    N is the objective's own batch (per-image index lists, e.g. `objectives_for_channels`),
    else `n`, else 1. ``param``: ``"fourier"`` (lucid's 1/f-scaled spectrum) or ``"pixel"``,
    both with colour decorrelation (`decorrelation`: a C x C matrix from
    `tfinterp.featureviz.param.fit_decorrelation`; None the identity) and a sigmoid. Adam
    with learning rate `lr` for `steps` steps; ``transforms``: ``"lucid"`` (the default
    recipe, `tfinterp.featureviz.transforms.lucid_recipe`), ``"none"`` or a list;
    ``regularizers``: objects of `tfinterp.featureviz.regularizers` or strings (``"tv=0.05"``,
    ``"blur=4"``); ``thresholds``: steps at which images are kept (default: the last);
    ``init``: start from these images ([N, H, W, C] or one [H, W, C]) instead of noise;
    objectives run in chunks of `batch_size` with a progress bar (``progress``). The model
    is not changed. Returns a `RenderResult`.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise UserError(f"batch_size must be a positive integer, got {batch_size!r}")
    if objective is not None and isinstance(objective, Objective) and objective.batch is not None:
        if n is not None and int(n) != objective.batch:
            raise UserError(f"n={n} but the objective is for {objective.batch} images")
        total = objective.batch
    else:
        total = 1 if n is None else int(n)
    if total < 1:
        raise UserError(f"n must be >= 1, got {n}")
    t0 = time.perf_counter()
    steps_, lr_, seed_, ths = _check_steps(steps, lr, seed, thresholds)
    r = renderer_for(model, objective, param=param, steps=steps_, lr=lr_, transforms=transforms,
                     regularizers=regularizers, thresholds=ths, decorrelation=decorrelation, seed=seed_, total=total)
    h, w, c = r.shape
    if init is not None:
        init = np.asarray(init, np.float32)
        if init.ndim == 3:
            init = np.broadcast_to(init[None], (total,) + init.shape)
        if init.shape != (total, h, w, c):
            raise UserError(f"init must be [{total}, {h}, {w}, {c}] or [{h}, {w}, {c}], got {init.shape}")
    bar = None
    if progress:
        import keras

        print(f"render {objective.name}: {total} image(s), {steps} steps, chunks of {batch_size}", file=sys.stderr)
        bar = keras.utils.Progbar(total, unit_name="image")
    imgs, vals, snaps, hists = [], [], [], []
    for start in range(0, total, batch_size):
        stop = min(total, start + batch_size)
        a, b, s, hh = r.run(start, stop, None if init is None else init[start:stop], steps=steps_, thresholds=ths,
                            lr=lr_, seed=seed_)
        imgs.append(a), vals.append(b), snaps.append(s), hists.append(hh)
        if bar is not None:
            bar.update(stop)
    snaps = np.concatenate(snaps, axis=1)
    hists = np.concatenate(hists, axis=1)
    settings = {"objective": objective.name, "n": total, "param": r.param.kind, "steps": steps_, "lr": lr_,
                "transforms": [repr(t) for t in r.transforms], "regularizers": [repr(x) for x in
                                                                               r.penalties + r.step_regs],
                "thresholds": list(ths), "seed": seed_, "batch_size": int(batch_size),
                "decorrelation": r.param.matrix.tolist(), "init": "image" if init is not None else "noise",
                "layers": r.layer_names}
    return RenderResult(images=np.concatenate(imgs).astype(np.float32),
                        snapshots={t: snaps[j] for j, t in enumerate(ths)},
                        values=np.concatenate(vals).astype(np.float32),
                        history={t: hists[j] for j, t in enumerate(ths)},
                        settings=settings, seconds=time.perf_counter() - t0)


__all__ = ["render", "Renderer", "RenderResult", "check_thresholds", "renderer_for", "clear_cache"]
