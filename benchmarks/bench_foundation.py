"""Foundation timings: `tfinterp --help` latency and the epoch time of `train classifier`.

Both are measured side by side with references in the same run (speed is reported as
ratios): `--help` beside `python -c pass` and `python -c "import tensorflow"`; the
clutter64 vggsmall epoch beside a 2-conv Fashion-MNIST CNN epoch.

    python benchmarks/bench_foundation.py --config configs/bench_foundation.toml
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from datetime import datetime, timezone
from pathlib import Path

from tfinterp.utils import machine_description  # (no TensorFlow import)

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def wall(cmd, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def epoch_seconds(args):
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([str(BIN / "tfinterp"), "train", "classifier", *args, "--epochs", "1", "--verbose", "0",
                        "--out", out], check=True, capture_output=True)
        meta = json.loads(next(Path(out).glob("*.json")).read_text())
    return meta["metrics"]["epoch_seconds"][0], meta["data"]["train_examples"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default=str(ROOT / "configs/bench_foundation.toml"))
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/foundation.json"))
    ap.add_argument("--skip-epoch", action="store_true")
    args = ap.parse_args()
    cfg = tomllib.loads(Path(args.config).read_text())
    n = int(cfg["help"]["repeats"])
    res = {"command": "python benchmarks/bench_foundation.py " + " ".join(sys.argv[1:]),
           "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "machine": machine_description(),
           "load_average_at_start": os.getloadavg()}
    py = sys.executable
    help_s = wall([str(BIN / "tfinterp"), "--help"], n)
    pass_s = wall([py, "-c", "pass"], n)
    tf_s = wall([py, "-c", "import tensorflow"], max(3, n // 2))
    res["help"] = {"tfinterp_help_seconds": help_s, "python_pass_seconds": pass_s,
                   "import_tensorflow_seconds": tf_s, "help_over_import_tensorflow": help_s / tf_s}
    print(json.dumps(res["help"], indent=1))
    if not args.skip_epoch:
        e = cfg["epoch"]
        main_s, main_n = epoch_seconds(["--config", str(ROOT / e["config"])])
        ref_s, ref_n = epoch_seconds(["--model", e["reference_model"], "--dataset", e["reference_dataset"],
                                      "--batch-size", str(e["batch_size"])])
        res["epoch"] = {"clutter64_vggsmall_epoch_seconds": main_s, "clutter64_train_examples": main_n,
                        "cnn2_fashion_mnist_epoch_seconds": ref_s, "fashion_mnist_train_examples": ref_n,
                        "ratio": main_s / ref_s}
        print(json.dumps(res["epoch"], indent=1))
    res["load_average_at_end"] = os.getloadavg()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
