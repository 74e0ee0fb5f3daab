"""Metrics: explanation quality (Du et al. 2018: localization error, pointing game, salient
objects), running an explainer over a benchmark's images (`explain_set`, `localization_scores`),
and classification (confusion matrix, per-class accuracy)."""

from tfinterp.metrics.localization import (ALPHAS, box_from_map, iou, localization_error,  # noqa: F401
                                           localization_hits, paired_comparison, pointing_game,
                                           salient_object_scores, tune_alpha, wilson_interval)
from tfinterp.metrics.benchmark import (explain_set, hits_string, localization_scores,  # noqa: F401
                                        make_explainer, parse_hits)
from tfinterp.metrics.classification import confusion_matrix, per_class_accuracy, predict_dataset  # noqa: F401
