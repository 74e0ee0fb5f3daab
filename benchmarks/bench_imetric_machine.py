"""I-metric machine-participant baseline (Baek et al., "Can we interpret the black box?", sec. 5):
build the quiz on a shipped model, answer it with scripted participants that pick the 3 options
nearest to the shown images in a feature space, and score them against chance.

    nice -n 10 python benchmarks/bench_imetric_machine.py --config configs/bench_imetric_machine.toml

Writes benchmarks/results/imetric_machine.json, the quiz folder and the histogram under
benchmarks/results/imetric_machine/. Chance: 3 picks among 9 options with 3 answers find 1
answer per question on average (hypergeometric); seeded random participants check it.
"""

from __future__ import annotations

import _common  # benchmarks/_common.py (this script's folder is on sys.path); no TensorFlow import


def main():
    ap = _common.parser(__doc__, config="bench_imetric_machine.toml", out="imetric_machine.json")
    args = ap.parse_args()
    cfg = _common.read_config(args.config)
    q, p = cfg["quiz"], cfg["participants"]
    import json
    from pathlib import Path

    import numpy as np

    from tfinterp.metrics import imetric as im
    from tfinterp.runs.imetric import build_quiz, run_machine_participant, score_responses

    out_json = Path(args.out)
    folder = out_json.with_suffix("")
    res = _common.header(__file__, config=cfg)
    wall, cpu, built = _common.clock(lambda: build_quiz(
        q["model"], layer=q["layer"], dataset=q["dataset"], split=q["split"], images=q["images"],
        questions=q["questions"], criteria=dict(q.get("criteria", {})), steps=q["steps"],
        madry_steps=q["madry_steps"], reduce=q.get("reduce", "mean"), seed=q["seed"], out=folder / "quiz",
        progress=False))
    res["build"] = {"seconds": round(wall, 1), "cpu_seconds": round(cpu, 1), "neurons": built["neurons"],
                    "admissible": built["admissible"], "channels": built["channels"],
                    "thresholds": built["thresholds"]}
    files, spaces = [], {}
    for model, layer in p["spaces"]:
        fm = None if model == "quiz" else model
        r = run_machine_participant(folder / "quiz", features_model=fm, features_layer=layer, reduce=p["reduce"],
                                    out=folder / "responses" / f"{model}_{layer}")
        spaces[f"{model}:{layer}"] = {c: {"total": s["total"], "max": s["max"], "hits": s["hits"]}
                                      for c, s in r["conditions"].items()}
        files += [s["file"] for s in r["conditions"].values()]
    score = score_responses(files, key=folder / "quiz" / "key.json", out=folder / "score")
    key = json.loads((folder / "quiz" / "key.json").read_text())
    rng = np.random.default_rng(0)
    n = int(p["random_participants"])
    totals = []
    for _ in range(n):
        totals.append(sum(len(set(rng.choice(9, 3, replace=False).tolist()) & set(qq["correct_positions"]))
                          for qq in key["questions"]))
    nq = len(key["questions"])
    res["machine"] = spaces
    res["random_participants"] = {"n": n, "mean_total": float(np.mean(totals)), "sd_total": float(np.std(totals)),
                                  "p95_total": float(np.quantile(totals, 0.95)), "max": 3 * nq}
    res["chance"] = score["chance"]
    res["figure"] = score["figure"]
    res["questions"] = nq
    _common.write_result(out_json, res)
    for name, conds in spaces.items():
        print(name, {c: f"{v['total']}/{v['max']}" for c, v in conds.items()},
              f"(chance {im.chance_distribution()['mean'] * nq:g}/{3 * nq}, random 95th pct "
              f"{res['random_participants']['p95_total']:g})")


if __name__ == "__main__":
    main()
