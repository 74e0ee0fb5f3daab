"""Issue 14, training half of item 5: the default ProtoNet config is the shipped one; a training
folder knows its run (resume, finished, foreign, --fresh); a resumed run repeats the
uninterrupted one exactly because each epoch's shuffle (and elastic deformation) is a function
of (seed, epoch)."""

import csv
import json
import tomllib
from pathlib import Path

import keras
import numpy as np
import pytest

from tfinterp.errors import UserError
from tfinterp.training import runfolder

ROOT = Path(__file__).resolve().parents[2]


def test_protonet_defaults_are_the_shipped_config_toml():
    from tfinterp.training.protonet import DEFAULTS, ProtoNetConfig

    table = tomllib.loads((ROOT / "configs" / "protonet_fashion_mnist.toml").read_text())["protonet"]
    assert table == DEFAULTS
    cfg = ProtoNetConfig()
    assert {k: getattr(cfg, k) for k in table} == table
    assert ProtoNetConfig.from_dict(table) == cfg  # the file and the defaults are one configuration


# ---- the run record -----------------------------------------------------------------------

def _record(**config):
    cfg = {"model": "cnn2", "dataset": "fashion_mnist", "epochs": 2, "batch_size": 16, "seed": 0,
           "strategy": "default", **config}
    return {"job": "train classifier", "stem": f"{cfg['model']}_{cfg['dataset']}", "model": cfg["model"],
            "dataset": cfg["dataset"], "config": cfg}


def _backup(out):
    (out / "backup").mkdir(parents=True, exist_ok=True)
    (out / "backup" / "training_metadata.json").write_text('{"epoch": 1, "batch": 0}')


def test_new_finished_and_changed_runs(tmp_path):
    out = tmp_path
    rec = _record()
    assert runfolder.prepare(out, rec) is None
    assert json.loads((out / "run.json").read_text())["status"] == "running"
    (out / "cnn2_fashion_mnist.json").write_text(json.dumps({"metrics": {"test_accuracy": 0.5}}))
    (out / "cnn2_fashion_mnist.keras").write_bytes(b"model")
    runfolder.finish(out, rec)
    done = runfolder.prepare(out, rec)
    assert done == {"metrics": {"test_accuracy": 0.5}, "already_finished": True}
    assert runfolder.prepare(out, _record(strategy="mirrored"))["already_finished"]  # how it runs: same run
    with pytest.raises(UserError, match=r"holds a finished run of cnn2 on fashion_mnist with epochs=2; this run "
                                        r"has epochs=3: pass --fresh"):
        runfolder.prepare(out, _record(epochs=3))
    with pytest.raises(UserError, match="holds a finished run of cnn2 on fashion_mnist; this run trains madry on "
                                        "fashion_mnist"):
        runfolder.prepare(out, _record(model="madry"))
    (out / "cnn2_fashion_mnist.keras").unlink()             # the model moved away: train again, afresh
    (out / "history.csv").write_text("epoch,loss\n0,1.0\n1,0.5\n")
    assert runfolder.prepare(out, rec) is None and not (out / "history.csv").exists()


def test_backup_of_this_run_resumes_another_is_refused(tmp_path):
    rec = _record()
    assert runfolder.prepare(tmp_path, rec) is None
    _backup(tmp_path)
    (tmp_path / "history.csv").write_text("epoch,loss\n0,1.0\n")
    assert runfolder.prepare(tmp_path, _record(epochs=5)) is None  # more epochs: resumes
    assert (tmp_path / "history.csv").exists() and runfolder.has_backup(tmp_path)
    with pytest.raises(UserError, match=r"holds the backup of an interrupted run of cnn2 on fashion_mnist with "
                                        r"batch_size=16; this run has batch_size=32: pass --fresh"):
        runfolder.prepare(tmp_path, _record(batch_size=32))
    protonet = {**_record(), "job": "train protonet", "model": "protonet"}
    with pytest.raises(UserError, match=r"cnn2 on fashion_mnist \(train classifier\); this run trains protonet on "
                                        r"fashion_mnist \(train protonet\)"):
        runfolder.prepare(tmp_path, protonet)


def test_no_backup_means_a_fresh_history_and_fresh_removes_only_run_files(tmp_path):
    rec = _record()
    runfolder.prepare(tmp_path, rec)                       # killed before the first backup:
    (tmp_path / "history.csv").write_text("epoch,loss\n")
    assert runfolder.prepare(tmp_path, rec) is None        # its history goes
    assert not (tmp_path / "history.csv").exists()
    other = tmp_path / "other"
    other.mkdir()
    (other / "history.csv").write_text("epoch,loss\n0,1.0\n")
    with pytest.raises(UserError, match="holds the history of an earlier training run"):
        runfolder.prepare(other, rec)                      # a folder from before run records: not appended to
    (other / "logs" / "train").mkdir(parents=True)
    (other / "notes.txt").write_text("mine")
    _backup(other)
    assert runfolder.prepare(other, rec, fresh=True) is None
    assert not (other / "backup").exists() and not (other / "logs").exists()
    assert not (other / "history.csv").exists() and (other / "notes.txt").read_text() == "mine"
    mine = tmp_path / "mine"
    (mine / "logs").mkdir(parents=True)
    (mine / "logs" / "thesis.tex").write_text("keep")
    (mine / "backup").mkdir()
    (mine / "backup" / "photos.zip").write_text("keep")
    with pytest.raises(UserError, match="holds files a training backup does not"):
        runfolder.prepare(mine, rec, fresh=True)
    assert (mine / "logs" / "thesis.tex").exists()


