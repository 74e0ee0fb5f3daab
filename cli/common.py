"""Shared CLI plumbing: config files, option merging, output folders. No algorithms here."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tfinterp.errors import UserError


_NOISE = ("WARNING: All log messages before absl::InitializeLog()", "I0000 ", "W0000 ", "E0000 ",
          "To enable the following instructions:")


def quiet_tensorflow():
    """Import TensorFlow with its C++ start-up log lines kept off stderr.

    Those lines (oneDNN notice, missing CUDA) are printed before absl logging is configured,
    so no environment variable silences them: file descriptor 2 is captured while TF loads
    and probes its devices, and any other line is replayed.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules or os.environ.get("TFINTERP_TF_LOGS"):
        return
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")
            # TF's retracing heuristic counts calls across *instances*; each explainer's
            # tf.function has a fixed signature and traces once, so the warning is noise here.
            tf.get_logger().setLevel("ERROR")
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines():
                if line.strip() and not line.startswith(_NOISE):
                    print(line, file=sys.stderr)


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
