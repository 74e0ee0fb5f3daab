"""What every benchmark script shares: paths, argument parsing, the run header (command, date,
machine), timing, and JSON writing.

Naming scheme: a script `benchmarks/bench_<area>_<what>.py` (peers' side of a side-by-side
measurement, run in another environment: `benchmarks/peer_<library>_<what>.py`) reads
`configs/<...>.toml` and writes `benchmarks/results/<area>_<what>[_<variant>].json`
(and PNGs beside it). Every number in BENCHMARKS.md names its command.

Importing this module imports the standard library only (tfinterp and TensorFlow are imported
inside the functions that need them), so the peer_* scripts, which run under the peers' own
Python without tfinterp, use it too: keep it that way.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tomllib
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CONFIGS = ROOT / "configs"


def machine_description() -> str:
    """The machine line of every result (architecture, cores, OS, Python)."""
    from tfinterp.utils import machine_description as describe

    return describe()


def parser(doc: str | None, config: str | None = None, out: str | None = None) -> argparse.ArgumentParser:
    """An argument parser with the benchmark's description and the usual `--config` / `--out`.

    `config` is a file name under configs/, `out` one under benchmarks/results/ (defaults).
    """
    ap = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0] if doc else None)
    if config is not None:
        ap.add_argument("--config", default=str(CONFIGS / config), help="TOML config (default %(default)s)")
    if out is not None:
        ap.add_argument("--out", default=str(RESULTS / out), help="result JSON (default %(default)s)")
    return ap


def read_config(path) -> dict:
    """The whole TOML file as a dict."""
    return tomllib.loads(Path(path).read_text())


def command_line(script: str | None = None, argv=None) -> str:
    """The command that reproduces this run, relative to the repository root."""
    script = script or sys.argv[0]
    try:
        script = os.path.relpath(Path(script).resolve(), ROOT)
    except ValueError:
        pass
    return " ".join(["python", script] + list(sys.argv[1:] if argv is None else argv))


def header(script: str | None = None, argv=None, **extra) -> dict:
    """The fields every result JSON starts with: command, date (UTC), machine, load at start."""
    return {"command": command_line(script, argv),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": machine_description(),
            "load_average_at_start": list(os.getloadavg()), **extra}


def timed(fn, repeats: int, warmup: int = 1):
    """(list of wall seconds, last result) of `repeats` calls of `fn` after `warmup` untimed ones."""
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return times, result


def clock(fn):
    """(wall seconds, CPU seconds of this process (user + system, all threads), result) of one
    call of `fn`. CPU time is the steadier measure of work when other jobs share the cores."""
    t0, c0 = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - t0, time.process_time() - c0, result


def median(times) -> float:
    return float(statistics.median(times))


def write_result(path, obj) -> Path:
    """Write the result JSON atomically and say where it went."""
    from tfinterp.utils import write_json

    path = write_json(Path(path), obj)
    print(f"wrote {os.path.relpath(path, ROOT) if str(path).startswith(str(ROOT)) else path}", file=sys.stderr)
    return path
