"""SavedModel export for TensorFlow Serving."""

from tfinterp.export.serving import export_serving, next_version  # noqa: F401
