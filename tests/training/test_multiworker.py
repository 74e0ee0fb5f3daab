"""Multi-worker training for real: two `tfinterp train classifier --strategy multiworker`
processes, each with its own TF_CONFIG (a two-worker cluster on 127.0.0.1), train one epoch
together over gRPC collectives; both finish with the same weights, which are those of one
process training on the whole batches (the workers split each batch and sum their gradients),
and which moved away from the initial ones. Only the chief writes to --out; worker 1 writes
under --out/workers/worker-1/. Also: `worker_folder` by hand."""

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from tfinterp.training.trainer import worker_folder

STEP = ["--step", "natural"]
EPOCHS, BATCH, SEED = 1, 16, 3


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


def _argv(out, strategy):
    return ["train", "classifier", "--model", "cnn2", "--dataset", "fashion_mnist", "--epochs", str(EPOCHS),
            "--batch-size", str(BATCH), "--seed", str(SEED), *STEP, "--strategy", strategy, "--verbose", "0",
            "--out", str(out)]


def _weights(path):
    from tfinterp.models import load_model

    return [np.asarray(w) for w in load_model(path).get_weights()]


def test_two_workers_train_one_epoch_to_identical_weights(random_fashion, tmp_path, monkeypatch):
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
                                        *_argv(out, "multiworker")], env=env, stdout=log, stderr=subprocess.STDOUT,
                                       cwd=tmp_path), log))
    t0 = time.monotonic()
    try:
        codes = [p.wait(timeout=240) for p, _ in procs]
    finally:
        for p, log in procs:
            if p.poll() is None:
                p.kill()
            log.close()
    logs = [(tmp_path / f"worker{i}.log").read_text() for i in range(2)]
    assert codes == [0, 0], "\n\n".join(f"worker {i} (exit {c}):\n{t[-3000:]}" for i, (c, t) in
                                        enumerate(zip(codes, logs)))
    elapsed = time.monotonic() - t0

    # who wrote what: the chief in --out, worker 1 in its own folder, each saying where
    stem = "cnn2_fashion_mnist"
    chief, other = out, out / "workers" / "worker-1"
    assert f"model: {chief / stem}.keras" in logs[0] and f"model: {other / stem}.keras" in logs[1]
    for folder in (chief, other):
        meta = json.loads((folder / f"{stem}.json").read_text())
        assert meta["replicas"] == 2 and meta["strategy"] == "multiworker"
        assert meta["metrics"]["epochs_run_this_session"] == EPOCHS
    assert not (other / "workers").exists()
    histories = [(f / "history.csv").read_text() for f in (chief, other)]
    assert histories[0] == histories[1]  # the epoch's metrics are summed over both workers' replicas

    w0, w1 = _weights(chief / f"{stem}.keras"), _weights(other / f"{stem}.keras")
    for a, b in zip(w0, w1):
        np.testing.assert_array_equal(a, b)

    # the same run in one process (default strategy, whole batches): the same weights, so the
    # workers split every batch, each attacked / trained on its half, and summed the gradients
    from tfinterp.cli.main import main
    from tfinterp.models import get
    from tfinterp.utils import set_seed

    monkeypatch.setenv("TFINTERP_DATA_DIR", str(random_fashion))
    assert main(_argv(tmp_path / "single", "default")) == 0
    ref = _weights(tmp_path / "single" / f"{stem}.keras")
    for a, b in zip(ref, w0):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5)
    set_seed(SEED)
    init = [np.asarray(w) for w in get("cnn2", input_shape=(28, 28, 1), num_classes=10).get_weights()]
    moved = [float(np.abs(a - b).max()) for a, b in zip(init, w0)]
    assert min(moved) > 1e-4, moved  # every variable was updated
    print(f"two workers: {elapsed:.1f} s")


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
