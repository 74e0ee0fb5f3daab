"""Feature visualization (Olah et al., "Feature Visualization", Distill 2017; Baek et al.,
"Can we interpret the black box?"): objectives that compose (`objectives`), pixel and Fourier
parameterizations with colour decorrelation (`param`), transformation robustness
(`transforms`), regularizers (`regularizers`), the batched in-graph render (`render`) and the
seed's "Madry" method on robust models (`madry_style`).

    from tfinterp.featureviz import render, objectives as obj
    r = render(model, obj.objectives_for_channels("last_conv", range(32)), steps=256)
    r.images  # (32, H, W, C) in [0, 1]; image i maximizes channel i
"""

from tfinterp.featureviz.objectives import (OBJECTIVES, Objective, channel, class_logit, class_prob, direction,
                                            diversity, interpolate, layer_objective, neuron,
                                            objectives_for_channels, parse_objective, per_image)
from tfinterp.featureviz.render import RenderResult, render

__all__ = ["OBJECTIVES", "Objective", "channel", "class_logit", "class_prob", "direction", "diversity",
           "interpolate", "layer_objective", "neuron", "objectives_for_channels", "parse_objective", "per_image",
           "RenderResult", "render"]
