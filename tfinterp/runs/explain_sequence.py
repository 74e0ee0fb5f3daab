"""`tfinterp explain seqs.fa --model M --method ...`: explain one-hot sequence models end to end.

Input: FASTA files (plain or gzip) or two-column ``sequence,label`` tables (.tsv / .csv), read
for the model's alphabet (`tfinterp.data.sequences`); every sequence must have the model's
input length. A FASTA header may give the motif a sequence is known to carry, so the figure
marks it and the JSON says whether the map found it::

    >seq1 motif=12-19                 positions 12..19, 1-based and inclusive (as a genome browser shows them)
    >seq2 motif=GATA:12-19,TATA:40-47 several, optionally named
    >seq3 label=1 motif=5-12          a label as well (ignored here, read by training)

Per sequence and method: a figure (``<name>_<method>.png``: the sequence as an importance logo,
the given motif shaded, the map's top window as a bar, `tfinterp.viz.sequence_maps`), the
per-letter map (``.npy``, (length, alphabet)) and a JSON summary with the top window (the
best-scoring window of ``motif_width`` positions, `tfinterp.sequence.windows.best_window`)
and whether it overlaps a given motif. ``summary.json`` gathers every sequence's top window.
In JSON, positions are 0-based with the end exclusive (``POSITION_CONVENTION``).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np

from tfinterp.errors import UserError

SEQUENCE_SUFFIXES = (".fa", ".fasta", ".fna", ".ffn", ".faa", ".fas", ".tsv", ".csv")
POSITION_CONVENTION = ("0-based positions, end exclusive: the window is sequence[start:end] "
                       "(FASTA headers give motif=START-END 1-based and inclusive)")
DEFAULT_METHOD = "gradient-x-input"
DEFAULT_WIDTH = 10
_MOTIF = re.compile(r"(?:^|\s)motif=(\S+)")
_SPAN = re.compile(r"^(?:([^:,\s]+):)?(\d+)-(\d+)$")


def is_sequence_file(item) -> bool:
    """Whether `item` names a sequence file (FASTA or table, optionally .gz) by its suffix."""
    name = str(item).lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return name.endswith(SEQUENCE_SUFFIXES)


def parse_header_motifs(header: str, length: int | None = None, record: str = "") -> list:
    """The motifs a FASTA header gives (``motif=12-19`` or ``motif=GATA:12-19,TATA:40-47``, 1-based
    inclusive) as ``[(name, start, end)]``, 0-based end exclusive; [] when the header has none."""
    found = _MOTIF.search(header or "")
    if not found:
        return []
    where = f"record '{record or header}'"
    out = []
    for k, part in enumerate(found.group(1).split(",")):
        m = _SPAN.match(part)
        if not m:
            raise UserError(f"{where}: motif '{part}' is not START-END or NAME:START-END "
                            "(1-based, inclusive, e.g. motif=12-19 or motif=GATA:12-19,TATA:40-47)")
        name, a, b = m.group(1) or f"motif{k + 1}", int(m.group(2)), int(m.group(3))
        if a < 1 or b < a or (length is not None and b > length):
            limit = f" and END <= {length} (the sequence's length)" if length is not None else ""
            raise UserError(f"{where}: motif={part} needs 1 <= START <= END{limit}")
        out.append((name, a - 1, b))
    return out


def motif_header(spans) -> str:
    """The ``motif=NAME:START-END,...`` header field (1-based, inclusive) for (name, start, end) spans
    (0-based, end exclusive), as `parse_header_motifs` reads it; "" for none."""
    if not spans:
        return ""
    return "motif=" + ",".join(f"{n}:{s + 1}-{e}" for n, s, e in spans)


def write_motif_fasta(path, data, labels: bool = True) -> Path:
    """Write a `SequenceData` carrying motif positions (planted data) as FASTA whose headers give
    them (``>planted3 label=1 motif=GATA:40-47``), for `tfinterp explain seqs.fa`."""
    from tfinterp.utils import atomic_path

    seqs = data.sequences()
    lines = []
    for i, (name, s) in enumerate(zip(data.names, seqs)):
        fields = [name]
        if labels and data.y is not None:
            fields.append(f"label={int(data.y[i])}")
        if data.motifs is not None and data.motifs[i]:
            fields.append(motif_header(data.motifs[i]))
        lines += [">" + " ".join(fields), s]
    path = Path(path)
    with atomic_path(path) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")
    return path


def model_alphabet(net, shape) -> str:
    """The letters of a sequence model's input columns: its ``alphabet`` attribute (zoo models),
    else DNA for 4 columns and protein for 20."""
    from tfinterp.data.sequences import ALPHABETS, alphabet_letters

    given = getattr(net, "alphabet", None)
    if given:
        return alphabet_letters(given)
    for letters in ALPHABETS.values():
        if len(letters) == shape[1]:
            return letters
    raise UserError(f"the model takes {shape[1]} letters per position, neither DNA (4) nor protein (20), and does "
                    "not say its alphabet; give --alphabet with its letters (e.g. --alphabet ACGU)")


def _alphabet_name(letters: str) -> str:
    from tfinterp.data.sequences import ALPHABETS

    return next((k for k, v in ALPHABETS.items() if v == letters), letters)


def read_sequence_inputs(items, length: int, letters: str):
    """(names, x (N, length, alphabet), motifs [[(name, start, end)]], files) from sequence files.

    Each sequence must have exactly `length` letters (the model's input length) in the
    alphabet `letters`; FASTA headers may carry ``motif=`` fields (`parse_header_motifs`).
    """
    from tfinterp.data.sequences import one_hot, read_fasta, read_table

    names, seqs, motifs, files = [], [], [], []
    for item in items:
        p = Path(item)
        if not p.exists():
            raise UserError(f"sequence file not found: {p}")
        if not is_sequence_file(p):
            raise UserError(f"{p}: not a sequence file (FASTA .fa/.fasta or a sequence,label .tsv/.csv); "
                            "images and sequences cannot be explained in one call")
        if _looks_like_fasta(p):
            records = read_fasta(p)
            recs = [(h.split()[0], s, h) for h, s in records]
        else:
            rnames, rseqs, _ = read_table(p)
            recs = [(n, s, "") for n, s in zip(rnames, rseqs)]
        for k, (name, s, header) in enumerate(recs):
            if len(s) != length:
                raise UserError(f"{p}: record {k + 1} ('{name}') has {len(s)} letters but the model takes sequences "
                                f"of length {length}; cut or pad them to {length}")
            motifs.append(parse_header_motifs(header, length, name))
            names.append(name)
            seqs.append(s)
            files.append(str(p))
    if not seqs:
        raise UserError("no sequences given")
    try:
        x = one_hot(seqs, _alphabet_name(letters), names=names)
    except UserError as e:
        raise UserError(f"{e} (the model reads {_alphabet_name(letters)}: {letters})") from None
    return _unique(names), x, motifs, files


def _looks_like_fasta(path: Path) -> bool:
    import gzip

    raw = path.read_bytes()[:4096]
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(path.read_bytes())[:4096]
        except (OSError, EOFError):
            return False
    for line in raw.decode("utf-8", errors="replace").splitlines():
        if line.strip() and not line.startswith(";"):
            return line.lstrip().startswith(">")
    return False


def _unique(names):
    seen, out = {}, []
    for n in names:
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", n).strip("._") or "seq"
        k = seen.get(stem, 0)
        seen[stem] = k + 1
        out.append(stem if k == 0 else f"{stem}_{k + 1}")
    return out


def sequence_methods(method: str | None) -> list[str]:
    """The methods `--method` names for sequences (``all``: every method that explains them)."""
    from tfinterp.explain import EXPLAINERS
    from tfinterp.explain.base import methods_for

    usable = methods_for("sequences")
    method = method or DEFAULT_METHOD
    if method == "all":
        return usable
    if method not in EXPLAINERS:
        raise UserError(f"unknown explanation method '{method}'; for sequences use one of: {', '.join(usable)} "
                        "or all")
    if method not in usable:
        raise UserError(f"{method} explains images, not sequences; for sequences use one of: {', '.join(usable)} "
                        "or all")
    return [method]


def explain_sequence_files(items, method: str | None = None, model: str = "seqcnn_planted", target=None,
                           batch_size: int = 32, out=Path("."), params: dict | None = None,
                           motif_width: int | None = None, figures="all", alphabet: str | None = None,
                           unsafe_deserialization: bool = False) -> list[dict]:
    """Explain every sequence of the FASTA / table files `items` with `method` (or ``"all"``).

    `motif_width` is the top window's width (default: the widest motif the headers give, else
    `DEFAULT_WIDTH`); `alphabet`, when given, must be the model's. Writes, per sequence, the
    figure, the per-letter map and the JSON (see the module docstring) under `out`, and
    ``summary.json``; returns the per-sequence summaries.
    """
    import tensorflow as tf

    from tfinterp.checks import check_classes
    from tfinterp.explain.base import sequence_input_shape
    from tfinterp.metrics.benchmark import make_explainer
    from tfinterp.models import load_model
    from tfinterp.runs.explain import parse_figures
    from tfinterp.sequence.windows import best_window, overlaps
    from tfinterp.utils import atomic_path, write_json
    from tfinterp.viz.sequence_maps import save_sequence_explanation

    methods = sequence_methods(method)
    if len(methods) > 1 and params:
        raise UserError("--param applies to a single method, not to --method all")
    n_figures = parse_figures(figures)
    net = load_model(model, unsafe_deserialization=unsafe_deserialization)
    shape = sequence_input_shape(net)
    if shape is None:
        raise UserError(f"model '{model}' takes {getattr(net, 'input_shape', '?')}, not one-hot sequences "
                        "(N, length, alphabet); sequence files need a sequence model (e.g. seqcnn_planted)")
    letters = model_alphabet(net, shape)
    if alphabet is not None:
        from tfinterp.data.sequences import alphabet_letters

        mine = alphabet_letters(alphabet)
        if mine != letters:
            raise UserError(f"--alphabet {alphabet} ({mine}) is not the model's alphabet: '{model}' reads "
                            f"{_alphabet_name(letters)} ({letters})")
    names, x, given, files = read_sequence_inputs(items, shape[0], letters)
    from tfinterp.data.sequences import WILDCARDS

    wildcard = WILDCARDS.get(_alphabet_name(letters), "?")
    widths = [e - s for spans in given for _, s, e in spans]
    width = int(motif_width) if motif_width is not None else (max(widths) if widths else DEFAULT_WIDTH)
    if not 1 <= width <= shape[0]:
        raise UserError(f"--motif-width must be 1..{shape[0]} (the sequence length), got {width}")
    explainers = {m: make_explainer(m, net, params if len(methods) == 1 else None, batch_size) for m in methods}
    probs = np.concatenate([tf.nn.softmax(tf.cast(net(x[i:i + 256], training=False), tf.float32)).numpy()
                            for i in range(0, len(x), 256)])
    targets = probs.argmax(-1) if target is None else check_classes(target, len(x), probs.shape[-1])
    class_names = getattr(net, "class_names", None)

    results = {}
    for m, e in explainers.items():
        t0 = time.perf_counter()
        maps = e.explain(x, targets, batch_size=e.batch_size)
        scores = e.positions(maps)
        results[m] = {"maps": maps, "scores": scores, "windows": best_window(scores, width),
                      "seconds": (time.perf_counter() - t0) / len(x), "params": e.params}
    draw = (lambda i: True) if n_figures is None else (lambda i: i < n_figures)
    written = []
    for i, name in enumerate(names):
        p, t = probs[i], int(targets[i])
        pred = int(p.argmax())
        spans = [(s, e) for _, s, e in given[i]]
        seq = "".join(letters[j] if x[i, k].max() == 1 else (wildcard if x[i, k].max() > 0 else "-")
                      for k, j in enumerate(x[i].argmax(-1)))
        per_method = {}
        for m, r in results.items():
            s, e_ = int(r["windows"]["start"][i]), int(r["windows"]["end"][i])
            stem = f"{name}_{m}"
            with atomic_path(out / f"{stem}.npy") as tmp:
                with open(tmp, "wb") as f:
                    np.save(f, r["maps"][i])
            per_method[m] = {"method": m, "params": r["params"],
                             "top_window": {"start": s, "end": e_, "score": float(r["windows"]["score"][i]),
                                            "letters": seq[s:e_]},
                             "top_window_overlaps_given": overlaps(s, e_, spans) if spans else None,
                             "position_scores": [round(float(v), 6) for v in r["scores"][i]],
                             "runtime_seconds_per_sequence": r["seconds"], "map": str(out / f"{stem}.npy")}
        label = lambda c: f"{c} ({class_names[c]})" if class_names else str(c)  # noqa: E731
        title = f"{name}: target {label(t)} p={p[t]:.3f}, predicted {label(pred)}"
        figure = None
        if draw(i):
            stem = f"{name}_{methods[0] if len(methods) == 1 else 'all'}"
            figure = save_sequence_explanation(
                out / f"{stem}.png", x[i], {m: results[m]["scores"][i] for m in methods}, letters, motifs=spans,
                windows={m: (v["top_window"]["start"], v["top_window"]["end"]) for m, v in per_method.items()},
                title=title)
        summary = {"sequence": name, "file": files[i], "model": model, "length": int(shape[0]),
                   "alphabet": letters, "letters": seq, "target": t,
                   "target_name": class_names[t] if class_names else None, "probability": float(p[t]),
                   "predicted": pred, "predicted_probability": float(p[pred]), "motif_width": width,
                   "given_motifs": [{"name": n, "start": s, "end": e} for n, s, e in given[i]],
                   "position_convention": POSITION_CONVENTION, "figure": str(figure) if figure else None}
        if len(methods) == 1:
            summary.update(per_method[methods[0]])
            write_json(out / f"{name}_{methods[0]}.json", summary)
        else:
            summary["methods"] = per_method
            write_json(out / f"{name}_all.json", summary)
        written.append(summary)
    write_json(out / "summary.json", _summary(model, methods, results, written, width))
    return written


def _summary(model, methods, results, written, width) -> dict:
    """Every sequence's top window per method, and per method the fraction that overlaps a given motif."""
    rows = []
    for s in written:
        per = s.get("methods") or {s["method"]: s}
        rows.append({"sequence": s["sequence"], "target": s["target"], "probability": s["probability"],
                     "given_motifs": s["given_motifs"],
                     "top_window": {m: {k: v["top_window"][k] for k in ("start", "end", "letters")} for m, v in per.items()},
                     "overlaps_given": {m: v["top_window_overlaps_given"] for m, v in per.items()}})
    with_motif = [r for r in rows if r["given_motifs"]]
    frac = {m: (float(np.mean([r["overlaps_given"][m] for r in with_motif])) if with_motif else None) for m in methods}
    return {"model": model, "methods": methods, "motif_width": width, "sequences": len(rows),
            "sequences_with_given_motif": len(with_motif), "top_window_overlap_fraction": frac,
            "runtime_seconds_per_sequence": {m: results[m]["seconds"] for m in methods},
            "position_convention": POSITION_CONVENTION, "per_sequence": rows}


def print_lines(written, folder) -> list[str]:
    """The lines the CLI prints: per sequence its class and top window(s), then the folder."""
    lines = []
    for s in written:
        per = s.get("methods") or {s["method"]: s}
        wins = "; ".join(f"{m} top window at {v['top_window']['start'] + 1}-{v['top_window']['end']} "
                         f"{v['top_window']['letters']}" + ("" if v["top_window_overlaps_given"] is None else
                                                           " (overlaps the given motif)" if v["top_window_overlaps_given"]
                                                           else " (misses the given motif)")
                         for m, v in per.items())
        lines.append(f"{s['sequence']}: class {s['target']} (p={s['probability']:.3f}); {wins}"
                     + (f" -> {s['figure']}" if s.get("figure") else ""))
    lines.append(f"explanations written to {folder}/")
    return lines


__all__ = ["SEQUENCE_SUFFIXES", "POSITION_CONVENTION", "is_sequence_file", "parse_header_motifs", "motif_header",
           "write_motif_fasta", "read_sequence_inputs", "sequence_methods", "explain_sequence_files", "print_lines"]
