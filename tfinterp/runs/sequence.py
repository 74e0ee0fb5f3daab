"""`tfinterp train sequence`: train a sequence zoo model (``seqcnn``, ``seqlstm``) on one-hot data.

The data are the planted-motif benchmark (``planted``, `tfinterp.data.planted`) or a FASTA /
``sequence,label`` table (`tfinterp.data.sequences.read_sequences`: the loader for real
TF-binding data, DeepBind / ENCODE style). They are split by `tfinterp.data.seqsets.split_sequences`
(a seeded permutation: the last ``test_fraction`` held out, ``val_fraction`` before it
validating), and the model is trained with the step base (`tfinterp.training.trainer.StepTrainer`,
step ``natural`` by default) under Keras `fit`, so the run resumes after an interruption
(`keras.callbacks.BackupAndRestore`, the run record of `tfinterp.training.runfolder`) like
``train classifier``. Written under the output folder: ``<model>_<data>.keras`` and the JSON
beside it (command, config, data, held-out metrics, per-class accuracy), history and logs.
Models follow Alipanahi et al. 2015 (DeepBind) and Quang & Xie 2016 (DanQ).
"""

from __future__ import annotations

import sys
from pathlib import Path

from tfinterp.errors import UserError
from tfinterp.params import Param
from tfinterp.training.config import RunConfig, common_params

SEQUENCE_MODELS = ("seqcnn", "seqlstm")


class SequenceTrainConfig(RunConfig):
    """Everything a `train sequence` run depends on (a TOML ``[sequence]`` table maps onto it)."""

    table = "sequence"
    _spec = None

    @classmethod
    def param_spec(cls):
        if cls._spec is None:
            cls._spec = {
                "model": Param("seqcnn", str, choices=SEQUENCE_MODELS, doc="sequence zoo model"),
                "data": Param("planted", str, doc="'planted' (the planted-motif benchmark) or a FASTA / "
                                                  "sequence,label table file"),
                "alphabet": Param("dna", str, doc="dna, protein, or the letters of a custom alphabet"),
                "window": Param(None, int, min=1, none_ok=True, doc="pad or cut every sequence to this length"),
                "pad": Param("right", str, choices=("right", "left", "center"), doc="where sequences are padded or cut"),
                "n": Param(4000, int, min=8, doc="planted data: number of sequences"),
                "length": Param(100, int, min=16, doc="planted data: sequence length"),
                "decoy_rate": Param(0.5, float, min=0, max=1, doc="planted data: share of class-0 sequences with a "
                                                                  "lone half of the EBOX+AP1 pair"),
                "test_fraction": Param(0.2, float, min=0, max=1, max_open=True, doc="held-out test share"),
                "step": Param("natural", str, doc="training step (tfinterp.training.STEPS)"),
                "step_params": Param({}, dict, expect="a table of key = value", doc="parameters of the step"),
                **common_params(epochs=15, batch_size=64, learning_rate=3e-3),
                "arch_kwargs": Param({}, dict, expect="a table of key = value",
                                     doc="architecture options (filters, kernel_size, pool_size, dense, units, dropout)"),
            }
        return cls._spec

    def check(self):
        from tfinterp.training.steps import get_step

        get_step(self.step, **self.step_params)
        if self.strategy == "multiworker":
            raise UserError("train sequence runs on one machine; use --strategy default or mirrored")

    @property
    def data_name(self) -> str:
        from tfinterp.data.seqsets import is_planted

        return "planted" if is_planted(self.data) else (Path(self.data).name.split(".")[0] or "data")


def load_data(cfg: SequenceTrainConfig):
    """All sequences of the run (planted: generated with the run's seed) as a `SequenceData`."""
    from tfinterp.data.seqsets import is_planted, load_sequences

    if is_planted(cfg.data):
        return load_sequences(cfg.data, alphabet=cfg.alphabet, window=cfg.window,
                              **{"n": cfg.n, "length": cfg.length, "seed": cfg.seed, "decoy_rate": cfg.decoy_rate})
    return load_sequences(cfg.data, alphabet=cfg.alphabet, window=cfg.window, pad=cfg.pad)


