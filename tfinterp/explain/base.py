"""The explainer family: one registry, one base class, declared parameters.

``get_explainer(name, model, **params).explain(images, targets=None)`` returns a float32
NumPy array (N, H, W) in [0, 1] at input resolution; targets default to the predicted class.

Every method is a subclass of `Explainer` registered in `EXPLAINERS` (``@register("name")``)
that declares its parameters in a ``params`` table of `tfinterp.params.Param` (plus the common
``batch_size``). From that one table come the validation at construction (a `UserError` that
names the parameter), the conversion of the strings a user types (``--param steps=20``), the
``--help`` listing (`describe`) and the JSON summary. On the class, ``Method.params`` is the
table; on an instance, ``explainer.params`` is the summary of the values in force.

A subclass implements `attribute(images, targets)` on one batch as TensorFlow ops and may
override the hooks `check_model` (layers it cannot handle, checked first), `validate`
(cross-parameter checks), `prepare` (sub-models, constants) and `summary` (JSON keys). The
base compiles `attribute` once with `tf.function` (fixed input signature, so no retracing
per batch), validates inputs and targets (`tfinterp.checks`), batches, and normalises. The
user's model is never modified.

Sequences. A model whose input is rank 3, ``(N, length, alphabet)`` (one-hot DNA or protein,
`tfinterp.data.sequences`), is explained through the same interface: ``explain(seqs)``
returns the raw, signed per-letter attribution ``(N, length, alphabet)`` float32, not
rescaled (so gradient x input, integrated gradients and DeepLIFT keep their completeness:
the map sums to f(x) - f(baseline)), and ``positions(maps)`` / ``explain_positions(seqs)``
reduce it to one score per position ``(N, length)`` (`position_scores`: the sum over the
alphabet, which for a one-hot input is the present letter's attribution; in-silico
mutagenesis overrides it). A method says what it explains in ``inputs`` (``("images",)`` by
default; ``"sequences"`` when it implements `attribute_letters`); an image-only method built
on a sequence model, or a sequence-only one on an image model, is a `UserError` naming the
methods that fit.
"""

from __future__ import annotations

import numpy as np

from tfinterp.checks import check_classes, check_images, model_image_shape, model_num_classes
from tfinterp.errors import UserError
from tfinterp.params import Param, Parameterized, format_params
from tfinterp.registry import Registry

EXPLAINERS = Registry("explanation method", builtins="tfinterp.explain.methods")


def register(name: str, **meta):
    """Class decorator: make an explainer available under `name` (``EXPLAINERS.register``)."""
    return EXPLAINERS.register(name, **meta)


def list_methods() -> list[str]:
    """The registered explanation methods, sorted."""
    return EXPLAINERS.names()


def get_explainer(name: str, model, layer: str | None = None, **params):
    """The explainer registered under `name` for `model`, with `params` validated by its table.

    `layer` goes to methods that take a layer (the parameter named by the class's
    ``layer_param``: Grad-CAM's ``layer``, guided inversion's ``l1``) and is ignored by the
    others. Values may be strings (``"20"``), converted by the table; a parameter the method
    does not have is a `UserError` naming it and listing the method's parameters.
    """
    cls = EXPLAINERS.get(name)
    if layer is not None and cls.layer_param in cls.param_spec():
        params[cls.layer_param] = layer
    return cls(model, **params)


def describe(name: str | None = None) -> str:
    """The ``--help`` text of one method (its first docstring line and parameter table), or of all."""
    names = [name] if name is not None else list_methods()
    blocks = []
    for n in names:
        cls = EXPLAINERS.get(n)
        doc = (cls.__doc__ or "").strip().splitlines()
        text = f"{n}: {doc[0]}" if doc else n
        note = cls.params_note()
        blocks.append(text + "\n" + format_params(cls.param_spec(), indent="    ") + (f"\n    {note}" if note else ""))
    return "\n".join(blocks)


