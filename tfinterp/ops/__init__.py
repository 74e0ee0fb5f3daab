"""Tensor operations shared by the families, all usable inside `tf.function`:

- `tfinterp.ops.optim`: the one in-graph Adam (a step function and a minimise loop);
- `tfinterp.ops.image`: blur, jitter, scale, rotate, pad (explainers, feature visualization);
- `tfinterp.ops.norms`: per-example norms and projection onto eps balls (attacks, training).
"""
