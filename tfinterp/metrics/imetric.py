"""The I-metric of Baek, Jang & Cho ("Can we interpret the black box?", sec. 5): how many of a
neuron's top-activating images a person finds among 9 options after looking at an explanation
of the neuron (3 options come from the neuron's top-100 images, 6 from its bottom-100).

Three pieces, all NumPy (the jobs in `tfinterp.runs.imetric` compute the activations, the
images and the pages):

- **Admissible neurons** (sec. 5.1.3, "avoid too difficult problems"). The seed keeps a neuron
  of ResNet-50's 2048-d pooled vector when the minimum of its top-100 activations exceeds
  ``topMin = 0.11`` and the ratio top-100 minimum / bottom-100 maximum is at least
  ``minMaxRatioMin = 1e4``. Both numbers are ResNet-50 values; here they are stated as
  quantiles of the layer's own activations (all images x channels), so they transfer:
  the top group's minimum must reach Q+(top_quantile), the ``top_quantile`` (default 0.9)
  of the layer's positive activations (ReLU zeros left out: in a sparse layer most values
  are 0, and a quantile over all of them would be 0 and admit any neuron that fires at
  all), and the ratio must reach the layer's own spread, Q+(top_quantile) /
  Q(bottom_quantile) (default Q+(0.9) / Q(0.5), Q over all values). ReLU layers put many
  exact zeros in a neuron's bottom group, which makes the ratio infinite (and Q(0.5) zero):
  both denominators are floored at ``eps``, the ``eps_quantile`` (default 0.05) of the
  layer's positive activations. A neuron whose bottom group is all zeros then has the
  finite ratio top_min / eps and is marked ``bottom_zero``; in a sparse layer (Q(0.5) = 0)
  with the default thresholds it is admissible exactly when its top group passes the first
  criterion. The seed's absolute values stay available (``top_min=0.11, min_ratio=1e4``,
  `SEED_RESNET50`).
- **Quizzes**: per neuron, 9 options (3 answers drawn from the top group below the shown
  examples, 6 distractors from the bottom group, seeded shuffles, no duplicates), and what
  each of the three conditions shows (`CONDITIONS`).
- **Scoring**: a participant's hits are the picks that are among the 3 answers ("the count of
  how many machine and human responses are matched"); the I-metric of a participant is the
  total over the questions (the seed reports it out of 30 for 10 questions) and its rate
  hits / (3 x questions). Picking 3 of 9 at random hits 1 answer per question on average
  (hypergeometric, `chance_distribution`). `machine_picks` is a scripted participant: the
  3 options nearest (cosine) to the shown images in a feature space.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tfinterp.errors import UserError
from tfinterp.params import Param, resolve

# The seed's criteria on ResNet-50 (Restricted ImageNet, avgpool, 2048 neurons), for reference.
SEED_RESNET50 = {"top_k": 100, "bottom_k": 100, "top_min": 0.11, "min_ratio": 1e4}

CRITERIA = {
    "top_k": Param(100, int, min=1, doc="the answer group: a neuron's top-k images (the seed's topEdgeNum)"),
    "bottom_k": Param(100, int, min=1, doc="the distractor group: its bottom-k images (bottomEdgeNum)"),
    "top_quantile": Param(0.9, float, min=0, max=1, doc="the top group's minimum must reach this quantile of "
                          "the layer's positive activations (the seed's topMin = 0.11 on ResNet-50)"),
    "bottom_quantile": Param(0.5, float, min=0, max=1, doc="the required ratio is Q+(top_quantile) / "
                             "Q(bottom_quantile) of the layer (the seed's minMaxRatioMin = 1e4)"),
    "eps_quantile": Param(0.05, float, min=0, max=1, doc="floor of the ratio's denominators: this quantile of "
                          "the layer's positive activations (ReLU zeros would make the ratio infinite)"),
    "top_min": Param(None, float, none_ok=True, doc="an absolute top-group minimum instead of top_quantile "
                     "(the seed: 0.11)"),
    "min_ratio": Param(None, float, min=0, none_ok=True, doc="an absolute ratio instead of the quantile one "
                       "(the seed: 1e4)"),
}

# What a participant sees in each condition (sec. 5.1.2): kind, and how many of it.
CONDITIONS = {
    "fv": {"title": "feature visualization only", "shown": [("fv_noise", 0)]},
    "examples": {"title": "dataset examples only",
                 "shown": [("example", 0), ("example", 1), ("example", 2), ("example", 3)]},
    "both": {"title": "dataset examples and feature visualizations",
             "shown": [("example", 0), ("example", 1), ("fv_noise", 0), ("fv_dataset", 0)]},
}
N_OPTIONS, N_ANSWERS = 9, 3
SHOWN_EXAMPLES = 4  # top-ranked images reserved for display (never options)
RESPONSE_KIND = "tfinterp-imetric-responses"
KEY_KIND = "tfinterp-imetric-key"


@dataclass
class Admissibility:
    """Per-neuron admissibility (Baek et al. sec. 5.1.3, restated as layer quantiles): ``ok``
    [C] bool, ``top_min`` / ``bottom_max`` / ``ratio`` [C], ``bottom_zero`` [C] (the bottom
    group is all <= 0), ``top`` [C, top_k] and ``bottom`` [C, bottom_k] image indices (top:
    highest first; bottom: lowest first; ties to the lower index), and the ``thresholds``
    in force (resolved to activation values) with the ``criteria`` that produced them."""

    ok: np.ndarray
    top_min: np.ndarray
    bottom_max: np.ndarray
    ratio: np.ndarray
    bottom_zero: np.ndarray
    top: np.ndarray
    bottom: np.ndarray
    thresholds: dict
    criteria: dict
    n: int = 0
    meta: dict = field(default_factory=dict)

    @property
    def neurons(self) -> list[int]:
        """The admissible channels, ascending."""
        return [int(c) for c in np.flatnonzero(self.ok)]

    def to_dict(self) -> dict:
        def r(v):
            return [None if not math.isfinite(float(x)) else round(float(x), 6) for x in v]

        return {"criteria": self.criteria, "thresholds": self.thresholds, "images": self.n,
                "channels": int(len(self.ok)), "admissible": self.neurons,
                "count": int(self.ok.sum()), "top_min": r(self.top_min), "bottom_max": r(self.bottom_max),
                "ratio": r(self.ratio), "bottom_zero": [int(c) for c in np.flatnonzero(self.bottom_zero)],
                **self.meta}


def admissible_neurons(activations, **criteria) -> Admissibility:
    """Which neurons make fair quiz questions (Baek et al. sec. 5.1.3), from `activations`
    [N images, C neurons] (a channel's map reduced to one number per image). `criteria` are
    the `CRITERIA` table (quantiles of the layer's activations by default; see the module
    docstring for the rules and the ReLU-zero floor)."""
    c = resolve(CRITERIA, criteria, owner="imetric")
    a = np.asarray(activations, np.float64)
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise UserError(f"activations must be a non-empty [images, neurons] matrix, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise UserError("activations hold NaN or infinite values; the model's layer output is not finite")
    n, C = a.shape
    tk, bk = c["top_k"], c["bottom_k"]
    if tk + bk > n:
        raise UserError(f"top_k + bottom_k = {tk + bk} is more than the {n} images; use more images "
                        f"(--images) or smaller groups")
    order = np.argsort(-a, axis=0, kind="stable")          # highest first, ties to the lower index
    top = order[:tk].T                                      # [C, tk]
    asc = np.argsort(a, axis=0, kind="stable")              # lowest first, ties to the lower index
    bottom = asc[:bk].T                                     # [C, bk]
    cols = np.arange(C)[:, None]
    top_min = a.T[cols, top].min(axis=1)
    bottom_max = a.T[cols, bottom].max(axis=1)
    flat = a.ravel()
    pos = flat[flat > 0]
    eps = float(np.quantile(pos, c["eps_quantile"])) if pos.size else float(np.finfo(np.float32).tiny)
    # the top threshold is a quantile of the *firing* activations: in a sparse ReLU layer most
    # values are exact zeros, and a quantile over all of them would be 0 and admit anything
    q_top = float(np.quantile(pos, c["top_quantile"])) if pos.size else 0.0
    q_bottom = float(np.quantile(flat, c["bottom_quantile"]))
    need_top = float(c["top_min"]) if c["top_min"] is not None else q_top
    need_ratio = (float(c["min_ratio"]) if c["min_ratio"] is not None
                  else max(q_top, 0.0) / max(q_bottom, eps))
    ratio = np.where(top_min > 0, top_min / np.maximum(bottom_max, eps), 0.0)
    bottom_zero = bottom_max <= 0
    # a top group at the threshold passes (>=); a neuron that never fires (top_min <= 0) never does
    ok = (top_min >= need_top) & (top_min > 0) & (ratio >= need_ratio) & (top_min > bottom_max)
    thresholds = {"top_min": need_top, "min_ratio": need_ratio, "eps": eps,
                  "q_top": q_top, "q_bottom": q_bottom,
                  "top_min_from": "absolute" if c["top_min"] is not None else
                  f"quantile {c['top_quantile']:g} of the positive activations",
                  "min_ratio_from": "absolute" if c["min_ratio"] is not None else
                  f"Q+({c['top_quantile']:g}) / max(Q({c['bottom_quantile']:g}), eps)",
                  "eps_from": f"quantile {c['eps_quantile']:g} of the {pos.size} positive activations"}
    return Admissibility(ok=ok, top_min=top_min, bottom_max=bottom_max, ratio=ratio, bottom_zero=bottom_zero,
                         top=top.astype(np.int64), bottom=bottom.astype(np.int64), thresholds=thresholds,
                         criteria=c, n=n)


@dataclass
class Question:
    """One quiz question about neuron ``neuron``: the 9 ``options`` (image indices, shuffled),
    which of them are ``answers`` (3 image indices from the top group), the ``examples``
    shown as dataset examples (the top-ranked images, never options), and ``fv_start`` (the
    dataset example the Madry-style visualization starts from)."""

    question: int
    neuron: int
    options: list
    answers: list
    examples: list
    fv_start: int

    def correct_positions(self) -> list[int]:
        return [i for i, o in enumerate(self.options) if o in set(self.answers)]

    def to_dict(self) -> dict:
        return {"question": self.question, "neuron": self.neuron, "options": list(self.options),
                "answers": list(self.answers), "correct_positions": self.correct_positions(),
                "examples": list(self.examples), "fv_start": self.fv_start}


def make_questions(adm: Admissibility, neurons, seed: int = 0, n_answers: int = N_ANSWERS,
                   n_options: int = N_OPTIONS, shown: int = SHOWN_EXAMPLES) -> list[Question]:
    """One question per neuron of `neurons` (Baek et al. sec. 5.1.3): `n_answers` options
    drawn from the neuron's top group below its `shown` top-ranked images (those are the
    dataset examples the page shows), `n_options - n_answers` from its bottom group, shuffled;
    each question's draws are seeded by (`seed`, neuron) so adding a neuron changes no other
    question."""
    top_k, bottom_k = adm.top.shape[1], adm.bottom.shape[1]
    n_wrong = n_options - n_answers
    if top_k < shown + n_answers:
        raise UserError(f"top_k={top_k} leaves fewer than {n_answers} answers after the {shown} shown examples")
    if bottom_k < n_wrong:
        raise UserError(f"bottom_k={bottom_k} is fewer than the {n_wrong} distractors a question needs")
    out = []
    for q, c in enumerate(int(v) for v in neurons):
        if not 0 <= c < len(adm.ok):
            raise UserError(f"neuron {c} is out of range: the layer has {len(adm.ok)} channels (0..{len(adm.ok) - 1})")
        rng = np.random.default_rng([int(seed), c])
        top, bottom = adm.top[c], adm.bottom[c]
        answers = [int(v) for v in rng.choice(top[shown:], size=n_answers, replace=False)]
        wrong = [int(v) for v in rng.choice(bottom, size=n_wrong, replace=False)]
        options = answers + wrong
        rng.shuffle(options)
        out.append(Question(question=q, neuron=c, options=[int(v) for v in options], answers=answers,
                            examples=[int(v) for v in top[:shown]], fv_start=int(top[0])))
    return out


def chance_distribution(n_options: int = N_OPTIONS, n_correct: int = N_ANSWERS, picks: int = N_ANSWERS) -> dict:
    """Hits of `picks` random picks among `n_options` with `n_correct` answers: the
    hypergeometric P(k) for k = 0..picks and its mean (1 for 3 of 9 with 3 answers)."""
    from fractions import Fraction

    total = math.comb(n_options, picks)
    p = [Fraction(math.comb(n_correct, k) * math.comb(n_options - n_correct, picks - k), total)
         for k in range(picks + 1)]
    mean = sum(k * v for k, v in enumerate(p))
    var = sum(k * k * v for k, v in enumerate(p)) - mean ** 2
    return {"p": [float(v) for v in p], "mean": float(mean), "var": float(var)}


def machine_picks(shown_features, option_features, k: int = N_ANSWERS, reduce: str = "max") -> list[int]:
    """A scripted participant: the positions of the `k` options whose features are nearest
    (cosine similarity; `reduce` = ``max`` or ``mean`` over the shown images) to the shown
    images' features. Ties go to the lower position."""
    s = np.asarray(shown_features, np.float64).reshape(len(shown_features), -1)
    o = np.asarray(option_features, np.float64).reshape(len(option_features), -1)
    if s.shape[1] != o.shape[1]:
        raise UserError(f"shown and option features differ in size ({s.shape[1]} vs {o.shape[1]})")
    if reduce not in ("max", "mean"):
        raise UserError(f"reduce must be max or mean, got '{reduce}'")

    def unit(v):
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)

    sim = unit(o) @ unit(s).T                     # [options, shown]
    score = sim.max(axis=1) if reduce == "max" else sim.mean(axis=1)
    return [int(i) for i in np.argsort(-score, kind="stable")[:k]]


