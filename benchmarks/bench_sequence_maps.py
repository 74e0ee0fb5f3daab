"""How well sequence explanation maps find planted motifs (issue 18, the survey's sections 2.1.1, 3.5).

On held-out planted sequences (`tfinterp.data.planted`, a seed the model was not trained on),
for each method of [methods] and each model of [model] that exists: the per-position map
(``explainer.positions``) of the planted class is scored against the planted positions
(`motif_mask`) by the average precision (AUPRC, per sequence, averaged) and by the fraction of
sequences whose top window of ``width`` positions (`tfinterp.sequence.windows.best_window`)
overlaps a planted motif. Two baselines: the convolution-activation map (Alipanahi et al.
2015's view: each position's maximum first-layer activation over the filters and over the
windows that cover it; the survey's claim, after Lanchantin et al. 2016, is that saliency
beats it) and a random map (chance). Class-0 sequences (no motif) are left out.

    nice -n 10 python benchmarks/bench_sequence_maps.py --config configs/bench_sequence_maps.toml
"""

from __future__ import annotations

import time

import _common  # benchmarks/_common.py; no TensorFlow import


def average_precision(scores, truth) -> float:
    """AUPRC of `scores` against the boolean `truth` (one sequence): the mean precision at each true
    position when positions are ranked by score (ties broken by position)."""
    import numpy as np

    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    t = np.asarray(truth, bool)[order]
    if not t.any():
        return float("nan")
    hits = np.cumsum(t)
    return float((hits[t] / (np.flatnonzero(t) + 1)).mean())


def activation_map(model, x, batch_size=256):
    """(N, length) convolution-activation map: per input position the maximum first-layer
    activation over the filters and over the windows that cover the position."""
    import numpy as np

    from tfinterp.models.layers import feature_model

    fm = feature_model(model, ["first_conv"] if hasattr(model, "layer_aliases") else ["conv1"])
    name = list(fm.output)[0]
    acts = np.concatenate([np.asarray(fm(x[i:i + batch_size], training=False)[name])
                           for i in range(0, len(x), batch_size)])              # (N, L - k + 1, F)
    best = acts.max(-1)
    length = x.shape[1]
    k = length - best.shape[1] + 1
    out = np.full((len(x), length), -np.inf)
    for j in range(k):  # window starting at p covers p .. p + k - 1
        out[:, j:j + best.shape[1]] = np.maximum(out[:, j:j + best.shape[1]], best)
    return out


