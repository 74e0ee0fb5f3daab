"""One trainer for every training step: `StepTrainer`, and the run machinery around `fit`.

``StepTrainer(model, step)`` is a `keras.Model` that wraps the model being trained and runs
the `Step` (`tfinterp.training.steps`) in ``train_step`` / ``test_step`` with
`tf.GradientTape`. It logs ``loss`` (the weighted total), each term (when the step has more
than one, or its only term is weighted) and ``accuracy`` as Keras metrics, each a mean over
examples. Everything Keras' ``fit`` offers works through it: callbacks, `BackupAndRestore`
(it checkpoints the wrapper: the model's weights and the optimizer's state),
``jit_compile``, tf.distribute (build the model and the trainer inside ``strategy.scope()``;
each replica takes the step on its share of the batch, the loss is divided by the number of
replicas and the optimizer sums the replicas' gradients) and mixed precision (under the
``mixed_float16`` policy `compile` wraps the optimizer in a `LossScaleOptimizer`, and the
step's scaled loss is differentiated).

The saved artefact stays the user's model: `StepTrainer.save` and `export_model` write and
return the wrapped model itself (compiled as the step says Keras would have left it, with
the trainer's optimizer), never the wrapper, so ``.keras`` files and
`tfinterp.models.load_model` are as before.

Also here: `make_strategy`, the tf.data `pipeline`, the per-epoch timer and the callbacks
every training run uses (`run_callbacks`: resume backup, CSV history, TensorBoard).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import keras
import tensorflow as tf

from tfinterp.training.steps import get_step


class StepTrainer(keras.Model):
    """Trains `model` with a training step (a registered name or a `Step`), through Keras `fit`.

    Args:
        model: the Keras model to train (its weights change; nothing else about it does until
            `export_model` compiles it for saving).
        step: a `Step`, or the name of a registered one (``natural``, ``protonet``, ...).
        step_params: parameters of a named step.

    ``trainer.net`` is the wrapped model; ``trainer(x)`` returns its output. Data are
    ``(images, labels)`` batches (sample weights are not supported).
    """

    def __init__(self, model, step="natural", step_params: dict | None = None, **kwargs):
        kwargs.setdefault("name", f"{model.name}_trainer")
        kwargs.setdefault("dtype", getattr(model, "dtype_policy", None))
        super().__init__(**kwargs)
        step = get_step(step, **(step_params or {}))
        step.check_model(model)
        self.net = model
        self.step = step
        step.build(model)
        # Keras traces train_step with AutoGraph off; converting the step lets it (and what it
        # calls, e.g. an attack's `perturb` with its `for _ in tf.range(steps)` loop) use
        # Python control flow on tensors, as inside any tf.function
        self._loss_terms = tf.autograph.to_graph(type(step).loss_terms)
        weights = step.weights(model)
        single = len(step.terms) == 1 and weights[step.terms[0]] == 1.0
        self.logged_terms = () if single else tuple(step.terms)  # a lone unweighted term *is* the loss
        self._trackers = {k: keras.metrics.Mean(name=k) for k in ("loss", *self.logged_terms)}
        self._accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        # Keras (3.15) reduces a step's logs across workers with reduce("MEAN", axis=0), which
        # fails on scalars under MultiWorkerMirroredStrategy: there each log is returned as [1]
        self._multi_worker = isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy)
        self.built = True

    def call(self, x, training=False):
        return self.net(x, training=training)

    @property
    def metrics(self):
        return [*self._trackers.values(), self._accuracy]

    def _record(self, out, loss, y, x):
        n = tf.shape(x)[0]
        self._trackers["loss"].update_state(loss, sample_weight=n)
        for t in self.logged_terms:
            self._trackers[t].update_state(out[t], sample_weight=n)
        self._accuracy.update_state(y, out["logits"])
        logs = {m.name: m.result() for m in self.metrics}
        return {k: tf.reshape(v, [1]) for k, v in logs.items()} if self._multi_worker else logs

    def train_step(self, data):
        x, y = data[0], data[1]
        with tf.GradientTape() as tape:
            out = self._loss_terms(self.step, self.net, x, y, training=True)
            loss = self.step.total(self.net, out)
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            # each replica's mean over its share of the batch; the optimizer sums the replicas' gradients
            per_replica = loss / float(replicas) if replicas > 1 else loss
            scaled = self.optimizer.scale_loss(per_replica)
        variables = self.trainable_variables
        grads = tape.gradient(scaled, variables)
        self.optimizer.apply(grads, variables)
        return self._record(out, loss, y, x)

    def test_step(self, data):
        x, y = data[0], data[1]
        out = self._loss_terms(self.step, self.net, x, y, training=False)
        return self._record(out, self.step.total(self.net, out), y, x)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras (3.15) builds the optimizer and compiled metrics from the shapes of a first batch
        # before `fit`, and under a strategy gets that batch by *reducing* the per-replica values
        # across replicas; under MultiWorkerMirroredStrategy that cross-worker reduce of an
        # (images, labels) tuple fails ("Attempt to convert a value (PerReplica ...)",
        # keras-team/keras#20585). Only the shapes matter, so take this worker's first replica.
        if iterator is not None and self._distribute_strategy is not None:
            strategy = self.distribute_strategy
            for _, _, it in iterator:
                batch = next(it)
                data_batch = tf.nest.map_structure(
                    lambda v: strategy.experimental_local_results(v)[0]
                    if isinstance(v, tf.distribute.DistributedValues) else v, batch)
                break
            iterator = None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def export_model(self):
        """The trained model, compiled with the trainer's optimizer and the step's Keras loss (if any)."""
        if getattr(self, "optimizer", None) is not None:
            self.net.compile(optimizer=self.optimizer, **self.step.compile_kwargs())
        return self.net

    def save(self, filepath, *args, **kwargs):
        """Save the trained model (not the wrapper): the `.keras` file is the user's model."""
        return self.export_model().save(filepath, *args, **kwargs)

    def get_config(self):
        raise NotImplementedError("a StepTrainer is not saved; save its model (trainer.save or trainer.net)")


