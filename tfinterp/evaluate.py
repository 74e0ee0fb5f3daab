"""Evaluating a classifier: accuracy, per-class accuracy, confusion matrix (JSON + PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tfinterp.errors import UserError


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """Counts [true, predicted]."""
    m = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(m, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return m


def predict_dataset(model, ds, batch_size=256):
    """(labels, predicted classes, logits) over a tf.data set of (image, label)."""
    import tensorflow as tf

    from tfinterp.data.imageio import model_input_shape

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


def evaluate_classifier(model_spec, dataset: str, split="test", limit=None, batch_size=256, out=None) -> dict:
    """Evaluate shipped stem / zoo name / path `model_spec` on `dataset`; write metrics.json and confusion.png."""
    from tfinterp.data import dataset_info, load
    from tfinterp.models import load_model
    from tfinterp.utils import write_json
    from tfinterp.viz import save_confusion

    model = load_model(model_spec) if isinstance(model_spec, str) else model_spec
    y, pred, logits = predict_dataset(model, load(dataset, split, limit), batch_size)
    k = int(logits.shape[-1])
    if y.max() >= k:
        raise UserError(f"the data set has labels up to {int(y.max())} but the model has {k} classes")
    cm = confusion_matrix(y, pred, k)
    per_class = (np.diag(cm) / np.maximum(cm.sum(axis=1), 1)).tolist()
    names = getattr(model, "class_names", None) or dataset_info(dataset)["class_names"]
    result = {"model": model_spec if isinstance(model_spec, str) else model.name, "dataset": dataset,
              "split": split, "examples": int(len(y)), "accuracy": float((pred == y).mean()),
              "per_class_accuracy": per_class, "class_names": names, "confusion_matrix": cm.tolist()}
    if out is not None:
        out = Path(out)
        write_json(out / "metrics.json", result)
        save_confusion(out / "confusion.png", cm, names,
                       title=f"{result['model']} on {dataset}/{split}: accuracy {result['accuracy']:.4f}")
    return result
