"""The ensemble-optimization attack of Dong, Su, Zhu, Bao (2017), after Liu et al. (ICLR 2017)."""

from __future__ import annotations

from tfinterp.attacks.base import Attack, ce_loss, register
from tfinterp.checks import model_image_shape, model_num_classes
from tfinterp.errors import UserError
from tfinterp.params import Param


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
        "lam": Param(0.05, float, min=0.0, doc="lambda, the weight of the L2 distance"),
        "steps": Param(20, int, min=1, doc="Adam iterations"),
        "step_size": Param(5.0 / 255, float, min=0.0, min_open=True, doc="Adam's learning rate"),
        "beta1": Param(0.9, float, min=0.0, max=1.0, min_open=True, max_open=True, doc="Adam's beta1"),
        "beta2": Param(0.999, float, min=0.0, max=1.0, min_open=True, max_open=True, doc="Adam's beta2"),
        "eps": Param(None, float, min=0.0, min_open=True, none_ok=True,
                     doc="radius of an L-inf ball to stay in (None: pixel range only)"),
    }

    def __init__(self, model, **kwargs):
        models = list(model) if isinstance(model, (list, tuple)) else [model]
        if not models:
            raise UserError("ensemble: give at least one model")
        self.models = models
        super().__init__(models[0], **kwargs)
        for m in models[1:]:
            if model_image_shape(m) != self.input_shape or model_num_classes(m) != self.num_classes:
                raise UserError(f"ensemble: model '{m.name}' takes {model_image_shape(m)} with "
                                f"{model_num_classes(m)} classes, but '{models[0].name}' takes "
                                f"{self.input_shape} with {self.num_classes}; ensemble models must agree")
        self._ensemble_grad = self.graph_function(self._grad_of_objective, self.image_spec, self.image_spec,
                                                  self.class_spec)

    def _grad_of_objective(self, x_adv, x, targets):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x_adv)
            obj = self.ensemble_objective(x_adv, x, targets)
        return tape.gradient(obj, x_adv)

    def ensemble_objective(self, x_adv, x, targets):
        """Per-example lambda * ||x - x*||_2 + sum_k CE(y*, f_k(x*))."""
        import tensorflow as tf

        from tfinterp.ops.norms import safe_l2

        dist = safe_l2(x_adv - x)  # its gradient at x* == x (the start) is 0, not NaN
        ce = tf.add_n([ce_loss(m(x_adv, training=False), targets) for m in self.models])
        return self.lam * dist + ce

    def perturb(self, images, labels, targets):
        import tensorflow as tf

        from tfinterp.ops.norms import project
        from tfinterp.ops.optim import adam_update

        x = images
        x_adv = x
        m = tf.zeros_like(x)
        v = tf.zeros_like(x)
        for k in tf.range(1, self.steps + 1):
            g = self._ensemble_grad(x_adv, x, targets)
            step, m, v = adam_update(g, m, v, k, self.step_size, self.beta1, self.beta2)
            x_adv = project(x_adv - step, x, self.eps, "inf", self.clip_min, self.clip_max)
        return x_adv
