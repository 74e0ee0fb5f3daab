"""The ``natural`` training step: mean cross-entropy of the model's logits on clean images."""

from __future__ import annotations

from tfinterp.training.steps import STEPS, Step, check_classifier, classifier_compile_kwargs, cross_entropy


@STEPS.register("natural", description="cross-entropy on the clean images (standard training)")
class NaturalStep(Step):
    """Standard (natural) training: minimise the mean softmax cross-entropy on clean data.

    The one term is ``ce``; the total loss is that term, so the trainer logs it as ``loss``.
    The saved model is compiled as Keras' own classifier training would leave it
    (`SparseCategoricalCrossentropy` from logits, ``accuracy``).
    """

    params = {}
    terms = ("ce",)

    def check_model(self, model):
        check_classifier(model)  # the model must output [N, classes] logits

    def loss_terms(self, model, x, y, training):
        logits = model(x, training=training)
        return {"ce": cross_entropy(y, logits), "logits": logits}

    def compile_kwargs(self):
        return classifier_compile_kwargs()
