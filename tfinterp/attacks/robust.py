"""Robust accuracy with random restarts: an example counts as robust only if every run fails.

The protocol of Madry et al. (ICLR 2018, Sec. 5: PGD "with random restarts", the accuracy
being that of the worst case over all runs) and of Carlini et al., "On Evaluating Adversarial
Robustness" (2019, Sec. 4.4: report the per-example worst case over attacks and restarts).
An example is robust when the model classifies it correctly before the attack and after
every run of every attack given; each attack is run `restarts` times, its random start
advancing between runs (a seeded attack gives the same sequence of runs every time).

``robust_accuracy(model, x, y, PGD(model, eps=0.1, seed=0), restarts=5)`` is the number;
`robust_evaluation` also returns the per-example mask, the adversarial that broke each
example and a row per run.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field

import numpy as np

from tfinterp.checks import check_classes, check_images, model_input_shape, model_num_classes
from tfinterp.errors import UserError
from tfinterp.params import Param

_COUNT = Param(1, int, min=1)

_PREDICT = weakref.WeakKeyDictionary()


def predict_classes(model, images, batch_size: int = 256) -> np.ndarray:
    """Arg-max predictions, batched (one compiled function per model, traced once)."""
    import tensorflow as tf

    fn = _PREDICT.get(model)
    if fn is None:
        ref = weakref.ref(model)
        spec = tf.TensorSpec((None,) + model_input_shape(model), tf.float32)
        fn = tf.function(lambda x: tf.argmax(ref()(x, training=False), axis=-1), input_signature=[spec])
        _PREDICT[model] = fn
    x = np.asarray(images, np.float32)
    if len(x) == 0:
        return np.zeros([0], np.int64)
    return np.concatenate([fn(x[i:i + batch_size]).numpy() for i in range(0, len(x), batch_size)])


@dataclass
class RobustResult:
    """What `robust_evaluation` found.

    accuracy: robust accuracy (fraction of examples correct before and after every run);
    clean_accuracy: accuracy before any attack; robust: the per-example mask;
    adversarial: per example, the adversarial of the first run that broke it (the first run's
    output when none did; the clean image for an example misclassified from the start that
    was not attacked); runs: one row per run (attack config, restart, examples attacked,
    the fraction of them still correct, the running robust accuracy, seconds, max L-inf).
    """

    accuracy: float
    clean_accuracy: float
    robust: np.ndarray
    adversarial: np.ndarray
    runs: list = field(default_factory=list)

    def as_dict(self) -> dict:
        """The numbers, for a JSON summary (without the arrays)."""
        return {"robust_accuracy": self.accuracy, "clean_accuracy": self.clean_accuracy,
                "examples": int(len(self.robust)), "runs": self.runs}


def robust_evaluation(model, images, labels, attack, restarts: int = 1, targets=None, batch_size: int = 256,
                      attack_all: bool = False) -> RobustResult:
    """Worst case of `model` over `restarts` runs of each attack in `attack` (one or a list).

    The attacks may be built on another model than `model` (a transfer attack, or the
    undefended model behind a defence); `model` is the one whose predictions count. Targeted
    attacks get `targets` (one class per example, or one for all); success is still judged
    by misclassification. By default each run attacks only the examples that every earlier
    run failed to break (and none misclassified from the start): the same answer, cheaper.
    ``attack_all=True`` attacks every example in every run (the protocol of
    `benchmarks/bench_attacks_quality.py`, whose numbers it reproduces run for run).
    """
    from tfinterp.attacks.base import Attack

    attacks = list(attack) if isinstance(attack, (list, tuple)) else [attack]
    if not attacks or not all(isinstance(a, Attack) for a in attacks):
        raise UserError("robust accuracy needs one attack or a list of attacks (tfinterp.attacks.Attack)")
    restarts = _COUNT.coerce("restarts", restarts, "robust accuracy")
    batch_size = _COUNT.coerce("batch_size", batch_size, "robust accuracy")
    x = check_images(images, model_input_shape(model))
    k = model_num_classes(model)
    y = check_classes(labels, len(x), k, "labels")
    t = None
    if any(a.is_targeted for a in attacks):
        if targets is None:
            names = ", ".join(a.attack_name for a in attacks if a.is_targeted)
            raise UserError(f"{names} is targeted: give targets (see tfinterp.attacks.targets)")
        t = check_classes(targets, len(x), k, "targets")

    correct = predict_classes(model, x, batch_size) == y
    clean = float(correct.mean())
    robust = correct.copy()
    adversarial = x.copy()
    first = True
    runs = []
    for atk in attacks:
        for r in range(restarts):
            idx = np.arange(len(x)) if attack_all else np.flatnonzero(robust)
            row = {"attack": atk.config, "restart": r, "examples": int(len(idx))}
            t0 = time.perf_counter()
            if len(idx):
                adv = atk.attack(x[idx], y[idx], t[idx] if atk.is_targeted else None)
                ok = predict_classes(model, adv, batch_size) == y[idx]
                broken = robust[idx] & ~ok
                adversarial[idx[broken]] = adv[broken]
                if first:  # examples no run breaks keep the first run's output
                    keep = ~broken
                    adversarial[idx[keep]] = adv[keep]
                robust[idx[~ok]] = False
                row.update(still_correct=float(ok.mean()), max_linf=float(np.abs(adv - x[idx]).max()))
            else:
                row.update(still_correct=None, max_linf=0.0)
            first = False
            row.update(robust_accuracy=float(robust.mean()), seconds=time.perf_counter() - t0)
            runs.append(row)
    return RobustResult(float(robust.mean()), clean, robust, adversarial, runs)


def robust_accuracy(model, images, labels, attack, restarts: int = 1, targets=None, batch_size: int = 256,
                    attack_all: bool = False) -> float:
    """Robust accuracy of `model`: the fraction of examples classified correctly before the
    attack and after every one of `restarts` runs of each attack (Madry et al. 2018's worst
    case over random restarts). See `robust_evaluation` for the arguments and the details."""
    return robust_evaluation(model, images, labels, attack, restarts, targets, batch_size, attack_all).accuracy
