"""The adversarial training steps (madry, consistent, trades): each trains under `fit`, logs its
terms and lowers its loss; their adversarial examples and terms against what theory says; the
CLI's step options and their bad values."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfinterp.cli.main import main
from tfinterp.errors import UserError
from tfinterp.training.steps import STEPS, get_step
from tfinterp.training.trainer import StepTrainer, pipeline

ADVERSARIAL = {"madry": {"eps": 0.1, "steps": 3}, "consistent": {"eps": 0.1, "steps": 3, "layer": "conv"},
               "trades": {"eps": 0.1, "steps": 3}}


def _tiny(seed=0):
    """A conv net on 8x8x1 with no dropout (so two forward passes on the same input agree)."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inp)
    h = keras.layers.Flatten()(h)
    return keras.Model(inp, keras.layers.Dense(3, name="logits")(h))


def _data(n=48, seed=0):
    """Class c lights row block c: learnable in a few epochs."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.uniform(0, 0.2, (n, 8, 8, 1)).astype("float32")
    for i, c in enumerate(y):
        x[i, 2 * c:2 * c + 3, :, 0] += 0.7
    return np.clip(x, 0, 1), y.astype("int64")


def test_the_adversarial_steps_are_registered():
    assert {"madry", "consistent", "trades"} <= set(STEPS.names())


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_step_trains_under_fit_logs_its_terms_and_lowers_its_loss(name):
    x, y = _data()
    model = _tiny()
    trainer = StepTrainer(model, name, ADVERSARIAL[name])
    trainer.compile(optimizer=keras.optimizers.Adam(1e-2))
    h = trainer.fit(pipeline((x, y), 16, shuffle_seed=0), epochs=8, verbose=0).history
    step = get_step(name, **ADVERSARIAL[name])
    for term in (step.terms if len(step.terms) > 1 else ()):
        assert term in h and np.all(np.isfinite(h[term])), term
    assert h["loss"][-1] < 0.8 * h["loss"][0], h["loss"]


def test_madry_examples_stay_in_the_eps_ball_and_the_pixel_range():
    x, y = _data(16)
    model = _tiny()
    step = get_step("madry", eps=0.05, steps=5, seed=1)
    step.build(model)
    adv = step.attack.perturb(tf.constant(x), tf.constant(y, tf.int32), tf.constant(y, tf.int32)).numpy()
    assert np.abs(adv - x).max() <= 0.05 + 1e-6 and adv.min() >= 0 and adv.max() <= 1
    assert np.abs(adv - x).max() > 0.04  # it moved (signed steps reach the ball's surface)
    # the step's adversarial loss is at least the clean loss (PGD ascends the cross-entropy)
    out = step.loss_terms(model, tf.constant(x), tf.constant(y), training=True)
    clean = float(get_step("natural").loss_terms(model, tf.constant(x), tf.constant(y), training=False)["ce"])
    assert float(out["ce_adv"]) > clean


def test_madry_mix_weights_clean_and_adversarial_terms():
    step = get_step("madry", eps=0.1, steps=2, mix=0.25)
    assert step.terms == ("ce_adv", "ce_clean") and step.weights(None) == {"ce_adv": 0.75, "ce_clean": 0.25}
    assert get_step("madry").terms == ("ce_adv",)
    out = {"ce_adv": tf.constant(2.0), "ce_clean": tf.constant(1.0)}
    assert float(step.total(None, out)) == pytest.approx(0.75 * 2 + 0.25 * 1)


def test_consistency_term_is_exactly_zero_when_g_is_the_identity():
    x, y = _data(8)
    model = _tiny()
    step = get_step("consistent", steps=0, layer="conv")
    step.build(model)
    out = step.loss_terms(model, tf.constant(x), tf.constant(y), training=True)
    assert float(out["consistency"]) == 0.0
    assert float(out["ce_adv"]) == pytest.approx(float(out["ce_clean"]))


def test_consistent_step_terms_by_hand():
    """phi's squared distance and both cross-entropies from the model, with G's own output."""
    x, y = _data(6)
    model = _tiny()
    step = get_step("consistent", steps=4, eps=0.1, layer="conv", target="least_likely")
    step.build(model)
    out = step.loss_terms(model, tf.constant(x), tf.constant(y), training=True)
    logits = model(x).numpy()
    targets = logits.argmin(-1).astype("int32")
    adv = step.attack.perturb(tf.constant(x), tf.constant(y, tf.int32), tf.constant(targets)).numpy()
    assert np.abs(adv - x).max() <= 0.1 + 1e-6
    phi = keras.Model(model.input, model.get_layer("conv").output)
    sq = ((phi(x).numpy() - phi(adv).numpy()) ** 2).reshape(6, -1).sum(1).mean()
    ce = lambda lg: float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, lg))
    assert float(out["consistency"]) == pytest.approx(sq, rel=1e-4)
    assert float(out["ce_clean"]) == pytest.approx(ce(logits), rel=1e-5)
    assert float(out["ce_adv"]) == pytest.approx(ce(model(adv)), rel=1e-4)
    total = 0.5 * float(out["ce_clean"]) + 0.5 * float(out["ce_adv"]) + 0.1 * float(out["consistency"])
    assert float(step.total(model, out)) == pytest.approx(total, rel=1e-5)
    # G moved towards y*: the targets' probability rose
    p = lambda im: tf.nn.softmax(model(im)).numpy()[np.arange(6), targets]
    assert np.all(p(adv) > p(x))


def test_consistent_random_targets_differ_from_the_labels():
    model = _tiny()
    step = get_step("consistent", target="random", seed=3, layer="conv")
    step.build(model)
    y = tf.constant(np.arange(300) % 3, tf.int32)
    t = step.targets(tf.zeros([300, 3]), y).numpy()
    assert np.all(t != y.numpy()) and set(t) == {0, 1, 2}


def test_trades_kl_is_zero_at_x_prime_equal_x_and_positive_after_the_attack():
    x, y = _data(8)
    model = _tiny()
    still = get_step("trades", steps=0)
    still.build(model)
    assert float(still.loss_terms(model, tf.constant(x), tf.constant(y), training=True)["kl"]) == 0.0
    moved = get_step("trades", eps=0.2, steps=5, seed=0)
    moved.build(model)
    out = moved.loss_terms(model, tf.constant(x), tf.constant(y), training=True)
    assert float(out["kl"]) > 1e-4 and float(moved.total(model, out)) == pytest.approx(
        float(out["ce"]) + 6.0 * float(out["kl"]), rel=1e-5)


def test_kl_pgd_raises_the_kl_and_stays_in_the_ball():
    from tfinterp.attacks.pgd_kl import KLPGD, kl_from_logits

    x, y = _data(8)
    model = _tiny()
    attack = KLPGD(model, eps=0.1, steps=10, seed=0)
    adv = attack.attack(x, y)
    assert np.abs(adv - x).max() <= 0.1 + 1e-6 and adv.min() >= 0 and adv.max() <= 1
    kl = kl_from_logits(model(x), model(adv)).numpy()
    noise = np.clip(x + np.random.default_rng(0).choice([-0.1, 0.1], x.shape), 0, 1).astype("float32")
    assert kl.mean() > kl_from_logits(model(x), model(noise)).numpy().mean()
    assert float(tf.reduce_max(kl_from_logits(model(x), model(x)))) == 0.0


def test_step_parameter_errors_name_the_parameter():
    with pytest.raises(UserError, match="madry: eps must be"):
        get_step("madry", eps=1.5)
    with pytest.raises(UserError, match="consistent: target must be one of"):
        get_step("consistent", target="most_likely")
    with pytest.raises(UserError, match="consistent: layer 'nope'"):
        StepTrainer(_tiny(), "consistent", {"layer": "nope"})


def run(args, capsys):
    code = main(args)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_cli_trains_madry_from_a_step_table_and_fine_tunes(idx_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))
    cfg = tmp_path / "madry.toml"
    cfg.write_text('[train]\nmodel = "cnn2"\ndataset = "fashion_mnist"\nepochs = 1\nbatch_size = 16\n'
                   'step = "madry"\n\n[step]\neps = 0.05\nsteps = 2\n')
    code, out, err = run(["train", "classifier", "--config", str(cfg), "--attack-steps", "3",
                          "--out", str(tmp_path / "a"), "--verbose", "0"], capsys)
    assert code == 0, err
    meta = json.loads((tmp_path / "a" / "cnn2_fashion_mnist.json").read_text())
    assert meta["step"]["step"] == "madry" and meta["step"]["eps"] == 0.05 and meta["step"]["steps"] == 3
    base = tmp_path / "a" / "cnn2_fashion_mnist.keras"
    code, out, err = run(["train", "classifier", "--model", "cnn2", "--dataset", "fashion_mnist", "--epochs", "1",
                          "--step", "trades", "--attack-eps", "0.1", "--attack-steps", "1", "--init-from", str(base),
                          "--out", str(tmp_path / "b"), "--verbose", "0"], capsys)
    assert code == 0, err
    meta = json.loads((tmp_path / "b" / "cnn2_fashion_mnist.json").read_text())
    assert meta["config"]["init_from"] == str(base) and meta["step"]["beta"] == 6.0


def test_cli_step_bad_input_one_line_exit_2(idx_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))
    (tmp_path / "tbl.toml").write_text('[train]\nstep = "madry"\nstep_params = {eps = 0.1}\n[step]\neps = "big"\n')
    o = str(tmp_path / "o")
    tc = ["train", "classifier", "--model", "cnn2", "--dataset", "fashion_mnist", "--out", o]
    cases = [
        ("unknown step", tc + ["--step", "madri"], "unknown training step 'madri'"),
        ("eps above 1", tc + ["--step", "madry", "--attack-eps", "1.5"], "eps must be"),
        ("eps zero", tc + ["--step", "trades", "--attack-eps", "0"], "eps must be"),
        ("eps for a step without one", tc + ["--attack-eps", "0.1"], "natural: unknown parameter eps"),
        ("bad [step] value", ["train", "classifier", "--config", str(tmp_path / "tbl.toml"), "--out", o], "eps"),
        ("init from a missing model", tc + ["--init-from", str(tmp_path / "none.keras")], "none.keras"),
    ]
    for name, argv, want in cases:
        code, out, err = run(argv, capsys)
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        assert code == 2 and len(lines) == 1 and "Traceback" not in err and want in err, (name, err)
