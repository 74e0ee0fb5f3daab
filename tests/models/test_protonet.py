"""ProtoNet (Li et al. 2018): loss terms by hand, training (the protonet step) lowers every term,
save / load / export round trip, the prototype explanation, elastic deformation, and CLI bad inputs."""

import json
import math

import numpy as np
import pytest
import tensorflow as tf

from tfinterp.cli.main import main
from tfinterp.models.protonet import ProtoNet, protonet_losses, squared_distances

TINY = dict(input_shape=(28, 28, 1), num_classes=10, num_prototypes=6, latent_dim=16, filters=(4, 8))


def test_squared_distances_by_hand():
    z = tf.constant([[0.0, 0.0], [1.0, 1.0]])
    p = tf.constant([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    np.testing.assert_allclose(squared_distances(z, p).numpy(), [[1, 4, 2], [1, 2, 0]], atol=1e-6)


def test_loss_terms_by_hand():
    images = tf.constant([[[[0.0], [1.0]]], [[[1.0], [1.0]]]])           # 2 images of 1x2x1
    recon = tf.constant([[[[0.5], [1.0]]], [[[1.0], [0.0]]]])
    labels = tf.constant([1, 0])
    logits = tf.constant([[0.0, math.log(3.0)], [0.0, 0.0]])
    d = tf.constant([[1.0, 4.0, 2.0], [1.0, 2.0, 0.0]])                  # 2 codes x 3 prototypes
    t = {k: float(v) for k, v in protonet_losses(images, labels, logits, recon, d).items()}
    assert t["ce"] == pytest.approx((-math.log(0.75) + math.log(2.0)) / 2, rel=1e-6)
    assert t["ae"] == pytest.approx((0.25 + 1.0) / 2)                   # summed per image, mean over images
    assert t["r1"] == pytest.approx((1 + 2 + 0) / 3)                    # per prototype: min over the batch
    assert t["r2"] == pytest.approx((1 + 0) / 2)                        # per code: min over prototypes


def test_model_wiring_and_weighted_total():
    tf.keras.utils.set_random_seed(0)
    m = ProtoNet(**TINY, lambdas=(2.0, 3.0, 5.0, 7.0))
    x = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
    y = np.array([0, 1, 2, 3])
    z = m.encode(x).numpy()
    assert z.shape == (4, 16) and m.decode(z).shape == (4, 28, 28, 1)
    m.prototype_layer.prototypes.assign(np.concatenate([z[:2], np.zeros((4, 16), "float32")]))
    d = m.prototype_distances(x).numpy()
    assert d[0, 0] == pytest.approx(0.0, abs=1e-4) and d[1, 1] == pytest.approx(0.0, abs=1e-4)
    np.testing.assert_allclose(d[2, 2], np.sum(z[2] ** 2), rtol=1e-5)
    w = m.classifier.kernel.numpy()
    np.testing.assert_allclose(m(x).numpy(), d @ w, rtol=1e-5, atol=1e-4)   # logits = distances @ W
    from tfinterp.training.trainer import StepTrainer

    t = StepTrainer(m, "protonet")  # the loss weights are the model's lambdas
    t.compile(optimizer="adam")
    r = t.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    total = 2 * r["ce"] + 3 * r["ae"] + 5 * r["r1"] + 7 * r["r2"]
    assert r["loss"] == pytest.approx(total, rel=1e-5)
    assert r["r2"] == pytest.approx(np.mean(d.min(1)), rel=1e-4)
    assert r["r1"] == pytest.approx(np.mean(d.min(0)), rel=1e-4)


def test_upconv_decoder_and_bad_arguments():
    m = ProtoNet(**{**TINY, "decoder": "upconv"})
    assert m.decode(np.zeros((2, 16), "float32")).shape == (2, 28, 28, 1)
    from tfinterp.errors import UserError

    with pytest.raises(UserError, match="multiple"):
        ProtoNet(**{**TINY, "latent_dim": 17})
    with pytest.raises(UserError, match="decoder"):
        ProtoNet(**{**TINY, "decoder": "pixelshuffle"})


@pytest.fixture
def fake_fashion(idx_dir, monkeypatch):
    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))


