"""Iterative targeted fast gradient sign: the generator G(x, y*) of consistent-loss training.

Dong, Su, Zhu, Bao, "Towards Interpretable Deep Neural Networks by Leveraging Adversarial
Examples" (2017), Sec. 4: G takes T steps of targeted FGS towards y*, clipping pixels to
the valid range (Kurakin, Goodfellow, Bengio 2017's iterative method).
"""

from __future__ import annotations

from tfinterp.attacks.base import (Attack, Param, ce_loss, positive_int, positive_number, project,
                                   register)


@register("ifgs")
class IterativeTargetedFGS(Attack):
    """T steps x <- clip(x - step_size * sign(grad CE(f(x), y*))) towards the target y*.

    Dong et al. 2017 (consistent-loss adversarial training, G(x, y*) with T = 10).
    Pixels are clipped to [clip_min, clip_max] after every step; with ``eps`` set, the
    iterate is also kept in the L-inf ball of radius eps around x. Always targeted:
    ``attack(images, labels, targets)`` needs targets, and `perturb(x, labels, targets)`
    can be called inside a training step's `tf.function`.
    """

    targeted_only = True
    params = {
        "steps": Param(10, positive_int, "a positive integer (T)"),
        "step_size": Param(1.0 / 255, positive_number, "a positive number", float),
        "eps": Param(None, lambda v: v is None or positive_number(v), "None or a positive number"),
    }

    def perturb(self, images, labels, targets):
        import tensorflow as tf

        x = images
        x_adv = x
        for _ in tf.range(self.steps):
            with tf.GradientTape() as tape:
                tape.watch(x_adv)
                loss = ce_loss(self.logits(x_adv), targets)
            g = tape.gradient(loss, x_adv)
            x_adv = project(x_adv - self.step_size * tf.sign(g), x, self.eps, "inf", self.clip_min, self.clip_max)
        return x_adv
