"""Training steps: the registry, each built-in step's loss terms against a hand computation,
and a custom step's weighted terms as the trainer logs them."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfinterp.errors import UserError
from tfinterp.training.steps import STEPS, Step, cross_entropy, get_step


def _identity_logits_model(k=2):
    """A model whose logits are its input (so a batch of logits can be given by hand)."""
    inp = keras.Input((k,))
    dense = keras.layers.Dense(k, use_bias=False, kernel_initializer="identity")
    return keras.Model(inp, dense(inp))


def test_registry_lists_and_builds_the_builtin_steps():
    assert {"natural", "protonet"} <= set(STEPS.names())
    assert STEPS.get("natural").registry_name == "natural"
    with pytest.raises(UserError, match="unknown training step 'madri'; available: .*natural.*protonet"):
        get_step("madri")
    with pytest.raises(UserError, match="natural: unknown parameter eps"):
        get_step("natural", eps=0.3)
    with pytest.raises(UserError, match="protonet: lambda_ae must be a number >= 0 or None, got -1"):
        get_step("protonet", lambda_ae=-1)
    s = get_step("protonet", lambda_ae="0.5")  # strings (CLI, TOML) are parsed by the step's table
    assert s.lambda_ae == 0.5 and s.lambda_class is None
    assert get_step(s) is s
    assert s.config == {"step": "protonet", "lambda_class": None, "lambda_ae": 0.5, "lambda_r1": None,
                        "lambda_r2": None}


def test_natural_step_is_the_mean_cross_entropy():
    """Logits (0, ln 3) with label 1 and (0, 0) with label 0: CE = (ln(4/3) + ln 2) / 2."""
    model = _identity_logits_model()
    logits = np.array([[0.0, math.log(3.0)], [0.0, 0.0]], "float32")
    y = np.array([1, 0])
    out = get_step("natural").loss_terms(model, tf.constant(logits), tf.constant(y), training=False)
    by_hand = (math.log(4 / 3) + math.log(2.0)) / 2
    assert float(out["ce"]) == pytest.approx(by_hand, rel=1e-6)
    keras_ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, logits)
    assert float(out["ce"]) == pytest.approx(float(keras_ce), rel=1e-6)
    np.testing.assert_allclose(out["logits"].numpy(), logits, atol=1e-6)
    assert float(get_step("natural").total(model, out)) == pytest.approx(by_hand, rel=1e-6)


def test_protonet_step_terms_by_hand_on_a_tiny_model():
    """Every term from the model's parts in NumPy (Li et al. 2018, Eq. 1-4), and the weighted total."""
    from tfinterp.models.protonet import ProtoNet

    tf.keras.utils.set_random_seed(0)
    m = ProtoNet(input_shape=(8, 8, 1), num_classes=3, num_prototypes=4, latent_dim=4, filters=(2,),
                 lambdas=(2.0, 3.0, 5.0, 7.0))
    rng = np.random.default_rng(0)
    x = rng.random((5, 8, 8, 1)).astype("float32")
    y = np.array([0, 1, 2, 0, 1])
    z = m.encode(x).numpy()
    p = m.prototypes.numpy()
    d = ((z[:, None, :] - p[None, :, :]) ** 2).sum(-1)                  # [5 codes, 4 prototypes]
    logits = d @ m.classifier.kernel.numpy()
    shifted = logits - logits.max(1, keepdims=True)
    ce = np.mean(np.log(np.exp(shifted).sum(1)) - shifted[np.arange(5), y])
    ae = np.mean(((m.decode(z).numpy() - x) ** 2).sum(axis=(1, 2, 3)))
    r1, r2 = d.min(0).mean(), d.min(1).mean()

    step = get_step("protonet")
    out = step.loss_terms(m, tf.constant(x), tf.constant(y), training=False)
    for name, want in (("ce", ce), ("ae", ae), ("r1", r1), ("r2", r2)):
        assert float(out[name]) == pytest.approx(want, rel=1e-4, abs=1e-5), name
    np.testing.assert_allclose(out["logits"].numpy(), logits, rtol=1e-4, atol=1e-4)
    # the weights default to the model's lambdas; the step's own parameters override them
    assert float(step.total(m, out)) == pytest.approx(2 * ce + 3 * ae + 5 * r1 + 7 * r2, rel=1e-4)
    own = get_step("protonet", lambda_class=1.0, lambda_r2=0.0)
    assert float(own.total(m, out)) == pytest.approx(ce + 3 * ae + 5 * r1, rel=1e-4)