def _cfg(**kw):
    from tfinterp.training.protonet import ProtoNetConfig

    base = dict(dataset="fashion_mnist", epochs=12, batch_size=20, learning_rate=0.01, prototypes=6,
                latent_dim=16, filters=[4, 8], val_fraction=0.2, seed=0,
                # the reference setting (the config defaults are the shipped model's since issue 14)
                decoder="deconv", lr_schedule="constant", classifier_init="random")
    base.update(kw)
    return ProtoNetConfig(**base)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, idx_dir_module):
    """One short real training run on the fake Fashion-MNIST (shared by several tests)."""
    from tfinterp.runs.protonet import train

    out = tmp_path_factory.mktemp("protonet")
    mp = pytest.MonkeyPatch()
    mp.setenv("TFINTERP_DATA_DIR", str(idx_dir_module))
    try:
        result = train(_cfg(elastic=True, elastic_alpha=2.0, elastic_sigma=2.0), out, verbose=0, command="test")
    finally:
        mp.undo()
    return out, result


@pytest.fixture(scope="module")
def idx_dir_module(tmp_path_factory):
    from tfinterp.data import write_idx

    root = tmp_path_factory.mktemp("data")
    d = root / "fashion-mnist"
    d.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 100), ("t10k", 20)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = np.zeros((n, 28, 28), np.uint8)
        for i, c in enumerate(labels):  # class c: a bright bar at row 2c
            images[i, 2 * c:2 * c + 6, 4:20] = 200 + rng.integers(0, 50)
        write_idx(d / f"{split}-images-idx3-ubyte.gz", images)
        write_idx(d / f"{split}-labels-idx1-ubyte.gz", labels)
    return root


def test_training_lowers_every_loss_term(trained):
    from tfinterp.training.protonet import read_history

    out, result = trained
    h = read_history(out / "history.csv")
    assert len(h["loss"]) == 12
    for k in ("loss", "ce", "ae", "r1", "r2"):
        assert h[k][-1] < 0.7 * h[k][0], (k, h[k])
    assert result["metrics"]["final_train_accuracy"] > h["accuracy"][0]
    meta = json.loads((out / "protonet_fashion_mnist.json").read_text())
    assert meta["command"] == "test" and meta["config"]["prototypes"] == 6
    for key in ("loss_curves", "prototypes", "weights"):
        assert (out / meta["figures"][key].split("/")[-1]).stat().st_size > 1000


