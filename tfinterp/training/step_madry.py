"""The ``madry`` training step: cross-entropy on PGD adversarial examples (Madry et al. 2018)."""

from __future__ import annotations

from tfinterp.params import Param
from tfinterp.training.steps import (STEPS, Step, check_classifier, classifier_compile_kwargs, cross_entropy,
                                     eps_param)


@STEPS.register("madry", description="cross-entropy on PGD adversarial examples (Madry et al. 2018), "
                                      "optionally mixed with clean ones")
class MadryStep(Step):
    """Adversarial training: min_theta E[max_{||d|| <= eps} CE(f(x + d), y)].

    Madry, Makelov, Schmidt, Tsipras, Vladu, "Towards Deep Learning Models Resistant to
    Adversarial Attacks", ICLR 2018. The inner maximisation is the library's `PGD`
    (`tfinterp.attacks.pgd`: L-inf or L2 ball, random start), whose in-graph `perturb` runs
    inside the compiled ``train_step``; the examples are made in inference mode (dropout off)
    against the current weights, and the trainer's tape sees only the forward pass on them.
    ``mix`` > 0 adds clean examples: loss = (1 - mix) * CE(x_adv) + mix * CE(x) (terms
    ``ce_adv``, ``ce_clean``); ``mix = 0`` (the default) trains on adversarial examples only.
    Training accuracy is measured on the adversarial examples; validation (``test_step``)
    is on clean images.
    """

    params = {
        "eps": eps_param(0.3),
        "steps": Param(40, int, min=1, doc="PGD steps per batch"),
        "step_size": Param(None, float, min=0.0, min_open=True, none_ok=True,
                           doc="PGD step size (None: 2.5 * eps / steps)"),
        "norm": Param("inf", str, choices=("inf", "l2"), doc="the norm of the eps ball"),
        "random_start": Param(True, bool, doc="start PGD at a uniform point of the ball"),
        "mix": Param(0.0, float, min=0.0, max=1.0, max_open=True,
                     doc="weight of the clean examples' cross-entropy (0: adversarial only)"),
        "seed": Param(None, int, min=0, none_ok=True, doc="seed of PGD's random starts (None: random)"),
    }

    @property
    def terms(self):
        return ("ce_adv", "ce_clean") if self.mix > 0 else ("ce_adv",)

    def check_model(self, model):
        check_classifier(model)

    def build(self, model):
        from tfinterp.attacks.pgd import PGD

        self.attack = PGD(model, eps=self.eps, steps=self.steps, step_size=self.step_size, norm=self.norm,
                          random_start=self.random_start, seed=self.seed)

    def weights(self, model):
        return {"ce_adv": 1.0 - self.mix, "ce_clean": self.mix} if self.mix > 0 else {"ce_adv": 1.0}

    def loss_terms(self, model, x, y, training):
        import tensorflow as tf

        if not training:  # validation: clean images (every term is the clean cross-entropy)
            logits = model(x, training=False)
            ce = cross_entropy(y, logits)
            return {**{t: ce for t in self.terms}, "logits": logits}
        y32 = tf.cast(tf.reshape(y, [-1]), tf.int32)  # once, to the attack's dtype
        x_adv = tf.stop_gradient(self.attack.perturb(tf.cast(x, tf.float32), y32, y32))
        logits_adv = model(x_adv, training=True)
        out = {"ce_adv": cross_entropy(y32, logits_adv), "logits": logits_adv}
        if self.mix > 0:
            out["ce_clean"] = cross_entropy(y32, model(x, training=True))
        return out

    def compile_kwargs(self):
        return classifier_compile_kwargs()