def train_sequence(cfg: SequenceTrainConfig, out, verbose: int = 1, command: str | None = None,
                   fresh: bool = False, callbacks=()) -> dict:
    """Train ``cfg.model`` on ``cfg.data``; returns the summary written to ``out/<stem>.json``.

    A folder holding a finished run of this config is returned as it is (``already_finished``);
    an interrupted one resumes; another run's folder is refused (`tfinterp.training.runfolder`).
    """
    import keras
    import numpy as np

    from tfinterp.data.seqsets import split_sequences
    from tfinterp.models import get
    from tfinterp.training import runfolder
    from tfinterp.training.trainer import StepTrainer, fit_run, make_strategy, pipeline, run_metrics
    from tfinterp.utils import atomic_path, set_seed, write_json

    cfg.validate()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{cfg.model}_{cfg.data_name}"
    record = {"job": "train sequence", "stem": stem, "model": cfg.model, "dataset": cfg.data_name,
              "config": cfg.asdict()}
    data = load_data(cfg)  # bad files are refused before the run folder is touched
    if data.y is None:
        raise UserError(f"{cfg.data}: the sequences have no labels; give label=K in the FASTA headers or a "
                        "sequence,label table")
    num_classes = max(int(data.num_classes or 0), int(data.y.max()) + 1)
    if len(np.unique(data.y)) < 2:
        raise UserError(f"{cfg.data}: every sequence has label {int(data.y[0])}; a classifier needs two classes or more")
    done = runfolder.prepare(out, record, fresh=fresh)
    if done is not None:
        return done
    set_seed(cfg.seed)
    train, val, test = split_sequences(data, cfg.val_fraction, cfg.test_fraction, cfg.seed)
    if cfg.limit is not None:
        train = train.subset(slice(0, cfg.limit))
    class_names = data.class_names or [str(c) for c in range(num_classes)]
    strategy = make_strategy(cfg.strategy, cfg.cpu_devices)
    with strategy.scope():
        model = get(cfg.model, input_shape=data.x.shape[1:], num_classes=num_classes, class_names=class_names,
                    alphabet=data.alphabet, **cfg.arch_kwargs)
        trainer = StepTrainer(model, cfg.step, cfg.step_params)
        trainer.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), jit_compile=bool(cfg.jit))
    run = fit_run(trainer, pipeline((train.x, train.y), cfg.batch_size, shuffle_seed=cfg.seed),
                  pipeline((val.x, val.y), cfg.batch_size) if val is not None else None, cfg.epochs, out,
                  callbacks, verbose)
    test_metrics, per_class = {}, None
    if test is not None:
        test_metrics = trainer.evaluate(pipeline((test.x, test.y), cfg.batch_size), verbose=0, return_dict=True)
        pred = np.asarray(model.predict(test.x, batch_size=cfg.batch_size, verbose=0)).argmax(1)
        per_class = {class_names[c]: (float((pred[test.y == c] == c).mean()) if (test.y == c).any() else None)
                     for c in range(num_classes)}
    with atomic_path(out / f"{stem}.keras") as tmp:
        trainer.save(tmp)
    h = run["history"]
    data_info = {"train_examples": len(train), "val_examples": len(val) if val is not None else 0,
                 "test_examples": len(test) if test is not None else 0,
                 "input_shape": list(data.x.shape[1:]), "num_classes": num_classes, "source": cfg.data,
                 "alphabet": data.alphabet, "letters": data.letters, "class_names": class_names,
                 "split": "tfinterp.data.seqsets.split_sequences(data, val_fraction, test_fraction, seed)"}
    if data.meta.get("source") == "planted":
        data_info["planted"] = {k: data.meta[k] for k in ("n", "length", "seed", "decoy_rate")}
        data_info["planted"]["class_motifs"] = [list(m) for m in data.meta["class_motifs"]]
    summary = {
        "model": cfg.model, "dataset": cfg.data_name, "stem": stem,
        "command": command or " ".join(sys.argv),
        "config": cfg.asdict(),
        "step": trainer.step.config,
        "data": data_info,
        "metrics": run_metrics(test_metrics, h, run, test_accuracy_per_class=per_class,
                               chance_accuracy=(float(np.bincount(test.y, minlength=num_classes).max() / len(test))
                                                if test is not None else None)),
        "params": int(model.count_params()),
        "strategy": cfg.strategy, "replicas": int(strategy.num_replicas_in_sync),
    }
    write_json(out / f"{stem}.json", summary)
    runfolder.finish(out, record)
    return summary
