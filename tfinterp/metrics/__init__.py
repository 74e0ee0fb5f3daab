"""Explanation-quality metrics (Du et al. 2018): boxes from maps, IoU, localization, pointing."""

from tfinterp.metrics.localization import box_from_map, iou  # noqa: F401
