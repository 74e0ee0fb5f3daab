"""Figures a person would rather look at than JSON.

Per-image overlays are composited with NumPy + Pillow (`tfinterp.viz.overlay`: `render_overlay`,
`save_overlay_fast`, `save_overlays`); `save_overlay(..., engine="pil")` is that by default and
`engine="matplotlib"` the matplotlib figure. Multi-panel comparisons, confusion matrices, attack
and ProtoNet figures are matplotlib (`figures`, `attacks`, `protonet`).
"""

from tfinterp.viz.figures import save_comparison, save_confusion, save_overlay  # noqa: F401
from tfinterp.viz.overlay import render_overlay, save_overlay_fast, save_overlays  # noqa: F401
