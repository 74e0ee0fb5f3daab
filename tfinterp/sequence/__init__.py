"""Model-level views of one-hot sequence models (the survey "Network interpretability",
sections 1.1, 2.1.1 and 3.5): the best-scoring motif window of an attribution map, first-layer
filters as PSSM logos (Fontal 2017), convolution-activation motifs (Alipanahi et al. 2015,
DeepBind), class optimization to a position probability matrix (Simonyan et al. 2014 as
Lanchantin et al. 2016 and Fontal apply it), and their comparison with known PWMs.

Its modules sit beside `tfinterp.featureviz`: they use `tfinterp.data` and `tfinterp.models`,
and `tfinterp.runs` uses them.
"""
