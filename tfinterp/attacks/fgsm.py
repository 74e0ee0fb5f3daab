"""The fast gradient sign method (Goodfellow, Shlens, Szegedy, ICLR 2015)."""

from __future__ import annotations

from tfinterp.attacks.base import Attack, attack_objective, register
from tfinterp.params import Param


@register("fgsm")
class FGSM(Attack):
    """FGSM: one step of size eps along the sign of the input gradient of the loss.

    Goodfellow et al., "Explaining and Harnessing Adversarial Examples", ICLR 2015.
    Untargeted: x + eps * sign(grad CE(x, y)); targeted: x - eps * sign(grad CE(x, y*)).
    """

    params = {
        "eps": Param(0.1, float, min=0.0, min_open=True, doc="the L-inf radius (the step)"),
        "targeted": Param(False, bool, doc="step towards the targets instead of away from the labels"),
        "loss": Param("ce", str, choices=("ce", "margin"), doc="cross-entropy or the C&W margin"),
    }

    def objective(self, logits, labels, targets):
        return attack_objective(logits, labels, targets, self.loss, self.targeted)

    def perturb(self, images, labels, targets):
        import tensorflow as tf

        from tfinterp.ops.norms import project

        x = images
        _, g = self.objective_and_grad(x, labels, targets)
        return project(x + self.eps * tf.sign(g), x, self.eps, "inf", self.clip_min, self.clip_max)
