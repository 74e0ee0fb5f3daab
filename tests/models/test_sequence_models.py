"""The sequence zoo: seqcnn (DeepBind-like) and seqlstm (conv + BiLSTM)."""

import keras
import numpy as np
import pytest

from tfinterp import models
from tfinterp.data.planted import make_planted
from tfinterp.data.sequences import one_hot
from tfinterp.errors import UserError


def _x(n=3, length=40, a=4, seed=0):
    rng = np.random.default_rng(seed)
    return np.eye(a, dtype=np.float32)[rng.integers(0, a, (n, length))]


def test_registered_in_zoo():
    names = models.list_models()
    assert "seqcnn" in names and "seqlstm" in names
    assert "DeepBind" in names["seqcnn"]


@pytest.mark.parametrize("arch", ["seqcnn", "seqlstm"])
@pytest.mark.parametrize("alphabet, a", [("dna", 4), ("protein", 20)])
def test_forward_aliases_and_config_round_trip(arch, alphabet, a, tmp_path):
    m = models.get(arch, input_shape=(40, a), num_classes=3, alphabet=alphabet, filters=4, kernel_size=5)
    x = _x(2, 40, a)
    y = np.asarray(m(x))
    assert y.shape == (2, 3) and m.input_shape == (None, 40, a) and m.alphabet == alphabet
    fm = models.feature_model(m, ["first_conv", "last_conv", "pool", "logits"])
    o = fm(x)
    assert o["first_conv"].shape == (2, 36, 4)  # valid padding: 40 - 5 + 1 positions, 4 filters
    np.testing.assert_allclose(o["logits"], y, atol=1e-5)
    clone = m.__class__.from_config(m.get_config())
    clone.set_weights(m.get_weights())
    np.testing.assert_allclose(np.asarray(clone(x)), y, atol=1e-6)
    assert clone.get_config() == m.get_config()
    path = tmp_path / f"{arch}.keras"
    m.save(path)
    loaded = models.load_model(str(path))
    assert type(loaded).__name__ == "SequenceClassifier" and loaded.arch == arch
    np.testing.assert_allclose(np.asarray(loaded(x)), y, atol=1e-6)
    assert loaded.layer_aliases["first_conv"] == "conv1" and loaded.letters == ("ACGT" if a == 4 else
                                                                                 "ACDEFGHIKLMNPQRSTVWY")


def test_first_conv_by_hand():
    """conv1 at position p is relu(sum_k,a W[k, a, f] x[p + k, a] + b_f) (valid padding)."""
    m = models.get("seqcnn", input_shape=(20, 4), num_classes=2, filters=3, kernel_size=4)
    x = one_hot(["ACGTACGTTTGGCCAANNAC", "GGGGGGGGGGAAAAAAAAAA"])
    conv = m.backbone.get_layer("conv1")
    w, b = [np.asarray(v) for v in conv.weights]
    assert w.shape == (4, 4, 3)
    want = np.stack([[np.maximum(np.einsum("ka,kaf->f", x[i, p:p + 4], w) + b, 0) for p in range(17)]
                     for i in range(2)])
    got = np.asarray(models.feature_model(m, "first_conv")(x)["first_conv"])
    np.testing.assert_allclose(got, want, atol=1e-5)
    # global max pooling: pool1 is the max of conv1 over positions
    pool = np.asarray(models.feature_model(m, "pool")(x)["pool"])
    np.testing.assert_allclose(pool, want.max(1), atol=1e-5)


def test_windowed_pooling_option():
    m = models.get("seqcnn", input_shape=(30, 4), pool_size=5, filters=2, kernel_size=6)
    assert models.feature_model(m, "pool")(_x(1, 30))["pool"].shape == (1, 5, 2)


def test_bad_shapes_and_options():
    with pytest.raises(UserError, match="input has 4 columns but the protein alphabet has 20"):
        models.get("seqcnn", input_shape=(50, 4), alphabet="protein")
    with pytest.raises(UserError, match=r"input_shape must be \(length, alphabet_size\)"):
        models.get("seqcnn", input_shape=(28, 28, 1))
    with pytest.raises(UserError, match="kernel_size 60 must be between 1 and the sequence length 50"):
        models.get("seqcnn", input_shape=(50, 4), kernel_size=60)
    with pytest.raises(UserError, match="pool_size 40 leaves no positions"):
        models.get("seqlstm", input_shape=(50, 4), kernel_size=12, pool_size=40)
    with pytest.raises(UserError, match="bad architecture option"):
        models.get("seqcnn", input_shape=(50, 4), colour=3)


def test_tiny_seqcnn_learns_planted_motifs():
    """A few epochs on planted data beat chance (0.25) clearly on held-out sequences."""
    keras.utils.set_random_seed(0)
    train, test = make_planted(1600, 60, seed=0), make_planted(400, 60, seed=1)
    m = models.get("seqcnn", input_shape=(60, 4), num_classes=4, filters=8, kernel_size=8, dense=16)
    m.compile(optimizer=keras.optimizers.Adam(0.01),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    m.fit(train.x, train.y, epochs=8, batch_size=64, verbose=0)
    acc = float((np.asarray(m.predict(test.x, verbose=0)).argmax(1) == test.y).mean())
    assert acc > 0.6, acc
