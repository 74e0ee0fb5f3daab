"""Fourier amplitude transfer: the content image's phase with a style image's amplitude.

The phase of an image's Fourier transform carries its structure (edges, shape; Oppenheim &
Lim, "The importance of phase in signals", 1981), the amplitude spectrum its texture-like
second-order statistics; swapping in another image's amplitude is the cheapest style
transfer there is (as in Yang & Soatto's "FDA: Fourier Domain Adaptation", CVPR 2020, with
the whole spectrum instead of its low band). Used here as one stylizer of the stylized
augmentation of Zheng et al. (section 4).
"""

from __future__ import annotations

from tfinterp.params import Param
from tfinterp.training.stylizers.base import Stylizer, register


@register("fourier")
class FourierStylizer(Stylizer):
    """Per channel: Y = |S|^alpha-blend * exp(i * angle(X)), y = real(ifft2(Y)), with X, S the
    2-D DFTs of the content and style images and the amplitude (1 - alpha)|X| + alpha|S|.

    The result is real (a real style's amplitude and a real content's phase are Hermitian
    symmetric). ``range="rescale"`` maps each image's channels affinely onto [0, 1] (a positive
    scale and a shift: the phase of every non-zero frequency is kept exactly); ``"clip"``
    clips instead (brightness kept, phase only approximately).
    """

    params = {
        "alpha": Param(1.0, float, min=0.0, max=1.0, doc="share of the style's amplitude (1: all of it)"),
        "range": Param("rescale", str, choices=("rescale", "clip"), doc="how the result is brought into [0, 1]"),
    }

    def transfer(self, images, styles, masks=None):
        import tensorflow as tf

        x = tf.transpose(images, [0, 3, 1, 2])  # FFT over the last two axes: [B, C, H, W]
        s = tf.transpose(styles, [0, 3, 1, 2])
        fx = tf.signal.fft2d(tf.complex(x, tf.zeros_like(x)))
        fs = tf.signal.fft2d(tf.complex(s, tf.zeros_like(s)))
        ax, as_ = tf.abs(fx), tf.abs(fs)
        amp = (1.0 - self.alpha) * ax + self.alpha * as_
        unit = tf.where(ax[..., None] > 1e-12, tf.stack([tf.math.real(fx), tf.math.imag(fx)], -1)
                        / tf.maximum(ax, 1e-12)[..., None], tf.stack([tf.ones_like(ax), tf.zeros_like(ax)], -1))
        y = tf.math.real(tf.signal.ifft2d(tf.complex(amp * unit[..., 0], amp * unit[..., 1])))
        y = tf.transpose(y, [0, 2, 3, 1])
        if self.range == "clip":
            return tf.clip_by_value(y, 0.0, 1.0)
        lo = tf.reduce_min(y, axis=[1, 2, 3], keepdims=True)
        hi = tf.reduce_max(y, axis=[1, 2, 3], keepdims=True)
        return (y - lo) / tf.maximum(hi - lo, 1e-6)

    def describe(self) -> dict:
        return {**self.config, "method": "fourier",
                "what": "content phase + style amplitude spectrum, per channel (2-D DFT)"}
