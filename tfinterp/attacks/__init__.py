"""Adversarial attacks over one small base: FGSM, PGD, iterative targeted FGS, the
ensemble-optimization attack and Carlini-Wagner L2, plus target selection and robust
accuracy with random restarts.

``PGD(model, eps=0.1, steps=20, step_size=0.01).attack(images, labels)`` returns NumPy
adversarial images inside [0, 1] and the eps ball; see `tfinterp.attacks.base` for the
contract shared by every attack (and the `ATTACKS` registry), and
`tfinterp.attacks.robust.robust_accuracy` for the worst case over restarts.
"""

from tfinterp.attacks.base import ATTACKS, Attack, get_attack, list_attacks  # noqa: F401
from tfinterp.attacks.carlini_wagner import CarliniWagnerL2  # noqa: F401
from tfinterp.attacks.ensemble import EnsembleAttack  # noqa: F401
from tfinterp.attacks.fgsm import FGSM  # noqa: F401
from tfinterp.attacks.iterative_fgs import IterativeTargetedFGS  # noqa: F401
from tfinterp.attacks.pgd import PGD  # noqa: F401
from tfinterp.attacks.robust import RobustResult, predict_classes, robust_accuracy, robust_evaluation  # noqa: F401
from tfinterp.attacks.targets import (given_targets, least_likely_targets, random_targets,  # noqa: F401
                                      select_targets)
