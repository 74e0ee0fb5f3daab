"""Classification metrics: predictions over a data set and the confusion matrix."""

from __future__ import annotations

import numpy as np

from tfinterp.errors import UserError


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """Counts [true, predicted]: entry (i, j) is how many examples of class i were predicted j."""
    m = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(m, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return m


def per_class_accuracy(cm) -> list[float]:
    """Recall of each class from a confusion matrix (0 for a class without examples)."""
    cm = np.asarray(cm)
    return (np.diag(cm) / np.maximum(cm.sum(axis=1), 1)).tolist()


def predict_dataset(model, ds, batch_size=256):
    """(labels, predicted classes, logits) over a tf.data set of (image, label)."""
    import tensorflow as tf

    from tfinterp.checks import model_input_shape

    expected = model_input_shape(model)
    ys, logits = [], []
    for x, y in ds.batch(batch_size):
        if tuple(x.shape[1:]) != expected:
            raise UserError(f"the data set's images are {tuple(x.shape[1:])} but the model takes {expected}")
        logits.append(tf.cast(model(x, training=False), tf.float32).numpy())
        ys.append(y.numpy())
    if not ys:
        raise UserError("the data set is empty")
    logits = np.concatenate(logits)
    return np.concatenate(ys), logits.argmax(-1), logits
