"""Matplotlib figures: heatmap overlays, confusion matrices. Written atomically as PNG."""

from tfinterp.viz.figures import save_confusion, save_overlay  # noqa: F401
