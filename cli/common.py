"""Shared CLI plumbing: config files, option merging, output folders, TensorFlow's start-up
noise. No algorithms here."""

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


def read_config(path: Path | None, table: str, required: bool = True) -> dict:
    """The `[table]` of a TOML config file as a dict ({} when no file is given, or when the
    table is absent and not `required`)."""
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
        if not required:
            return {}
        raise UserError(f"config file {path} has no [{table}] table")
    if not isinstance(data[table], dict):
        raise UserError(f"config file {path}: {table} must be a [{table}] table of key = value")
    return dict(data[table])


def merge(config: dict, **overrides) -> dict:
    """Options given on the command line (not None) override the config file."""
    out = dict(config)
    out.update({k: v for k, v in overrides.items() if v is not None})
    return out


# The one rule for default output folders: runs/<command>/<name>/ under the current folder,
# the name built from what the command was run on (so running it again lands in the same
# place: a training run resumes, an explanation is rewritten). Each command's --help shows
# its line of this table (`out_help`), and `resolve_out` applies it.
OUT_RULES = {
    "explain": "<first image's stem, or the folder's name>",
    "train-classifier": "<model>_<dataset>, then _<step> for a step other than natural",
    "train-protonet": "<dataset>",
    "train-sequence": "<model>_<data: planted, or the file's stem>",
    "eval": "<model stem>_<dataset>",
    "export": "<model stem>",
    "attack": "<model stem>_<dataset>_<method>",
    "detect": "<model stem>_<dataset>",
    "latent-attack": "<model stem>_<dataset>",
    "dataset-examples": "<model stem>_<dataset>_<layer>",
    "lc": "<model stem>_<dataset>_<layer>",
    "consistency": "<model stem>_<adversarial set stem>_<layer>",
    "lc-agreement": "<model stem>_<layer> (build), score (score)",
}


def out_help(command: str, holds: str) -> str:
    """The --help text of a command's --out option, with its default from `OUT_RULES`."""
    return f"Output folder ({holds}). Default: runs/{command}/{OUT_RULES[command]}/ in the current folder."


def unsafe_help(files: str = "a .keras file") -> str:
    """The --help text of --unsafe-deserialization."""
    return (f"Load {files} with Keras' safe mode off (it may then run the file's Python code, e.g. a Lambda "
            "layer): only for a file whose source you trust.")


def _safe(part) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(part)).strip("._") or "out"


def model_stem(spec) -> str:
    """The name a model is known by in default folder names: a file's stem, else the spec."""
    return Path(str(spec).rstrip("/\\")).stem or str(spec)


def images_stem(images) -> str:
    """The first image's stem, or the name of the folder (or of a glob's folder) it is in."""
    first = Path(str(images[0]) if images else ".")
    if any(ch in first.name for ch in "*?["):
        first = first.parent
    if first.is_dir() or first.suffix == "":
        return first.resolve().name or "images"
    return first.stem


def default_out(command: str, *parts) -> Path:
    """runs/<command>/<parts joined by _>: the default --out of `command` (see `OUT_RULES`)."""
    if command not in OUT_RULES:
        raise KeyError(command)
    return Path("runs") / command / "_".join(_safe(p) for p in parts if p not in (None, ""))


def resolve_out(out, command: str, *parts) -> Path:
    """The output folder: `out` when given, else `default_out(command, *parts)`; created (`out_dir`)."""
    return out_dir(out if out is not None else default_out(command, *parts))


def out_dir(path: Path) -> Path:
    """Create output folder `path` (and its parents); every failure is one line (`UserError`)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"--out {path} exists and is not a folder")
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"--out {path}: {parent} is a file, not a folder")
            break
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"--out {path}: cannot create the folder ({e.strerror or e})")
    return path


def say(msg: str):
    print(msg, file=sys.stderr)
