"""Feature-visualization quality on Fashion-MNIST, natural vs robust (issue 17's Quality rows).

(1) Class visualizations: for every class k and several seeds, an image maximizing the logit
    of k (`featureviz.objectives.class_logit`) on a NATURAL and on the adversarially trained
    (ROBUST, the shipped madry_fashion_mnist) madry-architecture model, with the Lucid-style
    recipe (`featureviz.render`: Fourier parameterization, lucid transforms, Adam) and with
    the seed's Madry method (`featureviz.madry_style.madry_render`: targeted L2 steps) from
    grey noise and from a test image of ANOTHER class (a start of class k itself would be
    trivially recognized). An INDEPENDENT classifier of another architecture (vggsmall,
    trained here by a config) judges each image: the fraction recognized as its class, with
    Wilson and class-cluster bootstrap intervals, and McNemar's paired test natural vs robust
    (same class, same seed, same start); a second judge (cnn2, ``[judge] others``) scores
    the same images. The seed's and Madry et al.'s claim (Engstrom et al.
    2019, Santurkar et al. 2019): robust models give more class-like images.
(2) Erhan-style selectivity (Erhan et al. 2009): one image per channel of last_conv (its
    pre-activation maximized), every channel's mean activation on every image: the
    channel x channel matrix; the fraction of channels whose own image is their argmax
    (`metrics.selectivity.diagonal_dominance`), against chance 1/C, for both models.
(3) The README figures in docs/featureviz/: Lucid- vs Madry-style on the robust model, the
    iteration study (steps 30, 60, 120, 240, ...), class visualizations natural vs robust.

    nice -n 10 python benchmarks/bench_featureviz_quality.py --config configs/bench_featureviz_quality.toml
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

import _common
from _common import ROOT


def _load(spec):
    from tfinterp.models import load_model

    p = ROOT / spec
    return load_model(str(p) if p.exists() else spec)


def _predict(model, images, batch_size=256):
    """(argmax classes, softmax probabilities) of `model` (logit outputs)."""
    import tensorflow as tf

    out = []
    for i in range(0, len(images), batch_size):
        out.append(tf.nn.softmax(model(tf.constant(images[i:i + batch_size]), training=False), axis=-1).numpy())
    p = np.concatenate(out)
    return p.argmax(-1), p


def noise_starts(n, shape, sd, seed):
    """Grey noise: 0.5 + N(0, sd^2) per pixel, clipped to [0, 1]; image i from (seed, i)."""
    return np.stack([np.clip(0.5 + sd * np.random.default_rng([seed, 7, i]).standard_normal(shape), 0, 1)
                     for i in range(n)]).astype(np.float32)


def other_class_starts(x, y, targets, seed_index, seed):
    """For image i (target k, seed s): a test image of class (k + 1 + s mod 9) mod 10, never k;
    the s-th of that class in a seeded order. Returns (images, their classes, their indices)."""
    rng = np.random.default_rng(seed)
    order = {c: rng.permutation(np.flatnonzero(y == c)) for c in np.unique(y)}
    classes = np.array([(k + 1 + s % 9) % 10 for k, s in zip(targets, seed_index)])
    idx = np.array([order[c][s] for c, s in zip(classes, seed_index)])
    return x[idx], classes, idx


def judge_row(judge, images, targets, starts_classes=None, subject=None, starts=None):
    from tfinterp.metrics.selectivity import recognition

    pred, prob = _predict(judge, images)
    rec = recognition(pred, targets, groups=targets)
    row = {"recognized": {k: v for k, v in rec.items()},
           "judge_mean_target_probability": float(prob[np.arange(len(targets)), targets].mean()),
           "judge_predictions": pred.tolist()}
    if subject is not None:
        sp, _ = _predict(subject, images)
        row["subject_recognizes_own"] = float((sp == targets).mean())
    if starts_classes is not None:
        row["judge_says_start_class"] = float((pred == starts_classes).mean())
    if starts is not None:
        d = np.sqrt(((images - starts) ** 2).reshape(len(images), -1).sum(1))
        row["l2_from_start_mean"] = float(d.mean())
    return row


def class_visualizations(cfg, models, judge, x_test, y_test):
    from tfinterp.featureviz.madry_style import madry_render
    from tfinterp.featureviz.objectives import class_logit
    from tfinterp.featureviz.render import render
    from tfinterp.metrics.localization import paired_comparison

    cc, lc, mc = cfg["classes"], cfg["lucid"], cfg["madry"]
    classes, seeds = list(cc["classes"]), int(cc["seeds"])
    targets = np.repeat(classes, seeds)
    seed_index = np.tile(np.arange(seeds), len(classes))
    obj = class_logit(targets.tolist())
    shape = x_test.shape[1:]
    starts = {"noise": (noise_starts(len(targets), shape, float(mc["noise_sd"]), int(mc["seed"])), None)}
    sx, scls, sidx = other_class_starts(x_test, y_test, targets, seed_index, int(mc["seed"]))
    starts["other"] = (sx, scls)
    out, images = {}, {}
    for name, model in models.items():
        t0 = time.perf_counter()
        r = render(model, obj, param=lc["param"], steps=int(lc["steps"]), lr=float(lc["lr"]),
                   transforms=lc["transforms"], thresholds=lc["thresholds"], seed=int(lc["seed"]),
                   batch_size=int(cc["batch_size"]), progress=False)
        row = judge_row(judge, r.images, targets, subject=model)
        row["seconds"] = round(time.perf_counter() - t0, 1)
        row["settings"] = {k: v for k, v in r.settings.items() if k != "decorrelation"}
        out[f"{name}/lucid"] = row
        images[f"{name}/lucid"] = r
        print(f"{name} lucid: judge recognizes {row['recognized']['count']}/{row['recognized']['n']} "
              f"(subject itself {row['subject_recognizes_own']:.2f})", flush=True)
        for start in mc["starts"]:
            t0 = time.perf_counter()
            x0, s_cls = starts[start]
            r = madry_render(model, obj, x0, eps=float(mc["eps"]), steps=int(mc["steps"]),
                             step_size=float(mc["step_size"]), thresholds=mc["thresholds"],
                             batch_size=int(cc["batch_size"]), progress=False)
            r.snapshots = {0: x0, **r.snapshots}
            row = judge_row(judge, r.images, targets, starts_classes=s_cls, subject=model, starts=x0)
            row["seconds"] = round(time.perf_counter() - t0, 1)
            row["settings"] = r.settings
            row["start"] = start
            if start == "other":
                row["start_classes"] = s_cls.tolist()
                row["start_test_indices"] = sidx.tolist()
            out[f"{name}/madry_{start}"] = row
            images[f"{name}/madry_{start}"] = r
            print(f"{name} madry from {start}: judge recognizes {row['recognized']['count']}/"
                  f"{row['recognized']['n']} (subject itself {row['subject_recognizes_own']:.2f})", flush=True)
    starts_row = judge_row(judge, sx, scls)  # sanity: the judge on the other-class start images, as their class
    paired = {}
    for method in ["lucid"] + [f"madry_{s}" for s in mc["starts"]]:
        a = out[f"natural/{method}"]["recognized"]["hits"]
        b = out[f"robust/{method}"]["recognized"]["hits"]
        paired[method] = {"a": "natural", "b": "robust", **paired_comparison(a, b),
                          "note": "difference = fraction(robust) - fraction(natural) over the same (class, seed, "
                                  "start); p_value: McNemar's exact test on the discordant pairs"}
    return {"targets": targets.tolist(), "seed_index": seed_index.tolist(), "runs": out, "paired": paired,
            "judge_on_other_class_starts": starts_row["recognized"]["fraction"]}, images, targets


def other_judges(cfg, images, targets, x_test, y_test):
    """The same class visualizations judged by the config's further judges (``[judge] others``):
    does the natural-vs-robust comparison depend on the judge?"""
    from tfinterp.attacks.robust import predict_classes
    from tfinterp.metrics.localization import paired_comparison
    from tfinterp.metrics.selectivity import recognition

    out = {}
    for spec in cfg["judge"].get("others", []):
        judge = _load(spec)
        row = {"test_accuracy": float((predict_classes(judge, x_test) == y_test).mean()), "runs": {}, "paired": {}}
        hits = {}
        for key, r in images.items():
            pred, _ = _predict(judge, r.images)
            rec = recognition(pred, targets, groups=targets)
            hits[key] = rec.pop("hits")
            row["runs"][key] = rec
        for method in sorted({k.split("/")[1] for k in images}):
            row["paired"][method] = paired_comparison(hits[f"natural/{method}"], hits[f"robust/{method}"])
        out[spec] = row
        print(f"judge {spec} (test {row['test_accuracy']:.4f}): " + ", ".join(
            f"{k} {v['count']}/{v['n']}" for k, v in row["runs"].items()), flush=True)
    return out


def selectivity(cfg, models):
    from tfinterp.featureviz.madry_style import madry_render
    from tfinterp.featureviz.objectives import channel
    from tfinterp.featureviz.render import render
    from tfinterp.metrics.selectivity import channel_activation_matrix, diagonal_dominance
    from tfinterp.runs.featureviz import layer_channels

    sc, lc, mc = cfg["selectivity"], cfg["lucid"], cfg["madry"]
    layer, rlayer = sc["layer"], sc["render_layer"]
    out, imgs = {}, {}
    for name, model in models.items():
        _, count = layer_channels(model, layer)
        chans = list(range(count))
        obj = channel(rlayer, chans)
        t0 = time.perf_counter()
        r = render(model, obj, param=lc["param"], steps=int(sc["steps"]), lr=float(lc["lr"]),
                   transforms=lc["transforms"], seed=int(lc["seed"]), batch_size=int(sc["batch_size"]),
                   progress=False)
        x0 = noise_starts(count, model.input_shape[1:], float(mc["noise_sd"]), int(mc["seed"]) + 1)
        m = madry_render(model, obj, x0, eps=float(mc["eps"]), steps=int(mc["steps"]),
                         step_size=float(mc["step_size"]), batch_size=int(sc["batch_size"]), progress=False)
        row = {"layer": layer, "render_layer": rlayer, "channels": count, "seconds": 0.0}
        for method, res in (("lucid", r), ("madry_noise", m)):
            imgs[f"{name}/{method}"] = res.images
            for read in (layer, rlayer):
                mat = channel_activation_matrix(model, read, res.images)
                d = diagonal_dominance(mat, chans)
                dead = int((np.abs(mat).max(axis=0) == 0).sum())
                row[f"{method}/{read}"] = {k: d[k] for k in ("column_fraction", "chance", "row_fraction",
                                                             "row_chance", "mean_own_rank", "column_hits")}
                row[f"{method}/{read}"]["hits"] = int(sum(d["column_hits"]))
                row[f"{method}/{read}"]["channels_zero_on_every_image"] = dead
        row["seconds"] = round(time.perf_counter() - t0, 1)
        out[name] = row
        print(f"{name} selectivity ({layer}): lucid {row[f'lucid/{layer}']['hits']}/{count}, "
              f"madry from noise {row[f'madry_noise/{layer}']['hits']}/{count} (chance 1/{count})", flush=True)
    return out, imgs


# ---- figures ------------------------------------------------------------------------------

def _grid_figure(path, rows, row_labels, col_labels, title, captions=None, colours=None, scale=0.62):
    """A figure of rows x columns grey images with row / column labels and per-cell captions."""
    from tfinterp.viz.featureviz import mosaic
    from tfinterp.viz.figures import _plt, _save

    plt = _plt()
    h, w = rows[0].shape[1:3]
    gap = 2
    grid = mosaic(rows, gap=gap)
    n = rows[0].shape[0]
    fig_w = n * scale + 2.2
    fig_h = len(rows) * scale * (1.35 if captions is not None else 1.0) + 0.9
    fig, ax = plt.subplots(figsize=(fig_w, fig_h))
    ax.imshow(grid, interpolation="nearest")
    ax.set_yticks([i * (h + gap) + h / 2 for i in range(len(rows))])
    ax.set_yticklabels(row_labels, fontsize=7)
    ax.set_xticks([j * (w + gap) + w / 2 for j in range(n)])
    ax.set_xticklabels(col_labels, fontsize=6.5)
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    if captions is not None:
        for i, row in enumerate(captions):
            for j, text in enumerate(row):
                ax.text(j * (w + gap) + w / 2, i * (h + gap) + h - 1, text, ha="center", va="bottom",
                        fontsize=5, color=(colours[i][j] if colours is not None else "yellow"))
    for s in ax.spines.values():
        s.set_visible(False)
    ax.set_title(title, fontsize=8, pad=16)
    return _save(fig, path)


def figures(cfg, images, targets, quality, sel_imgs, names):
    out = ROOT / cfg["figures"]["out"]
    out.mkdir(parents=True, exist_ok=True)
    s0 = int(cfg["figures"]["columns_seed"])
    seeds = int(cfg["classes"]["seeds"])
    cols = np.flatnonzero(np.array(quality["seed_index"]) == s0)
    short = [n.split("/")[0][:9] for n in names]
    col_labels = [short[t] for t in np.asarray(targets)[cols]]
    runs = quality["runs"]
    written = []

    def caps(key):
        pred = np.array(runs[key]["judge_predictions"])[cols]
        return ([short[p] for p in pred], ["lime" if p == t else "red" for p, t in zip(pred, np.asarray(targets)[cols])])

    # (a) Lucid-style vs Madry-style on the robust model: classes, then channels
    keys = ["robust/lucid", "robust/madry_noise", "robust/madry_other"]
    rows = [images["robust/lucid"].images[cols], images["robust/madry_noise"].images[cols],
            images["robust/madry_other"].snapshots[0][cols], images["robust/madry_other"].images[cols]]
    c = [caps(k) for k in keys]
    start_names = [short[k] for k in np.array(runs["robust/madry_other"]["start_classes"])[cols]]
    captions = [c[0][0], c[1][0], start_names, c[2][0]]
    colours = [c[0][1], c[1][1], ["white"] * len(cols), c[2][1]]
    written.append(_grid_figure(out / "lucid_vs_madry_robust.png", rows,
                                ["Lucid-style\n(Fourier, transforms)", "Madry-style\nfrom grey noise",
                                 "start: test image\nof another class", "Madry-style\nfrom that image"],
                                col_labels, "robust madry_fashion_mnist, logit of each class; caption: the independent "
                                "judge's class (green = the target)", captions, colours))
    chans = list(cfg["figures"]["channels"])
    written.append(_grid_figure(out / "lucid_vs_madry_channels_robust.png",
                                [sel_imgs["robust/lucid"][chans], sel_imgs["robust/madry_noise"][chans]],
                                ["Lucid-style", "Madry-style\nfrom grey noise"], [f"ch {k}" for k in chans],
                                f"robust madry_fashion_mnist, {cfg['selectivity']['render_layer']} channels"))
    # (b) the iteration study on the robust model
    lr_ = images["robust/lucid"]
    mr = images["robust/madry_noise"]
    lsteps = sorted(lr_.snapshots)
    msteps = sorted(s for s in mr.snapshots)
    rows = [lr_.snapshots[s][cols] for s in lsteps] + [mr.snapshots[s][cols] for s in msteps]
    labels = [f"Lucid, step {s}" for s in lsteps] + [f"Madry, step {s}" if s else "Madry start (noise)"
                                                     for s in msteps]
    written.append(_grid_figure(out / "iteration_study_robust.png", rows, labels, col_labels,
                                "iteration study, robust model, logit of each class (seed's steps 30, 60, 120, ...)"))
    # (c) natural vs robust class visualizations
    keys = ["natural/lucid", "robust/lucid", "natural/madry_noise", "robust/madry_noise",
            "natural/madry_other", "robust/madry_other"]
    rows = [images[k].images[cols] for k in keys]
    cc = [caps(k) for k in keys]

    def frac(k):
        r = runs[k]["recognized"]
        return f"{r['count']}/{r['n']}"

    labels = [f"{k.split('/')[0]}, {k.split('/')[1].replace('madry_noise', 'Madry noise').replace('madry_other', 'Madry other-class').replace('lucid', 'Lucid')}\njudge {frac(k)}"
              for k in keys]
    written.append(_grid_figure(out / "classes_natural_vs_robust.png", rows, labels, col_labels,
                                f"class visualizations (seed {s0} of {seeds} shown); row label: recognized by the "
                                "judge over all seeds", [x[0] for x in cc], [x[1] for x in cc]))
    return [os.path.relpath(p, ROOT) for p in written]


def main():
    ap = _common.parser(__doc__, config="bench_featureviz_quality.toml", out="featureviz_quality.json")
    args = ap.parse_args()
    cfg = _common.read_config(args.config)
    from tfinterp.attacks.robust import predict_classes
    from tfinterp.data import load_arrays
    from tfinterp.data.sources import CLASS_NAMES
    from tfinterp.utils import set_seed

    set_seed(0)
    result = {**_common.header(__file__), "config": cfg}
    models = {k: _load(v) for k, v in cfg["models"].items()}
    judge = _load(cfg["judge"]["model"])
    x_test, y_test = load_arrays(cfg["judge"]["dataset"], "test", materialize=True)
    x_test = np.asarray(x_test, np.float32)
    y_test = np.asarray(y_test)
    result["test_accuracy"] = {"judge": float((predict_classes(judge, x_test) == y_test).mean()),
                               **{k: float((predict_classes(m, x_test) == y_test).mean()) for k, m in models.items()}}
    print("test accuracy (10,000 Fashion-MNIST test images):", result["test_accuracy"], flush=True)
    t0 = time.perf_counter()
    quality, images, targets = class_visualizations(cfg, models, judge, x_test, y_test)
    result["class_visualizations"] = quality
    result["class_visualizations_seconds"] = round(time.perf_counter() - t0, 1)
    result["other_judges"] = other_judges(cfg, images, targets, x_test, y_test)
    _common.write_result(args.out, result)
    t0 = time.perf_counter()
    result["selectivity"], sel_imgs = selectivity(cfg, models)
    result["selectivity_seconds"] = round(time.perf_counter() - t0, 1)
    result["figures"] = figures(cfg, images, targets, quality, sel_imgs, CLASS_NAMES["fashion_mnist"])
    arrays = {k.replace("/", "__"): np.round(r.images * 255).astype(np.uint8) for k, r in images.items()}
    arrays.update({"selectivity__" + k.replace("/", "__"): np.round(v * 255).astype(np.uint8)
                   for k, v in sel_imgs.items()})
    npz = Path(args.out).with_name(Path(args.out).stem + "_images.npz")
    np.savez_compressed(npz, targets=np.asarray(targets), **arrays)
    result["images_npz"] = str(npz.relative_to(ROOT)) if str(npz).startswith(str(ROOT)) else str(npz)
    _common.write_result(args.out, result)


if __name__ == "__main__":
    main()
