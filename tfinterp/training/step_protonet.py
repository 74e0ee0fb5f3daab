"""The ``protonet`` training step: the four-part loss of a prototype network (Li et al. 2018)."""

from __future__ import annotations

from tfinterp.errors import UserError
from tfinterp.params import Param
from tfinterp.training.steps import STEPS, Step


def _loss_params():
    from tfinterp.models.protonet import LOSS_PARAMS

    # the model's own declaration of the weights; None (the default here) takes the weights the
    # model was built with (`ProtoNet.lambdas`)
    return {k: Param(None, p.type, min=p.min, none_ok=True, doc=p.doc + " (None: the model's)")
            for k, p in LOSS_PARAMS.items()}


@STEPS.register("protonet", description="ProtoNet's four-part loss: lambda_class CE + lambda_ae R + "
                                        "lambda_r1 R1 + lambda_r2 R2 (Li et al. 2018)")
class ProtoNetStep(Step):
    """ProtoNet training (Li, Liu, Chen & Rudin, AAAI 2018, Eq. 1-4)::

        lambda_class * CE + lambda_ae * R + lambda_r1 * R1 + lambda_r2 * R2

    with the terms ``ce``, ``ae`` (R: mean over images of the summed squared pixel error of
    g(f(x))), ``r1`` (mean over prototypes of the minimum distance to the batch's codes) and
    ``r2`` (mean over codes of the minimum distance to a prototype), computed by
    `tfinterp.models.protonet.protonet_losses`. The weights default to the model's own
    ``lambdas``. Under MirroredStrategy R1, a minimum over the batch, is taken per replica.
    """

    terms = ("ce", "ae", "r1", "r2")
    trains = "protonet"

    @classmethod
    def param_spec(cls):
        return _loss_params()

    def check_model(self, model):
        if not (hasattr(model, "forward_all") and hasattr(model, "lambdas")):
            raise UserError(f"the protonet step trains a ProtoNet (encoder, decoder, prototypes); "
                            f"'{model.name}' is not one")

    def weights(self, model):
        lam = dict(zip(self.terms, model.lambdas))
        for term, key in zip(self.terms, ("lambda_class", "lambda_ae", "lambda_r1", "lambda_r2")):
            if getattr(self, key) is not None:
                lam[term] = float(getattr(self, key))
        return lam

    def loss_terms(self, model, x, y, training):
        from tfinterp.models.protonet import protonet_losses

        logits, recon, d, _ = model.forward_all(x, training=training)
        return {**protonet_losses(x, y, logits, recon, d), "logits": logits}
