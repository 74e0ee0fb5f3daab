"""Training steps: what one batch costs, as named loss terms. One base, one registry.

A `Step` computes, for one batch, a dict of named scalar loss terms and the logits the
accuracy is reported on; its total loss is the weighted sum of the terms. The trainer
(`tfinterp.training.trainer.StepTrainer`) runs any step inside Keras' ``train_step`` /
``test_step`` with `tf.GradientTape`, logs ``loss``, each term and ``accuracy`` as Keras
metrics, and handles tf.distribute and mixed precision; a step only says what the loss is.

Built in: ``natural`` (cross-entropy: standard training), ``protonet`` (the four-part
loss of Li, Liu, Chen & Rudin, AAAI 2018), and the adversarial steps ``madry`` (PGD
examples: Madry et al. 2018), ``consistent`` (consistent-loss adversarial training: Dong,
Su, Zhu & Bao 2017, Eq. 8) and ``trades`` (Zhang et al. 2019). A new step is one file: a `Step` subclass
decorated with ``@STEPS.register("name")``, its module added to the registry's built-ins.

Steps that attack inside the step (adversarial training: Madry et al. 2018; consistent
loss; TRADES, Zhang et al. 2019) build their attack in `build` and call its in-graph
``perturb`` in `loss_terms`::

    @STEPS.register("madry")
    class MadryStep(Step):
        params = {"eps": Param(0.3, float, min=0, min_open=True), "steps": Param(40, int, min=1)}
        terms = ("ce",)

        def build(self, model):
            from tfinterp.attacks import PGD          # created once, inside the strategy scope
            self.attack = PGD(model, eps=self.eps, steps=self.steps)

        def loss_terms(self, model, x, y, training):
            y32 = tf.cast(y, tf.int32)
            x_adv = tf.stop_gradient(self.attack.perturb(x, y32, y32)) if training else x
            logits = model(x_adv, training=training)
            return {"ce": cross_entropy(y, logits), "logits": logits}

`Attack.perturb(images, labels, targets)` takes and returns tensors and keeps its whole
iteration loop in the graph, so it runs inside the trainer's compiled ``train_step`` (and in
each replica under MirroredStrategy). Keras traces ``train_step`` with AutoGraph off; the
trainer converts `loss_terms` with AutoGraph itself, so a step (and the attack it calls) may
use Python control flow on tensors (``for _ in tf.range(steps)``) as in any `tf.function`. Labels arrive as the data set gives them (int64 for
the library's data): cast them to int32 for an attack. The attack reads the model's current
weights at every call; its gradient tape is its own, so the trainer's tape only sees the
forward pass on the returned images (use `tf.stop_gradient` to make that explicit).
"""

from __future__ import annotations

from tfinterp.errors import UserError
from tfinterp.params import Param, Parameterized
from tfinterp.registry import Registry

STEPS = Registry("training step", builtins=["tfinterp.training.step_natural",
                                             "tfinterp.training.step_protonet",
                                             "tfinterp.training.step_madry",
                                             "tfinterp.training.step_consistent",
                                             "tfinterp.training.step_trades",
                                             "tfinterp.training.encoder_decoder"])

RESERVED = ("loss", "accuracy", "logits")


class Step(Parameterized):
    """Base of every training step (see the module docstring for the contract).

    Subclasses declare ``params`` (a `tfinterp.params.Param` table, validated at
    construction), ``terms`` (the names of the loss terms `loss_terms` returns, in the order
    they are summed) and implement `loss_terms`. `weights` gives each term's weight in the
    total (1 by default). `trains` names the model family a step needs (None: any classifier
    with [N, classes] logits; ``"protonet"``: a `ProtoNet`). `build` is called once with the model, inside the strategy scope,
    before the first batch (create attacks or variables there); `check_model` refuses a model
    the step cannot train with a `UserError`.
    """

    params: dict = {}
    terms: tuple[str, ...] = ()
    trains: str | None = None
    registry_name = "base"

    def __init__(self, **params):
        self.configure(params)
        bad = [t for t in self.terms if t in RESERVED]
        if bad or not self.terms:
            raise ValueError(f"step '{self.registry_name}': terms must be non-empty and avoid {RESERVED}")

    # ---- to override -------------------------------------------------------------------
    def check_model(self, model):
        """Raise `UserError` if this step cannot train `model`."""

    def build(self, model):
        """Create what the step needs for `model` (an attack, variables); called once."""

    def weights(self, model) -> dict:
        """{term: weight} of the total loss (every term 1 unless overridden)."""
        return {t: 1.0 for t in self.terms}

    def loss_terms(self, model, x, y, training: bool) -> dict:
        """{term: float32 scalar tensor for each of `terms`, "logits": [N, classes]} for one batch."""
        raise NotImplementedError

    # ---- shared ------------------------------------------------------------------------
    def total(self, model, out: dict):
        """The weighted sum of the terms in `out`, summed in the order of `terms`."""
        w = self.weights(model)
        total = None
        for t in self.terms:
            part = w[t] * out[t] if w[t] != 1.0 else out[t]
            total = part if total is None else total + part
        return total

    def compile_kwargs(self) -> dict:
        """`compile` arguments the saved model keeps (besides the optimizer), as Keras' own
        training would have given it; empty when the loss is not a Keras loss."""
        return {}

    @property
    def config(self) -> dict:
        return {"step": self.registry_name, **{k: getattr(self, k) for k in self.param_spec()}}


def get_step(step, **params) -> Step:
    """A `Step` from a registered name (with `params`) or a `Step` instance (returned as is)."""
    if isinstance(step, Step):
        if params:
            raise UserError("give step parameters to the step's constructor, not with an instance")
        return step
    if not isinstance(step, str):
        raise UserError(f"step must be a training step name ({', '.join(STEPS.names())}) or a Step")
    return STEPS.create(step, **params)


def cross_entropy(labels, logits):
    """Mean sparse softmax cross-entropy (float32) of integer `labels` under `logits`."""
    import tensorflow as tf

    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(tf.reshape(labels, [-1]), tf.int32), logits=tf.cast(logits, tf.float32)))


def classifier_compile_kwargs() -> dict:
    """What Keras' own classifier training leaves on a saved model: sparse CE from logits and
    ``accuracy`` (the `compile_kwargs` of every step that trains a plain classifier)."""
    import keras

    return {"loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            "metrics": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]}


def check_classifier(model):
    """`UserError` unless `model` outputs [N, classes] logits."""
    from tfinterp.checks import model_num_classes

    model_num_classes(model)


def eps_param(default: float = 0.3) -> Param:
    """The eps-ball radius parameter of the adversarial steps, in (0, 1] (images are in [0, 1])."""
    return Param(default, float, min=0.0, max=1.0, min_open=True,
                 doc="radius of the L-inf (or L2) ball of the adversarial examples, in (0, 1]")
