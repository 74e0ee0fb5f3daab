"""The stylizer family: one `Stylizer` base, one registry (`STYLIZERS`), one file per member.

Stylized augmentation (Zheng et al., "Insights from Attacking Interpretable Models", section
4, Table 2; after Geirhos et al., ICLR 2019): a stylizer keeps an image's global shape and
replaces its local texture statistics with those of a style image, so a classifier trained on
a mix of original and stylized images has to rely on shape. Members:

- ``fourier``: the content's Fourier phase with a style image's amplitude spectrum;
- ``adain``: Huang & Belongie (2017) adaptive instance normalisation in an encoder's feature
  space, decoded by a trained decoder (`tfinterp.training.style_decoder`);
- ``texture-fill``: the item's pixel mask filled with a texture (needs masks; the
  cue-conflict idea of Geirhos et al. 2019).

Contract of a member: ``transfer(images, styles, masks)`` maps a batch of content images
[B, H, W, C] in [0, 1] and one style image per content image (same shape) to stylized images
[B, H, W, C] in [0, 1], with TensorFlow operations only (it runs inside `tf.function` and
inside the tf.data pipeline). The base picks the styles (`stylize`: a stateless seed per
batch, so a run is reproducible and resumes exactly), batches arrays (`__call__`, with
`batch_size`), and mixes stylized with original images at a ratio (`mix_augment`, the
``augment`` of `tfinterp.training.trainer.pipeline`).
"""

from __future__ import annotations

import re

import numpy as np

from tfinterp.errors import UserError
from tfinterp.params import Param, Parameterized
from tfinterp.registry import Registry

STYLIZERS = Registry("stylizer", builtins=["tfinterp.training.stylizers.fourier",
                                           "tfinterp.training.stylizers.adain",
                                           "tfinterp.training.stylizers.texture_fill"])
register = STYLIZERS.register

COMMON_PARAMS = {
    "batch_size": Param(64, int, min=1, doc="images per compiled call when stylizing arrays"),
    "seed": Param(0, int, min=0, max=2**31 - 1, doc="seeds the choice of style per image"),
}


def list_stylizers() -> list[str]:
    """The registered stylizer names."""
    return STYLIZERS.names()


def get_stylizer(name: str, styles=None, style_dir=None, **params) -> "Stylizer":
    """The stylizer registered under `name`, configured with `params` (strings are parsed)."""
    return STYLIZERS.get(name)(styles=styles, style_dir=style_dir, **params)


