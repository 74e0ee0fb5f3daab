"""Small shared helpers: atomic writes, seeding, cache directories."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path


def cache_dir() -> Path:
    """Per-user cache for generated data (``$TFINTERP_CACHE_DIR`` or ``~/.cache/tfinterp``)."""
    root = os.environ.get("TFINTERP_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "tfinterp")
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def atomic_path(path, suffix=None):
    """Yield a temporary path beside `path`; rename it onto `path` when the block succeeds.

    Works for files and for directories (a SavedModel): readers never see a half-written
    artefact, and a crash leaves the previous version in place.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = suffix if suffix is not None else "".join(path.suffixes)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp" + suffix, dir=path.parent)
    os.close(fd)
    os.unlink(tmp)  # let the writer create it (a file or a directory)
    try:
        yield Path(tmp)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path, obj):
    """Write `obj` as indented JSON atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=False, default=_json_default)
            f.write("\n")
    return Path(path)


def _json_default(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def set_seed(seed: int):
    """Seed Python, NumPy and TensorFlow (through Keras) for reproducible runs."""
    import keras

    keras.utils.set_random_seed(int(seed))


def machine_description() -> str:
    """One line naming the machine a benchmark ran on (architecture, cores, OS, Python)."""
    import platform

    return (f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")