def normalize_maps(maps):
    """Per-map min-max scaling to [0, 1] (a constant map becomes all zeros)."""
    import tensorflow as tf

    lo = tf.reduce_min(maps, axis=[1, 2], keepdims=True)
    hi = tf.reduce_max(maps, axis=[1, 2], keepdims=True)
    return tf.math.divide_no_nan(maps - lo, hi - lo)


def position_scores(maps) -> np.ndarray:
    """(N, length) per-position importance of (N, length, alphabet) letter maps: the sum over
    the alphabet (for a one-hot input and a zero baseline, the present letter's attribution;
    for any baseline the position's share of f(x) - f(baseline))."""
    return np.asarray(maps, dtype=np.float32).sum(axis=-1)


def sequence_input_shape(model) -> tuple[int, int] | None:
    """(length, alphabet) when `model` takes fixed-shape rank-3 inputs (N, length, alphabet), else None."""
    shape = getattr(model, "input_shape", None)
    if not isinstance(shape, tuple) or len(shape) != 3 or any(s is None for s in shape[1:]):
        return None
    if not all(isinstance(s, int) for s in shape[1:]):
        return None
    return int(shape[1]), int(shape[2])


def methods_for(kind: str) -> list[str]:
    """The registered methods that explain `kind` ("images" or "sequences"), sorted."""
    return [n for n in list_methods() if kind in EXPLAINERS.get(n).inputs]


def gather_target(logits, targets):
    """logits[i, targets[i]] for a batch."""
    import tensorflow as tf

    return tf.gather(logits, targets, axis=1, batch_dims=1)


class _ParamTable:
    """``Method.params`` is the declared table; ``explainer.params`` the values in force (`summary`)."""

    def __init__(self, table: dict):
        self.table = dict(table)

    def __get__(self, obj, owner=None):
        return self.table if obj is None else obj.summary()