class Stylizer(Parameterized):
    """Base of the stylizers (see the module docstring for the contract).

    Args:
        styles: style images [K, h, w] or [K, h, w, C] in [0, 1] (resized to the content's
            size); default: the images of `style_dir`, else the built-in offline bank
            (`tfinterp.training.stylizers.styles.style_bank`).
        style_dir: a folder of style images (a `UserError` when it holds none).
        **params: the member's parameters (its ``params`` table plus `COMMON_PARAMS`).
    """

    params: dict[str, Param] = {}
    needs_masks = False     # transfer() uses the item masks (texture-fill)
    uses_styles = True

    @classmethod
    def param_spec(cls) -> dict[str, Param]:
        return {**cls.params, **COMMON_PARAMS}

    def __init__(self, styles=None, style_dir=None, **params):
        self.configure(params)
        self.validate()
        self._styles = None if styles is None else np.asarray(styles, np.float32)
        if self._styles is not None:
            if self._styles.ndim == 3:
                self._styles = self._styles[..., None]
            if self._styles.ndim != 4 or len(self._styles) == 0:
                raise UserError(f"styles must be [K, h, w] or [K, h, w, C] images, got shape {self._styles.shape}")
        self._style_dir = style_dir
        self._banks: dict = {}
        self._fn = None
        if style_dir is not None and self.uses_styles:
            self.bank(8, 1)  # an empty or missing folder is refused now, not at the first batch

    def validate(self):
        """Cross-parameter checks of a subclass (raise `UserError`)."""

    # ---- styles ----------------------------------------------------------------------------

    def bank(self, size: int, channels: int):
        """The `StyleBank` at `size` x `size` with `channels` channels (built once per shape)."""
        from tfinterp.training.stylizers.styles import StyleBank, _resize, style_bank

        key = (int(size), int(channels))
        if key not in self._banks:
            if self._styles is not None:
                grey = self._styles.mean(-1) if self._styles.shape[-1] != channels else None
                src = self._styles if grey is None else np.repeat(grey[..., None], channels, -1)
                imgs = np.stack([np.stack([_resize(s[..., c], size) for c in range(channels)], -1) for s in src])
                self._banks[key] = StyleBank(imgs.astype(np.float32), [f"given:{i}" for i in range(len(imgs))],
                                             "given arrays")
            else:
                self._banks[key] = style_bank(self._style_dir, size=size, channels=channels, seed=self.seed)
        return self._banks[key]

    # ---- the member's part -----------------------------------------------------------------

    def transfer(self, images, styles, masks=None):
        """Stylized images [B,H,W,C] in [0,1] from content `images` and one style image each
        (TensorFlow ops only); `masks` [B,H,W] bool when `needs_masks`."""
        raise NotImplementedError

    def describe(self) -> dict:
        """What this stylizer is, for JSON summaries and figure titles (members add e.g. the
        encoder's provenance)."""
        return {**self.config}

    # ---- batching and mixing ---------------------------------------------------------------

    def stylize(self, images, seed, masks=None):
        """In-graph: stylize a batch, each image with a style drawn by the stateless `seed` ([2] ints)."""
        import tensorflow as tf

        images = self._check_batch(images)
        idx = None
        if self.uses_styles:
            n_styles = len(self.bank(int(images.shape[1]), int(images.shape[-1])))
            idx = tf.random.stateless_uniform([tf.shape(images)[0]], seed=tf.cast(seed, tf.int64),
                                              maxval=n_styles, dtype=tf.int64)
        return self.stylize_with(images, idx, masks)

    def stylize_with(self, images, style_index, masks=None):
        """In-graph: stylize a batch with the styles `style_index` [B] (ints into the bank)."""
        import tensorflow as tf

        images = self._check_batch(images)
        if self.needs_masks and masks is None:
            masks = self.default_masks(images)
        if masks is not None:
            masks = tf.cast(tf.convert_to_tensor(masks), tf.bool)
        if self.uses_styles:
            bank = self.bank(int(images.shape[1]), int(images.shape[-1]))
            styles = tf.gather(tf.constant(bank.images), tf.cast(style_index, tf.int64))
        else:
            styles = images
        out = self.transfer(images, styles, masks)
        return tf.clip_by_value(tf.cast(out, tf.float32), 0.0, 1.0)

    @staticmethod
    def _check_batch(images):
        import tensorflow as tf

        images = tf.convert_to_tensor(images, tf.float32)
        if images.shape.rank != 4 or images.shape[1] is None or images.shape[1] != images.shape[2]:
            raise UserError(f"stylizers take square [N, H, W, C] images, got shape {images.shape}")
        return images

    def default_masks(self, images):
        """Masks when none are given: the pixels brighter than 0.1 (the clutter generator's
        item threshold; right for items on a black background)."""
        import tensorflow as tf

        return tf.reduce_max(tf.convert_to_tensor(images, tf.float32), axis=-1) > 0.1

    def style_indices(self, n: int, size: int, channels: int, seed: int | None = None) -> np.ndarray:
        """The style of each of `n` images that `__call__` uses: a seeded draw, independent of batching."""
        k = len(self.bank(size, channels)) if self.uses_styles else 1
        return np.random.default_rng([self.seed if seed is None else int(seed), 31]).integers(k, size=n)

    def __call__(self, images, seed: int | None = None, masks=None, batch_size: int | None = None) -> np.ndarray:
        """Stylize arrays [N, H, W, C] in batches of `batch_size` through one compiled function;
        image i gets style `style_indices(...)[i]`, so the result does not depend on the batching."""
        import tensorflow as tf

        from tfinterp.checks import check_images

        x = check_images(images)
        if x.shape[1] != x.shape[2]:
            raise UserError(f"stylizers take square images, got {x.shape[1]}x{x.shape[2]}")
        bs = Param(64, int, min=1).coerce("batch_size", batch_size if batch_size is not None else self.batch_size,
                                         self.registry_name)
        if masks is not None:
            masks = np.asarray(masks).astype(bool)
            if masks.shape != x.shape[:3]:
                raise UserError(f"masks must be [N, H, W] = {list(x.shape[:3])}, got {list(masks.shape)}")
        elif self.needs_masks:
            masks = x.max(-1) > 0.1  # as default_masks
        idx = self.style_indices(len(x), x.shape[1], x.shape[-1], seed)  # builds the bank eagerly
        if self._fn is None:
            self._fn = tf.function(lambda im, i, m: self.stylize_with(im, i, m), reduce_retracing=True)
        parts = []
        for i in range(0, len(x), bs):
            m = None if masks is None else tf.constant(masks[i:i + bs])
            parts.append(self._fn(tf.constant(x[i:i + bs]), tf.constant(idx[i:i + bs]), m).numpy())
        return np.concatenate(parts)


