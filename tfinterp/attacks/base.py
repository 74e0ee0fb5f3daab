"""The attack interface shared by every adversarial attack.

``Attack(model, **params).attack(images, labels, targets=None)`` returns a float32 NumPy
array of adversarial images, the same shape as `images`. Parameters are declared in
`tfinterp.params.Param` tables (the common ``batch_size``, ``clip_min``, ``clip_max``,
``seed`` plus each attack's own) and validated once, at construction: unknown names, wrong
types and out-of-range values are `UserError`s naming the parameter, and strings (a CLI
``--param steps=20``) are converted by the table. Subclasses implement
`perturb(images, labels, targets)` on one batch as TensorFlow ops, with the whole iteration
loop inside; the base compiles it once with `tf.function` and a fixed input signature (no
retracing per batch), validates inputs (`tfinterp.checks`) and batches. Every iterate is
projected onto the eps ball (when the attack has one) and the pixel range
[clip_min, clip_max] (`tfinterp.ops.norms.project`). The user's model is never modified.

`perturb` is also usable directly inside another `tf.function` (an adversarial training
step): it takes and returns tensors and never leaves the graph.

Attacks register in `ATTACKS` (``@register("name")``); `get_attack(name, model, **params)`
builds one by name, `list_attacks()` lists them.
"""

from __future__ import annotations

import numpy as np

from tfinterp.checks import check_classes, check_images, model_image_shape, model_num_classes
from tfinterp.errors import UserError
from tfinterp.params import Param, Parameterized
from tfinterp.registry import Registry

ATTACKS = Registry("attack", builtins="tfinterp.attacks.methods")

register = ATTACKS.register


def list_attacks() -> list[str]:
    """The names of the registered attacks, sorted."""
    return ATTACKS.names()


def get_attack(name: str, model, **params):
    """Instantiate the attack registered under `name` (see `list_attacks()`)."""
    return ATTACKS.create(name, model, **params)


