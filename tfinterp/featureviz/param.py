"""Image parameterizations for feature visualization: raw pixels and a scaled Fourier
spectrum, both followed by colour decorrelation and a sigmoid into [0, 1].

Olah et al., "Feature Visualization" (Distill 2017), "Preconditioning and
parameterization": optimizing the spectrum, each frequency scaled by 1/f (lucid's
``fft_image``), and the colours in a decorrelated basis (lucid's ``to_valid_rgb``) gives
steepest descent in a space where natural images are whitened, so high frequencies do not
dominate. Here the decorrelation matrix is fitted from a data set (`fit_decorrelation`:
the square root of the pixel-colour covariance) rather than fixed to ImageNet's.

A parameterization is batched: its parameter is one tensor for the whole batch (the Fourier
one is [N, C, H, W//2+1, 2], real and imaginary parts), and `to_image` runs one inverse FFT
op for all N images. `from_image` is the exact inverse of `to_image` (up to the clipping of
0 and 1 for the sigmoid), so a render can start from a given image.
"""

from __future__ import annotations

import numpy as np

from tfinterp.errors import UserError

_EPS = 1e-4  # images are clipped to [eps, 1 - eps] before the logit (the sigmoid never reaches 0 or 1)


def fit_decorrelation(images, max_pixels: int = 200_000, seed: int = 0) -> np.ndarray:
    """The colour-decorrelation matrix of a data set: ``U sqrt(S)`` of the SVD of its pixel
    covariance (C x C), divided by its largest column norm (lucid's normalisation), so
    ``colours = M @ z`` turns decorrelated unit-variance noise `z` into colours with the data
    set's correlations. Grey images (C = 1) give the identity [[1.0]]."""
    x = np.asarray(images, np.float32)
    if x.ndim != 4:
        raise UserError(f"fit_decorrelation: images must be [N, H, W, C], got shape {x.shape}")
    c = x.shape[-1]
    if c == 1:
        return np.ones((1, 1), np.float32)
    flat = x.reshape(-1, c)
    if len(flat) > max_pixels:
        flat = flat[np.random.default_rng(seed).choice(len(flat), max_pixels, replace=False)]
    cov = np.cov(flat, rowvar=False).astype(np.float64)
    u, s, _ = np.linalg.svd(cov)
    m = u * np.sqrt(np.maximum(s, 1e-12))[None]
    m = m / np.max(np.linalg.norm(m, axis=0))
    return m.astype(np.float32)


def _check_matrix(decorrelation, c: int) -> np.ndarray:
    if decorrelation is None:
        return np.eye(c, dtype=np.float32)
    m = np.asarray(decorrelation, np.float32)
    if m.shape != (c, c):
        raise UserError(f"decorrelation matrix must be {c}x{c} for {c}-channel images, got shape {m.shape}")
    if abs(np.linalg.det(m)) < 1e-8:
        raise UserError("the decorrelation matrix is singular; fit it with fit_decorrelation(images)")
    return m


class _Param:
    """Shared colour stage: z (decorrelated, unbounded) -> sigmoid(z @ M^T) in [0, 1]."""

    kind = "base"

    def __init__(self, shape, decorrelation=None):
        if len(shape) != 4 or min(shape) < 1:
            raise UserError(f"a parameterization needs a shape (N, H, W, C), got {tuple(shape)}")
        self.shape = tuple(int(s) for s in shape)
        self.matrix = _check_matrix(decorrelation, self.shape[-1])

    @property
    def n(self):
        return self.shape[0]

    @property
    def decorrelated(self) -> bool:
        """False when the colour matrix is the identity (grey images): the colour stage is a sigmoid."""
        return not np.array_equal(self.matrix, np.eye(self.matrix.shape[0], dtype=np.float32))

    def _colour(self, z):
        import tensorflow as tf

        if not self.decorrelated:
            return tf.sigmoid(z)
        m = tf.constant(self.matrix)
        return tf.sigmoid(tf.einsum("nhwc,dc->nhwd", z, m))

    def _uncolour(self, images):
        import tensorflow as tf

        x = tf.clip_by_value(tf.cast(images, tf.float32), _EPS, 1.0 - _EPS)
        logit = tf.math.log(x) - tf.math.log1p(-x)
        if not self.decorrelated:
            return logit
        minv = tf.constant(np.linalg.inv(self.matrix).astype(np.float32))
        return tf.einsum("nhwc,dc->nhwd", logit, minv)

    def param_shape(self, n=None):
        raise NotImplementedError

    def to_image(self, p):
        """The images [N, H, W, C] in [0, 1] of parameter `p` (TensorFlow ops)."""
        raise NotImplementedError

    def from_image(self, images):
        """The parameter whose `to_image` is `images` (clipped to [1e-4, 1 - 1e-4])."""
        raise NotImplementedError

    def init(self, seed: int = 0, sd: float = 0.01, image=None, n=None):
        """Starting parameter: small Gaussian noise (lucid's sd 0.01), or `image` ([N, H, W, C]
        or one [H, W, C] image for the whole batch) exactly."""
        import tensorflow as tf

        n = self.n if n is None else int(n)
        if image is not None:
            img = np.asarray(image, np.float32)
            if img.ndim == 3:
                img = np.broadcast_to(img[None], (n,) + img.shape)
            if img.shape != (n,) + self.shape[1:]:
                raise UserError(f"init image must be {self.shape[1:]} (or {(n,) + self.shape[1:]}), got {img.shape}")
            return tf.identity(self.from_image(tf.constant(img)))
        rng = np.random.default_rng(seed)
        return tf.constant((sd * rng.standard_normal(self.param_shape(n))).astype(np.float32))