def fallback(spec, cfg):
    """A zoo model trained here on planted:seed=0 for a shipped `spec` that is not there
    ([fallback.<spec>] of the config: arch, n, epochs, lr), cached under the tfinterp cache folder."""
    import keras

    from tfinterp import models
    from tfinterp.data.planted import make_planted
    from tfinterp.utils import cache_dir, set_seed

    key = "_".join(f"{k}{cfg[k]}" for k in sorted(cfg))
    path = cache_dir() / f"bench_seqmaps_{spec}_{key}.keras"
    if path.exists():
        return keras.models.load_model(path, compile=False), {"trained": "here (cached)", "path": str(path)}
    set_seed(0)
    d = make_planted(n=cfg["n"], length=cfg["length"], seed=0)
    m = models.get(cfg["arch"], input_shape=(cfg["length"], 4), num_classes=4)
    m.compile(keras.optimizers.Adam(cfg["lr"]), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
    t0 = time.perf_counter()
    h = m.fit(d.x, d.y, batch_size=64, epochs=cfg["epochs"], validation_split=0.1, verbose=0)
    m.save(path)
    return m, {"trained": "here", "seconds": time.perf_counter() - t0, "path": str(path),
               "val_accuracy": [float(v) for v in h.history["val_accuracy"]]}


def score(maps, mask, motifs, width):
    import numpy as np

    from tfinterp.sequence.windows import best_window, overlaps

    ap = np.array([average_precision(m, t) for m, t in zip(maps, mask)])
    win = best_window(maps, width)
    hit = np.array([overlaps(s, e, [(a, b) for _, a, b in spans])
                    for s, e, spans in zip(win["start"], win["end"], motifs)])
    return {"auprc": float(np.nanmean(ap)), "top_window_overlap": float(hit.mean()),
            "auprc_ci95": 1.96 * float(np.nanstd(ap) / np.sqrt(len(ap))),
            "top_window_overlap_ci95": 1.96 * float(np.sqrt(hit.mean() * (1 - hit.mean()) / len(hit)))}


def main():
    ap = _common.parser(__doc__, config="bench_sequence_maps.toml", out="sequence_maps.json")
    args = ap.parse_args()
    cfg = _common.read_config(args.config)
    import numpy as np
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    from tfinterp.data.planted import make_planted, motif_mask
    from tfinterp.errors import UserError
    from tfinterp.explain import get_explainer
    from tfinterp.models import load_model

    res = _common.header(__file__, config=cfg, tensorflow=tf.__version__,
                         note="shared machine: 2 cores for several agents")
    d = cfg["data"]
    held = make_planted(n=d["n"], length=d["length"], seed=d["seed"])
    keep = np.flatnonzero(held.y > 0)
    held = held.subset(keep)
    mask = motif_mask(held, d["length"])
    width = int(cfg["score"]["width"])
    res["sequences"] = len(held)
    res["planted_fraction_of_positions"] = float(mask.mean())
    res["models"] = {}
    for spec in cfg["model"]["specs"]:
        training = {"trained": "shipped"}
        try:
            model = load_model(spec)
        except UserError as e:
            if spec not in cfg.get("fallback", {}):
                print(f"{spec}: not available ({e}); skipped", flush=True)
                res["models"][spec] = {"skipped": str(e)}
                continue
            print(f"{spec}: not shipped; training the fallback of [fallback.{spec}]", flush=True)
            model, training = fallback(spec, cfg["fallback"][spec])
        pred = np.asarray(model.predict(held.x, batch_size=256, verbose=0)).argmax(1)
        out = {"model_training": training, "held_out_accuracy_classes_1_3": float((pred == held.y).mean()),
               "methods": {}, "baselines": {}}
        print(f"{spec}: held-out accuracy on classes 1-3 {out['held_out_accuracy_classes_1_3']:.3f}", flush=True)
        targets = held.y.astype(np.int32)
        for label, params in cfg["methods"].items():
            params = dict(params)
            method = params.pop("method", label)
            try:
                e = get_explainer(method, model, **params)
            except UserError as err:
                out["methods"][label] = {"refused": str(err)}
                print(f"{spec} {label}: refused ({err})", flush=True)
                continue
            wall, cpu, maps = _common.clock(lambda: e.explain(held.x, targets))
            s = score(e.positions(maps), mask, held.motifs, width)
            s.update({"method": method, "params": e.params, "seconds_per_sequence": wall / len(held),
                      "cpu_seconds_per_sequence": cpu / len(held)})
            out["methods"][label] = s
            print(f"{spec} {label:22s} AUPRC {s['auprc']:.3f}  top window overlaps {s['top_window_overlap']:.3f}  "
                  f"({wall / len(held) * 1e3:.1f} ms/seq)", flush=True)
        try:
            out["baselines"]["conv-activation"] = score(activation_map(model, held.x), mask, held.motifs, width)
        except UserError as err:
            out["baselines"]["conv-activation"] = {"refused": str(err)}
        rnd = np.random.default_rng(0).random(mask.shape)
        out["baselines"]["random"] = score(rnd, mask, held.motifs, width)
        for k, s in out["baselines"].items():
            if "auprc" in s:
                print(f"{spec} {k:22s} AUPRC {s['auprc']:.3f}  top window overlaps {s['top_window_overlap']:.3f}",
                      flush=True)
        res["models"][spec] = out
    _common.write_result(args.out, res)


if __name__ == "__main__":
    main()