class Explainer(Parameterized):
    """Base class of all explainers (see the module docstring for the contract)."""

    common = {"batch_size": Param(32, int, min=1, doc="images per compiled batch")}
    params = _ParamTable({})
    layer_param = "layer"  # where `get_explainer(..., layer=...)` goes, if the table has it
    inputs = ("images",)   # what the method explains: "images" and/or "sequences" (`attribute_letters`)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        table = cls.__dict__.get("params")
        if isinstance(table, dict):
            cls.params = _ParamTable(table)
        elif isinstance(table, property):  # an explainer written before the tables: its summary
            cls.summary = table.fget
            cls.params = _ParamTable(super(cls, cls).params)

    @classmethod
    def param_spec(cls) -> dict[str, Param]:
        """The method's table, then the common parameters it does not redefine (``batch_size``)."""
        spec = dict(cls.params)
        for k, p in cls.common.items():
            spec.setdefault(k, p)
        return spec

    @classmethod
    def params_note(cls) -> str:
        """A line for `describe` beyond the table (SmoothGrad: where the other parameters go)."""
        return ""

    @property
    def method_name(self) -> str:
        return self.registry_name

    def __init__(self, model, **params):
        import tensorflow as tf

        self.model = model
        self.configure(params)
        seq_shape = sequence_input_shape(model)
        self.sequences = seq_shape is not None
        self._check_input_kind(seq_shape)
        self.check_model(model)
        self.num_classes = model_num_classes(model)
        self.input_shape = seq_shape if self.sequences else model_image_shape(model)
        self.validate()
        self.prepare()
        spec = [tf.TensorSpec((None,) + self.input_shape, tf.float32), tf.TensorSpec((None,), tf.int32)]
        # autograph off: every loop is an explicit tf.while_loop, and autograph has been seen to
        # rewrite custom-gradient code in the rule-based explainers (a flaky TypeError)
        fn = self._explain_sequence_batch if self.sequences else self._explain_batch
        self._compiled = tf.function(fn, input_signature=spec, autograph=False)

    def _check_input_kind(self, seq_shape):
        name = self.registry_name
        if seq_shape is not None and "sequences" not in self.inputs:
            raise UserError(f"{name} explains images, and this model takes sequences (length {seq_shape[0]}, "
                            f"alphabet {seq_shape[1]}); for sequences use one of: {', '.join(methods_for('sequences'))}")
        if seq_shape is None and "images" not in self.inputs:
            shape = getattr(self.model, "input_shape", None)
            raise UserError(f"{name} explains one-hot sequence models (input [N, length, alphabet]), and this "
                            f"model takes {shape}; for images use one of: {', '.join(methods_for('images'))}")

    # ---- hooks ---------------------------------------------------------------------------

    def check_model(self, model):
        """Refuse (`UserError`) a model the method cannot handle; runs before the shape checks."""

    def validate(self):
        """Cross-parameter checks (`UserError`); `self.input_shape` is known."""

    def prepare(self):
        """Build what `attribute` needs (sub-models, constants) from the validated parameters."""

    def summary(self) -> dict:
        """The parameters in force for JSON summaries (default: the method's own table, without
        ``batch_size``); ``explainer.params`` returns it."""
        return {k: getattr(self, k) for k in type(self).params if k not in self.common}

    @property
    def config(self) -> dict:
        """The method's name and `summary` (for JSON summaries)."""
        return {"method": self.registry_name, **self.summary()}

    # ---- computing -----------------------------------------------------------------------

    def attribute(self, images, targets):
        """Raw attribution map (N, H, W) for one batch, as TensorFlow ops. Subclasses override."""
        raise NotImplementedError

    def attribute_letters(self, seqs, targets):
        """Raw signed attribution (N, length, alphabet) for one batch of sequences, as TensorFlow
        ops. Methods with ``"sequences"`` in `inputs` override."""
        raise NotImplementedError

    def _explain_batch(self, images, targets):
        return normalize_maps(self.attribute(images, targets))

    def _explain_sequence_batch(self, seqs, targets):
        import tensorflow as tf

        return tf.cast(self.attribute_letters(seqs, targets), tf.float32)

    def positions(self, maps) -> np.ndarray:
        """(N, length) per-position scores of this method's (N, length, alphabet) maps
        (`position_scores`, the sum over the alphabet, unless the method says otherwise)."""
        return position_scores(maps)

    def explain_positions(self, seqs, targets=None, batch_size: int | None = None) -> np.ndarray:
        """(N, length) per-position importance of sequences: `positions` of `explain`."""
        if not self.sequences:
            raise UserError(f"{self.registry_name}: explain_positions is for sequence models; use explain")
        return self.positions(self.explain(seqs, targets, batch_size=batch_size))

    def predict_logits(self, images, batch_size=None):
        bs = batch_size or max(self.batch_size, 64)
        return np.concatenate([np.asarray(self.model(images[i:i + bs], training=False))
                               for i in range(0, len(images), bs)])

    def checked_inputs(self, images, targets=None):
        """(images, targets) validated: images fit the model, targets (default: the predicted
        classes) are class indices of the model."""
        x = check_images(images, self.input_shape, what="sequences" if self.sequences else "images")
        if targets is None:
            targets = self.predict_logits(x).argmax(-1)
        return x, check_classes(targets, len(x), self.num_classes, what="targets")

    def explain(self, images, targets=None, batch_size: int | None = None) -> np.ndarray:
        """Maps (N, H, W) float32 in [0, 1]; `targets` default to the predicted classes. For a
        sequence model: raw per-letter maps (N, length, alphabet) (see the module docstring)."""
        x, t = self.checked_inputs(images, targets)
        bs = self._batch(batch_size)
        out = [self._compiled(x[i:i + bs], t[i:i + bs]).numpy() for i in range(0, len(x), bs)]
        return np.concatenate(out).astype(np.float32)

    def _batch(self, batch_size) -> int:
        if not batch_size:
            return self.batch_size
        return self.common["batch_size"].coerce("batch_size", batch_size, self.registry_name)
