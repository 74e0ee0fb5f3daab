"""Projected gradient descent (Madry, Makelov, Schmidt, Tsipras, Vladu, ICLR 2018)."""

from __future__ import annotations

from tfinterp.attacks.base import Attack, attack_objective, margin, register
from tfinterp.errors import UserError
from tfinterp.params import Param


@register("pgd")
class PGD(Attack):
    """PGD: `steps` gradient-ascent steps on the loss, each projected onto the eps ball.

    Madry et al., "Towards Deep Learning Models Resistant to Adversarial Attacks", ICLR 2018.
    ``norm="inf"`` takes signed steps and clips to the L-inf ball; ``norm="l2"`` takes steps
    along the L2-normalised gradient and rescales onto the L2 ball. ``random_start`` begins
    at a uniform point of the ball; with ``restarts > 1`` each example keeps its worst case
    over the restarts (a successful adversarial first, then the highest loss).
    ``loss="margin"`` uses the C&W margin instead of cross-entropy. Untargeted attacks push
    away from ``labels``; ``targeted=True`` pulls towards ``targets``.
    """

    params = {
        "eps": Param(0.3, float, min=0.0, min_open=True, doc="the radius of the eps ball"),
        "steps": Param(40, int, min=1, doc="projected gradient steps per restart"),
        "step_size": Param(None, float, min=0.0, min_open=True, none_ok=True,
                           doc="the size of each step (None: 2.5 * eps / steps)"),
        "norm": Param("inf", str, choices=("inf", "l2"), doc="the norm of the eps ball"),
        "targeted": Param(False, bool, doc="pull towards the targets instead of away from the labels"),
        "loss": Param("ce", str, choices=("ce", "margin"), doc="cross-entropy or the C&W margin"),
        "random_start": Param(True, bool, doc="start at a uniform point of the ball"),
        "restarts": Param(1, int, min=1, doc="runs per example; each keeps its worst case"),
    }

    def validate(self):
        if self.step_size is None:  # Madry et al.'s convention: 2.5 * eps / steps
            self.step_size = 2.5 * self.eps / self.steps
        self.step_size = float(self.step_size)
        if self.norm == "inf" and self.eps > self.clip_max - self.clip_min:
            raise UserError(f"pgd: eps {self.eps} is larger than the pixel range; nothing would constrain it")

    @property
    def stochastic(self) -> bool:
        return bool(self.random_start)

    def _random_start(self, x):
        import tensorflow as tf

        from tfinterp.ops.norms import batch_norm

        if self.norm == "inf":
            noise = self._rng.uniform(tf.shape(x), -self.eps, self.eps)
        else:  # uniform in the L2 ball: Gaussian direction, radius eps * U^(1/d)
            d = tf.cast(tf.reduce_prod(tf.shape(x)[1:]), tf.float32)
            direction = self._rng.normal(tf.shape(x))
            direction = direction / tf.maximum(batch_norm(direction, "l2"), 1e-12)
            radius = self.eps * self._rng.uniform([tf.shape(x)[0], 1, 1, 1]) ** (1.0 / d)
            noise = direction * radius
        return noise

    def objective(self, logits, labels, targets):
        return attack_objective(logits, labels, targets, self.loss, self.targeted)

    def _success(self, logits, labels, targets):
        import tensorflow as tf

        pred = tf.argmax(logits, axis=-1, output_type=tf.int32)
        return tf.equal(pred, targets) if self.targeted else tf.not_equal(pred, labels)

    def _run(self, x, labels, targets):
        """One restart: random start, then `steps` projected steps (a tf.while_loop)."""
        import tensorflow as tf

        from tfinterp.ops.norms import batch_norm, project

        eps, alpha, norm = self.eps, self.step_size, self.norm
        lo, hi = self.clip_min, self.clip_max
        x_adv = x + self._random_start(x) if self.random_start else x
        x_adv = project(x_adv, x, eps, norm, lo, hi)
        for _ in tf.range(self.steps):
            _, g = self.objective_and_grad(x_adv, labels, targets)
            if norm == "inf":
                step = tf.sign(g)
            else:
                step = g / tf.maximum(batch_norm(g, "l2"), 1e-12)
            x_adv = project(x_adv + alpha * step, x, eps, norm, lo, hi)
        return x_adv

    def perturb(self, images, labels, targets):
        import tensorflow as tf

        x = images
        if self.restarts == 1:
            return self._run(x, labels, targets)
        n = tf.shape(x)[0]
        best = x
        best_success = tf.zeros([n], tf.bool)
        best_obj = tf.fill([n], -float("inf"))
        for _ in tf.range(self.restarts):
            x_adv = self._run(x, labels, targets)
            logits = self.logits(x_adv)
            success = self._success(logits, labels, targets)
            obj = self.objective(logits, labels, targets)
            better = (success & ~best_success) | (tf.equal(success, best_success) & (obj > best_obj))
            best = tf.where(better[:, None, None, None], x_adv, best)
            best_success = best_success | success
            best_obj = tf.where(better, obj, best_obj)
        return best


__all__ = ["PGD", "margin"]
