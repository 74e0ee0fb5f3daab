"""The Carlini-Wagner L2 attack (Carlini & Wagner, IEEE S&P 2017)."""

from __future__ import annotations

from tfinterp.attacks.base import (Attack, Param, margin, nonneg_number, one_of, positive_int, positive_number,
                                   register)


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
        "targeted": Param(False, one_of(True, False), "True or False"),
        "confidence": Param(0.0, nonneg_number, "a non-negative number (kappa)", float),
        "initial_const": Param(0.1, positive_number, "a positive number", float),
        "binary_search_steps": Param(6, positive_int, "a positive integer"),
        "steps": Param(100, positive_int, "a positive integer"),
        "learning_rate": Param(0.01, positive_number, "a positive number", float),
    }

    def _f(self, logits, labels, targets):
        import tensorflow as tf

        if self.targeted:
            return tf.maximum(-margin(logits, targets), -self.confidence)
        return tf.maximum(margin(logits, labels), -self.confidence)

    def _success(self, logits, labels, targets):
        if self.targeted:
            return margin(logits, targets) > self.confidence
        return margin(logits, labels) < -self.confidence

    def perturb(self, images, labels, targets):
        import tensorflow as tf

        x = images
        lo, hi = self.clip_min, self.clip_max
        n = tf.shape(x)[0]
        to_img = lambda w: (tf.tanh(w) + 1.0) / 2.0 * (hi - lo) + lo  # noqa: E731
        w0 = tf.atanh(tf.clip_by_value((x - lo) / (hi - lo) * 2.0 - 1.0, -0.999999, 0.999999))
        const = tf.fill([n], self.initial_const)
        lower = tf.zeros([n])
        upper = tf.fill([n], 1e10)
        best_l2 = tf.fill([n], float("inf"))
        best = x
        b1, b2, lr = 0.9, 0.999, self.learning_rate
        for _ in tf.range(self.binary_search_steps):
            w = w0
            m = tf.zeros_like(x)
            v = tf.zeros_like(x)
            found = tf.zeros([n], tf.bool)
            for k in tf.range(1, self.steps + 1):
                with tf.GradientTape() as tape:
                    tape.watch(w)
                    x_adv = to_img(w)
                    logits = self.logits(x_adv)
                    l2 = tf.reduce_sum(tf.square(x_adv - x), axis=[1, 2, 3])
                    loss = l2 + const * self._f(logits, labels, targets)
                g = tape.gradient(loss, w)
                # the iterate just evaluated: keep it if it succeeds closer than before
                success = self._success(logits, labels, targets)
                improve = success & (l2 < best_l2)
                best = tf.where(improve[:, None, None, None], x_adv, best)
                best_l2 = tf.where(improve, l2, best_l2)
                found = found | success
                m = b1 * m + (1 - b1) * g
                v = b2 * v + (1 - b2) * tf.square(g)
                kf = tf.cast(k, tf.float32)
                w = w - lr * (m / (1 - tf.pow(b1, kf))) / (tf.sqrt(v / (1 - tf.pow(b2, kf))) + 1e-8)
            # binary search on c: shrink after success, grow after failure
            upper = tf.where(found, tf.minimum(upper, const), upper)
            lower = tf.where(found, lower, tf.maximum(lower, const))
            const = tf.where(upper < 1e9, (lower + upper) / 2.0, const * 10.0)
        return best
