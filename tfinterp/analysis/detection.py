"""When adversarial images can be told apart: the class-conditional Gaussian detector on the
last conv layer (Dong, Su, Zhu, Bao 2017, "Towards Interpretable Deep Neural Networks by
Leveraging Adversarial Examples", section 4.4; the paper reports ROC AUC 0.82-0.93).

The detector itself is `tfinterp.defenses.detector.GaussianDetector`: per class, a Gaussian
fitted (with Ledoit-Wolf shrinkage) on the representations of real training images; an input
is scored by the log-density of its representation under the class the model predicts, and a
low score flags it. Here it runs on a conv layer, whose [H, W, C] maps are turned into vectors
by ``pool``: ``mean`` (the default: the spatial mean of each channel, C values), ``max``, or
``flatten`` (all H*W*C values; a full covariance in that many dimensions is refused above
`max_dim`, as it would not fit in memory for a conv layer).
"""

from __future__ import annotations

import numpy as np

from tfinterp.errors import UserError


def detector_roc(model, fit_images, fit_labels, real_images, adversarial_images, layer: str = "last_conv",
                 pool: str = "mean", shrinkage: str = "ledoit_wolf", batch_size: int = 256,
                 max_dim: int = 4096) -> dict:
    """ROC of real vs adversarial images under the Gaussian detector at `layer` (Dong et al. 2017).

    Fits on `fit_images` / `fit_labels` (real training images), scores `real_images` and
    `adversarial_images`. Returns {auc, fpr, tpr, natural, adversarial, layer, pool, dim,
    mean_score_real, mean_score_adversarial}.
    """
    from tfinterp.checks import check_classes, check_images, model_num_classes
    from tfinterp.defenses.detector import GaussianDetector, roc
    from tfinterp.models.layers import resolve_layer

    resolve_layer(model, layer)  # an unknown layer: UserError before any work
    xf = check_images(fit_images, model=model, what="fit images")
    yf = check_classes(fit_labels, len(xf), model_num_classes(model), "labels")
    xr = check_images(real_images, model=model, what="real images")
    xa = check_images(adversarial_images, model=model, what="adversarial images")
    det = GaussianDetector(model, layer=layer, shrinkage=shrinkage, batch_size=batch_size, pool=pool)
    probe, _ = det._represent(xf[:1])
    dim = int(probe.shape[1])
    if dim > max_dim:
        raise UserError(f"layer '{layer}' gives {dim}-dimensional vectors with pool '{pool}'; a Gaussian in that "
                        f"many dimensions does not fit in memory (limit {max_dim}): use pool mean or max")
    det.fit(xf, yf)
    s_real, s_adv = det.score(xr), det.score(xa)
    out = roc(s_real, s_adv)
    out.update(layer=layer, pool=pool, dim=dim, shrinkage=shrinkage, fit_examples=int(len(xf)),
               mean_score_real=float(np.mean(s_real)), mean_score_adversarial=float(np.mean(s_adv)))
    return out
