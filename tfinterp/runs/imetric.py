"""`tfinterp imetric build|participant|score`: the I-metric study of Baek, Jang & Cho ("Can we
interpret the black box?", sec. 5) end to end.

- `build_quiz`: the admissible neurons of a layer (`tfinterp.metrics.imetric.admissible_neurons`,
  the seed's criteria as quantiles of the layer's activations), `questions` of them picked
  (seeded), their 9-option questions, the two feature visualizations per neuron
  (`tfinterp.runs.report.neuron_visualizations`), and one static quiz page per condition
  (feature visualization only / dataset examples only / both) with the answer key beside it.
- `run_machine_participant`: a scripted participant that answers each page by picking the
  3 options nearest (cosine) to the shown images in a feature space (a layer of the quiz's
  model or of another model): a baseline against chance.
- `score_responses`: the I-metric per participant and per condition, a histogram PNG and JSON.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import numpy as np

from tfinterp.errors import UserError
from tfinterp.metrics import imetric as im


def _image_file(kind: str, ident: int) -> str:
    return f"img/{kind}_{int(ident)}.png"


def _shown(question: dict, condition: str) -> list[tuple[str, int]]:
    """What the page shows for `question` under `condition`: (kind, id) pairs, kind ``x`` (a
    dataset image index) or ``fv_noise`` / ``fv_dataset`` (the neuron's visualizations)."""
    out = []
    for kind, i in im.CONDITIONS[condition]["shown"]:
        if kind == "example":
            out.append(("x", int(question["examples"][i])))
        else:
            out.append((kind, int(question["neuron"])))
    return out


_CAPTIONS = {"x": "dataset example", "fv_noise": "feature visualization (from noise)",
             "fv_dataset": "feature visualization (from a dataset example)"}


def build_quiz(model_spec, layer="last_conv", dataset=None, split="test", images=2000, questions=10,
               criteria=None, reduce="mean", steps=256, madry_steps=200, param="fourier", pre=True, seed=0,
               batch_size=32, out=None, progress=True, unsafe_deserialization=False) -> dict:
    """Build the I-metric quizzes (Baek et al. sec. 5.1) for `layer` into `out`: ``quiz_<condition>.html``
    (one per condition), ``index.html``, ``key.json`` (the answers: keep it from participants),
    ``admissibility.json``, ``fv.npz`` (the visualizations as arrays) and ``img/``. The
    activations are the channel maps' spatial `reduce` over `images` images of `split`;
    `criteria` go to `admissible_neurons` (quantiles by default)."""
    from tfinterp.analysis.examples import layer_activations, layer_channels
    from tfinterp.params import resolve
    from tfinterp.runs.report import load_model_and_images, neuron_visualizations
    from tfinterp.utils import atomic_path, write_json
    from tfinterp.viz.report_html import write_image, write_quiz_index, write_quiz_page

    if out is None:
        raise UserError("give an output folder (--out)")
    if int(questions) < 1:
        raise UserError(f"questions must be >= 1, got {questions}")
    out = Path(out)
    criteria = resolve(im.CRITERIA, dict(criteria or {}), owner="imetric")
    for name, v in (("steps", steps), ("madry_steps", madry_steps)):
        if int(v) < 1:
            raise UserError(f"{name} must be >= 1, got {v}")
    model, model_name, dataset, x = load_model_and_images(model_spec, dataset, split, images, unsafe_deserialization)
    layer_channels(model, layer)  # an unknown layer: one line before any work
    if criteria["top_k"] + criteria["bottom_k"] > len(x):
        raise UserError(f"top_k + bottom_k = {criteria['top_k'] + criteria['bottom_k']} is more than the {len(x)} "
                        f"images; use more images (--images) or smaller groups (--top-k, --bottom-k)")
    if progress:
        print(f"activations of '{layer}' on {len(x)} images", file=sys.stderr)
    acts = layer_activations(model, layer, x, reduce=reduce, batch_size=max(64, batch_size))
    if acts.ndim != 2:
        raise UserError(f"layer '{layer}' does not give one value per channel and image (shape {acts.shape})")
    adm = im.admissible_neurons(acts, **criteria)
    ok = adm.neurons
    write_json(out / "admissibility.json", {"model": model_name, "layer": layer, "reduce": reduce, **adm.to_dict()})
    if not ok:
        raise UserError(f"no neuron of '{layer}' is admissible ({acts.shape[1]} channels, {len(x)} images; thresholds "
                        f"top_min {adm.thresholds['top_min']:.4g}, ratio {adm.thresholds['min_ratio']:.4g}); "
                        f"loosen the criteria (e.g. top_quantile) or use more images")
    rng = np.random.default_rng(seed)
    neurons = sorted(int(c) for c in rng.choice(ok, size=min(int(questions), len(ok)), replace=False))
    qs = [q.to_dict() for q in im.make_questions(adm, neurons, seed=seed)]
    starts = x[[q["fv_start"] for q in qs]]
    fv = neuron_visualizations(model, layer, neurons, starts, steps=steps, madry_steps=madry_steps, param=param,
                               pre=pre, images=x, seed=seed, batch_size=batch_size, progress=progress)
    noise_layer = fv.pop("render_layer")
    with atomic_path(out / "fv.npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, neurons=np.array(neurons), noise=fv["noise"], dataset=fv["dataset"])
    fv_acts = {k: layer_activations(model, layer, v, reduce=reduce) for k, v in fv.items()}
    for q in qs:
        for idx in set(q["options"]) | set(q["examples"]):
            write_image(out / _image_file("x", idx), x[idx])
    for i, c in enumerate(neurons):
        write_image(out / _image_file("fv_noise", c), fv["noise"][i])
        write_image(out / _image_file("fv_dataset", c), fv["dataset"][i])
        qs[i]["fv_activation"] = {k: float(fv_acts[k][i, c]) for k in fv}
        qs[i]["top_min"], qs[i]["bottom_max"] = float(adm.top_min[c]), float(adm.bottom_max[c])
        qs[i]["option_activations"] = [float(acts[o, c]) for o in qs[i]["options"]]
    build = uuid.UUID(int=int(rng.integers(0, 2 ** 63)) << 64 | int(rng.integers(0, 2 ** 63))).hex
    key_path = (out / "key.json").resolve()
    pages = {}
    intro = ("Each question shows what one neuron of a neural network responds to. Pick the 3 images among the 9 "
             "options that contain most of that pattern (click to pick, click again to unpick), then submit and "
             "send the downloaded JSON file.")
    for cond, spec in im.CONDITIONS.items():
        page_qs = [{"question": q["question"],
                    "shown": [{"src": _image_file(k, i), "caption": _CAPTIONS[k]} for k, i in _shown(q, cond)],
                    "options": [_image_file("x", o) for o in q["options"]]} for q in qs]
        pages[cond] = str(write_quiz_page(out / f"quiz_{cond}.html", build, cond, spec["title"], page_qs,
                                          kind=im.RESPONSE_KIND, key_file=str(key_path), intro=intro))
    write_quiz_index(out / "index.html", build, pages, {c: s["title"] for c, s in im.CONDITIONS.items()},
                     note="The answer key (key.json) is beside these pages: do not show it to participants.")
    key = {"kind": im.KEY_KIND, "build": build, "model": model_name,
           "model_spec": model_spec if isinstance(model_spec, str) else None, "layer": layer,
           "dataset": dataset, "split": split, "images": int(len(x)), "reduce": reduce, "seed": seed,
           "steps": int(steps), "madry_steps": int(madry_steps), "param": param, "render_layer": noise_layer,
           "criteria": adm.criteria, "thresholds": adm.thresholds, "admissible": ok,
           "conditions": {c: {"title": s["title"], "shown": [k for k, _ in s["shown"]]}
                          for c, s in im.CONDITIONS.items()},
           "questions": qs, "pages": pages}
    write_json(key_path, key)
    return {"build": build, "key": str(key_path), "pages": pages, "index": str(out / "index.html"),
            "neurons": neurons, "admissible": len(ok), "channels": int(acts.shape[1]), "images": int(len(x)),
            "thresholds": adm.thresholds}


def _read_json(path: Path, what: str) -> dict:
    if not path.is_file():
        raise UserError(f"{what} not found: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path} is not valid JSON ({e.msg if hasattr(e, 'msg') else e})")


def load_key(quiz) -> tuple[dict, Path]:
    """The answer key of a quiz folder (or a key.json path), checked."""
    p = Path(quiz)
    p = p / "key.json" if p.is_dir() else p
    key = _read_json(p, "answer key")
    try:
        im.check_key(key)
    except UserError:
        raise UserError(f"{p} is not an I-metric answer key (key.json of `tfinterp imetric build`)")
    return key, p


def run_machine_participant(quiz, features_model=None, features_layer="features", reduce="max", out=None,
                            conditions=None, batch_size=64, unsafe_deserialization=False) -> dict:
    """A scripted participant for every condition of the quiz in folder `quiz`: per question it
    picks the 3 options whose features (`features_layer` of `features_model`, default the
    quiz's own model; a conv layer is pooled by its spatial mean; ``"pixels"``: the raw
    pixels, a space that knows nothing of any model) are nearest by cosine to the
    shown images' (``max`` over them, or ``mean``); writes ``machine_<condition>.json``
    response files into `out` (default ``<quiz>/responses``) and returns their scores."""
    from tfinterp.analysis.examples import layer_activations
    from tfinterp.runs.report import load_model_and_images
    from tfinterp.utils import write_json

    key, key_path = load_key(quiz)
    folder = key_path.parent
    spec = features_model or key.get("model_spec")
    if spec is None:
        raise UserError("the quiz was built from an in-memory model; give --features-model")
    data_spec = key.get("model_spec") or spec
    model, _, _, x = load_model_and_images(data_spec, key["dataset"], key["split"], key["images"],
                                           unsafe_deserialization)
    if features_model is None:
        fmodel = model
    elif features_model == "pixels":
        fmodel = None  # the raw pixels: a feature space that knows nothing of any model
    else:
        from tfinterp.models import load_model

        fmodel = (load_model(features_model, unsafe_deserialization=unsafe_deserialization)
                  if isinstance(features_model, str) else features_model)
    try:
        with np.load(folder / "fv.npz") as z:
            fv_neurons = [int(c) for c in z["neurons"]]
            fv = {"fv_noise": z["noise"], "fv_dataset": z["dataset"]}
    except FileNotFoundError:
        raise UserError(f"{folder / 'fv.npz'} not found: the quiz folder is incomplete; build it again")
    row = {c: i for i, c in enumerate(fv_neurons)}
    used = sorted({int(i) for q in key["questions"] for i in q["options"] + q["examples"]})
    pos = {i: k for k, i in enumerate(used)}
    blocks = {"x": x[used], "fv_noise": fv["fv_noise"], "fv_dataset": fv["fv_dataset"]}

    def features(images):
        if fmodel is None:
            return images.reshape(len(images), -1)
        f = layer_activations(fmodel, features_layer, images, reduce="mean", batch_size=batch_size)
        return f.reshape(len(f), -1)

    feats = {k: features(v) for k, v in blocks.items()}  # one pass per block, not per question

    def feature(kind, ident):
        return feats["x"][pos[ident]] if kind == "x" else feats[kind][row[ident]]

    conditions = list(conditions or im.CONDITIONS)
    bad = [c for c in conditions if c not in im.CONDITIONS]
    if bad:
        raise UserError(f"unknown condition '{bad[0]}'; known: {', '.join(im.CONDITIONS)}")
    if fmodel is None:
        features_layer = "pixels"
    participant = f"machine:{Path(str(spec)).stem}:{features_layer}:{reduce}"
    out = Path(out) if out is not None else folder / "responses"
    results = {}
    for cond in conditions:
        answers = []
        for q in key["questions"]:
            shown = np.stack([feature(k, i) for k, i in _shown(q, cond)])
            opts = np.stack([feature("x", o) for o in q["options"]])
            answers.append({"question": int(q["question"]),
                            "picked": sorted(im.machine_picks(shown, opts, reduce=reduce))})
        doc = {"kind": im.RESPONSE_KIND, "build": key["build"], "condition": cond, "participant": participant,
               "key_file": str(key_path.resolve()), "answers": answers,
               "features": {"model": str(spec), "layer": features_layer, "reduce": reduce}}
        path = write_json(out / f"machine_{cond}.json", doc)
        results[cond] = {"file": str(path), **im.score_response(key, doc, str(path))}
    return {"participant": participant, "conditions": results, "out": str(out)}


def score_responses(responses, key=None, out=None, out_beside_key: bool = False) -> dict:
    """The I-metric (Baek et al. sec. 6.3) of each response file and per condition, against the
    answer key (`key`: key.json or its folder; default: the one the responses name, else
    ``key.json`` beside them). Writes ``imetric.json`` and ``imetric.png`` (the histogram,
    Fig. 8) into `out` when given (or, with `out_beside_key`, into ``score/`` beside the key)."""
    from tfinterp.utils import write_json
    from tfinterp.viz.report_html import save_imetric_histogram

    files = [Path(r) for r in (responses if isinstance(responses, (list, tuple)) else [responses])]
    if not files:
        raise UserError("give the response JSON files (the quiz pages' downloads, or the machine participant's)")
    docs = []
    for f in files:
        d = _read_json(f, "response file")
        im.check_response(d, str(f))
        docs.append((f, d))
    if key is None:
        named = {d.get("key_file") for _, d in docs}
        cand = [Path(n) for n in named if n]
        if len(named) == 1 and cand and cand[0].is_file():
            key = cand[0]
        elif (files[0].parent / "key.json").is_file():
            key = files[0].parent / "key.json"
        elif (files[0].parent.parent / "key.json").is_file():
            key = files[0].parent.parent / "key.json"
        else:
            raise UserError("cannot find the quiz's key.json from the responses; give --key")
    kdoc, key_path = load_key(key)
    scores = []
    for f, d in docs:
        s = im.score_response(kdoc, d, str(f))
        s["file"] = str(f)
        scores.append(s)
    nq = len(kdoc["questions"])
    summary = im.summarize(scores, nq)
    chance = im.chance_distribution()
    result = {"key": str(key_path), "build": kdoc.get("build"), "model": kdoc.get("model"), "layer": kdoc.get("layer"),
              "questions": nq, "participants": scores, "conditions": summary,
              "chance": {"hits_per_question": chance["mean"], "total": chance["mean"] * nq,
                         "rate": chance["mean"] / im.N_ANSWERS, "p_hits": chance["p"]},
              "paper": "Baek et al. 6.3.2: 13.7 / 15.6 / 17.5 of 30 (FV only / examples only / both), "
                       "7-10 participants each, ResNet-50 on Restricted ImageNet"}
    if out is None and out_beside_key:
        out = key_path.parent / "score"
    if out is not None:
        out = Path(out)
        result["figure"] = str(save_imetric_histogram(out / "imetric.png", scores, summary, nq, chance))
        result["json"] = str(write_json(out / "imetric.json", result))
    return result
