"""Explainers: one registry (`EXPLAINERS`), one interface
(`get_explainer(name, model, **params).explain(images, targets)`), parameters declared per method.

Built in: gradient saliency (Simonyan et al. 2014), gradient x input, integrated gradients
(Sundararajan et al. 2017), SmoothGrad (Smilkov et al. 2017), Grad-CAM (Selvaraju et al. 2017),
guided feature inversion (Du et al. 2018), occlusion (Zeiler & Fergus 2014), meaningful
perturbation (Fong & Vedaldi 2017), Grid-CAM, guided backprop (Springenberg et al. 2015),
deconvnet, LRP (Bach et al. 2015) and DeepLIFT (Shrikumar et al. 2017); `list_methods()` names
them and `describe()` lists their parameters.
"""

from tfinterp.explain.base import (EXPLAINERS, Explainer, describe, get_explainer, list_methods,  # noqa: F401
                                   normalize_maps, register)
