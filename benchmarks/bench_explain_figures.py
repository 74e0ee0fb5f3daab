"""Figures at the speed of the model: explaining a folder, with and without per-image figures.

Measured side by side in one run on the same 300 cluttered canvases (written as PNGs):

(a) the floor: model load (TensorFlow import included) + reading the PNGs + predictions +
    the explanation (`gradient`, batch 32) + writing one `.npy` map and one JSON summary
    per image, done with the library in a fresh Python process (this script, `--floor-run`),
    so it starts as the command does;
(b) the per-image matplotlib overlays as `tfinterp explain` drew them (`save_overlay(...,
    engine="matplotlib")`);
(c) the NumPy + Pillow overlays (`tfinterp.viz.overlay`), one process;
(c2) the same in `parallel_workers` 'spawn' worker processes (pool start-up included), to
    see whether parallel drawing pays on this machine;
(d) the whole command `tfinterp explain <folder> --method gradient --out <tmp>` as installed
    at run time, and with `--figures none` when the command has that flag.

(a) and (d) run `[cli] repeats` times, interleaved (medians reported). Reported as ratios
to (a); the target of issue 14 is the whole command within 2x of (a).

    python benchmarks/bench_explain_figures.py --config configs/bench_explain_figures.toml
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import _common  # benchmarks/_common.py (this script's folder is on sys.path); no TensorFlow import

BIN = Path(sys.executable).parent


def _draw_chunk(jobs):
    """Worker body for (c2): draw and write the overlays of `jobs`; say whether TF got imported."""
    from tfinterp.viz.overlay import save_overlay_fast

    for path, image, saliency, title, box in jobs:
        save_overlay_fast(path, image, saliency, title=title, box=box)
    return "tensorflow" in sys.modules


def write_canvases(folder: Path, split: str, n: int) -> list[Path]:
    from tfinterp.data import load_clutter
    from tfinterp.data.imageio import write_png

    d = load_clutter(split, n=n)
    return [write_png(folder / f"canvas_{i:03d}.png", img) for i, img in enumerate(d["images"])]


def floor(folder: Path, out: Path, cfg: dict) -> tuple[dict, dict]:
    """(a): everything `tfinterp explain` must do except drawing, timed by stage.

    Returns (seconds by stage, the per-image inputs of the figures)."""
    t = {}
    t0 = time.perf_counter()
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    from tfinterp.data.imageio import expand_image_paths, read_images_for_model
    from tfinterp.explain import get_explainer
    from tfinterp.metrics import box_from_map
    from tfinterp.models import load_model
    from tfinterp.utils import atomic_path, write_json

    t["import"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    net = load_model(cfg["model"])
    t["model_load"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    paths = expand_image_paths([str(folder)])
    x = read_images_for_model(paths, net)
    t["read_images"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    probs = np.concatenate([tf.nn.softmax(tf.cast(net(x[i:i + 256], training=False), tf.float32)).numpy()
                            for i in range(0, len(x), 256)])
    targets = probs.argmax(-1)
    t["predict"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    bs = int(cfg["batch_size"])
    explainer = get_explainer(cfg["method"], net, batch_size=bs)
    maps = np.asarray(explainer.explain(x, targets, batch_size=bs))
    t["explain"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    names = getattr(net, "class_names", None)
    label = (lambda c: f"{c} ({names[c]})") if names else str
    titles, boxes = [], []
    for p, img_path, m, c in zip(probs, paths, maps, targets):
        stem = f"{img_path.stem}_{cfg['method']}"
        box = box_from_map(m, alpha=float(cfg["alpha"]))
        with atomic_path(out / f"{stem}.npy") as tmp:
            with open(tmp, "wb") as f:
                np.save(f, m)
        pred, c = int(p.argmax()), int(c)
        write_json(out / f"{stem}.json", {
            "image": img_path.stem, "model": cfg["model"], "target": c, "probability": float(p[c]),
            "predicted": pred, "predicted_probability": float(p[pred]), "method": cfg["method"],
            "box": None if box is None else dict(zip(("ymin", "xmin", "ymax", "xmax"), box)),
            "map": str(out / f"{stem}.npy")})
        titles.append(f"{cfg['method']}: target {label(c)}, p={p[c]:.3f}\npredicted {label(pred)}, p={p[pred]:.3f}")
        boxes.append(box)
    t["write_npy_json"] = time.perf_counter() - t0
    t["total"] = sum(t.values())
    figs = {"stems": [f"{p.stem}_{cfg['method']}" for p in paths], "images": x, "maps": maps,
            "titles": titles, "boxes": boxes}
    return t, figs


def overlays_matplotlib(figs, out: Path, n: int) -> float:
    from tfinterp.viz.figures import save_overlay

    t0 = time.perf_counter()
    for i in range(n):
        save_overlay(out / f"{figs['stems'][i]}.png", figs["images"][i], figs["maps"][i], title=figs["titles"][i],
                     box=figs["boxes"][i], engine="matplotlib")
    return time.perf_counter() - t0


def overlays_fast(figs, out: Path) -> float:
    from tfinterp.viz.overlay import save_overlay_fast

    t0 = time.perf_counter()
    for stem, img, m, title, box in zip(figs["stems"], figs["images"], figs["maps"], figs["titles"], figs["boxes"]):
        save_overlay_fast(out / f"{stem}.png", img, m, title=title, box=box)
    return time.perf_counter() - t0


def overlays_parallel(figs, out: Path, workers: int) -> tuple[float, bool]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    jobs = [(out / f"{s}.png", i, m, t, b) for s, i, m, t, b in
            zip(figs["stems"], figs["images"], figs["maps"], figs["titles"], figs["boxes"])]
    size = -(-len(jobs) // (4 * workers))
    t0 = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        tf_seen = list(pool.map(_draw_chunk, [jobs[i:i + size] for i in range(0, len(jobs), size)]))
    return time.perf_counter() - t0, any(tf_seen)


def run_cli(folder: Path, out: Path, method: str, extra=()) -> dict:
    cmd = [str(BIN / "tfinterp"), "explain", str(folder), "--method", method, "--out", str(out), *extra]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    sec = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stderr[-2000:]}")
    return {"seconds": sec, "args": cmd[1:3] + ["<folder>"] + cmd[4:6] + ["--out", "<tmp>", *extra],
            "png_written": len(list(out.glob("*.png"))), "json_written": len(list(out.glob("*.json")))}


def floor_process(folder: Path, out: Path, cfg: dict, figures: Path) -> dict:
    """(a) in a fresh Python process, as the command starts: wall seconds (interpreter start-up
    included) and the stage times; the figure inputs go to `figures` (.npz, its writing not
    counted)."""
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, __file__, "--floor-run", str(folder), str(out), str(figures),
                          json.dumps(cfg)], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"the floor run failed ({res.returncode}):\n{res.stderr[-2000:]}")
    child = json.loads(res.stdout.strip().splitlines()[-1])
    return {"seconds": wall - child["figures_npz_seconds"], "stages": child["stages"]}


def _floor_run(folder, out, figures, cfg):
    t, figs = floor(Path(folder), Path(out), json.loads(cfg))
    t0 = time.perf_counter()
    np.savez(figures, images=figs["images"], maps=figs["maps"], stems=np.array(figs["stems"]),
             titles=np.array(figs["titles"]),
             boxes=np.array([b if b is not None else (-1, -1, -1, -1) for b in figs["boxes"]]))
    print(json.dumps({"stages": t, "figures_npz_seconds": time.perf_counter() - t0}))


def _load_figures(path: Path) -> dict:
    with np.load(path) as z:
        return {"images": z["images"], "maps": z["maps"], "stems": [str(s) for s in z["stems"]],
                "titles": [str(s) for s in z["titles"]],
                "boxes": [None if b[0] < 0 else tuple(int(v) for v in b) for b in z["boxes"]]}


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "--floor-run":  # the child of floor_process
        return _floor_run(*sys.argv[2:])
    ap = _common.parser(__doc__, config="bench_explain_figures.toml", out="explain_figures.json")
    args = ap.parse_args()
    cfg = _common.read_config(args.config)
    res = _common.header(__file__, config=cfg)
    ecfg, fcfg, ccfg = cfg["explain"], cfg["figures"], cfg["cli"]
    repeats = int(ccfg.get("repeats", 1))
    with tempfile.TemporaryDirectory(prefix="bench_explain_figures_") as tmp:
        tmp = Path(tmp)
        folder = tmp / "canvases"
        write_canvases(folder, cfg["data"]["split"], int(cfg["data"]["images"]))
        n = len(list(folder.glob("*.png")))
        res["images"] = n

        cli = BIN / "tfinterp"
        d = None
        if ccfg.get("run", True) and cli.exists():
            from tfinterp.viz.figures import save_overlay

            helptext = subprocess.run([str(cli), "explain", "--help"], capture_output=True, text=True).stdout
            d = {"has_figures_flag": "--figures" in helptext,
                 "save_overlay_default_engine": inspect.signature(save_overlay).parameters["engine"].default,
                 "default": [], "figures_none": []}
        floors = []
        for r in range(repeats):  # (a) and (d) interleaved, so load from elsewhere hits both alike
            floors.append(floor_process(folder, tmp / f"a{r}", ecfg, tmp / "figures.npz"))
            print(f"(a) floor {floors[-1]['seconds']:.2f} s: " +
                  ", ".join(f"{k} {v:.2f}" for k, v in floors[-1]["stages"].items()), flush=True)
            if d is not None:
                d["default"].append(run_cli(folder, tmp / f"d{r}", ecfg["method"]))
                print(f"(d) tfinterp explain: {d['default'][-1]['seconds']:.2f} s", flush=True)
                if d["has_figures_flag"]:
                    d["figures_none"].append(run_cli(folder, tmp / f"dn{r}", ecfg["method"], ["--figures", "none"]))
                    print(f"(d) tfinterp explain --figures none: {d['figures_none'][-1]['seconds']:.2f} s",
                          flush=True)
        fa = _common.median([f["seconds"] for f in floors])
        res["a_floor"] = {"seconds": fa, "runs": floors}
        figs = _load_figures(tmp / "figures.npz")

        nb = min(int(fcfg["matplotlib_images"]), n)
        b = overlays_matplotlib(figs, tmp / "b", nb) * n / nb
        res["b_matplotlib_overlays_seconds"] = b
        res["b_matplotlib_images_drawn"] = nb
        print(f"(b) matplotlib overlays {b:.2f} s ({1e3 * b / n:.1f} ms/image"
              f"{'' if nb == n else f', from {nb} images'})", flush=True)

        c = overlays_fast(figs, tmp / "c")
        res["c_fast_overlays_seconds"] = c
        sizes = [p.stat().st_size for p in (tmp / "c").glob("*.png")]
        res["c_png_bytes_median"] = float(np.median(sizes))
        from PIL import Image

        with Image.open(next((tmp / "c").glob("*.png"))) as im:
            res["c_png_size"] = list(im.size)
        print(f"(c) fast overlays {c:.2f} s ({1e3 * c / n:.1f} ms/image)", flush=True)

        workers = int(fcfg.get("parallel_workers", 0))
        if workers > 1:
            c2, tf_seen = overlays_parallel(figs, tmp / "c2", workers)
            res["c2_fast_overlays_parallel"] = {"workers": workers, "seconds": c2,
                                                "speedup_over_c": c / c2, "worker_imported_tensorflow": tf_seen}
            print(f"(c2) fast overlays, {workers} spawn workers {c2:.2f} s (x{c / c2:.2f} vs (c)); "
                  f"workers imported TensorFlow: {tf_seen}", flush=True)

    ratios = {"b_over_a": b / fa, "c_over_a": c / fa, "a_plus_b_over_a": (fa + b) / fa,
              "a_plus_c_over_a": (fa + c) / fa, "b_over_c": b / c}
    if "c2_fast_overlays_parallel" in res:
        ratios["a_plus_c2_over_a"] = (fa + res["c2_fast_overlays_parallel"]["seconds"]) / fa
    if d is not None:
        for key in ("default", "figures_none"):
            if d[key]:
                d[f"{key}_seconds"] = _common.median([r["seconds"] for r in d[key]])
                ratios["d_over_a" if key == "default" else "d_figures_none_over_a"] = d[f"{key}_seconds"] / fa
        res["d_cli"] = d
    res["ratios"] = ratios
    res["target"] = "the whole command within 2x of (a): d_over_a <= 2"
    res["load_average_at_end"] = list(os.getloadavg())
    print(json.dumps(ratios, indent=1))
    _common.write_result(args.out, res)


if __name__ == "__main__":
    main()
