"""Training a zoo classifier with a training step (``natural`` by default) through Keras `fit`.

The model is trained by `StepTrainer` (`tfinterp.training.trainer`) on the split of
`tfinterp.data.splits.train_val_test`. Resume after an interruption uses
`keras.callbacks.BackupAndRestore` (a killed run restarts from its last finished epoch);
TensorBoard logs, a CSV history, per-epoch timings and the final test metrics land under the
output folder, and the model is saved atomically as ``<model>_<dataset>.keras`` beside a
JSON with the command, config, data and metrics.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tfinterp.errors import UserError
from tfinterp.params import Param
from tfinterp.training.config import RunConfig, common_params


class TrainConfig(RunConfig):
    """Everything a `train classifier` run depends on (a TOML [train] table maps onto it).

    Keys: ``model`` (zoo name), ``dataset``, ``step`` (a registered training step, ``natural``
    by default) and ``step_params`` (its parameters), ``arch_kwargs`` (the architecture's),
    and the common run keys of `tfinterp.training.config.common_params`.
    """

    table = "train"
    _spec = None

    @classmethod
    def param_spec(cls):
        if cls._spec is None:
            common = common_params(epochs=10, batch_size=128, learning_rate=1e-3)
            cls._spec = {
                "model": Param("vggsmall", str, doc="zoo model name (see `tfinterp models`)"),
                "dataset": Param("clutter64", str, doc="mnist, fashion_mnist, clutter<size>, or a tfds name"),
                "step": Param("natural", str, doc="training step (tfinterp.training.STEPS)"),
                "step_params": Param({}, dict, expect="a table of key = value", doc="parameters of the training step"),
                "init_from": Param(None, str, none_ok=True,
                                   doc="start from this model's weights (shipped stem or .keras path): fine-tuning"),
                **common,
                "arch_kwargs": Param({}, dict, expect="a table of key = value", doc="extra arguments of the architecture"),
                # stylized augmentation (Zheng et al., section 4): tfinterp.training.stylizers
                "stylize": Param(None, str, none_ok=True, doc="stylizer mixed into training (fourier, adain, texture-fill)"),
                "style_ratio": Param("1:1", str, doc="original:stylized images, e.g. 1:2"),
                "style_dir": Param(None, str, none_ok=True, doc="folder of style images (default: the built-in bank)"),
                "style_params": Param({}, dict, expect="a table of key = value", doc="parameters of the stylizer"),
            }
        return cls._spec

    def check(self):
        from tfinterp.training.steps import get_step

        if self.model == "protonet":
            raise UserError("train classifier trains zoo classifiers; train a ProtoNet with `tfinterp train protonet`")
        step = get_step(self.step, **self.step_params)  # unknown step or parameter: named here
        if getattr(step, "trains", None) == "protonet":
            raise UserError(f"the {self.step} step trains a ProtoNet; use `tfinterp train protonet`")
        if self.stylize is not None:  # unknown stylizer or bad ratio: named before any data is read
            from tfinterp.training.stylizers.base import STYLIZERS, parse_ratio

            STYLIZERS.get(self.stylize)
            parse_ratio(self.style_ratio)
            if self.style_dir is not None:
                from tfinterp.training.stylizers.styles import load_style_dir

                load_style_dir(self.style_dir, 8)  # missing or empty folder: refused here


def train_classifier(cfg: TrainConfig, out, callbacks=(), verbose=1, command=None, data=None,
                     test_data=None, fresh: bool = False) -> dict:
    """Train zoo model `cfg.model` with step `cfg.step`; returns the metrics written to JSON.

    The data are `cfg.dataset`, or `data`, an ``(images, labels)`` pair (then `cfg.dataset`
    only names the run and gives class names; `test_data` is evaluated if given). The model
    is written to ``out/<model>_<dataset>.keras`` with ``out/<same>.json``. A folder that
    already holds a run is handled by `tfinterp.training.runfolder.prepare`: an interrupted
    run of this config resumes, a finished one is returned as it is (``already_finished``),
    another run's folder is refused; `fresh` discards what the folder holds and starts over.
    """
    import keras
    import numpy as np

    from tfinterp.data import dataset_info
    from tfinterp.data.splits import train_val_test
    from tfinterp.models import get, list_models
    from tfinterp.training import runfolder
    from tfinterp.training.trainer import StepTrainer, fit_run, make_strategy, pipeline, run_metrics, worker_folder
    from tfinterp.utils import atomic_path, set_seed, write_json

    cfg.validate()
    if cfg.model not in list_models():
        raise UserError(f"unknown model '{cfg.model}'; known: {', '.join(m for m in list_models() if m != 'protonet')}")
    out = worker_folder(out, cfg.strategy)  # multiworker: only the chief writes to `out` itself
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{cfg.model}_{cfg.dataset}"
    record = {"job": "train classifier", "stem": stem, "model": cfg.model, "dataset": cfg.dataset,
              "config": cfg.asdict()}
    done = runfolder.prepare(out, record, fresh=fresh)
    if done is not None:
        return done
    set_seed(cfg.seed)
    keras.mixed_precision.set_global_policy("mixed_float16" if cfg.mixed_precision else "float32")
    try:
        strategy = make_strategy(cfg.strategy, cfg.cpu_devices)
        train, val, test = train_val_test(data if data is not None else cfg.dataset, cfg.limit,
                                          cfg.val_fraction, cfg.seed, test=test_data)
        info = dataset_info(cfg.dataset)
        if data is not None:
            info["shape"] = tuple(np.asarray(train[0]).shape[1:])
        shape = info["shape"] or tuple(next(iter(pipeline(train, 1)))[0].shape[1:])
        num_classes = info["num_classes"] or int(np.max(train[1])) + 1
        with strategy.scope():
            model = get(cfg.model, input_shape=shape, num_classes=num_classes,
                        class_names=info["class_names"], **({"weights": None} if cfg.model in
                                                            ("vgg16", "vgg19", "resnet50") else {}),
                        **cfg.arch_kwargs)
            if cfg.init_from:
                init_weights(model, cfg.init_from)
            trainer = StepTrainer(model, cfg.step, cfg.step_params)
            trainer.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), jit_compile=bool(cfg.jit))
        augment, style = None, None
        if cfg.stylize:  # stylized augmentation in the tf.data pipeline (tfinterp.training.stylizers)
            from tfinterp.training.stylizers.base import training_augment

            train, augment, style = training_augment(cfg.stylize, cfg.style_ratio, train, cfg.dataset, cfg.limit,
                                                     cfg.style_dir, cfg.style_params)
        run = fit_run(trainer, pipeline(train, cfg.batch_size, shuffle_seed=cfg.seed, augment=augment),
                      pipeline(val, cfg.batch_size) if val is not None else None, cfg.epochs, out, callbacks,
                      verbose)
        test_metrics = (trainer.evaluate(pipeline(test, cfg.batch_size), verbose=0, return_dict=True)
                        if test is not None else {})
        with atomic_path(out / f"{stem}.keras") as tmp:
            trainer.save(tmp)
        h = run["history"]
        metrics = {
            "model": cfg.model, "dataset": cfg.dataset, "stem": stem,
            "command": command or " ".join(sys.argv),
            "config": cfg.asdict(),
            "step": trainer.step.config,
            "data": {"train_examples": len(train[0]) if isinstance(train, tuple) else None,
                     "val_examples": len(val[0]) if isinstance(val, tuple) else None,
                     "test_examples": len(test[0]) if isinstance(test, tuple) else None,
                     "input_shape": list(shape), "num_classes": num_classes,
                     "source": "arrays" if data is not None else cfg.dataset},
            "metrics": run_metrics(test_metrics, h, run, terms=trainer.logged_terms),
            "params": int(model.count_params()),
            "strategy": cfg.strategy, "replicas": int(strategy.num_replicas_in_sync),
        }
        if style is not None:
            metrics["stylize"] = style
        write_json(out / f"{stem}.json", metrics)
        runfolder.finish(out, record)
        return metrics
    finally:
        keras.mixed_precision.set_global_policy("float32")


def init_weights(model, spec: str):
    """Copy the weights of model `spec` (a shipped stem or a .keras path) into `model`, which must
    have the same architecture (fine-tuning; the source model itself is not changed)."""
    from tfinterp.checks import model_image_shape, model_num_classes
    from tfinterp.models import load_model

    src = load_model(spec)
    for what, mine, theirs in (("input shape", model_image_shape(model), model_image_shape(src)),
                               ("class count", model_num_classes(model), model_num_classes(src))):
        if mine != theirs:
            raise UserError(f"--init-from {spec}: its {what} {theirs} differs from this run's {mine}")
    ours, given = model.get_weights(), src.get_weights()
    if len(ours) != len(given) or any(a.shape != b.shape for a, b in zip(ours, given)):
        raise UserError(f"--init-from {spec}: its weights do not fit a {model.name} model "
                        f"({len(given)} arrays vs {len(ours)}); give a model of the same architecture")
    model.set_weights(given)
