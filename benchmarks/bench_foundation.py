"""Foundation timings: `tfinterp --help` latency and the epoch time of `train classifier`.

Both are measured side by side with references in the same run (speed is reported as
ratios): `--help` beside `python -c pass` and `python -c "import tensorflow"`; the
clutter64 vggsmall epoch beside a 2-conv Fashion-MNIST CNN epoch.

    python benchmarks/bench_foundation.py --config configs/bench_foundation.toml
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import _common  # benchmarks/_common.py (this script's folder is on sys.path); no TensorFlow import

BIN = Path(sys.executable).parent


def wall(cmd, repeats):
    """Median wall seconds of `repeats` runs of the command `cmd` (no warm-up: start-up is the point)."""
    times, _ = _common.timed(lambda: subprocess.run(cmd, check=True, capture_output=True), repeats, warmup=0)
    return _common.median(times)


def epoch_seconds(args):
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([str(BIN / "tfinterp"), "train", "classifier", *args, "--epochs", "1", "--verbose", "0",
                        "--out", out], check=True, capture_output=True)
        meta = json.loads(next(Path(out).glob("*.json")).read_text())
    return meta["metrics"]["epoch_seconds"][0], meta["data"]["train_examples"]


def main():
    ap = _common.parser(__doc__, config="bench_foundation.toml", out="foundation.json")
    ap.add_argument("--skip-epoch", action="store_true")
    args = ap.parse_args()
    cfg = _common.read_config(args.config)
    n = int(cfg["help"]["repeats"])
    res = _common.header(__file__)
    py = sys.executable
    help_s = wall([str(BIN / "tfinterp"), "--help"], n)
    pass_s = wall([py, "-c", "pass"], n)
    tf_s = wall([py, "-c", "import tensorflow"], max(3, n // 2))
    res["help"] = {"tfinterp_help_seconds": help_s, "python_pass_seconds": pass_s,
                   "import_tensorflow_seconds": tf_s, "help_over_import_tensorflow": help_s / tf_s}
    print(json.dumps(res["help"], indent=1))
    if not args.skip_epoch:
        e = cfg["epoch"]
        main_s, main_n = epoch_seconds(["--config", str(_common.ROOT / e["config"])])
        ref_s, ref_n = epoch_seconds(["--model", e["reference_model"], "--dataset", e["reference_dataset"],
                                      "--batch-size", str(e["batch_size"])])
        res["epoch"] = {"clutter64_vggsmall_epoch_seconds": main_s, "clutter64_train_examples": main_n,
                        "cnn2_fashion_mnist_epoch_seconds": ref_s, "fashion_mnist_train_examples": ref_n,
                        "ratio": main_s / ref_s}
        print(json.dumps(res["epoch"], indent=1))
    res["load_average_at_end"] = list(os.getloadavg())
    _common.write_result(args.out, res)


if __name__ == "__main__":
    main()
