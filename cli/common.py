"""Shared CLI plumbing: config files, option merging, output folders. No algorithms here."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tfinterp.errors import UserError


def quiet_tensorflow():
    """Keep TensorFlow's C++ log lines off stderr (they are not errors the user can act on)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1"))


def read_config(path: Path | None, table: str) -> dict:
    """The `[table]` of a TOML config file as a dict ({} when no file is given)."""
    if path is None:
        return {}
    import tomllib

    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file not found: {path}")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"config file {path} is not valid TOML: {e}")
    if table not in data:
        raise UserError(f"config file {path} has no [{table}] table")
    return dict(data[table])


def merge(config: dict, **overrides) -> dict:
    """Options given on the command line (not None) override the config file."""
    out = dict(config)
    out.update({k: v for k, v in overrides.items() if v is not None})
    return out


def out_dir(path: Path) -> Path:
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"--out {path} exists and is not a folder")
    path.mkdir(parents=True, exist_ok=True)
    return path


def say(msg: str):
    print(msg, file=sys.stderr)
