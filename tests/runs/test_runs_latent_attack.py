"""runs.latent_attack: the examples it picks, the PGD budget it spends, the files it writes."""

import json

import keras
import numpy as np
import pytest

from tfinterp.errors import UserError


@pytest.fixture(scope="module")
def proto_path(tmp_path_factory):
    from tfinterp.models.protonet import ProtoNet

    keras.utils.set_random_seed(0)
    net = ProtoNet(input_shape=(28, 28, 1), num_classes=10, num_prototypes=6, latent_dim=16, filters=(4, 8))
    net(np.zeros((1, 28, 28, 1), np.float32))
    path = tmp_path_factory.mktemp("proto") / "proto.keras"
    net.save(path)
    return str(path)


def test_latent_attack_picks_the_classes_and_spends_the_budget(proto_path, idx_dir, monkeypatch, tmp_path):
    from tfinterp.data import load_arrays
    from tfinterp.runs.latent_attack import latent_attack

    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))
    s = latent_attack(proto_path, tmp_path, dataset="fashion_mnist", untargeted=[1], targeted=[(2, 3)],
                      steps=[0, 2], eps=0.1, step_size=0.02, command="test")
    _, y = load_arrays("fashion_mnist", "test")
    assert [int(y[i]) for i in s["test_indices"]] == [1, 2] and list(s["targets"]) == [-1, 3]
    linf = np.asarray(s["linf"])
    np.testing.assert_allclose(linf[:, 0], 0.0)                 # 0 iterations: the test image itself
    np.testing.assert_allclose(linf[:, 1], 0.04, atol=1e-5)     # 2 signed steps of 0.02, no random start
    saved = json.loads((tmp_path / "adversarial_latents.json").read_text())
    assert saved["steps"] == [0, 2] and saved["command"] == "test" and saved["figure"] == s["figure"]
    assert (tmp_path / "adversarial_latents.png").stat().st_size > 1000


def test_latent_attack_bad_requests(proto_path, tiny_model_path, idx_dir, monkeypatch, tmp_path):
    from tfinterp.runs.latent_attack import latent_attack

    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))
    kw = dict(dataset="fashion_mnist", steps=[0, 1])
    with pytest.raises(UserError, match="class 12 is out of range"):
        latent_attack(proto_path, tmp_path, untargeted=[12], targeted=[], **kw)
    with pytest.raises(UserError, match="nothing to attack"):
        latent_attack(proto_path, tmp_path, untargeted=[], targeted=[], **kw)
    with pytest.raises(UserError, match="--eps"):
        latent_attack(proto_path, tmp_path, eps=2.0, **kw)
    with pytest.raises(UserError, match="ProtoNet"):
        latent_attack(str(tiny_model_path), tmp_path, **kw)
    assert not (tmp_path / "adversarial_latents.json").exists()
