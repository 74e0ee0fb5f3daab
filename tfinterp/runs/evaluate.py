"""`tfinterp eval`: a classifier's accuracy, per-class accuracy and confusion matrix on a data set,
written as metrics.json and confusion.png."""

from __future__ import annotations

from pathlib import Path

from tfinterp.errors import UserError


def evaluate_classifier(model_spec, dataset: str, split="test", limit=None, batch_size=256, out=None,
                        unsafe_deserialization=False) -> dict:
    """Evaluate shipped stem / zoo name / path (or model) `model_spec` on `dataset`;
    write metrics.json and confusion.png under `out` (when given). Returns the metrics.
    `unsafe_deserialization` loads a `.keras` file with Keras' safe mode off."""
    from tfinterp.data import dataset_info, load
    from tfinterp.metrics.classification import confusion_matrix, per_class_accuracy, predict_dataset
    from tfinterp.models import load_model
    from tfinterp.utils import write_json

    model = (load_model(model_spec, unsafe_deserialization=unsafe_deserialization)
             if isinstance(model_spec, str) else model_spec)
    y, pred, logits = predict_dataset(model, load(dataset, split, limit), batch_size)
    k = int(logits.shape[-1])
    if y.max() >= k:
        raise UserError(f"the data set has labels up to {int(y.max())} but the model has {k} classes")
    cm = confusion_matrix(y, pred, k)
    names = getattr(model, "class_names", None) or dataset_info(dataset)["class_names"]
    result = {"model": model_spec if isinstance(model_spec, str) else model.name, "dataset": dataset,
              "split": split, "examples": int(len(y)), "accuracy": float((pred == y).mean()),
              "per_class_accuracy": per_class_accuracy(cm), "class_names": names, "confusion_matrix": cm.tolist()}
    if out is not None:
        from tfinterp.viz import save_confusion

        out = Path(out)
        write_json(out / "metrics.json", result)
        save_confusion(out / "confusion.png", cm, names,
                       title=f"{result['model']} on {dataset}/{split}: accuracy {result['accuracy']:.4f}")
    return result