_MIRRORED: dict = {}


def make_strategy(name: str = "default", cpu_devices: int = 2):
    """A tf.distribute strategy: the default one, Mirrored (GPUs, or logical CPUs), or MultiWorker.

    With no GPU, 'mirrored' splits the CPU into `cpu_devices` logical devices when the
    runtime is not initialised yet (otherwise it mirrors over the CPU devices that exist).
    'multiworker' reads the cluster from the TF_CONFIG environment variable.
    """
    from tfinterp.errors import UserError

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


def worker_folder(out, strategy: str = "default") -> Path:
    """The folder this process writes a run to: `out`, except on a non-chief multi-worker task.

    Under ``multiworker`` every task runs the same command; the chief (task ``chief``, or
    ``worker`` 0 when the cluster has no chief) writes to `out`, every other task to
    ``out/workers/<type>-<index>/`` (its own backup, history and copy of the model), as Keras'
    multi-worker guide advises, so that tasks sharing a file system never write the same file
    and each restarted task resumes from its own backup. The task is read from ``TF_CONFIG``.
    """
    import json
    import os

    out = Path(out)
    if strategy != "multiworker":
        return out
    try:
        tf_config = json.loads(os.environ.get("TF_CONFIG") or "{}")
        task = tf_config.get("task") or {}
        kind, index = str(task.get("type", "worker")), int(task.get("index", 0))
        has_chief = bool((tf_config.get("cluster") or {}).get("chief"))
    except (ValueError, TypeError, AttributeError):
        from tfinterp.errors import UserError

        raise UserError("TF_CONFIG is not valid JSON of the form {\"cluster\": {...}, \"task\": "
                        "{\"type\": \"worker\", \"index\": 0}}") from None
    chief = kind == "chief" or (kind == "worker" and index == 0 and not has_chief)
    return out if chief else out / "workers" / f"{kind}-{index}"


