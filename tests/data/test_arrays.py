"""`load_arrays(..., materialize=True)`: the one data-set-to-arrays function every run uses."""

import numpy as np
import pytest
import tensorflow as tf

from tfinterp import data
from tfinterp.errors import UserError


def test_in_memory_sets_are_returned_as_they_are(idx_dir, monkeypatch):
    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))
    x, y = data.load_arrays("fashion_mnist", "test", 7, materialize=True)
    x0, y0 = data.load_arrays("fashion_mnist", "test", 7)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)
    assert x.dtype == np.float32 and y.dtype == np.int64 and y.tolist() == list(range(7))


def test_a_pipeline_only_set_is_iterated_into_arrays(monkeypatch):
    """A data set only tf.data provides (a TensorFlow Datasets name): 1,100 known examples,
    more than two of the 512-example batches the copy reads."""
    images = (np.arange(1100 * 2 * 2 * 3, dtype=np.float32).reshape(1100, 2, 2, 3) % 255) / 255.0
    labels = np.arange(1100) % 7
    ds = tf.data.Dataset.from_tensor_slices((tf.constant(images, tf.float32), tf.constant(labels, tf.int32)))
    monkeypatch.setattr(data, "_load_tfds_if_available", lambda name, split: ds if name == "fake_tfds" else None)
    assert data.load_arrays("fake_tfds", "test") is None          # not in memory without materialize
    x, y = data.load_arrays("fake_tfds", "test", materialize=True)
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)
    assert x.dtype == np.float32 and y.dtype == np.int64
    x, y = data.load_arrays("fake_tfds", "test", limit=600, materialize=True)
    np.testing.assert_array_equal(x, images[:600])
    np.testing.assert_array_equal(y, labels[:600])


def test_an_empty_set_is_a_user_error(monkeypatch):
    empty = tf.data.Dataset.from_tensor_slices((tf.zeros((0, 2, 2, 1)), tf.zeros((0,), tf.int64)))
    monkeypatch.setattr(data, "_load_tfds_if_available", lambda name, split: empty)
    with pytest.raises(UserError, match="fake_empty/train is empty"):
        data.load_arrays("fake_empty", "train", materialize=True)