def test_save_load_export_round_trip(trained, tmp_path):
    from tfinterp.export import export_serving
    from tfinterp.models import load_model

    out, _ = trained
    m = load_model(str(out / "protonet_fashion_mnist.keras"))
    assert isinstance(m, ProtoNet) and m.num_prototypes == 6
    x = np.random.default_rng(1).random((5, 28, 28, 1)).astype("float32")
    m2 = load_model(str(out / "protonet_fashion_mnist.keras"))
    np.testing.assert_array_equal(m(x).numpy(), m2(x).numpy())
    np.testing.assert_array_equal(m.decoded_prototypes().numpy(), m2.decoded_prototypes().numpy())
    path = export_serving(m, tmp_path / "srv")
    sig = tf.saved_model.load(str(path)).signatures["serving_default"]
    res = sig(images=tf.constant(x))
    d = m.prototype_distances(x).numpy()
    np.testing.assert_allclose(res["logits"].numpy(), m(x).numpy(), rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(res["prototype_distances"].numpy(), d, rtol=1e-6, atol=1e-5)
    np.testing.assert_array_equal(res["nearest_prototype"].numpy(), d.argmin(1))


def test_prototype_explanation_cli(trained, tmp_path, capsys):
    from PIL import Image

    out, _ = trained
    img = np.zeros((28, 28), np.uint8)
    img[6:12, 4:20] = 230  # class 3's bar
    Image.fromarray(img).save(tmp_path / "bar.png")
    code = main(["explain", str(tmp_path / "bar.png"), "--model", str(out / "protonet_fashion_mnist.keras"),
                 "--method", "prototypes", "--out", str(tmp_path / "ex")])
    assert code == 0, capsys.readouterr().err
    s = json.loads((tmp_path / "ex" / "bar_prototypes.json").read_text())
    d = np.array(s["distances"])
    assert [p["prototype"] for p in s["nearest_prototypes"]] == list(np.argsort(d)[:3])
    assert sum(s["probabilities"]) == pytest.approx(1.0, abs=1e-5)
    assert (tmp_path / "ex" / "bar_prototypes.png").stat().st_size > 1000


def test_adversarial_latents(trained):
    from tfinterp.explain.adversarial_latents import adversarial_latents
    from tfinterp.models import load_model

    out, _ = trained
    m = load_model(str(out / "protonet_fashion_mnist.keras"))
    rng = np.random.default_rng(2)
    x = rng.random((3, 28, 28, 1)).astype("float32")
    r = adversarial_latents(m, x, [0, 1, 2], [-1, 5, -1], steps=(0, 3, 6), eps=0.1, step_size=0.02)
    np.testing.assert_array_equal(r["adversarial"][:, 0], x)                   # 0 iterations: the input
    np.testing.assert_allclose(r["decoded"][:, 0], m.decode(m.encode(x)).numpy(), atol=1e-5)
    np.testing.assert_allclose(r["linf"][:, 1], 0.06, atol=1e-5)               # 3 signed steps of 0.02
    assert np.all(r["linf"][:, 2] <= 0.1 + 1e-6)                               # projected onto the ball
    assert r["target_probability"][1, 2] >= r["target_probability"][1, 0]     # targeted row -> class 5
    assert r["target_probability"][0, 2] <= r["target_probability"][0, 0]     # untargeted: true class drops


def test_elastic_deformation():
    from tfinterp.data.augment import _bilinear, elastic_deform

    x = np.random.default_rng(0).random((3, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(elastic_deform(x, alpha=0.0, sigma=4.0).numpy(), x, atol=1e-6)
    a = elastic_deform(x, 20.0, 4.0, seed=(1, 2)).numpy()
    np.testing.assert_array_equal(a, elastic_deform(x, 20.0, 4.0, seed=(1, 2)).numpy())
    assert a.shape == x.shape and 0 <= a.min() and a.max() <= 1 and np.abs(a - x).mean() > 0.01
    img = tf.constant([[[[0.0], [2.0]], [[4.0], [6.0]]]])                # 1 image 2x2
    half = _bilinear(img, tf.constant([[[0.5, 0.0], [0.0, 1.0]]]), tf.constant([[[0.5, 0.5], [1.0, 1.5]]]))
    np.testing.assert_allclose(half.numpy()[0, ..., 0], [[3.0, 1.0], [2.0, 3.0]])  # (1,1.5): half outside


def test_cli_bad_inputs_exit_2(tmp_path, capsys, fake_fashion, tiny_model_path):
    (tmp_path / "keys.toml").write_text("[protonet]\nprototypez = 3\n")
    (tmp_path / "notable.toml").write_text("[train]\nepochs = 3\n")
    o = str(tmp_path / "o")
    cases = [
        ["train", "protonet", "--decoder", "pixelshuffle", "--out", o],
        ["train", "protonet", "--prototypes", "0", "--out", o],
        ["train", "protonet", "--latent-dim", "41", "--epochs", "1", "--dataset", "fashion_mnist", "--out", o],
        ["train", "protonet", "--config", str(tmp_path / "keys.toml"), "--out", o],
        ["train", "protonet", "--config", str(tmp_path / "notable.toml"), "--out", o],
        ["train", "protonet", "--config", str(tmp_path / "missing.toml"), "--out", o],
        ["explain", str(tmp_path / "none.png"), "--model", str(tiny_model_path), "--method", "prototypes",
         "--out", o],
    ]
    np.save(tmp_path / "x.npy", np.zeros((64, 64, 1), np.float32))
    cases.append(["explain", str(tmp_path / "x.npy"), "--model", str(tiny_model_path), "--method", "prototypes",
                  "--out", o])
    cases += [["latent-attack", str(tiny_model_path), "--targeted", "8-0", "--out", o],
              ["latent-attack", str(tiny_model_path), "--steps", "a,b", "--out", o],
              ["latent-attack", str(tiny_model_path), "--dataset", "fashion_mnist", "--out", o]]
    for argv in cases:
        code = main(argv)
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
        assert code == 2 and len(err) == 1 and err[0].startswith("error: "), (argv, code, err)


def test_interrupted_protonet_run_resumes(fake_fashion, tmp_path):
    import keras

    from tfinterp.training.protonet import train_protonet

    class Crash(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                raise KeyboardInterrupt("simulated kill after epoch 1")

    seen = []

    class Begin(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(epoch)

    cfg = _cfg(epochs=2, batch_size=30)
    with pytest.raises(KeyboardInterrupt):
        train_protonet(cfg, tmp_path, callbacks=[Crash()], verbose=0)
    assert (tmp_path / "backup").exists()
    r = train_protonet(cfg, tmp_path, callbacks=[Begin()], verbose=0)
    assert "figures" not in r  # drawing is the run's (tfinterp.runs.protonet), not the trainer's
    assert seen == [1] and r["metrics"]["epochs_run_this_session"] == 1 and r["metrics"]["epochs_total"] == 2


def test_mirrored_step_equals_single_device_step():
    """One SGD step over 2 replicas (half a batch each) moves the weights as one device does.

    R1 (a min over the batch) is computed per replica, so it is switched off here: every other
    term is a mean over examples, and the replicas' gradients must add up to the global one."""
    import keras

    from tfinterp.training.trainer import StepTrainer, make_strategy

    rng = np.random.default_rng(3)
    x = rng.random((8, 28, 28, 1)).astype("float32")
    y = np.arange(8) % 10
    weights = []
    for strategy in (make_strategy("default"), make_strategy("mirrored", 2)):
        with strategy.scope():
            tf.keras.utils.set_random_seed(0)
            m = ProtoNet(**TINY, lambdas=(20.0, 1.0, 0.0, 1.0))
            t = StepTrainer(m, "protonet")
            t.compile(optimizer=keras.optimizers.SGD(0.01))
        assert strategy.num_replicas_in_sync in (1, 2)
        t.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(8), epochs=1, verbose=0, shuffle=False)
        weights.append([v.numpy() for v in m.encoder.weights + m.decoder.weights] + [m.prototypes.numpy()])
    assert make_strategy("mirrored", 2).num_replicas_in_sync == 2
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_mixed_precision_step():
    import keras

    from tfinterp.training.trainer import StepTrainer

    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        tf.keras.utils.set_random_seed(0)
        m = ProtoNet(**TINY)
        t = StepTrainer(m, "protonet")
        t.compile(optimizer=keras.optimizers.Adam(1e-3))
        assert isinstance(t.optimizer, keras.optimizers.LossScaleOptimizer)
        x = np.random.default_rng(4).random((8, 28, 28, 1)).astype("float32")
        before = m.encoder.weights[0].numpy().copy()
        h = t.fit(x, np.arange(8) % 10, batch_size=4, epochs=6, verbose=0).history  # early steps may be skipped while the loss scale settles
        assert all(np.isfinite(v[-1]) for v in h.values())
        assert m(x).dtype == tf.float32 and m.prototype_distances(x).dtype == tf.float32
        assert m.encoder.weights[0].dtype == "float32" and np.abs(m.encoder.weights[0].numpy() - before).max() > 0
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_dense_deconv_decoder_structure_and_round_trip(tmp_path):
    """A Dense layer replaces all but the last two transposed convs: with the reference 4-conv
    encoder on 28x28 (28 -> 14 -> 7 -> 4 -> 2) it maps the code to a 7x7 map, then two transposed
    convs go 7 -> 14 -> 28."""
    import keras

    tf.keras.utils.set_random_seed(0)
    m = ProtoNet(input_shape=(28, 28, 1), num_prototypes=5, latent_dim=40, filters=(32, 64, 64),
                 decoder="dense-deconv", decoder_filters=(16, 8, 8))
    kinds = [type(layer).__name__ for layer in m.decoder.layers]
    assert kinds.count("Dense") == 1 and kinds.count("Conv2DTranspose") == 2
    assert m.decoder.get_layer("unflatten").output.shape[1:] == (7, 7, 8)
    assert m.decoder.get_layer("dec_dense").kernel.shape == (40, 7 * 7 * 8)
    x = np.random.default_rng(1).random((3, 28, 28, 1)).astype("float32")
    recon = m.decode(m.encode(x)).numpy()
    assert recon.shape == (3, 28, 28, 1) and recon.min() >= 0.0 and recon.max() <= 1.0  # sigmoid output
    path = tmp_path / "pn.keras"
    m.save(path)
    again = keras.models.load_model(path)
    assert again.decoder_kind == "dense-deconv"
    np.testing.assert_allclose(again.decode(again.encode(x)).numpy(), recon, atol=1e-6)


def test_cli_dense_deconv_decoder(fake_fashion, tmp_path):
    """`train protonet --decoder dense-deconv` reaches the model: its saved decoder has the Dense stem."""
    import keras

    out = tmp_path / "dd"
    code = main(["train", "protonet", "--dataset", "fashion_mnist", "--decoder", "dense-deconv", "--epochs", "1",
                 "--limit", "200", "--prototypes", "4", "--out", str(out)])
    assert code == 0
    meta = json.loads((out / "protonet_fashion_mnist.json").read_text())
    assert meta["config"]["decoder"] == "dense-deconv"
    net = keras.models.load_model(out / "protonet_fashion_mnist.keras")
    assert [type(layer).__name__ for layer in net.decoder.layers].count("Dense") == 1