# ---- the shuffle order is a function of (seed, epoch) ---------------------------------------

def test_pipeline_order_depends_on_seed_and_epoch_only():
    from tfinterp.training.trainer import pipeline

    x = np.arange(20, dtype="float32").reshape(20, 1)
    data = (x, np.arange(20))

    def order(ds):
        return np.concatenate([b[1].numpy() for b in ds]).tolist()

    a, b = pipeline(data, 6, shuffle_seed=3), pipeline(data, 6, shuffle_seed=3)
    epochs = [order(a) for _ in range(3)]
    assert all(sorted(e) == list(range(20)) for e in epochs) and len({tuple(e) for e in epochs}) == 3
    b.epoch_counter.assign(1)                              # a fresh pipeline told "epoch 2 is next"
    assert order(b) == epochs[2]
    assert order(pipeline(data, 6, shuffle_seed=4)) != epochs[0]
    assert int(a.cardinality()) == 4
    import tensorflow as tf                                # a Dataset input: a reshuffled seeded buffer

    def flip(xb, yb, seed):
        return xb * 0 + tf.cast(seed[1], tf.float32)[None, None], yb
    streamed = pipeline(tf.data.Dataset.from_tensor_slices(data), 6, shuffle_seed=3, augment=flip)
    passes = [order(streamed) for _ in range(2)]
    assert all(sorted(e) == list(range(20)) for e in passes) and passes[0] != passes[1]
    seeds = [b[0].numpy()[0, 0] for b in pipeline(data, 6, shuffle_seed=3, augment=flip)]
    assert len(set(seeds)) == 4                            # one augmentation seed per batch


def _history(path):
    rows = list(csv.DictReader(open(path)))
    return {k: [float(r[k]) for r in rows] for k in rows[0] if k != "epoch_seconds"}


class _Crash(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            raise KeyboardInterrupt("simulated kill after the first epoch")


@pytest.fixture
def fake_fashion(idx_dir, monkeypatch):
    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))


def test_resumed_classifier_run_repeats_the_uninterrupted_one(fake_fashion, tmp_path):
    """2 epochs straight vs killed after epoch 1 and resumed: the same epoch metrics and weights
    (before the fix, the resumed epoch replayed epoch 1's shuffle order and drifted)."""
    from tfinterp.training import TrainConfig, train_classifier

    cfg = dict(model="cnn2", dataset="fashion_mnist", epochs=2, batch_size=8, learning_rate=3e-3, seed=0)
    train_classifier(TrainConfig(**cfg), tmp_path / "whole", verbose=0)
    with pytest.raises(KeyboardInterrupt):
        train_classifier(TrainConfig(**cfg), tmp_path / "cut", callbacks=[_Crash()], verbose=0)
    m = train_classifier(TrainConfig(**cfg), tmp_path / "cut", verbose=0)
    assert m["metrics"]["epochs_run_this_session"] == 1
    whole, cut = _history(tmp_path / "whole" / "history.csv"), _history(tmp_path / "cut" / "history.csv")
    assert whole["epoch"] == cut["epoch"] == [0.0, 1.0]
    for k in whole:
        np.testing.assert_allclose(cut[k], whole[k], rtol=1e-5, atol=1e-6, err_msg=k)
    a = keras.models.load_model(tmp_path / "whole" / "cnn2_fashion_mnist.keras")
    b = keras.models.load_model(tmp_path / "cut" / "cnn2_fashion_mnist.keras")
    for u, v in zip(a.weights, b.weights):
        np.testing.assert_allclose(u.numpy(), v.numpy(), rtol=1e-5, atol=1e-6)


def test_resumed_protonet_run_with_elastic_deformation_repeats_the_uninterrupted_one(fake_fashion, tmp_path):
    from tfinterp.training.protonet import ProtoNetConfig, train_protonet

    cfg = dict(dataset="fashion_mnist", epochs=2, batch_size=20, learning_rate=0.01, prototypes=6, latent_dim=16,
               filters=[4, 8], val_fraction=0.2, seed=0, elastic=True, elastic_alpha=2.0, elastic_sigma=2.0)
    train_protonet(ProtoNetConfig(**cfg), tmp_path / "whole", verbose=0)
    with pytest.raises(KeyboardInterrupt):
        train_protonet(ProtoNetConfig(**cfg), tmp_path / "cut", callbacks=[_Crash()], verbose=0)
    train_protonet(ProtoNetConfig(**cfg), tmp_path / "cut", verbose=0)
    whole, cut = _history(tmp_path / "whole" / "history.csv"), _history(tmp_path / "cut" / "history.csv")
    assert whole["epoch"] == cut["epoch"] == [0.0, 1.0]
    for k in whole:
        np.testing.assert_allclose(cut[k], whole[k], rtol=1e-5, atol=1e-5, err_msg=k)
