"""The ``consistent`` training step: consistent-loss adversarial training (Dong et al. 2017, Eq. 8)."""

from __future__ import annotations

from tfinterp.errors import UserError
from tfinterp.params import Param
from tfinterp.training.steps import STEPS, Step, check_classifier, classifier_compile_kwargs, cross_entropy


@STEPS.register("consistent", description="a*CE(x) + (1-a)*CE(G(x, y*)) + b*||phi(x) - phi(G(x, y*))||^2 "
                                           "(Dong et al. 2017, Eq. 8)")
class ConsistentStep(Step):
    """Adversarial training with a consistent loss on a layer's representation.

    Dong, Su, Zhu, Bao, "Towards Interpretable Deep Neural Networks by Leveraging Adversarial
    Examples" (2017), Eq. 8:

        L = alpha * CE(x, y) + (1 - alpha) * CE(G(x, y*), y) + beta * ||phi(x) - phi(G(x, y*))||^2

    G is `IterativeTargetedFGS` (``steps`` = T signed steps towards y*, pixels clipped, kept in
    the L-inf ball of ``eps`` when given), run in the compiled step; y* is each example's least
    likely class under the current clean logits (``target="least_likely"``) or a uniformly
    random other class (``"random"``), both chosen in-graph. phi is the named ``layer`` (a zoo
    alias such as ``last_conv``, or a layer path), read from the same forward pass as the
    logits; the consistency term is the squared Euclidean distance summed over phi's elements,
    averaged over the batch (the gradient flows through both representations). Terms:
    ``ce_clean``, ``ce_adv``, ``consistency``. ``steps = 0`` makes G the identity (the
    consistency term is then exactly zero). Accuracy is measured on the clean images.
    """

    params = {
        "alpha": Param(0.5, float, min=0.0, max=1.0, doc="weight a of the clean cross-entropy (paper: 0.5)"),
        "beta": Param(0.1, float, min=0.0, doc="weight b of the consistency term (paper: 0.1)"),
        "layer": Param("last_conv", str, doc="the layer phi whose representations are made consistent"),
        "steps": Param(10, int, min=0, doc="T, targeted FGS steps of G (paper: 10; 0: G is the identity)"),
        "step_size": Param(None, float, min=0.0, min_open=True, none_ok=True,
                           doc="size of each signed step (None: 2.5 * eps / steps with eps, else 1/255)"),
        "eps": Param(None, float, min=0.0, max=1.0, min_open=True, none_ok=True,
                     doc="L-inf ball G stays in (None: the pixel range only)"),
        "target": Param("least_likely", str, choices=("least_likely", "random"),
                        doc="y*: each example's least likely class, or a random other class"),
        "seed": Param(None, int, min=0, none_ok=True, doc="seed of the random targets (None: random)"),
    }
    terms = ("ce_clean", "ce_adv", "consistency")

    def check_model(self, model):
        from tfinterp.models.layers import resolve_layer

        check_classifier(model)
        try:
            resolve_layer(model, self.layer)
        except UserError as e:
            raise UserError(f"consistent: layer '{self.layer}' for phi: {e}") from None

    def build(self, model):
        import tensorflow as tf

        from tfinterp.attacks.iterative_fgs import IterativeTargetedFGS
        from tfinterp.checks import model_num_classes
        from tfinterp.models.layers import feature_model

        self.features = feature_model(model, [self.layer], include_output=True)  # shares model's weights
        self.num_classes = model_num_classes(model)
        step = self.step_size
        if step is None:
            step = 2.5 * self.eps / self.steps if (self.eps is not None and self.steps) else 1.0 / 255
        self.attack = None if self.steps == 0 else IterativeTargetedFGS(
            model, steps=self.steps, step_size=step, eps=self.eps)
        self._rng = (tf.random.Generator.from_seed(self.seed) if self.seed is not None
                     else tf.random.Generator.from_non_deterministic_state())

    def weights(self, model):
        return {"ce_clean": self.alpha, "ce_adv": 1.0 - self.alpha, "consistency": self.beta}

    def targets(self, logits, y32):
        """y*: the least likely class under `logits`, or a random class other than `y32`."""
        import tensorflow as tf

        if self.target == "least_likely":
            return tf.argmin(tf.stop_gradient(logits), axis=-1, output_type=tf.int32)
        shift = self._rng.uniform(tf.shape(y32), 1, self.num_classes, dtype=tf.int32)
        return (y32 + shift) % self.num_classes

    def loss_terms(self, model, x, y, training):
        import tensorflow as tf

        x = tf.cast(x, tf.float32)
        y32 = tf.cast(tf.reshape(y, [-1]), tf.int32)  # once, to the attack's dtype
        clean = self.features(x, training=training)
        logits, phi = clean["output"], clean[self.layer]
        if training and self.attack is not None:
            x_adv = tf.stop_gradient(self.attack.perturb(x, y32, self.targets(logits, y32)))
            adv = self.features(x_adv, training=True)
            logits_adv, phi_adv = adv["output"], adv[self.layer]
        else:  # validation, or steps = 0: G is the identity
            logits_adv, phi_adv = logits, phi
        diff = tf.cast(phi, tf.float32) - tf.cast(phi_adv, tf.float32)
        sq = tf.reduce_sum(tf.reshape(tf.square(diff), [tf.shape(diff)[0], -1]), axis=-1)
        return {"ce_clean": cross_entropy(y32, logits), "ce_adv": cross_entropy(y32, logits_adv),
                "consistency": tf.reduce_mean(sq), "logits": logits}

    def compile_kwargs(self):
        return classifier_compile_kwargs()
