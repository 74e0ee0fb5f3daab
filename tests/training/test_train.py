import csv

import keras
import numpy as np
import pytest

from tfinterp.errors import UserError
from tfinterp.training import TrainConfig, train_classifier


@pytest.fixture
def fake_fashion(idx_dir, monkeypatch):
    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))


def _cfg(**kw):
    base = dict(model="cnn2", dataset="fashion_mnist", epochs=6, batch_size=16, learning_rate=3e-3, seed=0)
    base.update(kw)
    return TrainConfig(**base)


def test_training_learns_and_writes_artefacts(fake_fashion, tmp_path):
    m = train_classifier(_cfg(), tmp_path, verbose=0)
    # the fake set is separable (the square's row gives the class): far above chance (0.1)
    assert m["metrics"]["test_accuracy"] >= 0.6
    rows = list(csv.DictReader(open(tmp_path / "history.csv")))
    assert len(rows) == 6 and float(rows[-1]["loss"]) < float(rows[0]["loss"])
    assert (tmp_path / "cnn2_fashion_mnist.keras").exists() and (tmp_path / "cnn2_fashion_mnist.json").exists()
    assert len(m["metrics"]["epoch_seconds"]) == 6 and (tmp_path / "logs").is_dir()
    assert not (tmp_path / "backup").exists()  # removed after a finished run


def test_interrupted_run_resumes_from_last_epoch(fake_fashion, tmp_path):
    class Crash(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt("simulated kill after epoch 2")

    class FirstEpoch(keras.callbacks.Callback):
        seen = []

        def on_epoch_begin(self, epoch, logs=None):
            FirstEpoch.seen.append(epoch)

    with pytest.raises(KeyboardInterrupt):
        train_classifier(_cfg(epochs=4), tmp_path, callbacks=[Crash()], verbose=0)
    assert (tmp_path / "backup").exists()
    m = train_classifier(_cfg(epochs=4), tmp_path, callbacks=[FirstEpoch()], verbose=0)
    assert FirstEpoch.seen == [2, 3]  # epochs 0 and 1 were not redone
    assert m["metrics"]["epochs_run_this_session"] == 2
    epochs = [int(r["epoch"]) for r in csv.DictReader(open(tmp_path / "history.csv"))]
    assert epochs == [0, 1, 2, 3]


def test_one_epoch_mirrored_over_two_cpu_devices(fake_fashion, tmp_path):
    m = train_classifier(_cfg(epochs=1, strategy="mirrored", cpu_devices=2), tmp_path, verbose=0)
    assert m["replicas"] == 2 and m["strategy"] == "mirrored"
    assert np.isfinite(m["metrics"]["test_loss"])


def test_config_validation():
    with pytest.raises(UserError, match="unknown config key epochz; known: "):
        TrainConfig.from_dict({"epochz": 3})
    with pytest.raises(UserError, match="strategy"):
        TrainConfig(strategy="tpu-pod").validate()
    with pytest.raises(UserError, match="learning_rate"):
        TrainConfig(learning_rate=-1).validate()


def test_pipeline_turns_off_the_autotune_stall_and_keeps_every_example():
    import numpy as np

    from tfinterp.training.trainer import pipeline

    x = np.arange(10, dtype="float32").reshape(10, 1)
    ds = pipeline((x, np.arange(10)), 4, shuffle_seed=0)
    assert ds.options().autotune.enabled is False
    got = np.concatenate([b[0].numpy()[:, 0] for b in ds])
    assert sorted(got.tolist()) == list(range(10)) and len(list(ds)) == 3
