"""Per-image heatmap overlays composited with NumPy and Pillow: no matplotlib figure per image.

The figure holds what `figures.save_overlay(engine="matplotlib")` shows: the input, any extra
panels (guided inversion's stage-1 map), the heatmap over the input (jet colormap, alpha 0.5)
with the map's box in white, a title above each panel and a colour bar for the map values
0..1. The 64x64 panels are enlarged with nearest-neighbour (x4) so the pixels stay sharp and
the text readable. One figure takes a few milliseconds (compositing plus a small PNG writer,
`png_bytes`), so a folder of images is drawn at the speed of the model (issue 14, item 3).

Heatmaps over images follow the saliency-map display of Simonyan et al. 2014 ("Deep Inside
Convolutional Networks", arXiv:1312.6034); the colormap is the classic 'jet' (matplotlib's
definition, re-expressed as a lookup table below and checked against matplotlib in the tests).

This module imports NumPy and Pillow (for the text) only: no TensorFlow, no matplotlib.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

# 'jet' as piecewise-linear (position, value) knots per channel; sampled at 256 points it is
# the lookup table of matplotlib's `jet` (tests/viz/test_overlay.py checks it to within 1/255).
_JET_KNOTS = {
    "red": ((0.0, 0.0), (0.35, 0.0), (0.66, 1.0), (0.89, 1.0), (1.0, 0.5)),
    "green": ((0.0, 0.0), (0.125, 0.0), (0.375, 1.0), (0.64, 1.0), (0.91, 0.0), (1.0, 0.0)),
    "blue": ((0.0, 0.5), (0.11, 1.0), (0.34, 1.0), (0.65, 0.0), (1.0, 0.0)),
}
LUT_SIZE = 256
ALPHA = 0.5            # heatmap opacity over the image, as in the matplotlib figure
PANEL_TARGET = 256     # the automatic scale enlarges panels to about this many pixels
MARGIN, GAP = 10, 14   # outer margin and gap between panels (pixels)
BAR_WIDTH, BAR_GAP, TICK = 12, 8, 3
BACKGROUND = 255       # white (one grey level: a scalar fill is a plain memset)
BOX = (255, 255, 255)


@functools.lru_cache(maxsize=None)
def jet_lut(n: int = LUT_SIZE) -> np.ndarray:
    """The jet colormap as an [n, 3] float32 table of RGB in [0, 1] (entry i is jet(i / (n-1)))."""
    x = np.linspace(0.0, 1.0, n)
    lut = np.stack([np.interp(x, *zip(*_JET_KNOTS[c])) for c in ("red", "green", "blue")], axis=-1)
    lut = lut.astype(np.float32)
    lut.setflags(write=False)
    return lut


def jet(values) -> np.ndarray:
    """RGB in [0, 1] (shape [..., 3]) of `values` under jet on the range 0..1.

    Values are binned into the 256-entry table the way matplotlib bins them (value * 256,
    truncated); values outside 0..1 take the end colours.
    """
    v = np.nan_to_num(np.asarray(values, np.float64), nan=0.0, posinf=1.0, neginf=0.0)
    idx = np.clip(np.floor(v * LUT_SIZE), 0, LUT_SIZE - 1).astype(np.intp)
    return jet_lut()[idx]


def _image_rgb(image) -> np.ndarray:
    """[H, W, 3] float32 in [0, 1] from a grey ([H,W], [H,W,1]) or colour ([H,W,3]) image."""
    img = np.asarray(image, np.float32)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    if img.ndim != 3 or img.shape[-1] != 3:
        raise ValueError(f"an image is [H, W], [H, W, 1] or [H, W, 3]; got shape {np.shape(image)}")
    return np.clip(np.nan_to_num(img, nan=0.0), 0.0, 1.0)


def _map_2d(saliency, shape) -> np.ndarray:
    """The map as [H, W] float32 at the image's size (a map of another size is stretched, nearest)."""
    m = np.asarray(saliency, np.float32)
    if m.ndim == 3 and m.shape[-1] == 1:
        m = m[..., 0]
    if m.ndim != 2:
        raise ValueError(f"a saliency map is [H, W] or [H, W, 1]; got shape {np.shape(saliency)}")
    if m.shape != tuple(shape):
        rows = np.minimum((np.arange(shape[0]) + 0.5) * m.shape[0] // shape[0], m.shape[0] - 1).astype(np.intp)
        cols = np.minimum((np.arange(shape[1]) + 0.5) * m.shape[1] // shape[1], m.shape[1] - 1).astype(np.intp)
        m = m[rows][:, cols]
    return m


def heat_rgb(image, saliency, alpha: float = ALPHA) -> np.ndarray:
    """[H, W, 3] float32: jet(saliency) blended over the image with opacity `alpha`.

    Non-finite map values show the image alone (matplotlib draws them transparent).
    """
    img = _image_rgb(image)
    m = _map_2d(saliency, img.shape[:2])
    a = np.where(np.isfinite(m), np.float32(alpha), np.float32(0.0))[..., None]
    return (1.0 - a) * img + a * jet(m)


def auto_scale(height: int, width: int) -> int:
    """The nearest-neighbour enlargement for an HxW panel: about PANEL_TARGET pixels, at least 1."""
    return max(1, PANEL_TARGET // max(int(height), int(width)))


def _enlarge(rgb: np.ndarray, scale: int) -> np.ndarray:
    """Float RGB in [0, 1] -> uint8, each pixel repeated `scale` times along both axes."""
    u8 = np.round(rgb * 255.0).astype(np.uint8)
    if scale > 1:
        u8 = np.repeat(np.repeat(u8, scale, axis=0), scale, axis=1)
    return u8


def box_border(box, height: int, width: int, scale: int, thickness: int | None = None) -> np.ndarray:
    """Boolean [H*scale, W*scale] mask of the box's drawn border.

    `box` is (ymin, xmin, ymax, xmax) in image pixels, max exclusive (what
    `tfinterp.metrics.box_from_map` returns). The border is the outermost `thickness`
    enlarged pixels inside the box (default scale // 2, at least 1), clipped to the panel.
    """
    t = max(1, scale // 2) if thickness is None else int(thickness)
    mask = np.zeros((height * scale, width * scale), bool)
    y0, x0, y1, x1 = (int(v) * scale for v in box)
    y0, x0 = max(y0, 0), max(x0, 0)
    y1, x1 = min(y1, height * scale), min(x1, width * scale)
    if y1 <= y0 or x1 <= x0:
        return mask
    mask[y0:y1, x0:x1] = True
    mask[y0 + t:y1 - t, x0 + t:x1 - t] = False
    return mask


@functools.lru_cache(maxsize=None)
def _font():
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=12)  # Pillow >= 10.1 with FreeType
    except (TypeError, OSError, ImportError):  # older Pillow or no FreeType: the bitmap font
        return ImageFont.load_default()


@functools.lru_cache(maxsize=4096)
def _text_size(text: str) -> tuple[int, int]:
    """(width, height) in pixels of `text` drawn from (0, 0) in the default font."""
    if not text:
        return 0, 0
    x0, y0, x1, y1 = _font().getbbox(text)
    return int(x1 - min(x0, 0)), int(y1)


@functools.lru_cache(maxsize=None)
def _line_height() -> int:
    return max(_text_size("Ag(|)p,")[1], 10) + 3


@functools.lru_cache(maxsize=4096)
def _text_mask(text: str) -> np.ndarray:
    """The ink of `text` in the default font as a uint8 [height, width] coverage mask (cached)."""
    from PIL import Image, ImageDraw

    w, h = _text_size(text)
    im = Image.new("L", (max(w, 1), max(h, _line_height())), 0)
    ImageDraw.Draw(im).text((0, 0), text, fill=255, font=_font())
    mask = np.asarray(im)
    mask.setflags(write=False)
    return mask


def _put_text(canvas: np.ndarray, x: int, y: int, text: str):
    """Draw `text` in black with its top-left corner at (x, y), clipped to the canvas."""
    if not text:
        return
    mask = _text_mask(text)
    x, y = max(int(x), 0), max(int(y), 0)
    region = canvas[y:y + mask.shape[0], x:x + mask.shape[1]]
    ink = 255 - mask[:region.shape[0], :region.shape[1], None]
    np.minimum(region, ink, out=region)


def _bar_pad() -> int:
    return _line_height() // 2 + 1


def _ticks(height: int) -> list[float]:
    return [i / 5 for i in range(6)] if height >= 6 * _line_height() else [0.0, 1.0]


def _bar_width(height: int) -> int:
    return BAR_WIDTH + TICK + 3 + max(_text_size(f"{v:.1f}")[0] for v in _ticks(height))


@functools.lru_cache(maxsize=64)
def _colour_bar(height: int) -> np.ndarray:
    """[height + 2 * pad, width, 3] uint8 (pad = `_bar_pad()` rows of room for the labels):
    jet from 1 (top) to 0 (bottom), outlined in black, with ticks and labels at 0, 0.2, ..., 1
    (0 and 1 only on short bars)."""
    pad = _bar_pad()
    block = np.full((height + 2 * pad, _bar_width(height), 3), BACKGROUND, np.uint8)
    values = 1.0 - (np.arange(height) + 0.5) / height
    bar = block[pad:pad + height, :BAR_WIDTH]
    bar[:] = _enlarge(jet(values)[:, None, :], 1)
    bar[[0, -1], :] = 0
    bar[:, [0, -1]] = 0
    for v in _ticks(height):
        r = pad + int(round((1.0 - v) * (height - 1)))
        block[r, BAR_WIDTH:BAR_WIDTH + TICK] = 0
        _put_text(block, BAR_WIDTH + TICK + 3, r - _text_size("0.0")[1] // 2 - 1, f"{v:.1f}")
    block.setflags(write=False)
    return block


def render_overlay(image, saliency, title: str = "", box=None, extra=None, scale: int | None = None,
                   alpha: float = ALPHA) -> np.ndarray:
    """The overlay figure as a uint8 [H, W, 3] array (NumPy + Pillow, no matplotlib).

    Panels left to right: the input, one heat panel per `extra` entry ({title: map}, e.g.
    guided inversion's stage-1 map), and the heatmap of `saliency` over the input with
    `box` (ymin, xmin, ymax, xmax; max exclusive) in white; then a colour bar for map
    values 0..1. `title` (lines split at newlines) heads the last panel. Each image pixel
    becomes `scale` x `scale` figure pixels (default `auto_scale`: x4 for 64x64 inputs).
    Maps are shown on the fixed range 0..1, as explainers return them; the colour bar shows
    the pure jet colours (matplotlib's showed them at the overlay's alpha over white).
    """
    img = _image_rgb(image)
    h, w = img.shape[:2]
    s = auto_scale(h, w) if scale is None else int(scale)
    if s < 1:
        raise ValueError(f"scale must be an integer >= 1, got {scale}")
    panels = [(["input"], _enlarge(img, s))]
    for name, m in (extra or {}).items():
        panels.append((str(name).split("\n"), _enlarge(heat_rgb(img, m, alpha), s)))
    main = _enlarge(heat_rgb(img, saliency, alpha), s)
    if box is not None:
        main[box_border(box, h, w, s)] = BOX
    panels.append((str(title).split("\n") if title else [], main))

    ph, pw = h * s, w * s
    lh = _line_height()
    band = lh * max(len(lines) for lines, _ in panels) + 4
    slots = [max([pw] + [_text_size(t)[0] for t in lines]) for lines, _ in panels]
    starts = [MARGIN + sum(slots[:i]) + GAP * i for i in range(len(slots))]
    lefts = [x + (slot - pw) // 2 for x, slot in zip(starts, slots)]
    bar = _colour_bar(ph)
    bar_x = lefts[-1] + pw + BAR_GAP
    width = max(starts[-1] + slots[-1], bar_x + bar.shape[1]) + MARGIN
    top = MARGIN + band
    height = top + ph + _bar_pad() + MARGIN

    canvas = np.full((height, width, 3), BACKGROUND, np.uint8)
    for (lines, pix), x, slot, left in zip(panels, starts, slots, lefts):
        canvas[top:top + ph, left:left + pw] = pix
        y = top - 4 - lh * len(lines)
        for line in lines:
            _put_text(canvas, x + (slot - _text_size(line)[0]) // 2, y, line)
            y += lh
    canvas[top - _bar_pad():top - _bar_pad() + bar.shape[0], bar_x:bar_x + bar.shape[1]] = bar
    return canvas


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    import struct
    import zlib

    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def png_bytes(figure: np.ndarray, level: int = 1) -> bytes:
    """A uint8 [H, W, 3] array as the bytes of an 8-bit RGB PNG file (lossless).

    Every row uses PNG's "Up" filter (the difference to the row above), then zlib at `level`.
    The figures are enlarged nearest-neighbour, so most rows repeat the one above and filter
    to zeros: this encodes 2-5x faster than Pillow's adaptive filtering, and as small.
    """
    import struct
    import zlib

    rgb = np.ascontiguousarray(figure, np.uint8)
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ValueError(f"a figure is a uint8 [H, W, 3] array; got shape {rgb.shape}")
    h, w, _ = rgb.shape
    rows = rgb.reshape(h, w * 3)
    filtered = np.empty((h, w * 3 + 1), np.uint8)
    filtered[:, 0] = 2                                  # filter type 2, "Up"
    filtered[0, 1:] = rows[0]                           # the row above the first is zeros
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])  # modulo 256, as PNG defines it
    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8-bit, colour type 2 (RGB), no interlace
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(filtered.tobytes(), level)) + _png_chunk(b"IEND", b""))


def write_figure(path, figure: np.ndarray) -> Path:
    """Write a uint8 [H, W, 3] figure as PNG (`png_bytes`) atomically (`tfinterp.utils.atomic_path`)."""
    from tfinterp.utils import atomic_path

    data = png_bytes(figure)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
    return Path(path)


def save_overlay_fast(path, image, saliency, title: str = "", box=None, extra=None,
                      scale: int | None = None) -> Path:
    """`render_overlay` written to `path` as PNG (atomically); returns `path`.

    Same arguments as `tfinterp.viz.save_overlay`, which calls this by default.
    """
    return write_figure(path, render_overlay(image, saliency, title=title, box=box, extra=extra, scale=scale))


def save_overlays(paths, images, maps, titles=None, boxes=None, extras=None, scale: int | None = None) -> list[Path]:
    """`save_overlay_fast` for many images: one PNG per (path, image, map, title, box, extra).

    `titles`, `boxes` and `extras` are per-image sequences (None: none for any image).
    Drawing runs in this process: a figure costs a few milliseconds, and on 2 cores a pool
    of 'spawn' worker processes was slower than one process for 300 images (pool start-up
    and pickling exceed the drawing; `benchmarks/bench_explain_figures.py`, row c2).
    """
    paths = [Path(p) for p in paths]
    n = len(paths)
    if not (len(images) == len(maps) == n):
        raise ValueError(f"save_overlays: {n} paths, {len(images)} images and {len(maps)} maps")
    titles = [""] * n if titles is None else list(titles)
    boxes = [None] * n if boxes is None else list(boxes)
    extras = [None] * n if extras is None else list(extras)
    if not (len(titles) == len(boxes) == len(extras) == n):
        raise ValueError("save_overlays: titles, boxes and extras need one entry per path")
    for p, img, m, title, box, extra in zip(paths, images, maps, titles, boxes, extras):
        save_overlay_fast(p, img, m, title=title, box=box, extra=extra, scale=scale)
    return paths