# ---- ratios and the training augmentation ------------------------------------------------------

_RATIO = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*$")


def parse_ratio(text) -> tuple[int, int]:
    """'1:2' -> (1, 2): original to stylized images (Zheng et al., Table 2: 1:1 ... 1:4)."""
    m = _RATIO.match(str(text))
    if not m:
        raise UserError(f"style ratio must be ORIGINAL:STYLIZED with whole numbers, e.g. 1:2; got '{text}'")
    a, b = int(m.group(1)), int(m.group(2))
    if a + b == 0 or b == 0:
        raise UserError(f"style ratio {text} stylizes no image; use e.g. 1:1 ... 1:4")
    return a, b


def stylized_fraction(ratio) -> float:
    """The share of each batch that is stylized: b / (a + b) for ratio a:b."""
    a, b = parse_ratio(ratio)
    return b / (a + b)


def mix_augment(stylizer: Stylizer, ratio="1:1", shape=None):
    """An ``augment(images, labels[, masks], seed)`` for `tfinterp.training.trainer.pipeline`:
    in every batch of B images, round(B * b / (a + b)) of them (a stateless random choice)
    are replaced by their stylized version, labels unchanged; returns (images, labels).
    `shape` ([H, W, C]) builds the style bank at once (else at the first trace)."""
    import tensorflow as tf

    frac = stylized_fraction(ratio)
    if shape is not None and stylizer.uses_styles:
        stylizer.bank(int(shape[0]), int(shape[-1]))

    def augment(images, labels, *rest):
        seed, masks = rest[-1], (rest[0] if len(rest) == 2 else None)
        seed = tf.cast(seed, tf.int64)
        n = tf.shape(images)[0]
        k = tf.cast(tf.round(tf.cast(n, tf.float32) * frac), tf.int32)
        rank = tf.random.experimental.stateless_shuffle(tf.range(n), seed=seed)
        idx = tf.where(rank < k)  # [k, 1]
        picked = tf.gather_nd(images, idx)
        pm = None if masks is None else tf.gather_nd(masks, idx)
        styl = stylizer.stylize(picked, tf.random.experimental.stateless_fold_in(seed, 1), pm)
        return tf.tensor_scatter_nd_update(images, idx, tf.cast(styl, images.dtype)), labels

    return augment


def training_augment(name: str, ratio, train, dataset: str | None = None, limit=None, style_dir=None,
                     params: dict | None = None):
    """What `train classifier --stylize NAME --style-ratio A:B` feeds its pipeline:
    ``(train data, augment, summary)``. For a stylizer that needs item masks, the train data
    gain the masks as a third array (the canvases' own masks for ``clutter*`` sets,
    `tfinterp.data.cueconflict.item_masks`)."""
    parse_ratio(ratio)
    st = get_stylizer(name, style_dir=style_dir, **(params or {}))
    if not isinstance(train, tuple):
        raise UserError("stylized training needs an in-memory data set (IDX or cluttered canvases)")
    x, y = train
    if st.needs_masks:
        from tfinterp.data.cueconflict import item_masks

        masks = item_masks(dataset, "train", limit, images=x)
        if masks.shape != np.asarray(x).shape[:3]:
            raise UserError(f"{len(masks)} masks for {len(x)} training images")
        train = (x, y, masks)
    summary = {"stylizer": st.describe(), "ratio": str(ratio), "stylized_fraction": stylized_fraction(ratio)}
    if st.uses_styles:
        summary["styles"] = st.bank(int(np.asarray(x).shape[1]), int(np.asarray(x).shape[-1])).describe()
    return train, mix_augment(st, ratio, np.asarray(x).shape[1:]), summary
