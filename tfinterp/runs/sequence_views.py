"""`tfinterp visualize filters` and `tfinterp visualize class-optimize`: the model-level views
of a one-hot sequence model (the survey "Network interpretability", sections 1.1 and 2.1.1).

- `run_filters`: the first Conv1D's filters as PSSM logos (Fontal 2017) and their
  convolution-activation motifs over a data set (Alipanahi et al. 2015), each matched to the
  known PWMs (best-alignment Pearson and KL against shuffled-PWM chance,
  `tfinterp.sequence.compare`); writes ``filters_pssm.png``, ``activation_motifs.png``,
  ``motifs.png`` (each known PWM beside its best filter logo and activation motif) and
  ``filters.json`` under `out`.
- `run_class_optimize`: class optimization to PPMs (Simonyan et al. 2014 as Fontal applies
  it, `tfinterp.sequence.class_optimization`), the best window of each as a motif logo, and
  the match of each class's PPM to the known PWMs; writes ``class_<c>.png`` (the whole PPM
  and its best window), ``class_optimization.png`` and ``class_optimize.json``.

The known PWMs (`known_motifs`) are the planted generator's (``planted``, the default for a
model trained on planted data), a JSON file ``{name: [[pA, pC, pG, pT], ...]}``, or none.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from tfinterp.errors import UserError


def known_motifs(spec) -> dict:
    """{name: (width, alphabet) PWM} from ``planted`` (the planted generator's PWMs), ``none``
    / None (no known motifs), or a JSON file of ``{name: matrix}``."""
    if spec is None or str(spec).lower() == "none":
        return {}
    if str(spec) == "planted":
        from tfinterp.data.planted import MOTIFS

        return {k: np.asarray(v, np.float64) for k, v in MOTIFS.items()}
    path = Path(spec)
    if not path.is_file():
        raise UserError(f"--motifs must be planted, none or a JSON file of {{name: PWM}}; {spec} is not a file")
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"--motifs {path} is not valid JSON: {e}")
    if not isinstance(raw, dict) or not raw:
        raise UserError(f"--motifs {path} must hold an object {{name: [[p per letter], ...]}}")
    out = {}
    for name, m in raw.items():
        a = np.asarray(m, np.float64)
        if a.ndim != 2 or (a < 0).any() or not np.allclose(a.sum(axis=1), 1, atol=1e-3):
            raise UserError(f"--motifs {path}: '{name}' must be a (width, alphabet) matrix of probabilities "
                            "whose rows sum to 1")
        out[str(name)] = a
    return out


def _default_motifs(model_spec, data_spec) -> str:
    from tfinterp.data.seqsets import is_planted
    from tfinterp.models import shipped_dataset

    return "planted" if is_planted(data_spec) or is_planted(shipped_dataset(model_spec)) else "none"


def _load(model_spec, unsafe_deserialization):
    from tfinterp.models import load_model

    return load_model(model_spec, unsafe_deserialization=unsafe_deserialization)


def _alphabet_for(size: int, motifs: dict) -> str | None:
    from tfinterp.data.sequences import ALPHABETS

    for letters in ALPHABETS.values():
        if len(letters) == size:
            return letters
    return None


def _check_motifs(motifs: dict, size: int):
    bad = [k for k, v in motifs.items() if v.shape[1] != size]
    if bad:
        raise UserError(f"known motif '{bad[0]}' has {motifs[bad[0]].shape[1]} letters per position; the model "
                        f"reads {size}")


def _match_all(found, motifs, found_kind, both_strands, draws, seed, min_overlap=None) -> dict:
    """The best match of `found` among `motifs` (`compare.best_match`), or None without motifs."""
    from tfinterp.sequence.compare import best_match

    if not motifs:
        return None
    ov = None if min_overlap is None else {k: min(min_overlap, len(v), len(found)) for k, v in motifs.items()}
    if ov is None:
        return best_match(found, motifs, draws=draws, seed=seed, found_kind=found_kind, both_strands=both_strands)
    # each motif with its own overlap (the motif's whole width inside a long PPM)
    from tfinterp.sequence.compare import compare, compare_with_chance

    scores = {k: compare(found, v, both_strands=both_strands, min_overlap=ov[k], found_kind=found_kind).pearson
              for k, v in motifs.items()}
    name = max(scores, key=scores.get)
    return {"motif": name, **compare_with_chance(found, motifs[name], draws=draws, seed=seed, found_kind=found_kind,
                                                 both_strands=both_strands, min_overlap=ov[name]),
            "pearson_all": scores}


def _score(match: dict | None) -> dict | None:
    if match is None:
        return None
    keep = ("motif", "pearson", "pearson_offset", "pearson_strand", "kl", "kl_offset", "kl_strand", "overlap",
            "chance", "pearson_beats_chance", "kl_beats_chance")
    return {k: match[k] for k in keep if k in match}


def motif_vs(found, motif_name, pwm, found_kind, both_strands, draws, seed, min_overlap=None) -> dict:
    """`compare_with_chance` of `found` against one known `pwm`, named."""
    from tfinterp.sequence.compare import compare_with_chance

    ov = None if min_overlap is None else min(min_overlap, len(pwm), len(found))
    return {"motif": motif_name, **compare_with_chance(found, pwm, draws=draws, seed=seed, found_kind=found_kind,
                                                       both_strands=both_strands, min_overlap=ov)}


def filter_views(model, x, motifs: dict, threshold: float = 0.5, per_sequence: str = "max",
                 both_strands: bool = False, draws: int = 200, seed: int = 0, batch_size: int = 256) -> dict:
    """The numbers of `run_filters` for a loaded `model` and one-hot sequences `x`: per filter
    its PSSM logo, activation motif and best matches, and per known motif the best filter
    logo and the best activation motif (by Pearson) with their chance."""
    from tfinterp.sequence.compare import compare
    from tfinterp.sequence.filters import FilterActivations, activation_motifs, filter_weights, pssm_logos

    acts = FilterActivations(model)
    _check_motifs(motifs, acts.alphabet_size)
    w = filter_weights(model)
    logos = pssm_logos(w)
    am = activation_motifs(model, x, threshold=threshold, per_sequence=per_sequence, batch_size=batch_size,
                           acts=acts)
    filters = []
    for f in range(len(w)):
        filters.append({
            "filter": f, "pssm": logos[f], "activation_ppm": am.ppm[f], "windows": int(am.counts[f]),
            "max_activation": float(am.max_activation[f]),
            "match_pssm": _score(_match_all(logos[f], motifs, "pssm", both_strands, draws, seed)),
            "match_activation": (_score(_match_all(am.ppm[f], motifs, "ppm", both_strands, draws, seed))
                                 if am.counts[f] else None)})
    per_motif = {}
    for name, pwm in motifs.items():
        def best(kind, mats, alive):
            scores = [compare(m, pwm, both_strands=both_strands, found_kind=kind,
                              min_overlap=min(len(m), len(pwm))).pearson if ok else -np.inf
                      for m, ok in zip(mats, alive)]
            f = int(np.argmax(scores))
            if not np.isfinite(scores[f]):
                return None
            return {"filter": f, **_score(motif_vs(mats[f], name, pwm, kind, both_strands, draws, seed))}
        per_motif[name] = {"pssm": best("pssm", logos, [True] * len(w)),
                           "activation": best("ppm", am.ppm, am.counts > 0)}
    return {"layer": acts.path, "filters": filters, "per_motif": per_motif, "kernel_size": acts.kernel_size,
            "dilation": acts.dilation, "threshold": threshold, "per_sequence": per_sequence,
            "sequences": int(len(x)), "logos": logos, "activation": am}


def _sequences_for(model, data_spec, limit, seed):
    from tfinterp.data.seqsets import is_planted, load_sequences, parse_planted

    shape = model.input_shape[0] if isinstance(model.input_shape, list) else model.input_shape
    length = shape[1] if len(shape) == 3 else None
    if is_planted(data_spec):
        opts = parse_planted(data_spec)
        kw = {"n": opts.get("n", limit), "seed": opts.get("seed", seed)}
        if "length" not in opts and length is not None:
            kw["length"] = int(length)
        data = load_sequences(data_spec, **kw)
    else:
        alphabet = "protein" if len(shape) == 3 and shape[2] == 20 else "dna"
        data = load_sequences(str(data_spec), alphabet=alphabet, window=length)
    if length is not None and data.x.shape[1] != length:
        raise UserError(f"the sequences have length {data.x.shape[1]}; the model reads {length}")
    return data.subset(slice(0, limit)) if len(data) > limit else data


def run_filters(model_spec, data: str | None = None, motifs: str | None = None, limit: int = 2000,
                threshold: float = 0.5, per_sequence: str = "max", both_strands: bool = False, draws: int = 200,
                seed: int = 1, batch_size: int = 256, out=Path("."), unsafe_deserialization: bool = False) -> dict:
    """First-layer filters of a sequence model as PSSM logos and activation motifs over `data`
    (``planted[:k=v]`` or a FASTA / table file; default: the shipped model's data set, else
    planted; `limit` sequences; planted data with generator `seed` 1, not the training seed 0),
    matched to `motifs` (default: planted when the data are); files under `out`."""
    from tfinterp.utils import write_json
    from tfinterp.viz.logo import save_logo_grid

    if not 0 <= threshold <= 1:
        raise UserError(f"--threshold must be a fraction of each filter's maximum activation in [0, 1], got {threshold}")
    for name, v in (("--limit", limit), ("--batch-size", batch_size), ("--draws", draws)):
        if isinstance(v, bool) or int(v) < 1:
            raise UserError(f"{name} must be a positive integer, got {v}")
    t0 = time.perf_counter()
    from tfinterp.models import shipped_dataset

    model = _load(model_spec, unsafe_deserialization)
    from tfinterp.sequence.filters import first_conv1d

    first_conv1d(model)          # refuse a model without a Conv1D first layer before reading data
    data = data or shipped_dataset(model_spec) or "planted"
    motif_spec = motifs if motifs is not None else _default_motifs(model_spec, data)
    known = known_motifs(motif_spec)
    seqs = _sequences_for(model, data, int(limit), seed)
    r = filter_views(model, seqs.x, known, threshold=threshold, per_sequence=per_sequence,
                     both_strands=both_strands, draws=int(draws), seed=0, batch_size=int(batch_size))
    out = Path(out)
    letters = getattr(model, "letters", None) or _alphabet_for(seqs.x.shape[2], known)
    F = len(r["filters"])
    cols = 8 if F > 8 else F

    def caption(f, key, extra=""):
        m = f[key]
        s = f"filter {f['filter']}{extra}"
        return s + (f"\n{m['motif']} r={m['pearson']:.2f}" if m else "")

    grid = [[(caption(f, "match_pssm"), f["pssm"], "signed") for f in r["filters"][i:i + cols]]
            for i in range(0, F, cols)]
    save_logo_grid(out / "filters_pssm.png", grid, alphabet=letters,
                   title=f"{model_spec}: first-layer filters '{r['layer']}' as PSSM logos (Fontal 2017)")
    grid = [[(caption(f, "match_activation", f" (n={f['windows']})"), f["activation_ppm"], "information")
             for f in r["filters"][i:i + cols]] for i in range(0, F, cols)]
    save_logo_grid(out / "activation_motifs.png", grid, alphabet=letters,
                   title=f"{model_spec}: convolution-activation motifs (Alipanahi et al. 2015), "
                         f"{len(seqs)} sequences, threshold {threshold} x max")
    files = {"filters_pssm": "filters_pssm.png", "activation_motifs": "activation_motifs.png"}
    if known:
        rows = []
        for name, pwm in known.items():
            pm = r["per_motif"][name]
            row = [(f"planted {name}" if motif_spec == "planted" else name, pwm, "information")]
            for key, label, mats, mode in (("pssm", "filter logo", r["logos"], "signed"),
                                           ("activation", "activation motif", r["activation"].ppm, "information")):
                m = pm[key]
                row.append(None if m is None else
                           (f"{label} {m['filter']}: r={m['pearson']:.2f} (chance p95 "
                            f"{m['chance']['pearson']['p95']:.2f})", mats[m["filter"]], mode))
            rows.append(row)
        save_logo_grid(out / "motifs.png", rows, alphabet=letters, title=f"{model_spec}: known motifs vs filters")
        files["motifs"] = "motifs.png"
    seconds = time.perf_counter() - t0
    summary = {"model": str(model_spec), "layer": r["layer"], "data": str(data), "sequences": r["sequences"],
               "motifs": motif_spec, "kernel_size": r["kernel_size"], "dilation": r["dilation"],
               "threshold": threshold, "per_sequence": per_sequence, "both_strands": both_strands, "draws": draws,
               "alphabet": letters, "per_motif": r["per_motif"], "filters": r["filters"], "files": files,
               "seconds": seconds}
    write_json(out / "filters.json", summary)
    return summary


def parse_classes(text, num_classes: int) -> list[int]:
    """``all`` (or None), ``1,3`` or ``0-2`` -> class indices, each checked against `num_classes`."""
    from tfinterp.runs.featureviz import parse_channels

    if text is None or str(text).strip() == "all":
        return list(range(num_classes))
    return parse_channels(text, num_classes, layer=None, what="class")


def class_views(model, classes, motifs: dict, steps: int = 300, lr: float = 0.05, gamma: float = 0.01,
                width: int | None = None, seed: int = 0, both_strands: bool = False, draws: int = 200,
                batch_size: int = 32, class_motifs: dict | None = None, restarts: int = 4) -> dict:
    """The numbers of `run_class_optimize`: per class the optimized PPM, its best `width`
    window and the best match of the PPM among `motifs` (each motif slid along the whole
    PPM); with `class_motifs` ({class: [motif names]}) also each named motif's own match in
    its class's PPM."""
    from tfinterp.sequence.class_optimization import ClassOptimizer, motif
    from tfinterp.sequence.filters import first_conv1d

    opt = ClassOptimizer(model)
    _check_motifs(motifs, opt.alphabet_size)
    if width is None:
        try:
            width = int(first_conv1d(model)[1].kernel_size[0])
        except UserError:
            width = 8
    width = min(int(width), opt.length)
    r = opt.optimize(classes, steps=steps, lr=lr, gamma=gamma, seed=seed, restarts=restarts, batch_size=batch_size)
    per_class = []
    for i, c in enumerate(r.classes):
        start, window = motif(r.ppm[i], width)
        entry = {"class": c, "score": float(r.score[i]), "restart_scores": r.restart_scores[i], "ppm": r.ppm[i], "window": [start, start + width],
                 "window_ppm": window,
                 "match": _score(_match_all(r.ppm[i], motifs, "ppm", both_strands, draws, 0, min_overlap=10 ** 6))}
        if class_motifs is not None:
            entry["planted"] = {m: _score(motif_vs(r.ppm[i], m, motifs[m], "ppm", both_strands, draws, 0,
                                                   min_overlap=10 ** 6))
                                for m in class_motifs.get(c, ()) if m in motifs}
        per_class.append(entry)
    return {"classes": per_class, "length": opt.length, "width": width, "steps": steps, "lr": lr, "gamma": gamma,
            "seed": seed, "restarts": restarts, "tracing_count": opt.tracing_count}


def run_class_optimize(model_spec, classes=None, motifs: str | None = None, steps: int = 300, lr: float = 0.05,
                       gamma: float = 0.01, width: int | None = None, seed: int = 0, both_strands: bool = False,
                       draws: int = 200, batch_size: int = 32, restarts: int = 4, out=Path("."),
                       unsafe_deserialization: bool = False) -> dict:
    """Class optimization of a sequence model (`classes`: ``all``, ``1,3``, ``0-2``): one PPM
    per class, its best `width` window (default: the first Conv1D's width) as a motif logo,
    matched to `motifs` (default: planted for a model trained on planted data); files under `out`."""
    from tfinterp.data.planted import CLASS_MOTIFS, CLASS_NAMES
    from tfinterp.utils import write_json
    from tfinterp.viz.logo import save_logo_grid

    if isinstance(steps, bool) or int(steps) < 1:
        raise UserError(f"--steps must be a positive integer, got {steps}")
    if not lr > 0:
        raise UserError(f"--lr must be > 0, got {lr}")
    if width is not None and int(width) < 1:
        raise UserError(f"--width must be a positive integer, got {width}")
    for name, v in (("--batch-size", batch_size), ("--draws", draws), ("--restarts", restarts)):
        if isinstance(v, bool) or int(v) < 1:
            raise UserError(f"{name} must be a positive integer, got {v}")
    t0 = time.perf_counter()
    model = _load(model_spec, unsafe_deserialization)
    from tfinterp.sequence.class_optimization import model_sequence_shape

    model_sequence_shape(model)
    from tfinterp.checks import model_num_classes

    num_classes = model_num_classes(model)
    cls = parse_classes(classes, num_classes)
    motif_spec = motifs if motifs is not None else _default_motifs(model_spec, None)
    known = known_motifs(motif_spec)
    planted = motif_spec == "planted" and num_classes == len(CLASS_NAMES)
    own = getattr(model, "class_names", None)
    names = list(own) if own and len(own) == num_classes else \
        list(CLASS_NAMES) if planted else [str(c) for c in range(num_classes)]
    r = class_views(model, cls, known, steps=int(steps), lr=float(lr), gamma=float(gamma), width=width,
                    seed=int(seed), both_strands=both_strands, draws=int(draws), batch_size=int(batch_size),
                    restarts=int(restarts), class_motifs=dict(enumerate(CLASS_MOTIFS)) if planted else None)
    out = Path(out)
    letters = getattr(model, "letters", None) or _alphabet_for(r["classes"][0]["ppm"].shape[1], known)
    files = {}
    rows = []
    for e in r["classes"]:
        c = e["class"]
        m = e["match"]
        tag = f"class {c} ({names[c]}), score {e['score']:.2f}"
        best = f"; best match {m['motif']} r={m['pearson']:.2f} (chance p95 {m['chance']['pearson']['p95']:.2f})" \
            if m else ""
        b, en = e["window"]
        save_logo_grid(out / f"class_{c}.png", [[(tag + best, e["ppm"], "information")],
                                                [(f"best window {b}-{en}", e["window_ppm"], "information")]],
                       alphabet=letters, cell_width=0.11)
        files[f"class_{c}"] = f"class_{c}.png"
        rows.append([(f"class {c} ({names[c]}) window {b}-{en}", e["window_ppm"], "information")] +
                    [(f"planted {k}", known[k], "information") for k in (e.get("planted") or {})])
    if rows:
        save_logo_grid(out / "class_optimization.png", rows, alphabet=letters,
                       title=f"{model_spec}: class optimization (Simonyan et al. 2014 / Fontal 2017), {steps} steps")
        files["grid"] = "class_optimization.png"
    for e in r["classes"]:
        e["name"] = names[e["class"]]
    summary = {"model": str(model_spec), "motifs": motif_spec, "class_names": names, "alphabet": letters,
               "both_strands": both_strands, "draws": draws, **{k: v for k, v in r.items() if k != "classes"},
               "classes": r["classes"], "files": files, "seconds": time.perf_counter() - t0}
    write_json(out / "class_optimize.json", summary)
    return summary


__all__ = ["known_motifs", "filter_views", "run_filters", "parse_classes", "class_views", "run_class_optimize"]
