"""The adversarial validation set: targets, success flags, resumable chunked builds, validation."""

import json

import keras
import numpy as np
import pytest

from tfinterp import models
from tfinterp.analysis.advset import (AdversarialSet, build_adversarial_set, load_adversarial_set,
                                      save_adversarial_set)
from tfinterp.errors import UserError


def _model(seed=0, classes=4, shape=(12, 12, 1)):
    keras.utils.set_random_seed(seed)
    return models.get("vggsmall", input_shape=shape, num_classes=classes, filters=(4, 4, 4), convs=(1, 1, 1))


def _data(n=7, shape=(12, 12, 1)):
    rng = np.random.default_rng(0)
    return rng.random((n, *shape), dtype=np.float32), np.arange(n) % 4


PGD = {"eps": 0.2, "steps": 3, "random_start": True}


def test_targets_success_and_layout(tmp_path):
    m = _model()
    x, y = _data()
    aset = build_adversarial_set(tmp_path / "s.npz", m, x, y, k=2, attack="pgd", params=PGD, index=np.arange(7) + 100,
                                 chunk_size=3, batch_size=4)
    assert len(aset) == 14 and aset.images.shape == (14, 12, 12, 1)
    np.testing.assert_array_equal(aset.index, np.repeat(np.arange(7) + 100, 2))
    np.testing.assert_array_equal(aset.labels, np.repeat(y, 2))
    # the two least-likely classes of each image, least likely first
    p = keras.ops.softmax(m(x)).numpy()
    np.testing.assert_array_equal(aset.targets.reshape(7, 2), np.argsort(p, axis=1, kind="stable")[:, :2])
    # success: the model predicts the target on the adversarial image
    np.testing.assert_array_equal(aset.success, m(aset.images).numpy().argmax(-1) == aset.targets)
    assert np.abs(aset.images - x[np.repeat(np.arange(7), 2)]).max() <= 0.2 + 1e-6
    loaded = load_adversarial_set(tmp_path / "s.npz", m)
    for a in ("images", "index", "labels", "targets", "success"):
        np.testing.assert_array_equal(getattr(loaded, a), getattr(aset, a))
    assert loaded.meta["k"] == 2 and loaded.meta["num_classes"] == 4 and loaded.meta["attack"] == "pgd"
    assert not (tmp_path / "s.npz.parts").exists()


def test_resume_after_a_kill_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    m = _model()
    x, y = _data()
    full = build_adversarial_set(tmp_path / "full.npz", m, x, y, k=2, attack="pgd", params=PGD, chunk_size=3,
                                 batch_size=4, seed=5)

    class Killed(Exception):
        pass

    seen = []

    def kill_after_two(done, total):
        seen.append(done)
        if len(seen) == 2:
            raise Killed

    with pytest.raises(Killed):
        build_adversarial_set(tmp_path / "r.npz", m, x, y, k=2, attack="pgd", params=PGD, chunk_size=3,
                              batch_size=4, seed=5, progress=kill_after_two)
    parts = tmp_path / "r.npz.parts"
    assert sorted(p.name for p in parts.glob("chunk_*.npz")) == ["chunk_00000.npz", "chunk_00001.npz"]
    assert not (tmp_path / "r.npz").exists()
    with pytest.raises(UserError, match="unfinished"):
        load_adversarial_set(tmp_path / "r.npz")
    import tfinterp.analysis.advset as advset

    crafted = []
    real = advset.craft_chunk
    monkeypatch.setattr(advset, "craft_chunk", lambda att, ms, xs, *a, **kw: crafted.append(len(xs)) or
                        real(att, ms, xs, *a, **kw))
    resumed = build_adversarial_set(tmp_path / "r.npz", m, x, y, k=2, attack="pgd", params=PGD, chunk_size=3,
                                    batch_size=4, seed=5)
    assert crafted == [1]  # only the last chunk (1 image) was attacked; the finished two were skipped
    for a in ("images", "index", "labels", "targets", "success"):
        np.testing.assert_array_equal(getattr(resumed, a), getattr(full, a))
    # the finished file is reused; other settings are refused
    again = build_adversarial_set(tmp_path / "r.npz", m, x, y, k=2, attack="pgd", params=PGD, chunk_size=3,
                                  batch_size=4, seed=5)
    np.testing.assert_array_equal(again.images, full.images)
    with pytest.raises(UserError, match="--fresh"):
        build_adversarial_set(tmp_path / "r.npz", m, x, y, k=1, attack="pgd", params=PGD, chunk_size=3)


def test_ensemble_over_two_models(tmp_path):
    a, b = _model(0), _model(1)
    x, y = _data(4)
    aset = build_adversarial_set(tmp_path / "e.npz", [a, b], x, y, k=1, attack="ensemble",
                                 params={"steps": 30, "step_size": 0.05, "lam": 0.0}, chunk_size=2)
    p = (keras.ops.softmax(a(x)).numpy() + keras.ops.softmax(b(x)).numpy()) / 2
    np.testing.assert_array_equal(aset.targets, p.argmin(1))
    assert aset.meta["models"] == [a.name, b.name]
    # the attack moved the ensemble towards the targets (the untrained nets need not flip)
    q = (keras.ops.softmax(a(aset.images)).numpy() + keras.ops.softmax(b(aset.images)).numpy()) / 2
    assert np.all(q[np.arange(4), aset.targets] > p[np.arange(4), aset.targets])
    with pytest.raises(UserError, match="ensemble"):
        build_adversarial_set(tmp_path / "p.npz", [a, b], x, y, k=1, attack="pgd", params=PGD)


def test_validation_against_another_model(tmp_path):
    m = _model()
    x, y = _data(3)
    build_adversarial_set(tmp_path / "s.npz", m, x, y, k=1, attack="pgd", params=PGD)
    with pytest.raises(UserError, match="takes"):
        load_adversarial_set(tmp_path / "s.npz", _model(shape=(16, 16, 1)))
    with pytest.raises(UserError, match="classes"):
        load_adversarial_set(tmp_path / "s.npz", _model(classes=5))
    with pytest.raises(UserError, match="not found"):
        load_adversarial_set(tmp_path / "none.npz")
    np.savez(tmp_path / "bad.npz", images=np.zeros((1, 12, 12, 1)))
    with pytest.raises(UserError, match="lacks"):
        load_adversarial_set(tmp_path / "bad.npz")
    bad = AdversarialSet(np.zeros((2, 12, 12, 1), np.float32), np.zeros(2), np.zeros(2), np.array([0, 7]),
                         np.zeros(2, bool), {"num_classes": 4})
    save_adversarial_set(tmp_path / "bad2.npz", bad)
    with pytest.raises(UserError, match="0..3"):
        load_adversarial_set(tmp_path / "bad2.npz")
    meta = json.loads(str(np.load(tmp_path / "s.npz")["meta"]))
    assert meta["input_shape"] == [12, 12, 1]
