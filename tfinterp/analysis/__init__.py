"""Representation analysis (Dong, Su, Zhu, Bao 2017, "Towards Interpretable Deep Neural
Networks by Leveraging Adversarial Examples", sections 3-4 and 6): dataset examples per
neuron, the WordNet-based LC metric, real-vs-adversarial consistency (CS1 / CS2), the
representation ratios r1 / r2, and tracing a prediction back to its neurons.

Layer 3 (an algorithm package): it may import `models`, `data`, the kit and the other
algorithm packages; its end-to-end jobs live in `tfinterp.runs`, its commands in `cli`.
"""
