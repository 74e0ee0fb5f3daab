"""Style images for the stylizers: a folder of the user's, or the built-in offline bank.

The built-in bank needs no download: crops of scikit-image's texture photographs (``brick``,
``grass``, ``gravel``, shipped inside scikit-image) and the project's seeded synthetic
textures (`tfinterp.data.clutter.texture`: random oriented gratings plus smooth noise, the
backgrounds of the textured canvases). Every style is greyscale, float32 in [0, 1], square,
resized to the content images' size; for RGB content it is repeated over the channels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tfinterp.errors import UserError

SKIMAGE_TEXTURES = ("brick", "grass", "gravel")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")


@dataclass
class StyleBank:
    """Style images [K, H, W, C] float32 in [0, 1] with a name each and where they came from."""

    images: np.ndarray
    names: list[str]
    source: str
    extra: dict = field(default_factory=dict)

    def __len__(self):
        return len(self.images)

    def describe(self) -> dict:
        """For JSON summaries: how many styles, from where, their names."""
        return {"styles": len(self), "source": self.source, "names": list(self.names)}


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    img = np.asarray(img, np.float32)
    if img.shape == (size, size):
        return img.copy()
    pil = Image.fromarray(img, mode="F")  # float resize: no 8-bit rounding
    return np.clip(np.asarray(pil.resize((size, size), Image.BILINEAR), np.float32), 0.0, 1.0)


def skimage_textures(size: int = 64, crops: int = 4, crop: int = 192, seed: int = 0):
    """(images [K, size, size] float32 in [0, 1], names): `crops` seeded square crops of `crop`
    pixels from each of scikit-image's texture photographs (brick, grass, gravel), resized."""
    import skimage.data

    rng = np.random.default_rng(seed)
    out, names = [], []
    for name in SKIMAGE_TEXTURES:
        photo = np.asarray(getattr(skimage.data, name)(), np.float32) / 255.0
        if photo.ndim == 3:
            photo = photo[..., :3].mean(-1)
        h, w = photo.shape
        for c in range(crops):
            top, left = rng.integers(0, h - crop + 1), rng.integers(0, w - crop + 1)
            out.append(_resize(photo[top:top + crop, left:left + crop], size))
            names.append(f"skimage:{name}:{c}")
    return np.stack(out), names


def seeded_textures(size: int = 64, n: int = 8, seed: int = 0):
    """(images [n, size, size] in [0, 1], names): the project's seeded textures
    (`tfinterp.data.clutter.texture`, full gain)."""
    from tfinterp.data.clutter import texture

    rng = np.random.default_rng([seed, 77])
    imgs = [texture(size, rng, 1.0) for _ in range(n)]
    return np.stack(imgs).astype(np.float32), [f"seeded:{i}" for i in range(n)]


def load_style_dir(path, size: int = 64):
    """(images [K, size, size] greyscale in [0, 1], names) of every image file in folder `path`
    (not recursive); a `UserError` when it is missing, not a folder, or holds no images."""
    from tfinterp.data.imageio import read_image

    path = Path(path)
    if not path.exists():
        raise UserError(f"style folder not found: {path}")
    if not path.is_dir():
        raise UserError(f"--style-dir takes a folder of style images; {path} is a file")
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise UserError(f"style folder {path} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    imgs = [read_image(f, size=(size, size), channels=1)[..., 0] for f in files]
    return np.stack(imgs).astype(np.float32), [f.name for f in files]


def style_bank(style_dir=None, size: int = 64, channels: int = 1, seeded: int = 8, crops: int = 4,
               seed: int = 0) -> StyleBank:
    """The style images a stylizer draws from: the images of `style_dir` if given, else the
    built-in bank (scikit-image texture crops + `seeded` seeded textures), as [K, size, size,
    channels]."""
    if channels not in (1, 3):
        raise UserError(f"styles are made for 1 (grey) or 3 (RGB) channels, not {channels}")
    if style_dir is not None:
        imgs, names = load_style_dir(style_dir, size)
        source = f"folder {style_dir}"
    else:
        a, na = skimage_textures(size, crops=crops, seed=seed)
        parts, names = [a], list(na)
        if seeded:
            b, nb = seeded_textures(size, seeded, seed)
            parts.append(b)
            names += nb
        imgs = np.concatenate(parts)
        source = f"built-in: scikit-image {'/'.join(SKIMAGE_TEXTURES)} crops + {seeded} seeded textures"
    imgs = np.repeat(imgs[..., None], channels, axis=-1).astype(np.float32)
    return StyleBank(imgs, names, source)
