"""The Carlini-Wagner L2 attack (Carlini & Wagner, IEEE S&P 2017)."""

from __future__ import annotations

from tfinterp.attacks.base import Attack, margin, register
from tfinterp.params import Param


@register("cw")
class CarliniWagnerL2(Attack):
    """min ||x' - x||_2^2 + c * f(x') over x' = (tanh(w) + 1) / 2 (scaled to the pixel range).

    Carlini & Wagner, "Towards Evaluating the Robustness of Neural Networks", S&P 2017.
    f(x') = max(z_y - max_{j != y} z_j, -kappa) untargeted, max(max_{j != t} z_j - z_t,
    -kappa) targeted. Adam (``learning_rate``) for ``steps`` iterations per constant c; a
    binary search over c per example (``binary_search_steps``, starting at
    ``initial_const``). Returns, per example, the successful adversarial of smallest L2
    distance found, or the original image when none succeeded. The tanh change of variables
    keeps every iterate inside the pixel range; there is no eps ball (it minimises distance).
    """

    params = {
        "targeted": Param(False, bool, doc="reach the targets instead of leaving the labels"),
        "confidence": Param(0.0, float, min=0.0, doc="kappa, the margin a success must have"),
        "initial_const": Param(0.1, float, min=0.0, min_open=True, doc="the first constant c of the search"),
        "binary_search_steps": Param(6, int, min=1, doc="rounds of the binary search over c"),
        "steps": Param(100, int, min=1, doc="Adam iterations per constant"),
        "learning_rate": Param(0.01, float, min=0.0, min_open=True, doc="Adam's learning rate"),
    }

    def __init__(self, model, **kwargs):
        import tensorflow as tf

        super().__init__(model, **kwargs)
        self._cw_grad = self.graph_function(self._loss_grad, self.image_spec, self.image_spec, self.class_spec,
                                            self.class_spec, tf.TensorSpec((None,), tf.float32))

    def _f(self, logits, labels, targets):
        import tensorflow as tf

        if self.targeted:
            return tf.maximum(-margin(logits, targets), -self.confidence)
        return tf.maximum(margin(logits, labels), -self.confidence)

    def _success(self, logits, labels, targets):
        if self.targeted:
            return margin(logits, targets) > self.confidence
        return margin(logits, labels) < -self.confidence

    def _to_img(self, w):
        import tensorflow as tf

        return (tf.tanh(w) + 1.0) / 2.0 * (self.clip_max - self.clip_min) + self.clip_min

    def _loss_grad(self, w, x, labels, targets, const):
        """(gradient in w, image, logits, squared L2) of ||x' - x||^2 + c * f(x')."""
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(w)
            x_adv = self._to_img(w)
            logits = self.logits(x_adv)
            l2 = tf.reduce_sum(tf.square(x_adv - x), axis=[1, 2, 3])
            loss = l2 + const * self._f(logits, labels, targets)
        return tape.gradient(loss, w), x_adv, logits, l2

    def perturb(self, images, labels, targets):
        import tensorflow as tf

        from tfinterp.ops.optim import adam_update

        x = images
        lo, hi = self.clip_min, self.clip_max
        n = tf.shape(x)[0]
        w0 = tf.atanh(tf.clip_by_value((x - lo) / (hi - lo) * 2.0 - 1.0, -0.999999, 0.999999))
        const = tf.fill([n], self.initial_const)
        lower = tf.zeros([n])
        upper = tf.fill([n], 1e10)
        best_l2 = tf.fill([n], float("inf"))
        best = x
        for _ in tf.range(self.binary_search_steps):
            w = w0
            m = tf.zeros_like(x)
            v = tf.zeros_like(x)
            found = tf.zeros([n], tf.bool)
            for k in tf.range(1, self.steps + 1):
                g, x_adv, logits, l2 = self._cw_grad(w, x, labels, targets, const)
                # the iterate just evaluated: keep it if it succeeds closer than before
                success = self._success(logits, labels, targets)
                improve = success & (l2 < best_l2)
                best = tf.where(improve[:, None, None, None], x_adv, best)
                best_l2 = tf.where(improve, l2, best_l2)
                found = found | success
                step, m, v = adam_update(g, m, v, k, self.learning_rate)
                w = w - step
            # binary search on c: shrink after success, grow after failure
            upper = tf.where(found, tf.minimum(upper, const), upper)
            lower = tf.where(found, lower, tf.maximum(lower, const))
            const = tf.where(upper < 1e9, (lower + upper) / 2.0, const * 10.0)
        return best
