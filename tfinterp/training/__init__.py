"""Training: one step base (`steps.Step`, registry `STEPS`: natural, protonet, ...), one trainer
(`trainer.StepTrainer`), and the runs that use them (`train_classifier`, `protonet.train_protonet`).
A run's output folder records its run (`runfolder`: resume, finished, refused, ``fresh``), and
its shuffle order is a function of (seed, epoch) (`trainer.pipeline`), so a resumed run repeats
the uninterrupted one.

`import tfinterp.training` stays cheap: the configs and the registry import no TensorFlow;
`StepTrainer` and `make_strategy` load it on first use.
"""

from tfinterp.training.classifier import TrainConfig, train_classifier  # noqa: F401
from tfinterp.training.steps import STEPS, Step, get_step  # noqa: F401


def __getattr__(name):  # the Keras-backed pieces, imported on first use
    if name in ("StepTrainer", "make_strategy", "pipeline", "fit_run"):
        from tfinterp.training import trainer

        return getattr(trainer, name)
    raise AttributeError(name)
