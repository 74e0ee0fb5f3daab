"""How close the model-level views of a planted-motif CNN come to the planted PWMs (issue 18).

For each planted PWM (GATA, TATA, EBOX, AP1 of `tfinterp.data.planted`): the best match
(best-alignment Pearson correlation, and KL divergence in bits, `tfinterp.sequence.compare`)
among the first-layer filters as PSSM logos (Fontal 2017), among their convolution-activation
motifs over held-out planted sequences (Alipanahi et al. 2015), and in the class-optimized PPM
(Simonyan et al. 2014 as Fontal applies it) of the class that contains the motif; each beside
the shuffled-PWM chance (the same score against the PWM with its columns permuted: mean and
95th percentile of Pearson, 5th percentile of KL). A figure puts each planted PWM beside the
three found logos.

    nice -n 10 python benchmarks/bench_sequence_views.py --config configs/bench_sequence_views.toml

The model is the shipped ``seqcnn_planted`` when it exists, else a DeepBind-like tiny CNN
trained here on planted:seed=0 (config [fallback]), cached under the tfinterp cache folder.
"""

from __future__ import annotations

import time
from pathlib import Path

import _common  # benchmarks/_common.py; no TensorFlow import


def _fallback(cfg):
    """The tiny CNN of [fallback], trained on planted:seed=0 (cached by its settings)."""
    import keras
    import numpy as np

    from tfinterp.data.planted import make_planted
    from tfinterp.utils import cache_dir, set_seed

    import hashlib

    from tfinterp.data.planted import MOTIFS

    pwms = hashlib.sha1(b"".join(np.asarray(MOTIFS[k], np.float32).tobytes() for k in sorted(MOTIFS))).hexdigest()[:8]
    key = "_".join(f"{k}{cfg[k]}" for k in sorted(cfg)) + f"_pwms{pwms}"   # retrained when the PWMs change
    path = cache_dir() / f"bench_seqviews_cnn_{key}.keras"
    if path.exists():
        return keras.models.load_model(path, compile=False), str(path), {"cached": True}
    set_seed(cfg["seed"])
    d = make_planted(n=cfg["n"], length=cfg["length"], seed=0)
    x = keras.Input((cfg["length"], 4))
    h = keras.layers.Conv1D(cfg["filters"], cfg["width"], activation="relu", name="conv")(x)
    h = keras.layers.GlobalMaxPooling1D()(h)
    h = keras.layers.Dense(cfg["hidden"], activation="relu")(h)
    y = keras.layers.Dense(4, name="logits")(h)
    m = keras.Model(x, y)
    m.compile(keras.optimizers.Adam(cfg["lr"]), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
    t0 = time.perf_counter()
    hist = m.fit(d.x, d.y, batch_size=64, epochs=cfg["epochs"], validation_split=0.1, verbose=0)
    m.save(path)
    return m, str(path), {"seconds": time.perf_counter() - t0,
                          "val_accuracy": [float(v) for v in hist.history["val_accuracy"]]}


def _aligned(ppm, pwm, offset):
    """The columns of a long PPM under the PWM at the best alignment (offset = found col 0 on the
    PWM; for a long PPM it is negative: the PWM starts at -offset)."""
    import numpy as np

    s = -int(offset)
    return np.asarray(ppm)[s:s + len(pwm)]


def main():
    ap = _common.parser(__doc__, config="bench_sequence_views.toml", out="sequence_views.json")
    args = ap.parse_args()
    cfg = _common.read_config(args.config)
    import numpy as np
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    from tfinterp.data.planted import CLASS_MOTIFS, CLASS_NAMES, MOTIFS, make_planted
    from tfinterp.errors import UserError
    from tfinterp.models import load_model
    from tfinterp.runs.sequence_views import class_views, filter_views
    from tfinterp.viz.logo import save_logo_grid

    res = _common.header(__file__, config=cfg, tensorflow=tf.__version__,
                         note="shared machine: 2 cores for several agents")
    try:
        model = load_model(cfg["model"]["spec"])
        res["model"] = cfg["model"]["spec"]
        res["model_training"] = "shipped"
    except UserError as e:
        print(f"{cfg['model']['spec']} not available ({e}); training the fallback tiny CNN", flush=True)
        model, res["model"], res["model_training"] = _fallback(cfg["fallback"])
    length = int(model.input_shape[1])
    held = make_planted(n=cfg["data"]["n"], length=length, seed=cfg["data"]["seed"])
    logits = model.predict(held.x, batch_size=256, verbose=0)
    pred = logits.argmax(1)
    res["held_out_accuracy"] = float((pred == held.y).mean())
    res["held_out_accuracy_per_class"] = {CLASS_NAMES[c]: float((pred[held.y == c] == c).mean())
                                          for c in range(len(CLASS_NAMES))}
    print(f"model {res['model']}: held-out accuracy {res['held_out_accuracy']:.3f} on {len(held)} planted "
          f"sequences (seed {cfg['data']['seed']}); per class "
          + ", ".join(f"{k} {v:.2f}" for k, v in res["held_out_accuracy_per_class"].items()), flush=True)
    motifs = {k: np.asarray(v, np.float64) for k, v in MOTIFS.items()}
    cc = cfg["compare"]
    t0 = time.perf_counter()
    fv = filter_views(model, held.x, motifs, threshold=cfg["filters"]["threshold"],
                      per_sequence=cfg["filters"]["per_sequence"], both_strands=cc["both_strands"],
                      draws=cc["draws"])
    t_filters = time.perf_counter() - t0
    co = cfg["class_optimization"]
    t0 = time.perf_counter()
    cv = class_views(model, list(range(len(CLASS_NAMES))), motifs, steps=co["steps"], lr=co["lr"],
                     gamma=co["gamma"], seed=co["seed"], restarts=co["restarts"], both_strands=cc["both_strands"], draws=cc["draws"],
                     class_motifs=dict(enumerate(CLASS_MOTIFS)))
    t_classes = time.perf_counter() - t0
    by_class = {e["class"]: e for e in cv["classes"]}
    table, rows = {}, []

    def brief(m):
        return None if m is None else {k: m[k] for k in ("pearson", "kl", "pearson_offset", "kl_offset",
                                                         "pearson_beats_chance", "kl_beats_chance", "chance")
                                       if k in m} | ({"filter": m["filter"]} if "filter" in m else {})

    for name, pwm in motifs.items():
        c = next(i for i, ms in enumerate(CLASS_MOTIFS) if name in ms)
        copt = by_class[c]["planted"][name]
        pm = fv["per_motif"][name]
        table[name] = {"filter_logo": brief(pm["pssm"]), "activation_motif": brief(pm["activation"]),
                       "class_optimization": {"class": c, **brief(copt)}}
        row = [(f"planted {name}", pwm, "information")]
        m = pm["pssm"]
        row.append((f"filter {m['filter']} PSSM: r={m['pearson']:.2f} (chance {m['chance']['pearson']['p95']:.2f})",
                    fv["logos"][m["filter"]], "signed"))
        m = pm["activation"]
        row.append(None if m is None else
                   (f"activation motif {m['filter']}: r={m['pearson']:.2f} (chance {m['chance']['pearson']['p95']:.2f})",
                    fv["activation"].ppm[m["filter"]], "information"))
        row.append((f"class {c} optimized, aligned: r={copt['pearson']:.2f} (chance {copt['chance']['pearson']['p95']:.2f})",
                    _aligned(by_class[c]["ppm"], pwm, copt["pearson_offset"]), "information"))
        rows.append(row)
        for key, label in (("filter_logo", "filter logo"), ("activation_motif", "activation motif"),
                           ("class_optimization", "class optimization")):
            t = table[name][key]
            if t is None:
                print(f"{name:5s} {label:19s}: none", flush=True)
                continue
            ch = t["chance"]
            print(f"{name:5s} {label:19s}: Pearson {t['pearson']:.3f} (chance mean {ch['pearson']['mean']:.3f}, "
                  f"p95 {ch['pearson']['p95']:.3f}); KL {t['kl']:.3f} bits (chance mean {ch['kl']['mean']:.3f}, "
                  f"p05 {ch['kl']['p05']:.3f})", flush=True)
    res["per_motif"] = table
    res["class_scores"] = {int(e["class"]): e["score"] for e in cv["classes"]}
    res["class_windows"] = {int(e["class"]): e["window"] for e in cv["classes"]}
    res["seconds"] = {"filters_and_activation_motifs": t_filters, "class_optimization": t_classes}
    res["filters"] = [{"filter": f["filter"], "windows": f["windows"], "max_activation": f["max_activation"],
                       "match_pssm": brief(f["match_pssm"]) | {"motif": f["match_pssm"]["motif"]},
                       "match_activation": None if f["match_activation"] is None else
                       brief(f["match_activation"]) | {"motif": f["match_activation"]["motif"]}}
                      for f in fv["filters"]]
    out = Path(args.out)
    fig = out.with_suffix(".png")
    shown = res["model"] if res["model_training"] == "shipped" else "tiny CNN trained here (fallback)"
    save_logo_grid(fig, rows, title=f"{shown}: planted PWMs vs filter logos, activation "
                                    f"motifs and class optimization")
    docs = _common.ROOT / "docs" / "sequence" / "sequence_views.png"
    docs.parent.mkdir(parents=True, exist_ok=True)
    docs.write_bytes(fig.read_bytes())
    res["figures"] = [str(fig.relative_to(_common.ROOT)) if fig.is_absolute() else str(fig),
                      str(docs.relative_to(_common.ROOT))]
    _common.write_result(out, res)


if __name__ == "__main__":
    main()