def pipeline(data, batch_size, shuffle_seed=None, augment=None):
    """Batched tf.data pipeline of `(images, labels)` arrays or a Dataset.

    With `shuffle_seed`, every epoch is shuffled, and for in-memory arrays (every library data
    set but the streaming tfds ones) epoch `e`'s order is a function of (`shuffle_seed`, `e`)
    alone: a stateless permutation keyed by both. The epoch is read from a counter the
    pipeline carries (``ds.epoch_counter``): `fit_run` sets it to Keras' epoch index at the
    start of every epoch (`EpochOrder`), so a run resumed by `BackupAndRestore` at epoch k
    sees epoch k's order and reproduces the uninterrupted run; used elsewhere the counter
    simply counts the passes over the data. ``augment(images, labels, seed)``, if given, maps
    every training batch, with a stateless seed ([2] int32) folded from (`shuffle_seed`,
    epoch, batch index), so augmentations resume exactly too. A `tf.data.Dataset` input
    cannot be permuted by index: it goes through a seeded shuffle buffer reshuffled every
    epoch, whose sequence restarts on resume (tf.data's shuffle takes only a Python seed and
    Keras' backup does not hold iterator state), so only there a resumed run's later epochs
    see other orders than the uninterrupted run's. Build the pipeline outside
    ``strategy.scope()`` (its counter is a plain host variable).
    """
    import numpy as np

    if shuffle_seed is None:
        ds = data if isinstance(data, tf.data.Dataset) else tf.data.Dataset.from_tensor_slices(data)
        ds = ds.batch(batch_size)
        if augment is not None:
            ds = ds.enumerate().map(lambda b, xy: augment(*xy, tf.random.experimental.stateless_fold_in(
                tf.constant([0, 0], tf.int64), b)))
        return finish_pipeline(ds)
    counter = tf.Variable(-1, dtype=tf.int64, trainable=False, name="pipeline_epoch")
    seed = tf.constant(int(shuffle_seed), tf.int64)
    arrays = None if isinstance(data, tf.data.Dataset) else tuple(tf.convert_to_tensor(np.asarray(a)) for a in data)
    if arrays is not None:
        n = int(arrays[0].shape[0])
        batches = -(-n // batch_size)
    else:
        n = int(data.cardinality())
        batches = -(-n // batch_size) if n > 0 else None
        shuffled = data.shuffle(min(n if n > 0 else 10000, 60000), seed=int(shuffle_seed),
                                reshuffle_each_iteration=True).batch(batch_size)

    def one_epoch(_):
        epoch = counter.assign_add(1)
        key = tf.stack([seed, epoch])
        if arrays is not None:
            order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), seed=key)
            ds = tf.data.Dataset.from_tensor_slices(order).batch(batch_size).map(
                lambda i: tuple(tf.gather(a, i) for a in arrays))
        else:
            ds = shuffled
        if augment is not None:
            ds = ds.enumerate().map(
                lambda b, xy: augment(*xy, tf.random.experimental.stateless_fold_in(key, b + 1)),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return ds

    ds = tf.data.Dataset.from_tensors(0).flat_map(one_epoch)
    if batches is not None:
        ds = ds.apply(tf.data.experimental.assert_cardinality(batches))
    ds = finish_pipeline(ds)
    ds.epoch_counter = counter
    return ds


class EpochOrder(keras.callbacks.Callback):
    """Sets a `pipeline`'s epoch counter to Keras' epoch index when every epoch begins, so the
    shuffle order (and augmentation) of epoch `e` is the same in a resumed run."""

    def __init__(self, counter):
        super().__init__()
        self.counter = counter

    def on_epoch_begin(self, epoch, logs=None):
        self.counter.assign(epoch - 1)  # the pipeline adds 1 as it starts the epoch's pass


def finish_pipeline(ds):
    """Prefetch, with tf.data's autotuning optimiser turned off.

    Measured here (TF 2.21, 2 cores): with autotuning on, the end of an epoch's iterator
    waits for the optimiser thread's exponential back-off (10 ms doubling), so an epoch that
    computes in 6.5 s often returns at exactly 10.23 s (and a 4.1 s one at 5.11 s).
    With it off the epoch time is the compute time, and the batch throughput is unchanged.
    """
    opts = tf.data.Options()
    opts.autotune.enabled = False
    return ds.prefetch(2).with_options(opts)


class EpochTimer(keras.callbacks.Callback):
    """Wall-clock seconds of every epoch, kept in `times` and stored in the logs."""

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


class GuardedBackup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` whose restore fails in one line: a backup that does not fit the model
    (another architecture, another optimizer) is a `UserError` naming the folder, instead of
    Keras' warnings per variable and a raw error (the run record, `runfolder.prepare`, catches
    this earlier; this guards backups written without a record)."""

    def on_train_begin(self, logs=None):
        import warnings

        from tfinterp.errors import UserError

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                super().on_train_begin(logs)
                bad = next((w for w in caught if "skipping variable loading" in str(w.message).lower()), None)
                if bad is not None:
                    raise ValueError(str(bad.message))
            except Exception as e:
                msg = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
                raise UserError(f"the backup in {self.backup_dir} does not fit this model ({msg}); pass --fresh to "
                                "discard it and start over, or choose another --out") from None
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def run_callbacks(out: Path, extra=(), verbose=1):
    """(callbacks, epoch timer) every training run uses: resume backup, CSV history, TensorBoard.

    A run started again with the same `out` resumes from its last finished epoch
    (`tfinterp.training.runfolder` decides beforehand whether the folder's backup is this run's).
    """
    from tfinterp.training.runfolder import has_backup

    out = Path(out)
    timer = EpochTimer()
    cbs = [GuardedBackup(str(out / "backup")),
           keras.callbacks.CSVLogger(str(out / "history.csv"), append=True),
           keras.callbacks.TensorBoard(str(out / "logs"), write_graph=False, profile_batch=0),
           timer, *extra]
    if has_backup(out) and verbose:
        print(f"tfinterp: resuming from the backup in {out / 'backup'}", file=sys.stderr)
    return cbs, timer


def run_metrics(test_metrics: dict, history: dict, run: dict, *, terms=(), **extra) -> dict:
    """The "metrics" block of a training run's JSON summary: test accuracy and loss (and each of
    `terms` as ``test_<term>``), `extra` keys after them, the last epoch's train / val accuracy
    from the Keras `history`, and the session's epoch timings from `fit_run`'s `run`."""
    def num(v):
        return None if v is None else float(v)

    def last(key):
        return float(history[key][-1]) if history.get(key) else None

    return {"test_accuracy": num(test_metrics.get("accuracy")), "test_loss": num(test_metrics.get("loss")),
            **{f"test_{t}": num(test_metrics.get(t)) for t in terms}, **extra,
            "final_train_accuracy": last("accuracy"), "final_val_accuracy": last("val_accuracy"),
            "epochs_run_this_session": len(run["epoch_seconds"]),
            "epoch_seconds": [round(t, 3) for t in run["epoch_seconds"]],
            "train_seconds_this_session": round(run["train_seconds"], 2)}


def fit_run(trainer: StepTrainer, train_ds, val_ds, epochs: int, out, callbacks=(), verbose=1) -> dict:
    """`trainer.fit` with the run callbacks under `out`; {history, epoch_seconds, train_seconds}.

    A training `pipeline` with a shuffle seed gets its `EpochOrder` callback here, so every
    epoch's order depends on (seed, epoch) only and a resumed run repeats the uninterrupted one.
    """
    counter = getattr(train_ds, "epoch_counter", None)
    order = [EpochOrder(counter)] if counter is not None else []
    cbs, timer = run_callbacks(out, [*order, *callbacks], verbose)
    t0 = time.perf_counter()
    history = trainer.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=cbs, verbose=verbose,
                          shuffle=False)  # the pipeline shuffles
    return {"history": history.history, "epoch_seconds": list(timer.times),
            "train_seconds": time.perf_counter() - t0}
