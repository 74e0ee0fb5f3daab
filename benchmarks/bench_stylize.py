"""Stylized augmentation (Zheng et al., "Insights from Attacking Interpretable Models", section 4,
Table 2): train with original:stylized ratios 1:1 ... 1:4 for each stylizer, and report clean
accuracy, PGD accuracy and shape bias on a cue-conflict set (Geirhos et al. 2019).

For each data set of the config: a model trained without stylization (the baseline), then
one per (stylizer, ratio), each trained by `tfinterp.training.train_classifier` with
``stylize`` / ``style_ratio`` (stylized in the tf.data pipeline); the AdaIN decoder is
trained first (`tfinterp.runs.style_decoder`, offline random encoder). Evaluation: clean
accuracy on the whole test split, PGD L-inf accuracy (`tfinterp.attacks.PGD`, random start)
on the first `eval_n` test images, shape bias (`tfinterp.metrics.shape_bias`) on
`cue_n` cue-conflict images (`tfinterp.data.cueconflict`). Every finished cell is written
to the JSON at once; a rerun skips the cells the JSON already holds for the same data-set settings.

    nice -n 10 python benchmarks/bench_stylize.py --config configs/stylize_bench.toml
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

import _common  # benchmarks/_common.py; no TensorFlow import


def main():
    ap = _common.parser(__doc__, config="stylize_bench.toml", out="stylize.json")
    ap.add_argument("--work", default=str(_common.ROOT / "runs" / "bench_stylize"),
                    help="folder for the trained models (default %(default)s)")
    ap.add_argument("--rescore-only", action="store_true",
                    help="train nothing: only add the missing cue-conflict scores of the cells already in the JSON")
    args = ap.parse_args()
    cfg = _common.read_config(args.config)
    bench = cfg["bench"]
    out = Path(args.out)
    result = _common.header(config=cfg)
    old = json.loads(out.read_text()) if out.exists() else {}
    # a cell is kept when its data set's settings are unchanged (the ratio list aside: it only picks
    # cells), so the grid can grow (configs/stylize_bench_full.toml adds the canvases' 1:2 and 1:3)
    same = {d["name"]: _settings(d) for d in cfg["datasets"]}
    cells = {c["key"]: c for c in old.get("cells", []) if same.get(c["dataset"]) == _settings(c.get("settings"))}
    result["cells"] = list(cells.values())
    # every invocation that built this file (the grid may be filled in several runs)
    result["runs"] = old.get("runs", []) + [{k: result[k] for k in ("command", "date", "load_average_at_start")}]
    work = Path(args.work)
    t_start = time.perf_counter()
    for ds in cfg["datasets"]:
        if not args.rescore_only:
            run_dataset(ds, bench, work / ds["name"], cells, result, out, Path(args.out).parent)
        rescore(ds, bench, work / ds["name"], cells, result, out)
    result["total_seconds"] = round(time.perf_counter() - t_start, 1)
    result["runs"][-1]["seconds"] = result["total_seconds"]
    result["table"] = table(result["cells"])
    _common.write_result(out, result)
    print(result["table"])


def _settings(ds):
    return None if ds is None else {k: v for k, v in ds.items() if k != "ratios"}


def rescore(ds, bench, work, cells, result, out):
    """Shape bias of every cell of `ds` on each cue-conflict texture of ``bench.cue_textures``
    that the cell lacks (from its saved model: no retraining)."""
    import keras

    from tfinterp.data.cueconflict import cue_conflict_set
    from tfinterp.metrics.shape_bias import model_shape_bias

    seed = int(bench.get("seed", 0))
    sets = {}
    for key, cell in cells.items():
        if cell["dataset"] != ds["name"]:
            continue
        by = cell.setdefault("shape_bias_by_texture", {"closeup": cell["shape_bias_detail"]})
        todo = [t for t in bench.get("cue_textures", ["closeup"]) if t not in by]
        if not todo:
            continue
        folder = Path(cell.get("folder") or work / f"{cell['stylizer']}_{(cell['ratio'] or '-').replace(':', '-')}")
        model = keras.models.load_model(folder / f"{cell['model']}_{ds['name']}.keras")
        for t in todo:
            if t not in sets:
                sets[t] = cue_conflict_set(ds["name"], "test", n=ds["cue_n"], seed=seed, texture=t)
            c = sets[t]
            by[t] = model_shape_bias(model, c["images"], c["shape_labels"], c["texture_labels"])
        result["cells"] = list(cells.values())
        _common.write_result(out, result)


def run_dataset(ds, bench, work, cells, result, out, figdir):
    import keras

    from tfinterp.attacks.pgd import PGD
    from tfinterp.attacks.robust import robust_accuracy
    from tfinterp.data import load_arrays
    from tfinterp.data.cueconflict import cue_conflict_set
    from tfinterp.metrics.shape_bias import model_shape_bias
    from tfinterp.runs.style_decoder import train_style_decoder_run
    from tfinterp.training import TrainConfig, train_classifier

    name = ds["name"]
    seed = int(bench.get("seed", 0))
    decoder = work / "decoder" / "style_decoder.keras"
    if "adain" in bench["stylizers"] and not decoder.exists():
        t0 = time.perf_counter()
        s = train_style_decoder_run(name, decoder.parent, limit=ds["decoder_limit"], epochs=ds["decoder_epochs"],
                                    batch_size=32, seed=seed, verbose=0, command="bench_stylize")
        result.setdefault("decoders", {})[name] = {"encoder": s["encoder"], "history": s["history"],
                                                   "seconds": round(time.perf_counter() - t0, 1)}
    xt, yt = load_arrays(name, "test", ds["eval_n"])
    cue = cue_conflict_set(name, "test", n=ds["cue_n"], seed=seed)
    style_params = {"adain": {"decoder": str(decoder)}}
    save_examples(name, xt[:6], cue, style_params, figdir / f"stylize_examples_{name}.png", seed)
    grid = [("none", None)] + [(s, r) for s in bench["stylizers"] for r in ds.get("ratios", bench["ratios"])]
    for stylizer, ratio in grid:
        key = f"{name}/{stylizer}/{ratio or '-'}"
        if key in cells:
            continue
        t0 = time.perf_counter()
        tc = TrainConfig(model=ds["model"], dataset=name, limit=ds["limit"], epochs=ds["epochs"],
                         batch_size=ds["batch_size"], seed=seed, stylize=None if stylizer == "none" else stylizer,
                         style_ratio=ratio or "1:1", style_params=style_params.get(stylizer, {}))
        folder = work / f"{stylizer}_{(ratio or '-').replace(':', '-')}"
        m = train_classifier(tc, folder, verbose=0, command=f"bench_stylize {key}", fresh=True)
        train_s = time.perf_counter() - t0
        model = keras.models.load_model(folder / f"{m['stem']}.keras")
        t1 = time.perf_counter()
        atk = PGD(model, eps=ds["eps"], steps=ds["pgd_steps"], step_size=ds["pgd_step_size"], random_start=True,
                  seed=seed)
        pgd = robust_accuracy(model, xt, yt, atk)
        sb = model_shape_bias(model, cue["images"], cue["shape_labels"], cue["texture_labels"])
        cell = {"key": key, "dataset": name, "stylizer": stylizer, "ratio": ratio, "settings": ds, "folder": str(folder),
                "clean_accuracy": m["metrics"]["test_accuracy"], "pgd_accuracy": pgd,
                "shape_bias": sb["shape_bias"], "shape_bias_detail": sb,
                "train_seconds": round(train_s, 1), "eval_seconds": round(time.perf_counter() - t1, 1),
                "stylize": m.get("stylize"), "model": ds["model"], "epochs": ds["epochs"], "limit": ds["limit"],
                "pgd": {"eps": ds["eps"], "steps": ds["pgd_steps"], "step_size": ds["pgd_step_size"],
                        "examples": len(xt)}}
        cells[key] = cell
        result["cells"] = list(cells.values())
        _common.write_result(out, result)
        print(f"{key}: clean {cell['clean_accuracy']:.4f} pgd {pgd:.4f} shape bias {sb['shape_bias']:.3f} "
              f"({train_s:.0f} s train)", flush=True)


def save_examples(name, x, cue, style_params, path, seed):
    """A figure: originals, each stylizer's output, cue-conflict images (for the README)."""
    from tfinterp.training.stylizers.base import get_stylizer, list_stylizers
    from tfinterp.viz.stylize import save_image_rows

    rows = {"original": x}
    label = ""
    for s in list_stylizers():
        st = get_stylizer(s, seed=seed, **style_params.get(s, {}))
        masks = None
        if st.needs_masks:
            from tfinterp.data.cueconflict import item_masks

            masks = item_masks(name, "test", len(x), images=x)[:len(x)]
        rows[s] = st(x, masks=masks)
        if s == "adain":
            label = st.describe()["encoder"]
    rows["cue-conflict"] = cue["images"][:len(x)]
    save_image_rows(path, rows, title=f"{name}: stylizers (adain encoder: {label})")


def table(cells) -> str:
    lines = ["| data set | stylizer | original:stylized | clean acc. | PGD acc. | shape bias (close-up) | "
             "shape bias (miniature) |", "| --- | --- | --- | --- | --- | --- | --- |"]

    def f(d):
        return "n/a" if not d or d.get("shape_bias") is None else f"{d['shape_bias']:.3f}"

    for c in cells:
        by = c.get("shape_bias_by_texture", {"closeup": c["shape_bias_detail"]})
        lines.append(f"| {c['dataset']} | {c['stylizer']} | {c['ratio'] or '1:0'} | {c['clean_accuracy']:.4f} | "
                     f"{c['pgd_accuracy']:.4f} | {f(by.get('closeup'))} | {f(by.get('miniature'))} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