# ---- scoring -------------------------------------------------------------------------------

def check_key(key) -> dict:
    """The answer key written by `tfinterp imetric build` (``key.json``), checked."""
    if not isinstance(key, dict) or key.get("kind") != KEY_KIND or not isinstance(key.get("questions"), list):
        raise UserError("not an I-metric answer key (key.json of `tfinterp imetric build`)")
    return key


def check_response(doc, name: str = "response") -> dict:
    """A response document (the page's download, or the machine participant's), checked:
    one line naming the problem when it is malformed."""
    if not isinstance(doc, dict) or doc.get("kind") != RESPONSE_KIND:
        raise UserError(f"{name} is not an I-metric response file (no \"kind\": \"{RESPONSE_KIND}\")")
    if doc.get("condition") not in CONDITIONS:
        raise UserError(f"{name}: condition must be one of {', '.join(CONDITIONS)}, got {doc.get('condition')!r}")
    if not isinstance(doc.get("answers"), list):
        raise UserError(f"{name}: 'answers' must be a list")
    for a in doc["answers"]:
        if not isinstance(a, dict) or not isinstance(a.get("question"), int) or isinstance(a.get("question"), bool):
            raise UserError(f"{name}: every answer needs an integer 'question'")
        picked = a.get("picked")
        if (not isinstance(picked, list) or not all(isinstance(p, int) and not isinstance(p, bool) for p in picked)):
            raise UserError(f"{name}: question {a['question']}: 'picked' must be a list of option positions")
        if len(set(picked)) != len(picked):
            raise UserError(f"{name}: question {a['question']}: an option is picked twice")
        if len(picked) > N_ANSWERS:
            raise UserError(f"{name}: question {a['question']}: {len(picked)} picks, at most {N_ANSWERS} allowed")
    return doc


