"""Matplotlib figures: heatmap overlays, method comparisons, confusion matrices (PNG, atomic)."""

from tfinterp.viz.figures import save_comparison, save_confusion, save_overlay  # noqa: F401
