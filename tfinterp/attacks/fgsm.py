"""The fast gradient sign method (Goodfellow, Shlens, Szegedy, ICLR 2015)."""

from __future__ import annotations

from tfinterp.attacks.base import Attack, Param, attack_objective, one_of, positive_number, project, register


@register("fgsm")
class FGSM(Attack):
    """FGSM: one step of size eps along the sign of the input gradient of the loss.

    Goodfellow et al., "Explaining and Harnessing Adversarial Examples", ICLR 2015.
    Untargeted: x + eps * sign(grad CE(x, y)); targeted: x - eps * sign(grad CE(x, y*)).
    """

    params = {
        "eps": Param(0.1, positive_number, "a positive number (the L-inf radius)", float),
        "targeted": Param(False, one_of(True, False), "True or False"),
        "loss": Param("ce", one_of("ce", "margin"), "'ce' or 'margin'"),
    }

    def perturb(self, images, labels, targets):
        import tensorflow as tf

        x = images
        with tf.GradientTape() as tape:
            tape.watch(x)
            obj = attack_objective(self.logits(x), labels, targets, self.loss, self.targeted)
        g = tape.gradient(obj, x)
        return project(x + self.eps * tf.sign(g), x, self.eps, "inf", self.clip_min, self.clip_max)
