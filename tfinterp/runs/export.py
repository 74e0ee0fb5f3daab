"""`tfinterp export`: a model (shipped stem, zoo name or .keras path) as a TensorFlow Serving
SavedModel under ``out/<version>/``."""

from __future__ import annotations

from pathlib import Path


def export_model(model_spec, out, version: int | None = None, explanation: str | None = None,
                 explanation_params: dict | None = None, unsafe_deserialization: bool = False) -> Path:
    """Load `model_spec` (or take a model) and write it with `tfinterp.export.export_serving`;
    returns the version folder written. `unsafe_deserialization` loads a `.keras` file with
    Keras' safe mode off."""
    from tfinterp.export import export_serving
    from tfinterp.models import load_model

    model = (load_model(model_spec, unsafe_deserialization=unsafe_deserialization)
             if isinstance(model_spec, str) else model_spec)
    return export_serving(model, out, version=version, explanation=explanation,
                          explanation_params=explanation_params)
