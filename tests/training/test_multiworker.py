"""Multi-worker training for real: two `tfinterp train classifier --strategy multiworker --step
madry` processes, each with its own TF_CONFIG (a two-worker cluster on 127.0.0.1), train one
epoch together over gRPC collectives from the same initial weights (`--init-from`); both
finish with the same weights, which moved away from the initial ones. Only the chief writes to
--out; worker 1 writes under --out/workers/worker-1/. Also: the madry step over two mirrored
CPU replicas equals one device, and `worker_folder` by hand."""

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from tfinterp.training.trainer import worker_folder

MADRY = ["--step", "madry", "--attack-eps", "0.1", "--attack-steps", "3"]
EPOCHS, BATCH, SEED = 1, 16, 3
TIMEOUT = 420  # seconds for both workers


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@pytest.fixture
def random_fashion(tmp_path):
    """64 + 16 random 28x28 'fashion_mnist' images in IDX files (what the CLI reads offline)."""
    from tfinterp.data import write_idx

    d = tmp_path / "data" / "fashion-mnist"
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", 64), ("t10k", 16)):
        write_idx(d / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)).astype(np.uint8))
        write_idx(d / f"{split}-labels-idx1-ubyte.gz", (np.arange(n) % 10).astype(np.uint8))
    return tmp_path / "data"


def _argv(out, strategy, init=None):
    return ["train", "classifier", "--model", "cnn2", "--dataset", "fashion_mnist", "--epochs", str(EPOCHS),
            "--batch-size", str(BATCH), "--seed", str(SEED), *MADRY, *(["--init-from", str(init)] if init else []),
            "--strategy", strategy, "--verbose", "0", "--out", str(out)]


def _weights(path):
    from tfinterp.models import load_model

    return [np.asarray(w) for w in load_model(path).get_weights()]


def test_two_workers_train_one_madry_epoch_to_identical_weights(random_fashion, tmp_path):
    from tfinterp.models import get

    init = tmp_path / "init.keras"
    get("cnn2", input_shape=(28, 28, 1), num_classes=10).save(init)
    out = tmp_path / "run"  # the same --out for both, as on a cluster with a shared file system
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for i in range(2):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_CONFIG", "KERAS_"))}
        env.update(TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}),
                   TFINTERP_DATA_DIR=str(random_fashion), CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2")
        log = open(tmp_path / f"worker{i}.log", "w")
        procs.append((subprocess.Popen([sys.executable, "-c", "from tfinterp.cli.main import run; run()",
                                        *_argv(out, "multiworker", init)], env=env, stdout=log, stderr=subprocess.STDOUT,
                                       cwd=tmp_path), log))
    t0 = time.monotonic()
    # about 25 s of CPU for both workers (20-40 s wall on a quiet 2-core machine); the limit
    # only guards against a hung collective, generously, for a machine shared by many jobs
    deadline = t0 + TIMEOUT
    try:
        codes = [p.wait(timeout=max(1.0, deadline - time.monotonic())) for p, _ in procs]
    except subprocess.TimeoutExpired:
        codes = [p.poll() for p, _ in procs]
    finally:
        for p, log in procs:
            if p.poll() is None:
                p.kill()
            log.close()
    logs = [(tmp_path / f"worker{i}.log").read_text() for i in range(2)]
    assert codes == [0, 0], f"exit codes {codes} (None: still running after {TIMEOUT} s, killed)\n\n" + \
        "\n\n".join(f"worker {i}:\n{t[-3000:]}" for i, t in enumerate(logs))
    elapsed = time.monotonic() - t0

    # who wrote what: the chief in --out, worker 1 in its own folder, each saying where
    stem = "cnn2_fashion_mnist"
    chief, other = out, out / "workers" / "worker-1"
    assert f"model: {chief / stem}.keras" in logs[0] and f"model: {other / stem}.keras" in logs[1]
    for folder in (chief, other):
        meta = json.loads((folder / f"{stem}.json").read_text())
        assert meta["replicas"] == 2 and meta["strategy"] == "multiworker"
        assert meta["metrics"]["epochs_run_this_session"] == EPOCHS
        assert meta["step"]["step"] == "madry" and meta["step"]["eps"] == 0.1 and meta["step"]["steps"] == 3
    assert not (other / "workers").exists()
    histories = [(f / "history.csv").read_text() for f in (chief, other)]
    assert histories[0] == histories[1]  # the epoch's metrics are summed over both workers' replicas

    w0, w1 = _weights(chief / f"{stem}.keras"), _weights(other / f"{stem}.keras")
    for a, b in zip(w0, w1):
        np.testing.assert_array_equal(a, b)

    from tfinterp.models import load_model

    start = [np.asarray(w) for w in load_model(init).get_weights()]
    moved = [float(np.abs(a - b).max()) for a, b in zip(start, w0)]
    assert min(moved) > 1e-5, moved  # every variable was updated
    print(f"two workers: {elapsed:.1f} s")


