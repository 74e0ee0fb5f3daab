"""Representation analysis of a natural and a consistent-loss model (issue 16's quality rows).

For every model of the config's [models] table: the adversarial validation set (Dong et al.
2017, sec. 4.1; here targeted PGD towards the k least-likely classes), the representation
ratios r1 / r2 (Eqs. 6-7; Figs. 5 and 9), the class-conditional Gaussian detector on the last
conv layer (sec. 4.4; ROC AUC) and prediction-difference tracing (sec. 6, Fig. 10), each
through the library's run functions (`tfinterp.runs.analysis`), the same as the
`tfinterp analyze ...` commands. Writes benchmarks/results/analysis_quality.json and each
run's JSON and figures under benchmarks/results/analysis_quality/<model>/.

    python benchmarks/bench_analysis_quality.py
"""

from __future__ import annotations

import _common
from _common import RESULTS, ROOT


def main():
    ap = _common.parser(__doc__, config="bench_analysis_quality.toml", out="analysis_quality.json")
    args = ap.parse_args()
    cfg = _common.read_config(args.config)
    from tfinterp.runs.analysis import run_adversarial_set, run_detect, run_ratios, run_trace

    adv, an = cfg["adversarial"], cfg["analysis"]
    out = {**_common.header(__file__), "config": cfg, "models": {}}
    for name, spec in cfg["models"].items():
        path = str(ROOT / spec)
        folder = RESULTS / "analysis_quality" / name
        aset = run_adversarial_set(path, dataset=adv["dataset"], split=adv["split"], limit=adv["limit"], k=adv["k"],
                                   attack=adv["attack"], eps=adv["eps"], steps=adv["steps"], seed=adv["seed"],
                                   out=folder / "adversarial_set")
        npz = folder / "adversarial_set" / "adversarial_set.npz"
        row = {"adversarial_set": aset,
               "ratios": run_ratios(path, str(npz), layer=an["layer"], out=folder / "ratios"),
               "detector": run_detect(path, str(npz), layer=an["layer"], pool=an["detector_pool"],
                                      fit_limit=an["detector_fit_limit"], out=folder / "detect"),
               "trace": run_trace(path, adversarial_set=str(npz), layer=an["layer"], out=folder / "trace")}
        for k in ("ratios", "detector", "trace"):
            if isinstance(row[k], dict):
                row[k] = {kk: v for kk, v in row[k].items() if not isinstance(v, list) or len(v) <= 64}
        out["models"][name] = row
        _common.write_result(args.out, out)
        print(name, {k: row["ratios"].get(k) for k in ("mean_r1", "mean_r2")}, "AUC", row["detector"].get("auc"),
              flush=True)


if __name__ == "__main__":
    main()
