"""Colour cluttered canvases (``clutter64rgb``): an RGB stand-in for natural images.

No RGB data set can be downloaded here, and feature visualization needs colour (the Fourier
parameterization's colour decorrelation, Olah et al. 2017, "Feature Visualization", Distill,
is fitted from a data set's pixel covariance). These canvases are the textured cluttered
canvases of `tfinterp.data.clutter` (``clutter64tex``: same items, scales, positions,
fragments, textures and labels, from the same split seeds), tinted:

- the item is tinted with one colour, each clutter fragment with its own colour, the texture
  with another; a pixel's RGB value is its grey value times its element's tint;
- a tint is a fully bright HSV colour (value 1) with a uniformly random hue and a saturation
  uniform in [`sat_min`, `sat_max`] (0.5-1 for items and fragments, 0.3-0.9 for the
  texture); so a tinted pixel is never brighter than its grey value;
- the tints come from their own seeded generator (``[seed, i, 11]`` per canvas) and are
  drawn independently of the label: **colour carries no label information**; the class is
  in the shape only, as in the grey canvases. A classifier must learn shape detectors that
  work across colours, and colour opponency only helps to separate item from clutter.

Where the item and a fragment overlap (outside the item's ground-truth box only, since
clutter is kept off the box), the element with the larger grey value gives the colour; where
two fragments overlap, the later one. With every tint white, the canvases equal the grey
textured canvases exactly (tested). Labels, boxes and masks are those of the grey generator.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np

from tfinterp.data.clutter import (_MASK_THRESHOLD, SPLIT_SEEDS, ClutterSpec, _resize, _source_items,
                                   cached_canvases, make_canvases, texture)
from tfinterp.errors import UserError


@dataclass(frozen=True)
class TintSpec:
    """Saturation ranges of the tints (hue is always uniform; value is 1). ``white=True`` makes
    every tint white (the grey canvases, for tests)."""

    item_sat_min: float = 0.5
    item_sat_max: float = 1.0
    texture_sat_min: float = 0.3
    texture_sat_max: float = 0.9
    white: bool = False


def hsv_tints(rng: np.random.Generator, n: int, sat_min: float, sat_max: float) -> np.ndarray:
    """`n` RGB tints [n,3] in [0,1]: uniform hue, saturation uniform in [sat_min, sat_max], value 1."""
    h = rng.uniform(0.0, 1.0, n) * 6.0
    s = rng.uniform(sat_min, sat_max, n)
    k = np.stack([(5.0 + h) % 6.0, (3.0 + h) % 6.0, (1.0 + h) % 6.0], -1)  # R, G, B
    return (1.0 - s[:, None] * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)).astype(np.float32)


def make_rgb_canvases(items: np.ndarray, labels: np.ndarray, seed: int, size: int = 64, n: int | None = None,
                      tint: TintSpec = TintSpec(), spec: ClutterSpec | None = None):
    """Colour canvases from `items` (uint8 [N,28,28]): a dict of ``images`` float32 [n,S,S,3] in
    [0,1], ``labels``, ``boxes``, ``masks`` (as `tfinterp.data.clutter.make_canvases`) and
    ``tints`` float32 [n,3] (the item's tint). `spec` is the grey generator's (its background
    is always the texture here); the layouts are those of ``make_canvases(items, labels, seed)``.
    """
    spec = spec or ClutterSpec(size=size, background="texture")
    if spec.generator != "mixed":
        raise UserError("the colour canvases use the 'mixed' clutter generator")
    black = ClutterSpec(**{**spec.__dict__, "background": "black"})  # same layout stream, no texture yet
    grey = make_canvases(items, labels, seed=seed, spec=black, n=n, return_layout=True)
    S = spec.size
    count = len(grey["labels"])
    out = np.zeros((count, S, S, 3), np.float32)
    item_tints = np.zeros((count, 3), np.float32)
    for i, lay in enumerate(grey["layout"]):
        canvas = grey["images"][i, ..., 0]
        crng = np.random.default_rng([seed, i, 11])
        nf = len(lay["fragments"])
        tints = hsv_tints(crng, nf + 1, tint.item_sat_min, tint.item_sat_max)  # [item, fragments...]
        tex_tint = hsv_tints(crng, 1, tint.texture_sat_min, tint.texture_sat_max)[0]
        if tint.white:
            tints[:], tex_tint = 1.0, np.ones(3, np.float32)
        colour = np.zeros((S, S, 3), np.float32)
        for f, (_j, py, px, fs) in enumerate(lay["fragments"]):
            colour[py:py + fs, px:px + fs] = tints[1 + f]
        side, top, left = lay["side"], lay["top"], lay["left"]
        item = _resize(items[lay["source"]].astype(np.float32) / 255.0, side)
        region = canvas[top:top + side, left:left + side]
        own = (item >= region) & (item > 0)  # the item gives this pixel's value
        colour[top:top + side, left:left + side][own] = tints[0]
        rgb = canvas[..., None] * colour
        trng = np.random.default_rng([seed, i, 7])  # the grey textured canvases' texture stream
        tex = texture(S, trng, trng.uniform(spec.texture_gain_min, spec.texture_gain_max))
        a = np.clip(canvas / _MASK_THRESHOLD, 0.0, 1.0)[..., None]
        out[i] = tex[..., None] * tex_tint * (1.0 - a) + rgb * a
        item_tints[i] = tints[0]
    return {"images": out, "labels": grey["labels"], "boxes": grey["boxes"], "masks": grey["masks"],
            "tints": item_tints}


def load_clutter_rgb(split: str = "train", size: int = 64, n: int | None = None, seed: int | None = None,
                     cache: bool = True):
    """Colour canvases of `split` ('train', 'tune', 'test'), cached under the user cache dir;
    `seed` defaults to the split's seed of the grey generator (so labels and layouts match
    ``clutter64tex``); `n` limits the number of canvases."""
    from tfinterp.utils import cache_dir

    if split not in SPLIT_SEEDS:
        raise UserError(f"unknown split '{split}' for the colour cluttered set; use one of {', '.join(SPLIT_SEEDS)}")
    seed = SPLIT_SEEDS[split] if seed is None else int(seed)
    spec, tint = ClutterSpec(size=size, background="texture"), TintSpec()
    key = hashlib.sha1(json.dumps([spec.cache_fields(), tint.__dict__, split, seed, n, "rgb1"],
                                  sort_keys=True).encode()).hexdigest()[:16]
    path = cache_dir() / f"clutter{size}rgb_{split}_{key}.npz"

    def make():
        out = make_rgb_canvases(*_source_items(split), seed=seed, n=n, tint=tint, spec=spec)
        out.pop("tints")
        return out

    return cached_canvases(path, cache, make)
