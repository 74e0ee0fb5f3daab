"""Imports every built-in attack so that it registers itself."""

from tfinterp.attacks.carlini_wagner import CarliniWagnerL2  # noqa: F401
from tfinterp.attacks.ensemble import EnsembleAttack  # noqa: F401
from tfinterp.attacks.fgsm import FGSM  # noqa: F401
from tfinterp.attacks.iterative_fgs import IterativeTargetedFGS  # noqa: F401
from tfinterp.attacks.pgd import PGD  # noqa: F401
from tfinterp.attacks.pgd_kl import KLPGD  # noqa: F401
