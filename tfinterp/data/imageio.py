"""Reading user image files (PNG / JPEG / BMP / GIF first frame) into what a model expects."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tfinterp.errors import UserError

SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}


def read_image(path, size: tuple[int, int] | None = None, channels: int | None = None,
               value_range: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """Read one image file as float32 [H, W, C].

    `size` (H, W) resizes bilinearly, `channels` (1 or 3) converts grey/colour, and the
    values are mapped from 0..255 to `value_range`. A GIF gives its first frame.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise UserError(f"image not found: {path}")
    if path.is_dir():
        raise UserError(f"{path} is a folder; pass image files (PNG, JPEG, BMP, GIF)")
    if channels not in (None, 1, 3):
        raise UserError(f"the model expects {channels} input channels; only 1 (grey) or 3 (RGB) are supported")
    try:
        with Image.open(path) as im:
            im.seek(0)
            im.load()
            mode = {1: "L", 3: "RGB", None: "RGB" if im.mode not in ("L", "1", "I", "I;16") else "L"}[channels]
            im = im.convert(mode)
            if size is not None and im.size != (size[1], size[0]):
                im = im.resize((int(size[1]), int(size[0])), Image.BILINEAR)
            arr = np.asarray(im, dtype=np.float32)
    except UnidentifiedImageError:
        raise UserError(f"{path} is not a readable image; use PNG, JPEG, BMP or GIF")
    except (OSError, SyntaxError, ValueError) as e:
        raise UserError(f"{path} could not be decoded ({e}); the file may be truncated or corrupt")
    if arr.ndim == 2:
        arr = arr[..., None]
    lo, hi = value_range
    return (lo + arr / 255.0 * (hi - lo)).astype(np.float32)


def read_images_for_model(paths, model) -> np.ndarray:
    """Read `paths` into one float32 batch shaped for `model` (size and channels from its input)."""
    shape = model_input_shape(model)
    value_range = tuple(getattr(model, "input_range", (0.0, 1.0)))
    return np.stack([read_image(p, size=shape[:2], channels=shape[2], value_range=value_range)
                     for p in paths])


def model_input_shape(model) -> tuple[int, int, int]:
    """(H, W, C) of an image model's input; `UserError` if the model does not take images."""
    shape = tuple(model.input_shape) if hasattr(model, "input_shape") else None
    if shape is None or len(shape) != 4 or any(s is None for s in shape[1:]):
        raise UserError(f"the model's input shape {shape} is not a fixed [N, H, W, C] image shape")
    return tuple(int(s) for s in shape[1:])


def write_png(path, image: np.ndarray):
    """Write a float image in [0,1] ([H,W], [H,W,1] or [H,W,3]) as PNG, atomically."""
    from PIL import Image

    from tfinterp.utils import atomic_path

    arr = np.asarray(image, np.float32)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    with atomic_path(path) as tmp:
        Image.fromarray((np.clip(arr, 0, 1) * 255).round().astype(np.uint8)).save(tmp, format="PNG")
    return Path(path)


def expand_image_paths(items) -> list[Path]:
    """Expand folders and glob patterns into a sorted list of image files."""
    import glob

    out = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in SUFFIXES)
            if not found:
                raise UserError(f"folder {p} holds no PNG, JPEG, BMP or GIF images")
            out += found
        elif any(ch in str(item) for ch in "*?["):
            found = sorted(Path(q) for q in glob.glob(str(item)) if Path(q).suffix.lower() in SUFFIXES)
            if not found:
                raise UserError(f"pattern {item} matches no images")
            out += found
        else:
            out.append(p)
    return out
