"""Defences and detectors: input thresholding with a straight-through gradient (Zheng et
al.) and the class-conditional Gaussian detector on representations (Dong et al.)."""

from tfinterp.defenses.detector import ClassConditionalGaussian, GaussianDetector, roc  # noqa: F401
from tfinterp.defenses.thresholding import (InputThreshold, binarize_straight_through,  # noqa: F401
                                            grid_search_mu, parse_defense, wrap)
