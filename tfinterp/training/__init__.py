"""Training: classifiers (this module), later adversarial, consistent-loss and ProtoNet steps."""

from tfinterp.training.classifier import TrainConfig, make_strategy, train_classifier  # noqa: F401
