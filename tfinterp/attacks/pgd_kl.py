"""PGD on the KL divergence from the clean prediction: TRADES' inner maximisation.

Zhang, Yu, Jiao, Xing, El Ghaoui, Jordan, "Theoretically Principled Trade-off between
Robustness and Accuracy" (ICML 2019), Algorithm 1: starting from x + 0.001 * N(0, I), take
`steps` signed (L-inf) or normalised (L2) gradient steps on KL(f(x) || f(x')), each projected
onto the eps ball and the pixel range. It needs no labels: the clean prediction is the anchor.
"""

from __future__ import annotations

from tfinterp.attacks.base import register
from tfinterp.attacks.pgd import PGD
from tfinterp.params import Param


def kl_divergence(p_clean, logits_adv):
    """Per-example KL(p_clean || softmax(logits_adv)) (float32), 0 where they agree."""
    import tensorflow as tf

    logq = tf.nn.log_softmax(tf.cast(logits_adv, tf.float32), axis=-1)
    logp = tf.math.log(tf.maximum(p_clean, 1e-12))
    return tf.reduce_sum(tf.where(p_clean > 0, p_clean * (logp - logq), 0.0), axis=-1)


def kl_from_logits(logits, logits_adv):
    """Per-example KL(softmax(logits) || softmax(logits_adv)) (float32); exactly 0 when they are equal."""
    import tensorflow as tf

    logp = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)
    logq = tf.nn.log_softmax(tf.cast(logits_adv, tf.float32), axis=-1)
    return tf.reduce_sum(tf.exp(logp) * (logp - logq), axis=-1)


@register("pgd_kl")
class KLPGD(PGD):
    """PGD ascending KL(f(x) || f(x')) (TRADES, Zhang et al. 2019); untargeted, label-free.

    It always starts at x + ``start_sigma`` * N(0, I) (TRADES' 0.001): at x itself the KL's
    gradient is zero, and its sign would be round-off noise. One restart only (the KL has no
    success criterion to pick by).
    """

    params = {
        **{k: v for k, v in PGD.params.items() if k not in ("targeted", "loss", "restarts", "random_start")},
        "eps": Param(0.3, float, min=0.0, min_open=True, doc="the radius of the eps ball"),
        "steps": Param(10, int, min=1, doc="projected gradient steps"),
        "start_sigma": Param(0.001, float, min=0.0, min_open=True, doc="std of the Gaussian random start (TRADES: 0.001)"),
    }
    targeted = False
    loss = "kl"
    restarts = 1
    random_start = True
    random_start_required = True  # no deterministic variant: see above
    label_free = True  # untargeted, and the labels are not used either

    def __init__(self, model, **kwargs):
        import tensorflow as tf

        super().__init__(model, **kwargs)
        self._kl_and_grad = self.graph_function(
            self._kl_objective_and_grad, self.image_spec, tf.TensorSpec((None, self.num_classes), tf.float32))

    def _random_start(self, x):
        import tensorflow as tf

        return self.start_sigma * self._rng.normal(tf.shape(x))

    def _kl_objective_and_grad(self, x, p_clean):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            obj = kl_divergence(p_clean, self.logits(x))
        return obj, tape.gradient(obj, x)

    def objective(self, logits, labels, targets):  # used by `attack`'s success bookkeeping only
        raise NotImplementedError("pgd_kl ascends the KL from the clean prediction; use perturb")

    def perturb(self, images, labels, targets):
        import tensorflow as tf

        from tfinterp.ops.norms import batch_norm, project

        x = images
        p_clean = tf.stop_gradient(tf.nn.softmax(tf.cast(self.logits(x), tf.float32), axis=-1))
        x_adv = project(x + self._random_start(x), x, self.eps, self.norm, self.clip_min, self.clip_max)
        for _ in tf.range(self.steps):
            _, g = self._kl_and_grad(x_adv, p_clean)
            step = tf.sign(g) if self.norm == "inf" else g / tf.maximum(batch_norm(g, "l2"), 1e-12)
            x_adv = project(x_adv + self.step_size * step, x, self.eps, self.norm, self.clip_min, self.clip_max)
        return x_adv

