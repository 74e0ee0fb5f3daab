"""The ``trades`` training step: CE(x) + beta * KL(f(x) || f(x')) (Zhang et al., ICML 2019)."""

from __future__ import annotations

from tfinterp.params import Param
from tfinterp.training.steps import (STEPS, Step, check_classifier, classifier_compile_kwargs, cross_entropy,
                                     eps_param)


@STEPS.register("trades", description="CE(x) + beta * KL(f(x) || f(x')), x' from PGD on the KL "
                                       "(Zhang et al. 2019)")
class TradesStep(Step):
    """TRADES: min_theta CE(f(x), y) + beta * max_{||x' - x|| <= eps} KL(f(x) || f(x')).

    Zhang, Yu, Jiao, Xing, El Ghaoui, Jordan, "Theoretically Principled Trade-off between
    Robustness and Accuracy", ICML 2019. x' comes from `KLPGD` (`tfinterp.attacks.pgd_kl`:
    start x + 0.001 N(0, I), signed steps on the KL, projected), made in the compiled step;
    the outer loss differentiates both f(x) and f(x') as in the authors' code. Terms ``ce``
    and ``kl`` (the mean per-example KL, weighted by ``beta``). ``steps = 0`` makes x' = x
    (the KL term is then exactly zero). Accuracy is measured on the clean images.
    """

    params = {
        "beta": Param(6.0, float, min=0.0, doc="weight of the KL term (TRADES: 6)"),
        "eps": eps_param(0.3),
        "steps": Param(10, int, min=0, doc="PGD steps on the KL per batch (0: x' = x)"),
        "step_size": Param(None, float, min=0.0, min_open=True, none_ok=True,
                           doc="step size (None: 2.5 * eps / steps)"),
        "norm": Param("inf", str, choices=("inf", "l2"), doc="the norm of the eps ball"),
        "seed": Param(None, int, min=0, none_ok=True, doc="seed of the random start (None: random)"),
    }
    terms = ("ce", "kl")

    def check_model(self, model):
        check_classifier(model)

    def build(self, model):
        from tfinterp.attacks.pgd_kl import KLPGD

        self.attack = None if self.steps == 0 else KLPGD(
            model, eps=self.eps, steps=self.steps, step_size=self.step_size, norm=self.norm, seed=self.seed)

    def weights(self, model):
        return {"ce": 1.0, "kl": self.beta}

    def loss_terms(self, model, x, y, training):
        import tensorflow as tf

        from tfinterp.attacks.pgd_kl import kl_from_logits

        x = tf.cast(x, tf.float32)
        logits = model(x, training=training)
        if training and self.attack is not None:
            unused = tf.zeros([tf.shape(x)[0]], tf.int32)  # the KL attack needs no labels
            x_adv = tf.stop_gradient(self.attack.perturb(x, unused, unused))
            logits_adv = model(x_adv, training=True)
        else:  # validation, or steps = 0: x' = x, and the KL term is exactly 0
            logits_adv = logits
        return {"ce": cross_entropy(y, logits), "kl": tf.reduce_mean(kl_from_logits(logits, logits_adv)),
                "logits": logits}

    def compile_kwargs(self):
        return classifier_compile_kwargs()
