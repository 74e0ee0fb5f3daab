"""Item masks and the cue-conflict set: shape of one class, texture of another.

After Geirhos et al., "ImageNet-trained CNNs are biased towards texture; increasing shape bias
improves accuracy and robustness" (ICLR 2019): an image whose object shape says one class and
whose texture says another shows which cue a classifier follows. Here the shape is a
Fashion-MNIST item's silhouette (its pixel mask: on a 28x28 image the pixels brighter than
0.1; on a cluttered canvas the item mask the generator records, `tfinterp.data.clutter`),
and the texture a close-up of an item of another class: the 12x12 window of that item with
the most item pixels, mirror-tiled over the canvas and drawn inside the silhouette
(`fill_masks`). The shape bias of a model is the fraction of its decisions for the shape's
class among its decisions for either class (`tfinterp.metrics.shape_bias`).
"""

from __future__ import annotations

import numpy as np

from tfinterp.errors import UserError

MASK_THRESHOLD = 0.1   # the clutter generator's item threshold
FILL_FLOOR = 0.2       # texture drawn in [floor, 1] so the silhouette stays visible on black


def item_masks(dataset: str | None, split: str = "train", limit=None, images=None) -> np.ndarray:
    """[N, H, W] bool item masks: a cluttered set's own masks (``clutter*``: the same canvases
    `tfinterp.data.load_arrays` gives for `split` / `limit`), else ``images > 0.1``."""
    from tfinterp.data import _CLUTTER

    m = _CLUTTER.match(dataset or "")
    if m:
        from tfinterp.data.clutter import load_clutter

        return load_clutter(split, size=int(m.group(1)), n=limit, background="texture" if m.group(3) else "black",
                            generator="fragments10" if m.group(2) else "mixed")["masks"]
    if images is None:
        raise UserError(f"no item masks for {dataset}: give the images to threshold")
    x = np.asarray(images)
    return (x.max(-1) if x.ndim == 4 else x) > MASK_THRESHOLD


def texture_patch(item: np.ndarray, patch: int = 12) -> np.ndarray:
    """The `patch` x `patch` window of a [h, w] item image holding the most item pixels (a
    close-up of its surface), ties broken towards the centre."""
    on = (item > MASK_THRESHOLD).astype(np.float32)
    h, w = on.shape
    c = np.pad(np.cumsum(np.cumsum(on, 0), 1), ((1, 0), (1, 0)))
    counts = c[patch:, patch:] - c[:-patch, patch:] - c[patch:, :-patch] + c[:-patch, :-patch]
    yy, xx = np.mgrid[0:h - patch + 1, 0:w - patch + 1]
    centre = -((yy - (h - patch) / 2) ** 2 + (xx - (w - patch) / 2) ** 2) * 1e-6
    top, left = np.unravel_index(np.argmax(counts + centre), counts.shape)
    return item[top:top + patch, left:left + patch].astype(np.float32)


def miniature(item: np.ndarray, patch: int = 10) -> np.ndarray:
    """The item's bounding box (pixels > 0.1) resized to `patch` x `patch` (bilinear)."""
    from PIL import Image

    on = item > MASK_THRESHOLD
    if not on.any():
        return np.zeros((patch, patch), np.float32)
    ys, xs = np.nonzero(on)
    crop = np.asarray(item[ys.min():ys.max() + 1, xs.min():xs.max() + 1], np.float32)
    return np.clip(np.asarray(Image.fromarray(crop, mode="F").resize((patch, patch), Image.BILINEAR)), 0, 1)


TEXTURES = ("closeup", "miniature")


def tile(patch: np.ndarray, size: int) -> np.ndarray:
    """A [size, size] texture: `patch` mirror-tiled (no seams)."""
    p = np.concatenate([patch, patch[::-1]], 0)
    p = np.concatenate([p, p[:, ::-1]], 1)
    reps = -(-size // p.shape[0]), -(-size // p.shape[1])
    return np.tile(p, reps)[:size, :size]


def fill_masks(images: np.ndarray, masks: np.ndarray, textures: np.ndarray, floor: float = FILL_FLOOR):
    """`images` [N,H,W,C] with the pixels of `masks` [N,H,W] replaced by `textures` [N,H,W]
    (or [N,H,W,C]) mapped to [floor, 1]; every other pixel unchanged."""
    x = np.asarray(images, np.float32)
    t = np.asarray(textures, np.float32)
    if t.ndim == 3:
        t = np.repeat(t[..., None], x.shape[-1], -1)
    m = np.asarray(masks, bool)[..., None]
    return np.where(m, floor + (1.0 - floor) * t, x).astype(np.float32)


def cue_conflict_set(dataset: str = "fashion_mnist", split: str = "test", n: int = 500, seed: int = 0,
                     patch: int | None = None, texture: str = "closeup") -> dict:
    """Cue-conflict images of `dataset` (``fashion_mnist`` or a ``clutter*`` set): each image's
    item mask filled with the `texture` (``closeup`` or ``miniature``, see the module
    docstring; `patch` pixels, default 12 / 10) of a random item of another class (a uniform
    random other class per image, the item drawn from the same split's Fashion-MNIST items).

    Returns ``images`` [n,H,W,1], ``shape_labels`` (the silhouette's class), ``texture_labels``
    (the texture's class, never the shape's), ``masks``, ``texture_sources`` (the index of the
    texture item among `split`'s Fashion-MNIST items), and ``description``.
    """
    from tfinterp.data import load_arrays
    from tfinterp.data.clutter import _source_items

    if texture not in TEXTURES:
        raise UserError(f"unknown cue-conflict texture '{texture}'; use {' or '.join(TEXTURES)}")
    patch = int(patch or (12 if texture == "closeup" else 10))
    x, y = load_arrays(dataset, split, limit=n)
    if x is None:
        raise UserError(f"no cue-conflict set for {dataset}: use fashion_mnist or a clutter<size> set")
    x, y = np.asarray(x, np.float32)[:n], np.asarray(y, np.int64)[:n]
    masks = item_masks(dataset, split, limit=n, images=x)[:n]
    items, item_labels = _source_items(split)
    rng = np.random.default_rng([seed, 4242])
    by_class = [np.flatnonzero(item_labels == c) for c in range(10)]
    tex_labels = (y + rng.integers(1, 10, size=len(y))) % 10
    sources = np.array([rng.choice(by_class[c]) for c in tex_labels], np.int64)
    size = x.shape[1]
    cut = texture_patch if texture == "closeup" else miniature
    textures = np.stack([tile(cut(items[s].astype(np.float32) / 255.0, patch), size) for s in sources])
    images = fill_masks(x, masks, textures)
    return {"images": images, "shape_labels": y, "texture_labels": tex_labels.astype(np.int64), "masks": masks,
            "texture_sources": sources,
            "texture": texture,
            "description": f"{dataset}/{split}: item mask filled with a {patch}x{patch} "
                           f"{'close-up' if texture == 'closeup' else 'miniature'} of an item of another class "
                           f"(mirror-tiled, values in [{FILL_FLOOR}, 1]); seed {seed}"}
