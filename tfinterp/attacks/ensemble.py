"""The ensemble-optimization attack of Dong, Su, Zhu, Bao (2017), after Liu et al. (ICLR 2017)."""

from __future__ import annotations

from tfinterp.attacks.base import (Attack, Param, ce_loss, model_num_classes, nonneg_number, positive_int,
                                   positive_number, project, register)
from tfinterp.errors import UserError


@register("ensemble")
class EnsembleAttack(Attack):
    """argmin_x* lambda * ||x - x*||_2 + sum_k CE(1_{y*}, f_k(x*)), solved with Adam.

    Dong et al., "Towards Interpretable Deep Neural Networks by Leveraging Adversarial
    Examples" (2017), Eq. (1): an ensemble of k models, targets such as the least-likely
    classes (`tfinterp.attacks.targets.least_likely_targets`), Adam with step 5 (on the
    0-255 scale, so 5/255 here) for 10-20 iterations. `model` is one model or a list of
    models that take the same images and have the same classes. Each Adam step is followed
    by clipping to the pixel range (and to an L-inf ball of radius ``eps`` when given).
    """

    targeted_only = True
    params = {
        "lam": Param(0.05, nonneg_number, "a non-negative number (lambda, the L2 weight)", float),
        "steps": Param(20, positive_int, "a positive integer"),
        "step_size": Param(5.0 / 255, positive_number, "a positive number (Adam's learning rate)", float),
        "beta1": Param(0.9, lambda v: positive_number(v) and v < 1, "a number in (0, 1)", float),
        "beta2": Param(0.999, lambda v: positive_number(v) and v < 1, "a number in (0, 1)", float),
        "eps": Param(None, lambda v: v is None or positive_number(v), "None or a positive number"),
    }

    def __init__(self, model, **kwargs):
        models = list(model) if isinstance(model, (list, tuple)) else [model]
        if not models:
            raise UserError("ensemble: give at least one model")
        self.models = models
        super().__init__(models[0], **kwargs)
        from tfinterp.data.imageio import model_input_shape

        for m in models[1:]:
            if model_input_shape(m) != self.input_shape or model_num_classes(m) != self.num_classes:
                raise UserError(f"ensemble: model '{m.name}' takes {model_input_shape(m)} with "
                                f"{model_num_classes(m)} classes, but '{models[0].name}' takes "
                                f"{self.input_shape} with {self.num_classes}; ensemble models must agree")

    def objective(self, x_adv, x, targets):
        """Per-example lambda * ||x - x*||_2 + sum_k CE(y*, f_k(x*))."""
        import tensorflow as tf

        # a safe Euclidean norm: its gradient at x* == x (the start) is 0, not NaN
        sq = tf.reduce_sum(tf.square(x_adv - x), axis=[1, 2, 3])
        dist = tf.where(sq > 0, tf.sqrt(tf.maximum(sq, 1e-20)), tf.zeros_like(sq))
        ce = tf.add_n([ce_loss(m(x_adv, training=False), targets) for m in self.models])
        return self.lam * dist + ce

    def perturb(self, images, labels, targets):
        import tensorflow as tf

        x = images
        x_adv = x
        m = tf.zeros_like(x)
        v = tf.zeros_like(x)
        b1, b2, lr = self.beta1, self.beta2, self.step_size
        for k in tf.range(1, self.steps + 1):
            with tf.GradientTape() as tape:
                tape.watch(x_adv)
                obj = self.objective(x_adv, x, targets)
            g = tape.gradient(obj, x_adv)
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * tf.square(g)
            kf = tf.cast(k, tf.float32)
            m_hat = m / (1 - tf.pow(b1, kf))
            v_hat = v / (1 - tf.pow(b2, kf))
            x_adv = project(x_adv - lr * m_hat / (tf.sqrt(v_hat) + 1e-8), x, self.eps, "inf",
                            self.clip_min, self.clip_max)
        return x_adv
