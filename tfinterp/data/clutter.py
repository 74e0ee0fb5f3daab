"""Cluttered localization canvases: the offline stand-in for ImageNet localization.

One real Fashion-MNIST item, randomly scaled (0.8x-1.6x by default), is placed at a random
position on a larger canvas (64x64 by default) among random fragments of other items.
Each canvas comes with its class, the item's ground-truth box and its pixel mask, so
explanation maps can be scored by localization error and the pointing game (Du et al.
2018, "Towards Explanation of DNN-based Prediction with Guided Feature Inversion") and by
salient-object metrics. Generation is seeded and reproducible; results are cached.

Two generators (``ClutterSpec.generator``), so a claim can be checked beyond one way of
drawing canvases:

- ``"mixed"`` (data set ``clutter64``): items scaled 0.8x-1.6x among 4-8 fragments of
  6-12 px cut from random items of the split (the canvas's own item not excluded), each
  dimmed to 0.5-1.0 of its brightness.
- ``"fragments10"`` (data set ``clutter64frag``, `fragments10_spec`): items scaled
  0.9x-1.5x among 4-8 fragments of exactly 10x10 px, each cut from a different item of the
  split than the canvas's own, at full brightness; its own split seeds.

Either can be drawn on black or on a seeded texture (``background``). Splits: ``train``
uses Fashion-MNIST train items 0..54,999, ``tune`` items 55,000..59,999 (for tuning
thresholds, never the test split), ``test`` the Fashion-MNIST test items (`SOURCE_ITEMS`);
each split has its own seed, so no canvas, item or clutter layout is shared between them,
and a canvas's clutter comes from its own split's items only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from tfinterp.errors import UserError

SPLIT_SEEDS = {"train": 1001, "tune": 2002, "test": 3003}
# the second generator's own seeds: its canvases draw other items than the first's, not the same
# items in the same order
GENERATOR_SPLIT_SEEDS = {"mixed": SPLIT_SEEDS, "fragments10": {"train": 1010, "tune": 2020, "test": 3030}}
GENERATORS = tuple(GENERATOR_SPLIT_SEEDS)
# split -> (Fashion-MNIST file, first item, end item (None: to the end)): disjoint source items
SOURCE_ITEMS = {"train": ("train", 0, 55000), "tune": ("train", 55000, None), "test": ("test", 0, None)}
_MASK_THRESHOLD = 0.1
_FRAGMENT10 = 10


@dataclass(frozen=True)
class ClutterSpec:
    """Parameters of the generator (all of them enter the cache key)."""

    size: int = 64
    scale_min: float = 0.8
    scale_max: float = 1.6
    fragments_min: int = 4
    fragments_max: int = 8
    fragment_min: int = 6
    fragment_max: int = 12
    fragment_gain_min: float = 0.5
    fragment_gain_max: float = 1.0
    background: str = "black"     # or "texture": seeded gratings + smooth noise behind items and clutter
    texture_gain_min: float = 0.15
    texture_gain_max: float = 0.45
    generator: str = "mixed"      # or "fragments10": see the module docstring and `fragments10_spec`

    def cache_fields(self) -> dict:
        """The fields that enter the cache key (the texture ones only for textured canvases and
        the generator only for the second one, so canvases keep the keys they had before those
        options existed)."""
        d = asdict(self)
        if self.background == "black":
            for k in ("background", "texture_gain_min", "texture_gain_max"):
                d.pop(k)
        if self.generator == "mixed":
            d.pop("generator")
        return d


def fragments10_spec(size: int = 64, background: str = "black") -> ClutterSpec:
    """The second canvas family: the item scaled 0.9x-1.5x among 4-8 fragments of exactly 10x10
    px, each cut at full brightness from another item of the split (never the canvas's own)."""
    return ClutterSpec(size=size, background=background, generator="fragments10", scale_min=0.9,
                       scale_max=1.5, fragment_min=_FRAGMENT10, fragment_max=_FRAGMENT10,
                       fragment_gain_min=1.0, fragment_gain_max=1.0)


def family_spec(size: int = 64, background: str = "black", generator: str = "mixed") -> ClutterSpec:
    """The spec of a canvas family by generator name (``mixed`` or ``fragments10``)."""
    if generator not in GENERATORS:
        raise UserError(f"unknown clutter generator '{generator}'; use one of {', '.join(GENERATORS)}")
    if generator == "fragments10":
        return fragments10_spec(size, background)
    return ClutterSpec(size=size, background=background)


def texture(size: int, rng: np.random.Generator, gain: float) -> np.ndarray:
    """A [size, size] background in [0, gain]: three random oriented gratings (2-10 cycles per
    canvas) plus smoothed Gaussian noise, min-max scaled. Stands in for the textured
    backgrounds of natural images (no download needed)."""
    from scipy.ndimage import gaussian_filter

    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    tex = np.zeros((size, size), np.float32)
    for _ in range(3):
        f, th, ph = rng.uniform(2, 10), rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)
        tex += np.sin(2 * np.pi * f * (xx * np.cos(th) + yy * np.sin(th)) + ph)
    noise = gaussian_filter(rng.normal(size=(size, size)).astype(np.float32), 1.5)
    tex = tex / 3.0 + noise / (noise.std() + 1e-6) * 0.5
    tex = (tex - tex.min()) / (tex.max() - tex.min() + 1e-6)
    return (tex * gain).astype(np.float32)