def test_protonet_step_refuses_a_model_without_prototypes():
    from tfinterp.training.trainer import StepTrainer

    with pytest.raises(UserError, match="protonet step trains a ProtoNet"):
        StepTrainer(_identity_logits_model(), "protonet")


class _DecayStep(Step):
    """A two-term step for the test: CE plus 0.5 x the squared kernel norm."""

    terms = ("ce", "l2")

    def weights(self, model):
        return {"ce": 1.0, "l2": 0.5}

    def loss_terms(self, model, x, y, training):
        logits = model(x, training=training)
        return {"ce": cross_entropy(y, logits), "l2": tf.reduce_sum(tf.square(model.weights[0])),
                "logits": logits}


def test_trainer_logs_each_weighted_term_and_their_sum():
    from tfinterp.training.trainer import StepTrainer

    model = _identity_logits_model()
    t = StepTrainer(model, _DecayStep())
    t.compile(optimizer=keras.optimizers.SGD(0.0))  # no update: the logs describe the given weights
    logits = np.array([[0.0, math.log(3.0)], [0.0, 0.0]], "float32")
    r = t.evaluate(logits, np.array([1, 0]), batch_size=2, verbose=0, return_dict=True)
    ce = (math.log(4 / 3) + math.log(2.0)) / 2
    assert set(r) == {"loss", "ce", "l2", "accuracy"}
    assert r["ce"] == pytest.approx(ce, rel=1e-6) and r["l2"] == pytest.approx(2.0)  # identity kernel
    assert r["loss"] == pytest.approx(ce + 1.0, rel=1e-6) and r["accuracy"] == pytest.approx(1.0)
    assert StepTrainer(_identity_logits_model(), "natural").logged_terms == ()  # a lone term is the loss
    with pytest.raises(ValueError, match="terms"):
        type("Bad", (Step,), {"terms": ("loss",)})()


class _PGDStep(Step):
    """An adversarial-training step as the next ones will be (Madry et al. 2018): it builds an
    attack for the model and calls its in-graph `perturb` inside the trainer's train_step."""

    terms = ("ce",)

    def build(self, model):
        from tfinterp.attacks import PGD

        self.attack = PGD(model, eps=0.1, steps=3, step_size=0.05, random_start=False)

    def loss_terms(self, model, x, y, training):
        y32 = tf.cast(y, tf.int32)
        x_in = tf.stop_gradient(self.attack.perturb(x, y32, y32)) if training else x
        logits = model(x_in, training=training)
        return {"ce": cross_entropy(y, logits), "logits": logits}


def test_a_step_can_attack_inside_the_train_step():
    """With a zero learning rate the logged training loss is the CE on PGD's own output (computed
    outside the trainer), and higher than the clean loss the test step logs."""
    from tfinterp.training.trainer import StepTrainer

    keras.utils.set_random_seed(0)
    inp = keras.Input((4, 4, 1))
    model = keras.Model(inp, keras.layers.Dense(3)(keras.layers.Flatten()(inp)))
    rng = np.random.default_rng(0)
    x = rng.random((6, 4, 4, 1)).astype("float32")
    y = np.array([0, 1, 2, 0, 1, 2])
    step = _PGDStep()
    t = StepTrainer(model, step)
    t.compile(optimizer=keras.optimizers.SGD(0.0))
    h = t.fit(x, y, batch_size=6, epochs=1, verbose=0, shuffle=False).history
    adv = step.attack.attack(x, y)
    want = float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, model(adv)))
    assert h["loss"][0] == pytest.approx(want, rel=1e-5)
    clean = t.evaluate(x, y, batch_size=6, verbose=0, return_dict=True)["loss"]
    assert h["loss"][0] > clean + 1e-3
