"""The class-conditional Gaussian detector of adversarial inputs.

Dong, Su, Zhu, Bao, "Towards Interpretable Deep Neural Networks by Leveraging Adversarial
Examples" (2017), Sec. 2.4: p(phi(x) | y = i) = N(mu_i, Sigma_i) fitted on training
representations of class i; an input is scored by the log-probability of its
representation under the class the model predicts, and adversarial inputs (whose
representations are inconsistent with real ones) score low. Covariances are fitted with
a shrinkage estimator (Ledoit-Wolf) so they stay well conditioned when a class has fewer
examples than the representation has dimensions.
"""

from __future__ import annotations

import numpy as np

from tfinterp.errors import UserError


class ClassConditionalGaussian:
    """Per-class mean and shrunk covariance of feature vectors; log-densities N(f; mu_c, Sigma_c)."""

    def __init__(self, shrinkage: str = "ledoit_wolf"):
        if shrinkage not in ("ledoit_wolf", "oas", "none"):
            raise UserError(f"unknown shrinkage '{shrinkage}'; use ledoit_wolf, oas or none")
        self.shrinkage = shrinkage
        self.classes_ = None

    def fit(self, features, labels):
        from sklearn.covariance import OAS, EmpiricalCovariance, LedoitWolf

        f = np.asarray(features, np.float64).reshape(len(features), -1)
        y = np.asarray(labels).reshape(-1)
        if len(f) != len(y):
            raise UserError(f"got {len(f)} feature vectors but {len(y)} labels")
        est = {"ledoit_wolf": LedoitWolf, "oas": OAS, "none": EmpiricalCovariance}[self.shrinkage]
        self.classes_ = np.unique(y)
        self.means_, self.precisions_, self.logdets_ = {}, {}, {}
        for c in self.classes_:
            fc = f[y == c]
            if len(fc) < 2:
                raise UserError(f"class {c} has {len(fc)} example(s); the detector needs at least 2 per class")
            e = est().fit(fc)
            cov = e.covariance_
            sign, logdet = np.linalg.slogdet(cov)
            if sign <= 0:
                raise UserError(f"class {c}: the covariance is singular; use shrinkage (ledoit_wolf)")
            self.means_[c] = e.location_
            self.precisions_[c] = np.linalg.inv(cov)
            self.logdets_[c] = logdet
        self.dim_ = f.shape[1]
        return self

    def log_prob(self, features, classes) -> np.ndarray:
        """log N(features_i; mu_{c_i}, Sigma_{c_i}) per row."""
        if self.classes_ is None:
            raise UserError("fit the detector before scoring")
        f = np.asarray(features, np.float64).reshape(len(features), -1)
        c = np.asarray(classes).reshape(-1)
        out = np.empty(len(f))
        for k in np.unique(c):
            if k not in self.means_:
                raise UserError(f"class {k} was not seen when fitting the detector")
            idx = np.flatnonzero(c == k)
            d = f[idx] - self.means_[k]
            maha = np.einsum("ij,jk,ik->i", d, self.precisions_[k], d)
            out[idx] = -0.5 * (self.dim_ * np.log(2 * np.pi) + self.logdets_[k] + maha)
        return out


class GaussianDetector:
    """Dong et al.'s detector on a layer of a classifier (alias such as ``features`` or ``pool5``).

    `fit(images, labels)` fits the per-class Gaussians on the layer's representation of
    training images; `score(images)` is the log-probability under the predicted class
    (higher = more natural); `evaluate(natural, adversarial)` gives the ROC AUC of
    detecting adversarial inputs by a low score. ``pool`` turns a conv layer's [H, W, C] maps
    into vectors: ``flatten`` (all H*W*C values), ``mean`` or ``max`` (over the spatial
    positions: C values).
    """

    POOLS = ("flatten", "mean", "max")

    def __init__(self, model, layer: str = "features", shrinkage: str = "ledoit_wolf", batch_size: int = 256,
                 pool: str = "flatten"):
        import tensorflow as tf

        from tfinterp.models.layers import feature_model

        if pool not in self.POOLS:
            raise UserError(f"unknown pool '{pool}'; use {', '.join(self.POOLS)}")
        self.model = model
        self.layer = layer
        self.pool = pool
        self.batch_size = int(batch_size)
        self.features = feature_model(model, [layer], include_output=True)
        self.gaussian = ClassConditionalGaussian(shrinkage)
        self._run = tf.function(lambda x: self.features(x, training=False))

    def _represent(self, images):
        x = np.asarray(images, np.float32)
        feats, preds = [], []
        for i in range(0, len(x), self.batch_size):
            out = self._run(x[i:i + self.batch_size])
            f = np.asarray(out[self.layer])
            if self.pool != "flatten" and f.ndim > 2:
                f = f.mean(axis=tuple(range(1, f.ndim - 1))) if self.pool == "mean" else \
                    f.max(axis=tuple(range(1, f.ndim - 1)))
            feats.append(f.reshape(len(f), -1))
            preds.append(np.asarray(out["output"]).argmax(-1))
        return np.concatenate(feats), np.concatenate(preds)

    def fit(self, images, labels):
        feats, _ = self._represent(images)
        self.gaussian.fit(feats, labels)
        return self

    def score(self, images) -> np.ndarray:
        feats, preds = self._represent(images)
        return self.gaussian.log_prob(feats, preds)

    def evaluate(self, natural, adversarial) -> dict:
        """ROC of 'adversarial' = low score: {auc, fpr, tpr, natural_scores, adversarial_scores}."""
        s_nat, s_adv = self.score(natural), self.score(adversarial)
        return roc(s_nat, s_adv)


def roc(natural_scores, adversarial_scores) -> dict:
    """ROC curve and AUC for detecting adversarial inputs by a LOW log-probability score."""
    from sklearn.metrics import roc_auc_score, roc_curve

    s_nat = np.asarray(natural_scores, np.float64)
    s_adv = np.asarray(adversarial_scores, np.float64)
    if len(s_nat) == 0 or len(s_adv) == 0:
        raise UserError("ROC needs natural and adversarial examples")
    y = np.r_[np.zeros(len(s_nat)), np.ones(len(s_adv))]
    s = -np.r_[s_nat, s_adv]
    fpr, tpr, _ = roc_curve(y, s)
    return {"auc": float(roc_auc_score(y, s)), "fpr": fpr.tolist(), "tpr": tpr.tolist(),
            "natural": int(len(s_nat)), "adversarial": int(len(s_adv))}