def score_response(key: dict, doc: dict, name: str = "response") -> dict:
    """One participant's I-metric (Baek et al. sec. 5.1.1): per question the number of picks
    among the 3 answers; the total (out of 3 x questions) and its rate. A question left
    unanswered scores 0 and is counted in ``unanswered``."""
    check_key(key)
    check_response(doc, name)
    if key.get("build") and doc.get("build") and key["build"] != doc["build"]:
        raise UserError(f"{name} answers another quiz (build {doc['build']}) than the key (build {key['build']})")
    qs = {int(q["question"]): q for q in key["questions"]}
    hits = {}
    for a in doc["answers"]:
        q = qs.get(a["question"])
        if q is None:
            raise UserError(f"{name}: question {a['question']} is not in the quiz (0..{len(qs) - 1})")
        n_opt = len(q["options"])
        bad = [p for p in a["picked"] if not 0 <= p < n_opt]
        if bad:
            raise UserError(f"{name}: question {a['question']}: option {bad[0]} is out of range 0..{n_opt - 1}")
        if a["question"] in hits:
            raise UserError(f"{name}: question {a['question']} is answered twice")
        hits[a["question"]] = len(set(a["picked"]) & set(q["correct_positions"]))
    per_q = [hits.get(i, 0) for i in sorted(qs)]
    total = sum(per_q)
    return {"participant": str(doc.get("participant") or name), "condition": doc["condition"],
            "hits": per_q, "total": total, "max": N_ANSWERS * len(per_q),
            "rate": total / (N_ANSWERS * len(per_q)) if per_q else None,
            "unanswered": len(qs) - len(hits)}


def summarize(scores: list[dict], questions: int) -> dict:
    """Per condition: participants, mean / min / max total hits, mean rate, the per-question
    hit counts pooled, and the chance level (1 hit per question, rate 1/3)."""
    chance = chance_distribution()
    out = {}
    for cond in CONDITIONS:
        s = [r for r in scores if r["condition"] == cond]
        if not s:
            continue
        totals = np.array([r["total"] for r in s], np.float64)
        pooled = np.bincount(np.concatenate([r["hits"] for r in s]).astype(int), minlength=N_ANSWERS + 1)
        out[cond] = {"title": CONDITIONS[cond]["title"], "participants": len(s),
                     "mean_total": float(totals.mean()), "min_total": float(totals.min()),
                     "max_total": float(totals.max()), "max": N_ANSWERS * questions,
                     "mean_rate": float(totals.mean() / (N_ANSWERS * questions)) if questions else None,
                     "hits_per_question": pooled.tolist(),
                     "chance_total": chance["mean"] * questions, "chance_rate": chance["mean"] / N_ANSWERS}
    return out
