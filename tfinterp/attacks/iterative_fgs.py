"""Iterative targeted fast gradient sign: the generator G(x, y*) of consistent-loss training.

Dong, Su, Zhu, Bao, "Towards Interpretable Deep Neural Networks by Leveraging Adversarial
Examples" (2017), Sec. 4: G takes T steps of targeted FGS towards y*, clipping pixels to
the valid range (Kurakin, Goodfellow, Bengio 2017's iterative method).
"""

from __future__ import annotations

from tfinterp.attacks.base import Attack, ce_loss, register
from tfinterp.params import Param


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
        "steps": Param(10, int, min=1, doc="T, the number of signed steps"),
        "step_size": Param(1.0 / 255, float, min=0.0, min_open=True, doc="the size of each signed step"),
        "eps": Param(None, float, min=0.0, min_open=True, none_ok=True,
                     doc="radius of an L-inf ball to stay in (None: pixel range only)"),
    }

    def objective(self, logits, labels, targets):
        return -ce_loss(logits, targets)

    def perturb(self, images, labels, targets):
        import tensorflow as tf

        from tfinterp.ops.norms import project

        x = images
        x_adv = x
        for _ in tf.range(self.steps):
            _, g = self.objective_and_grad(x_adv, labels, targets)  # ascends -CE(y*)
            x_adv = project(x_adv + self.step_size * tf.sign(g), x, self.eps, "inf", self.clip_min, self.clip_max)
        return x_adv