class Attack(Parameterized):
    """Base class of all attacks (see the module docstring for the contract).

    Subclasses declare ``params = {name: Param(...)}`` and implement `perturb`.
    Every attack also takes the `common` parameters: ``batch_size``, the pixel range
    ``clip_min`` / ``clip_max`` and ``seed`` (of the random starts, for attacks that have them).
    """

    registry_name = "base"
    targeted_only = False
    common = {
        "batch_size": Param(256, int, min=1, doc="images per compiled call"),
        "clip_min": Param(0.0, float, doc="lowest pixel value"),
        "clip_max": Param(1.0, float, doc="highest pixel value"),
        "seed": Param(None, int, min=0, none_ok=True, doc="seed of the attack's random numbers (None: random)"),
    }
    params: dict[str, Param] = {}

    @classmethod
    def param_spec(cls) -> dict[str, Param]:
        """The common table followed by the attack's own."""
        return {**cls.common, **cls.params}

    def __init__(self, model, **kwargs):
        import tensorflow as tf

        self.model = model
        self.configure(kwargs)
        if not self.clip_min < self.clip_max:
            raise UserError(f"{self.attack_name}: clip_min {self.clip_min} must be below clip_max {self.clip_max}")
        self.validate()
        self.input_shape = model_image_shape(model)
        self.num_classes = model_num_classes(model)
        self._rng = tf.random.Generator.from_seed(self.seed) if self.seed is not None else \
            tf.random.Generator.from_non_deterministic_state()
        self.image_spec = tf.TensorSpec((None,) + self.input_shape, tf.float32)
        self.class_spec = tf.TensorSpec((None,), tf.int32)
        sig = [self.image_spec, self.class_spec, self.class_spec]
        self._compiled = tf.function(self.perturb, input_signature=sig)
        self.objective_and_grad = self.graph_function(self._objective_and_grad, *sig)

    @property
    def attack_name(self) -> str:
        """The registered name (the owner named in parameter errors)."""
        return self.registry_name

    @staticmethod
    def graph_function(fn, *specs):
        """`tf.function` for the model's forward + backward pass, called from the attack loop.

        Marked not-to-inline: TensorFlow's graph optimiser (op fusion, oneDNN layouts) does not
        rewrite the body of a while loop, but it does optimise a function called from it. This
        keeps each iteration of the in-graph loop as fast as a plain compiled gradient call.
        """
        import tensorflow as tf

        return tf.function(fn, input_signature=list(specs), experimental_attributes={"_noinline": True})

    def objective(self, logits, labels, targets):
        """Per-example objective the attack ascends (subclasses using `objective_and_grad` override)."""
        raise NotImplementedError

    def _objective_and_grad(self, x, labels, targets):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            obj = self.objective(self.logits(x), labels, targets)
        # per-example objectives: the gradient of their sum is each example's own gradient
        return obj, tape.gradient(obj, x)

    def validate(self):
        """Cross-parameter checks of a subclass (raise `UserError`)."""

    @property
    def is_targeted(self) -> bool:
        return bool(getattr(self, "targeted", self.targeted_only))

    @property
    def bound(self) -> tuple[float, str] | None:
        """(eps, norm) of the ball every output stays in, or None when the attack has no ball
        (Carlini-Wagner minimises the distance instead; ``eps=None`` leaves only the pixel range)."""
        eps = getattr(self, "eps", None)
        return None if eps is None else (float(eps), getattr(self, "norm", "inf"))

    @property
    def stochastic(self) -> bool:
        """True when the output depends on random numbers (drawn from ``seed``), so it depends
        on how the images are batched; a deterministic attack gives the same images for any
        ``batch_size``."""
        return False

    def perturb(self, images, labels, targets):
        """Adversarial images for one batch, as TensorFlow ops (subclasses override)."""
        raise NotImplementedError

    def logits(self, x):
        return self.model(x, training=False)

    def check_targets(self, n: int, labels: np.ndarray, targets) -> np.ndarray:
        """The classes `perturb` receives as targets: checked targets (targeted) or the labels."""
        if self.is_targeted:
            if targets is None:
                raise UserError(f"{self.attack_name} is targeted: give targets (see tfinterp.attacks.targets: "
                                "random_targets, least_likely_targets)")
            return check_classes(targets, n, self.num_classes, "targets")
        if targets is not None:
            raise UserError(f"{self.attack_name} is untargeted: targets were given; "
                            "pass targeted=True to aim at them")
        return labels

    def attack(self, images, labels, targets=None) -> np.ndarray:
        """Adversarial versions of `images` (float32 NumPy, same shape), batched and compiled.

        `labels` are the true classes; `targets` the classes a targeted attack aims at (one
        per image, or one for all; see `tfinterp.attacks.targets` for random / least-likely).
        """
        x = check_images(images, self.input_shape)
        y = check_classes(labels, len(x), self.num_classes, "labels")
        t = self.check_targets(len(x), y, targets)
        bs = int(self.batch_size)
        out = [self._compiled(x[i:i + bs], y[i:i + bs], t[i:i + bs]).numpy() for i in range(0, len(x), bs)]
        squeeze = np.asarray(images).ndim == 3
        adv = np.concatenate(out).astype(np.float32)
        return adv[0] if squeeze else adv


# ---- tensor helpers shared by the attacks ---------------------------------------------------

def ce_loss(logits, classes):
    """Per-example cross-entropy of integer `classes` under `logits`."""
    import tensorflow as tf

    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=classes, logits=tf.cast(logits, tf.float32))


def margin(logits, classes):
    """Per-example C&W margin z_c - max_{j != c} z_j (Carlini & Wagner 2017)."""
    import tensorflow as tf

    logits = tf.cast(logits, tf.float32)
    onehot = tf.one_hot(classes, tf.shape(logits)[-1], dtype=logits.dtype)
    own = tf.reduce_sum(logits * onehot, axis=-1)
    other = tf.reduce_max(logits - 1e9 * onehot, axis=-1)
    return own - other


def attack_objective(logits, labels, targets, loss: str, targeted: bool):
    """Per-example objective an attack ascends: untargeted raises the loss of the true class,
    targeted lowers the loss of the target class."""
    if loss == "ce":
        return -ce_loss(logits, targets) if targeted else ce_loss(logits, labels)
    return margin(logits, targets) if targeted else -margin(logits, labels)