def _tiny(seed=0):
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inp)
    x = keras.layers.Flatten()(keras.layers.MaxPooling2D(2)(x))
    return keras.Model(inp, keras.layers.Dense(3, name="logits")(x))


def test_madry_step_over_two_mirrored_cpus_equals_one_device():
    """PGD is per example, so two replicas attacking half a batch each and summing their
    gradients take the same SGD step as one device on the whole batch (no random start here,
    so both see the same adversarial examples; the CLI test below runs it with the start)."""
    import keras

    from tfinterp.training.trainer import StepTrainer, make_strategy

    rng = np.random.default_rng(0)
    x, y = rng.random((32, 8, 8, 1)).astype("float32"), rng.integers(0, 3, 32)
    runs = []
    for strategy in (make_strategy("default"), make_strategy("mirrored", 2)):
        with strategy.scope():
            model = _tiny()
            before = [w.numpy().copy() for w in model.weights]
            t = StepTrainer(model, "madry", {"eps": 0.1, "steps": 3, "random_start": False})
            t.compile(keras.optimizers.SGD(0.5))
        h = t.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False).history
        runs.append((strategy.num_replicas_in_sync, [w.numpy() for w in model.weights], h["loss"][0], before))
    assert [r[0] for r in runs] == [1, 2]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert runs[1][2] == pytest.approx(runs[0][2], rel=1e-5)  # the logged loss: CE on the PGD examples
    clean = float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, _tiny()(x)))
    assert runs[0][2] > clean  # adversarial examples cost more than clean ones at the start weights
    assert min(float(np.abs(a - b).max()) for a, b in zip(runs[1][1], runs[1][3])) > 1e-4  # every variable moved


def test_cli_madry_with_strategy_mirrored(random_fashion, tmp_path, monkeypatch):
    """`tfinterp train classifier --strategy mirrored --step madry` over the 2 logical CPUs."""
    from tfinterp.cli.main import main

    monkeypatch.setenv("TFINTERP_DATA_DIR", str(random_fashion))
    out = tmp_path / "m"
    assert main(_argv(out, "mirrored") + ["--cpu-devices", "2", "--limit", "32"]) == 0
    meta = json.loads((out / "cnn2_fashion_mnist.json").read_text())
    assert meta["replicas"] == 2 and meta["strategy"] == "mirrored" and meta["step"]["step"] == "madry"
    assert np.isfinite(meta["metrics"]["test_loss"]) and not (out / "workers").exists()


@pytest.mark.parametrize("tf_config,want", [
    (None, "."),
    ({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}}, "."),
    ({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}, "workers/worker-1"),
    ({"cluster": {"chief": ["c:0"], "worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}, "."),
    ({"cluster": {"chief": ["c:0"], "worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}, "workers/worker-0"),
])
def test_only_the_chief_writes_to_out(tmp_path, monkeypatch, tf_config, want):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))
    assert worker_folder(tmp_path, "multiworker") == tmp_path / want
    assert worker_folder(tmp_path, "mirrored") == tmp_path  # single-process strategies: always `out`


def test_bad_tf_config_is_one_line_through_the_cli(tmp_path, monkeypatch, capsys):
    from tfinterp.cli.main import main

    monkeypatch.setenv("TF_CONFIG", "{not json")
    code = main(_argv(tmp_path / "o", "multiworker"))
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert code == 2 and len(err) == 1 and "TF_CONFIG is not valid JSON" in err[0], err
