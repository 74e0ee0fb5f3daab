"""Texture fill: the item's pixel mask filled with a style texture, the rest left as it is.

The shape (the silhouette) survives exactly, every texture cue inside it is replaced: the
augmentation counterpart of the cue-conflict images of Geirhos et al. (ICLR 2019), whose
shape comes from one class and texture from another (`tfinterp.data.cueconflict`). On the
cluttered canvases the masks are the generator's item masks; on images without them, the
pixels brighter than 0.1.
"""

from __future__ import annotations

from tfinterp.data.cueconflict import FILL_FLOOR
from tfinterp.params import Param
from tfinterp.training.stylizers.base import Stylizer, register


@register("texture-fill")
class TextureFillStylizer(Stylizer):
    """out = mask * (floor + (1 - floor) * texture) + (1 - mask) * image, the texture a style
    image (randomly flipped per image), min-max scaled to [0, 1] before the floor."""

    needs_masks = True
    params = {
        "floor": Param(FILL_FLOOR, float, min=0.0, max=1.0, max_open=True,
                       doc="texture values are drawn in [floor, 1] (the silhouette stays visible on black)"),
    }

    def transfer(self, images, styles, masks=None):
        import tensorflow as tf

        t = styles
        lo = tf.reduce_min(t, axis=[1, 2, 3], keepdims=True)
        hi = tf.reduce_max(t, axis=[1, 2, 3], keepdims=True)
        t = (t - lo) / tf.maximum(hi - lo, 1e-6)
        flip = tf.reshape(tf.cast(tf.reduce_sum(tf.cast(t[:, 0, :2, 0] * 255.0, tf.int32), -1) % 2, tf.bool),
                          [-1, 1, 1, 1])
        t = tf.where(flip, tf.reverse(t, [2]), t)
        m = tf.cast(masks, tf.bool)[..., None]
        return tf.where(m, self.floor + (1.0 - self.floor) * t, images)

    def describe(self) -> dict:
        return {**self.config, "method": "texture-fill",
                "what": "item mask filled with a style texture (shape kept exactly, texture replaced)"}
