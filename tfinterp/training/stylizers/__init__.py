"""Stylizers: style-transfer augmentation for shape-biased training (Zheng et al., "Insights
from Attacking Interpretable Models", section 4; Geirhos et al. 2019). One base and one
registry (`tfinterp.training.stylizers.base`), one file per stylizer."""
