"""Shared fixtures: two logical CPU devices (for MirroredStrategy), tiny data and models."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Must happen before the TF runtime initialises: lets one test mirror over 2 CPU devices.
_cpu = tf.config.list_physical_devices("CPU")[0]
try:
    tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
except RuntimeError:
    pass

HAVE_FASHION = os.path.exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz") or \
    os.path.exists(os.path.expanduser("~/.keras/datasets/fashion-mnist/train-images-idx3-ubyte.gz"))
needs_fashion = pytest.mark.skipif(not HAVE_FASHION, reason="Fashion-MNIST IDX files not installed "
                                   "(apt-get install dataset-fashion-mnist)")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Generated data goes to a per-session cache, never the user's."""
    monkeypatch.setenv("TFINTERP_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


def write_fake_fashion(root):
    """Small fashion_mnist IDX files whose content is known under `root`/fashion-mnist; returns `root`.

    60 train and 20 test images; class c draws a bright square at row 2c."""
    from tfinterp.data import write_idx

    d = root / "fashion-mnist"
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", 60), ("t10k", 20)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = np.zeros((n, 28, 28), np.uint8)
        for i, c in enumerate(labels):  # class c draws a bright square at row 2c
            images[i, 2 * c:2 * c + 6, 4:10] = 200 + rng.integers(0, 50)
        write_idx(d / f"{split}-images-idx3-ubyte.gz", images)
        write_idx(d / f"{split}-labels-idx1-ubyte.gz", labels)
    return root


@pytest.fixture
def idx_dir(tmp_path):
    """A fake data dir with small fashion_mnist IDX files whose content is known."""
    return write_fake_fashion(tmp_path / "data")


@pytest.fixture
def fashion_env(idx_dir, monkeypatch):
    """`idx_dir`'s fake Fashion-MNIST as the data folder, with tfds reported unreachable."""
    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))
    monkeypatch.setattr("tfinterp.data._tfds_reachable", lambda: False)
    return idx_dir


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory):
    """A small untrained vggsmall for 64x64x1 saved as .keras (fast to load)."""
    from tfinterp import models

    tf.keras.utils.set_random_seed(0)
    m = models.get("vggsmall", input_shape=(64, 64, 1), num_classes=10, filters=(4, 8, 8, 8))
    path = tmp_path_factory.mktemp("models") / "tiny.keras"
    m.save(path)
    return path
