"""StepTrainer: the natural step trains exactly as Keras' own compile/fit does; the same step
over 2 mirrored CPU replicas; an interrupted fit resumes to the uninterrupted weights; mixed
precision; the saved file is the user's model; train_classifier on arrays and from the CLI."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfinterp.errors import UserError
from tfinterp.training.trainer import StepTrainer, make_strategy


def _tiny(seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((6, 6, 1))
    x = keras.layers.Conv2D(3, 3, activation="relu")(inp)
    x = keras.layers.Flatten()(x)
    return keras.Model(inp, keras.layers.Dense(4, name="logits")(x))


def _data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 6, 6, 1)).astype("float32"), rng.integers(0, 4, n)


def _weights(model):
    return [v.numpy().copy() for v in model.weights]


def _batches(x, y, b=8):
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(b)


def test_natural_step_trains_exactly_like_keras_fit():
    x, y = _data()
    ref = _tiny()
    ref.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    h_ref = ref.fit(_batches(x, y), epochs=2, verbose=0, shuffle=False).history
    model = _tiny()
    t = StepTrainer(model, "natural")
    t.compile(keras.optimizers.Adam(0.01))
    h = t.fit(_batches(x, y), epochs=2, verbose=0, shuffle=False).history
    for a, b in zip(_weights(ref), _weights(model)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h["loss"], h_ref["loss"], rtol=1e-5)
    np.testing.assert_allclose(h["accuracy"], h_ref["accuracy"])


def test_mirrored_over_two_cpus_equals_one_device():
    """One SGD epoch over 2 replicas (half of each batch each) moves the weights as one device does."""
    x, y = _data(16)
    runs = []
    for strategy in (make_strategy("default"), make_strategy("mirrored", 2)):
        with strategy.scope():
            model = _tiny()
            t = StepTrainer(model, "natural")
            t.compile(keras.optimizers.SGD(0.1))
        h = t.fit(_batches(x, y), epochs=1, verbose=0, shuffle=False).history
        runs.append((strategy.num_replicas_in_sync, _weights(model), h["loss"][0]))
    assert [r[0] for r in runs] == [1, 2]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert runs[1][2] == pytest.approx(runs[0][2], rel=1e-5)  # the logged loss is the global mean


def test_backup_and_restore_resumes_to_the_uninterrupted_weights(tmp_path):
    """Killed after epoch 2 of 4 and resumed: the weights *and* Adam's moments come back, so the
    final weights equal those of a run that was never interrupted (no shuffling here)."""
    x, y = _data()

    def run(backup, callbacks=()):
        model = _tiny()
        t = StepTrainer(model, "natural")
        t.compile(keras.optimizers.Adam(0.01))
        t.fit(_batches(x, y), epochs=4, verbose=0, shuffle=False,
              callbacks=[keras.callbacks.BackupAndRestore(str(backup)), *callbacks])
        return model

    class Crash(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    seen = []

    class Begin(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(epoch)

    whole = _weights(run(tmp_path / "a"))
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b", [Crash()])
    resumed = _weights(run(tmp_path / "b", [Begin()]))
    assert seen == [2, 3]
    for a, b in zip(whole, resumed):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_mixed_precision_step():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = _tiny()
        t = StepTrainer(model, "natural")
        t.compile(keras.optimizers.Adam(0.01))
        assert isinstance(t.optimizer, keras.optimizers.LossScaleOptimizer)
        assert model.layers[1].compute_dtype == "float16"
        before = _weights(model)
        x, y = _data(8)
        h = t.fit(x, y, batch_size=4, epochs=3, verbose=0).history  # early steps may be skipped while the scale settles
        assert all(np.isfinite(v[-1]) for v in h.values())
        assert model.weights[0].dtype == "float32"
        assert max(np.abs(a - b).max() for a, b in zip(before, _weights(model))) > 0
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_saved_file_is_the_users_model(tmp_path):
    x, y = _data(8)
    model = _tiny()
    t = StepTrainer(model, "natural")
    t.compile(keras.optimizers.Adam(0.01))
    t.fit(x, y, batch_size=4, epochs=1, verbose=0)
    t.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")  # compiled as Keras' own training leaves it
    assert not isinstance(again, StepTrainer) and type(again) is type(model)
    np.testing.assert_allclose(again(x).numpy(), model(x).numpy(), atol=1e-6)
    assert again.evaluate(x, y, verbose=0, return_dict=True)["accuracy"] >= 0  # loss and metric restored
    with pytest.raises(NotImplementedError, match="save its model"):
        t.get_config()


@pytest.fixture
def fake_fashion(idx_dir, monkeypatch):
    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))


def test_train_classifier_on_arrays_without_validation(tmp_path):
    """The benchmark's path: arrays in, every example trains (val_fraction 0), test arrays evaluated."""
    from tfinterp.training import TrainConfig, train_classifier

    rng = np.random.default_rng(0)
    y = np.arange(40) % 4
    x = np.zeros((40, 28, 28, 1), "float32")
    for i, c in enumerate(y):
        x[i, 6 * c:6 * c + 5, 4:20] = 0.8 + 0.2 * rng.random()
    cfg = TrainConfig(model="cnn2", dataset="toy", epochs=4, batch_size=8, learning_rate=3e-3, val_fraction=0)
    m = train_classifier(cfg, tmp_path, verbose=0, data=(x, y), test_data=(x[:12], y[:12]))
    assert m["data"]["train_examples"] == 40 and m["data"]["val_examples"] is None
    assert m["data"]["num_classes"] == 4 and m["data"]["source"] == "arrays"
    assert m["metrics"]["final_val_accuracy"] is None and m["metrics"]["test_accuracy"] >= 0.5
    assert m["step"] == {"step": "natural"}
    assert (tmp_path / "cnn2_toy.keras").exists()


def test_cli_train_classifier_with_the_natural_step(fake_fashion, tmp_path):
    from tfinterp.cli.main import main

    out = tmp_path / "o"
    code = main(["train", "classifier", "--model", "cnn2", "--dataset", "fashion_mnist", "--epochs", "1",
                 "--batch-size", "16", "--step", "natural", "--verbose", "0", "--out", str(out)])
    assert code == 0
    meta = json.loads((out / "cnn2_fashion_mnist.json").read_text())
    assert meta["config"]["step"] == "natural" and meta["step"]["step"] == "natural"


@pytest.mark.parametrize("argv,match", [
    (["--model", "protonet"], "train protonet"),
    (["--step", "protonet"], "train protonet"),
    (["--step", "madri"], "unknown training step 'madri'"),
    (["--step-param", "eps=0.3"], "natural: unknown parameter eps"),
    (["--model", "vgg99"], "unknown model 'vgg99'"),
])
def test_cli_train_classifier_refuses_up_front(fake_fashion, tmp_path, capsys, argv, match):
    from tfinterp.cli.main import main

    code = main(["train", "classifier", "--dataset", "fashion_mnist", *argv, "--out", str(tmp_path / "o")])
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert code == 2 and len(err) == 1 and match in err[0], err
    assert not (tmp_path / "o" / "history.csv").exists()  # nothing trained