class PixelParam(_Param):
    """Raw pixels (in the decorrelated, pre-sigmoid space): the parameter is [N, H, W, C]."""

    kind = "pixel"

    def param_shape(self, n=None):
        return ((self.n if n is None else n),) + self.shape[1:]

    def to_image(self, p):
        return self._colour(p)

    def from_image(self, images):
        return self._uncolour(images)


def rfft2d_freqs(h: int, w: int) -> np.ndarray:
    """|f| of every coefficient of a real 2-D FFT of an h x w image ([h, w // 2 + 1], cycles/pixel)."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    return np.sqrt(fx * fx + fy * fy)


def _scaled_irfft2d(p, scale, grad_scale, h: int, w: int):
    """``irfft2d(scale * (p[..., 0] + i p[..., 1]))`` for p [N, C, H, Wf, 2]: one inverse FFT op
    for the batch, with a hand-written gradient (one `rfft2d` and a multiply, the exact adjoint:
    it equals TensorFlow's autodiff bit for bit, at a quarter of its cost on CPU, where the
    autodiff goes through complex masks, slices and stacks). The [..., 2] float pairs are
    bit-cast to complex64 and back, no copies."""
    import tensorflow as tf

    scale_ = tf.constant(np.asarray(scale, np.float32)[..., None])
    gscale = tf.constant(np.asarray(grad_scale, np.float32)[..., None])

    @tf.custom_gradient
    def f(q):
        z = tf.signal.irfft2d(tf.bitcast(q * scale_, tf.complex64), fft_length=[h, w])

        def grad(dz):
            return tf.bitcast(tf.signal.rfft2d(dz, fft_length=[h, w]), tf.float32) * gscale

        return z, grad

    return f(p)


class FourierParam(_Param):
    """A scaled Fourier spectrum (Olah et al. 2017; lucid's ``fft_image``).

    Parameter [N, C, H, W//2+1, 2] (real, imaginary). The image is
    ``sigmoid(M @ irfft2(scale * spectrum) / 4)`` with ``scale = sqrt(H W) / max(|f|, 1/max(H, W))**decay``
    (decay 1: the 1/f spectrum of natural images), one inverse FFT op for the batch.
    """

    kind = "fourier"

    def __init__(self, shape, decorrelation=None, decay: float = 1.0):
        super().__init__(shape, decorrelation)
        _, h, w, _ = self.shape
        freqs = rfft2d_freqs(h, w)
        scale = 1.0 / np.maximum(freqs, 1.0 / max(h, w)) ** float(decay)
        self.scale = (scale * np.sqrt(h * w)).astype(np.float32)  # [H, Wf]
        self.decay = float(decay)
        # the adjoint of irfft2d is rfft2d / (H W) with the columns that stand for two
        # conjugate coefficients counted twice (TensorFlow's own gradient of IRFFT2D), times the scale
        wf = w // 2 + 1
        mask = np.full(wf, 2.0)
        mask[0] = 1.0
        if w % 2 == 0:
            mask[-1] = 1.0
        self.grad_scale = (self.scale * mask[None] / (h * w)).astype(np.float32)

    def param_shape(self, n=None):
        _, h, w, c = self.shape
        return ((self.n if n is None else n), c, h, w // 2 + 1, 2)

    def to_image(self, p):
        import tensorflow as tf

        _, h, w, c = self.shape
        z = _scaled_irfft2d(p, self.scale / 4.0, self.grad_scale / 4.0, h, w)  # [N, C, H, W]
        if c == 1:  # one channel: moving the channel axis last is a reshape, not a transpose
            z = tf.reshape(z, tf.stack([tf.shape(z)[0], h, w, 1]))
        else:
            z = tf.transpose(z, [0, 2, 3, 1])
        return self._colour(z)

    def from_image(self, images):
        import tensorflow as tf

        _, h, w, _ = self.shape
        z = self._uncolour(images) * 4.0
        spec = tf.signal.rfft2d(tf.transpose(z, [0, 3, 1, 2]), fft_length=[h, w])
        scale = tf.constant(self.scale)
        return tf.stack([tf.math.real(spec) / scale, tf.math.imag(spec) / scale], axis=-1)


PARAMS = {"pixel": PixelParam, "fourier": FourierParam}


def make_param(kind: str, shape, decorrelation=None):
    """The parameterization `kind` (``"fourier"`` or ``"pixel"``) for images of `shape` (N, H, W, C)."""
    if isinstance(kind, _Param):
        return kind
    if kind not in PARAMS:
        raise UserError(f"unknown parameterization '{kind}'; use one of {', '.join(PARAMS)}")
    return PARAMS[kind](shape, decorrelation)


__all__ = ["fit_decorrelation", "PixelParam", "FourierParam", "make_param", "rfft2d_freqs", "PARAMS"]
