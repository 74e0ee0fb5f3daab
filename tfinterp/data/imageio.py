"""Reading user image files (PNG / JPEG / BMP / GIF first frame) into what a model expects."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tfinterp.errors import UserError

SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}


def read_image(path, size: tuple[int, int] | None = None, channels: int | None = None,
               value_range: tuple[float, float] = (0.0, 1.0), return_shape: bool = False):
    """Read one image file as float32 [H, W, C].

    `size` (H, W) resizes bilinearly, `channels` (1 or 3) converts grey/colour, and the
    values are mapped from the file's full scale (0..255, or 0..65535 for 16-bit greyscale
    PNGs) to `value_range`. A GIF gives its first frame. 16-bit colour PNGs Pillow reduces to
    8 bits per channel itself. An image over Pillow's pixel limit (a possible decompression
    bomb) is refused before it is decoded.

    With `return_shape`, returns ``(image, (h, w, c))``: the file's own height, width and
    channel count before any conversion (c: 1 grey, 2 grey + alpha, 3 colour, 4 colour +
    alpha or CMYK; a palette image counts as colour, with alpha if it has transparency), so a
    caller can say what was converted without reading the file again.
    """
    import warnings

    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise UserError(f"image not found: {path}")
    if path.is_dir():
        raise UserError(f"{path} is a folder; pass image files (PNG, JPEG, BMP, GIF)")
    if channels not in (None, 1, 3):
        raise UserError(f"the model expects {channels} input channels; only 1 (grey) or 3 (RGB) are supported")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its limit and twice it, then decodes anyway: refuse both
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                im.seek(0)
                im.load()
                original = (int(im.size[1]), int(im.size[0]), _channel_count(im))
                if im.mode in _SIXTEEN_BIT_GREY:
                    arr = _sixteen_bit_grey(im, size, channels)
                else:
                    mode = {1: "L", 3: "RGB", None: "RGB" if im.mode not in ("L", "1") else "L"}[channels]
                    im = im.convert(mode)
                    if size is not None and im.size != (size[1], size[0]):
                        im = im.resize((int(size[1]), int(size[0])), Image.BILINEAR)
                    arr = np.asarray(im, dtype=np.float32) / 255.0
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise UserError(_bomb_message(path, e, Image.MAX_IMAGE_PIXELS)) from None
    except UnidentifiedImageError:
        raise UserError(f"{path} is not a readable image; use PNG, JPEG, BMP or GIF")
    except (OSError, SyntaxError, ValueError) as e:
        raise UserError(f"{path} could not be decoded ({e}); the file may be truncated or corrupt")
    if arr.ndim == 2:
        arr = arr[..., None]
    lo, hi = value_range
    arr = (lo + arr * (hi - lo)).astype(np.float32)
    return (arr, original) if return_shape else arr


def _channel_count(im) -> int:
    """Channels of a decoded Pillow image as the file holds them (a palette image: 3, or 4 with
    transparency)."""
    if im.mode in ("P", "PA"):
        return 4 if (im.mode == "PA" or "transparency" in im.info) else 3
    return len(im.getbands())


CHANNEL_WORDS = {1: "grey", 2: "grey+alpha", 3: "RGB", 4: "RGBA"}


def describe_conversion(original, target) -> str | None:
    """What reading an image of `original` (h, w, c) for a model taking `target` (H, W, C)
    changed, in words ("427x640 RGB -> 64x64 grey, resized (aspect ratio not kept), colour to
    grey"); None when nothing was converted. Sizes are height x width, as in the model's shape."""
    h, w, c = (int(v) for v in original)
    th, tw, tc = (int(v) for v in target)
    # a grey+alpha or colour+alpha file loses its alpha; grey <-> colour is what the model needs
    resized, recoloured = (h, w) != (th, tw), c != tc
    if not (resized or recoloured):
        return None
    src, dst = CHANNEL_WORDS.get(c, f"{c}-channel"), CHANNEL_WORDS.get(tc, f"{tc}-channel")
    done = []
    if resized:
        aspect = abs((h / w) / (th / tw) - 1.0) > 0.01
        done.append("resized" + (" (aspect ratio not kept)" if aspect else ""))
    if recoloured:
        if c in (2, 4) and tc == c - 1:
            done.append("alpha dropped")
        elif tc == 1:
            done.append("colour to grey" + (", alpha dropped" if c in (2, 4) else ""))
        else:
            done.append("grey to RGB" + (", alpha dropped" if c == 2 else ""))
    return f"{h}x{w} {src} -> {th}x{tw} {dst}, {', '.join(done)}"


# Pillow's modes for one 16-bit channel (16-bit greyscale PNGs open as "I;16"; older Pillow
# versions gave "I", which among the formats read here only 16-bit greyscale PNGs produce)
_SIXTEEN_BIT_GREY = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def _sixteen_bit_grey(im, size, channels) -> np.ndarray:
    """A 16-bit greyscale image as float32 in [0, 1] (full scale 65535; Pillow's own conversion
    to 8 bits clips at 255 instead of scaling), resized bilinearly, [H, W] or [H, W, 3]."""
    from PIL import Image

    arr = np.clip(np.asarray(im, dtype=np.float32) / 65535.0, 0.0, 1.0)
    if size is not None and arr.shape != (size[0], size[1]):
        arr = np.asarray(Image.fromarray(arr, mode="F").resize((int(size[1]), int(size[0])), Image.BILINEAR),
                         dtype=np.float32)
    if channels == 3:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    return arr


def _bomb_message(path, error, limit) -> str:
    import re

    found = re.search(r"\((\d+) pixels\)", str(error))
    size = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
    return (f"{path} has {size}, over the {limit:,}-pixel limit for safe decoding (a possible "
            "decompression bomb); downscale it first")


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