def _resize(img: np.ndarray, side: int) -> np.ndarray:
    pil = Image.fromarray((img * 255).astype(np.uint8))
    return np.asarray(pil.resize((side, side), Image.BILINEAR), dtype=np.float32) / 255.0


def make_canvases(items: np.ndarray, labels: np.ndarray, seed: int, spec: ClutterSpec = ClutterSpec(),
                  n: int | None = None, return_layout: bool = False):
    """Generate cluttered canvases from `items` (uint8 [N,28,28]).

    Returns a dict of ``images`` float32 [n,S,S,1] in [0,1], ``labels`` int64 [n],
    ``boxes`` int32 [n,4] as (ymin, xmin, ymax, xmax) with exclusive max, and ``masks``
    bool [n,S,S] (the item's own pixels). With `return_layout`, also ``layout``: per canvas
    a dict of the item's index in `items` (``source``), its ``side``, ``top`` and ``left``,
    and its ``fragments`` as (source index, top, left, side) rows.
    """
    rng = np.random.default_rng(seed)
    total = len(items)
    n = total if n is None else int(n)
    if n > total:
        raise UserError(f"asked for {n} canvases but only {total} source items exist")
    if spec.generator not in GENERATORS:
        raise UserError(f"unknown clutter generator '{spec.generator}'; use one of {', '.join(GENERATORS)}")
    others_only = spec.generator == "fragments10"
    if others_only and not (spec.fragment_min == spec.fragment_max == _FRAGMENT10):
        raise UserError(f"the fragments10 generator cuts {_FRAGMENT10}x{_FRAGMENT10} fragments; got fragment sizes "
                        f"{spec.fragment_min}-{spec.fragment_max} (use fragments10_spec)")
    if others_only and total < 2:
        raise UserError("the fragments10 generator needs at least 2 source items (clutter comes from other items)")
    chosen = rng.permutation(total)[:n]
    S = spec.size
    if spec.background not in ("black", "texture"):
        raise UserError(f"background must be 'black' or 'texture', got '{spec.background}'")
    max_side = int(round(28 * spec.scale_max))
    if max_side > S:
        raise UserError(f"scale_max {spec.scale_max} makes items of {max_side}px, larger than the {S}px canvas")
    images = np.zeros((n, S, S), np.float32)
    masks = np.zeros((n, S, S), bool)
    boxes = np.zeros((n, 4), np.int32)
    layout = []
    for i, src in enumerate(chosen):
        side = int(round(28 * rng.uniform(spec.scale_min, spec.scale_max)))
        item = _resize(items[src].astype(np.float32) / 255.0, side)
        top, left = rng.integers(0, S - side + 1, size=2)
        on = item > _MASK_THRESHOLD
        ys, xs = np.nonzero(on)
        box = (top + ys.min(), left + xs.min(), top + ys.max() + 1, left + xs.max() + 1)
        canvas = images[i]
        placed = []
        for _ in range(rng.integers(spec.fragments_min, spec.fragments_max + 1)):
            fs = int(rng.integers(spec.fragment_min, spec.fragment_max + 1))
            if others_only:  # any item but the canvas's own
                j = int(rng.integers(total - 1))
                j = j + 1 if j >= src else j
            else:
                j = int(rng.integers(total))
            other = items[j].astype(np.float32) / 255.0
            oy, ox = rng.integers(4, max(5, 24 - fs + 1), size=2)
            patch = other[oy:oy + fs, ox:ox + fs] * rng.uniform(spec.fragment_gain_min, spec.fragment_gain_max)
            for _try in range(20):  # keep clutter off the item's box so the ground truth stays clean
                py, px = rng.integers(0, S - fs + 1, size=2)
                if py + fs <= box[0] or py >= box[2] or px + fs <= box[1] or px >= box[3]:
                    canvas[py:py + fs, px:px + fs] = np.maximum(canvas[py:py + fs, px:px + fs], patch)
                    placed.append((j, int(py), int(px), fs))
                    break
        layout.append({"source": int(src), "side": side, "top": int(top), "left": int(left), "fragments": placed})
        region = canvas[top:top + side, left:left + side]
        canvas[top:top + side, left:left + side] = np.maximum(region, item)
        masks[i, top:top + side, left:left + side] = on
        boxes[i] = box
        if spec.background == "texture":  # its own generator: the black canvases' stream is unchanged
            trng = np.random.default_rng([seed, i, 7])
            tex = texture(S, trng, trng.uniform(spec.texture_gain_min, spec.texture_gain_max))
            a = np.clip(canvas / _MASK_THRESHOLD, 0.0, 1.0)  # items and fragments are opaque
            images[i] = tex * (1.0 - a) + canvas * a
    out = {"images": images[..., None], "labels": labels[chosen].astype(np.int64), "boxes": boxes, "masks": masks}
    if return_layout:
        out["layout"] = layout
    return out


