"""Explainers: one interface (`Explainer(model, **params).explain(images, targets)`).

Built in now: ``gradient`` (Simonyan et al. 2014) and ``gradcam`` (Selvaraju et al. 2017);
guided feature inversion (Du et al. 2018) and the rest of the attribution family follow.
"""

from tfinterp.explain.base import Explainer, get_explainer, list_methods, normalize_maps  # noqa: F401