def _source_items(split: str):
    """(items uint8 [N,28,28], labels) of `split`: the Fashion-MNIST slice `SOURCE_ITEMS` names."""
    from tfinterp.data.sources import load_idx_arrays, not_found_message

    base, start, end = SOURCE_ITEMS[split]
    arrays = load_idx_arrays("fashion_mnist", base)
    if arrays is None:
        raise UserError(not_found_message("fashion_mnist"))
    x, y = arrays
    return x[start:end], y[start:end]


def load_clutter(split: str = "train", size: int = 64, n: int | None = None, seed: int | None = None,
                 spec: ClutterSpec | None = None, cache: bool = True, background: str = "black",
                 generator: str = "mixed"):
    """Cluttered canvases for `split` ('train', 'tune' or 'test'), cached under the user cache dir.

    `generator` picks the canvas family (``mixed``: clutter64; ``fragments10``: clutter64frag,
    see the module docstring). `seed` defaults to the split's own seed for that generator; `n`
    limits the number of canvases. A `spec` carries its own size, background and generator:
    passing a different `size`, `background` or `generator` with it is an error rather than
    silently ignored.
    """
    from tfinterp.utils import cache_dir

    if split not in SPLIT_SEEDS:
        raise UserError(f"unknown split '{split}' for the cluttered set; use one of {', '.join(SPLIT_SEEDS)}")
    if spec is not None and ((size != 64 and size != spec.size)  # 64, "black", "mixed" are the defaults
                             or (background != "black" and background != spec.background)
                             or (generator != "mixed" and generator != spec.generator)):
        raise UserError(f"load_clutter got spec(size={spec.size}, background='{spec.background}', generator="
                        f"'{spec.generator}') and also size={size}, background='{background}', generator="
                        f"'{generator}'; set them in the spec only")
    spec = spec or family_spec(size, background, generator)
    if spec.generator not in GENERATORS:
        raise UserError(f"unknown clutter generator '{spec.generator}'; use one of {', '.join(GENERATORS)}")
    seed = GENERATOR_SPLIT_SEEDS[spec.generator][split] if seed is None else int(seed)
    key = hashlib.sha1(json.dumps([spec.cache_fields(), split, seed, n], sort_keys=True).encode()).hexdigest()[:16]
    tag = ("frag" if spec.generator == "fragments10" else "") + ("tex" if spec.background == "texture" else "")
    path = cache_dir() / f"clutter{spec.size}{tag}_{split}_{key}.npz"
    return cached_canvases(path, cache, lambda: make_canvases(*_source_items(split), seed=seed, spec=spec, n=n))


def cached_canvases(path, cache: bool, make) -> dict:
    """The canvases dict (images in [0, 1] on the 8-bit grid, labels, boxes, masks) from the
    .npz cache at `path`, or `make()`'s, stored there atomically when `cache` (a damaged
    entry is regenerated). Images are rounded to 8 bits either way, so cached == fresh."""
    from tfinterp.utils import atomic_path

    if cache and path.exists():
        try:
            with np.load(path) as z:
                return {"images": z["images"].astype(np.float32) / 255.0, "labels": z["labels"],
                        "boxes": z["boxes"], "masks": z["masks"]}
        except Exception:  # a damaged cache entry is regenerated
            path.unlink(missing_ok=True)
    out = make()
    out["images"] = np.round(out["images"] * 255.0) / 255.0
    if cache:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, images=(out["images"] * 255).round().astype(np.uint8),
                                    labels=out["labels"], boxes=out["boxes"], masks=out["masks"])
    return out
