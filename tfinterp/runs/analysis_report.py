"""`tfinterp analyze report`: every representation analysis of Dong et al. 2017 on one model, in
one static HTML page (the adversarial set, dataset examples with discrepancy maps, LC, CS1 /
CS2 against LC, r1 / r2, the detector on the last conv layer, prediction-difference tracing).

Each part is the run function of its own command (`tfinterp.runs.analysis`,
`tfinterp.runs.analysis_lc`), writing into its own sub-folder; the page links their figures
and tabulates their numbers, and opens from ``file://`` (no server, no script).
"""

from __future__ import annotations

import html
import os
from pathlib import Path

from tfinterp.errors import UserError

FOLDERS = {"adversarial set": "adversarial_set", "dataset examples": "dataset_examples", "LC": "lc",
           "CS1 / CS2": "consistency", "r1 / r2": "ratios", "detector": "detect", "tracing": "trace"}


def run_report(model_spec, dataset="fashion_mnist", layer="last_conv", adversarial_set=None, limit=500, k=3,
               attack="pgd", eps=0.2, steps=20, q=1.0, mapping=None, sigmas=(1.0, 2.0), bank_limit=2000,
               fit_limit=10000, successful_only=True, batch_size=256, out=None,
               unsafe_deserialization=False) -> dict:
    """Run every analysis on `model_spec` into `out/<part>/` and write `out/report.html` and
    `out/report.json`. Without `adversarial_set`, one is made first (the first `limit` test
    images, `k` least-likely targets, `attack` with `eps` / `steps`). r1 / r2 and the detector
    use the set's successful images (`successful_only`; False: every one). Returns the summary."""
    from tfinterp.runs.analysis import run_adversarial_set, run_detect, run_ratios, run_trace
    from tfinterp.runs.analysis_lc import run_consistency, run_dataset_examples, run_lc
    from tfinterp.utils import atomic_path, write_json

    if out is None:
        raise UserError("give an output folder (--out)")
    out = Path(out)
    common = {"unsafe_deserialization": unsafe_deserialization, "batch_size": batch_size}
    parts = {}
    if adversarial_set is None:
        parts["adversarial set"] = run_adversarial_set(model_spec, dataset=dataset, split="test", limit=limit, k=k,
                                                       attack=attack, eps=eps, steps=steps,
                                                       out=out / FOLDERS["adversarial set"], **common)
        adversarial_set = out / "adversarial_set" / "adversarial_set.npz"
    parts["dataset examples"] = run_dataset_examples(model_spec, dataset, layer, q=q, adversarial_set=adversarial_set,
                                                     out=out / FOLDERS["dataset examples"], **common)
    parts["LC"] = run_lc(model_spec, dataset, layer, q=q, mapping=mapping, sigmas=sigmas, out=out / FOLDERS["LC"],
                         **common)
    parts["CS1 / CS2"] = run_consistency(model_spec, adversarial_set, layer, q=q, mapping=mapping, sigmas=sigmas,
                                         out=out / FOLDERS["CS1 / CS2"], **common)
    parts["r1 / r2"] = run_ratios(model_spec, adversarial_set, layer=layer, bank_limit=bank_limit,
                                  successful_only=successful_only, out=out / FOLDERS["r1 / r2"], **common)
    parts["detector"] = run_detect(model_spec, adversarial_set, layer=layer, fit_limit=fit_limit,
                                   successful_only=successful_only, out=out / FOLDERS["detector"], **common)
    parts["tracing"] = run_trace(model_spec, adversarial_set=adversarial_set, layer=layer, bank_limit=bank_limit,
                                 out=out / FOLDERS["tracing"], **common)
    summary = {"model": str(model_spec), "dataset": dataset, "layer": layer,
               "adversarial_set": str(adversarial_set), "numbers": _numbers(parts),
               "figures": {name: [os.path.relpath(f, out) for f in sorted((out / FOLDERS[name]).glob("*.png"))]
                           for name in parts}}
    write_json(out / "report.json", summary)
    with atomic_path(out / "report.html") as tmp:
        Path(tmp).write_text(_page(summary))
    summary["page"] = str(out / "report.html")
    return summary


def _numbers(parts) -> dict:
    """The headline scalar of each part (those that have one)."""
    keys = {"adversarial set": ("success_rate", "clean_accuracy", "mean_linf"),
            "r1 / r2": ("mean_r1", "mean_r2", "n"), "detector": ("auc", "natural", "adversarial")}
    nums = {name: {k: parts[name].get(k) for k in ks} for name, ks in keys.items() if name in parts}
    for name in ("LC", "CS1 / CS2"):
        nums[name] = {str(s): {k: v for k, v in d.items() if isinstance(v, (int, float))}
                      for s, d in parts[name]["sigmas"].items()}
    return nums


def _page(summary: dict) -> str:
    esc = html.escape
    rows = []
    for name, nums in summary["numbers"].items():
        cells = ", ".join(f"{esc(str(k))} {_fmt(v)}" for k, v in nums.items())
        rows.append(f"<tr><th>{esc(name)}</th><td>{cells}</td></tr>")
    sections = []
    for name, figs in summary["figures"].items():
        imgs = "".join(f'<a href="{esc(f)}"><img src="{esc(f)}" alt="{esc(name)}"></a>' for f in figs)
        sections.append(f"<section><h2>{esc(name)}</h2>{imgs or '<p>(no figure)</p>'}</section>")
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>tfinterp analysis report: {esc(summary['model'])}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1400px}} img{{max-width:100%;border:1px solid #ccc;margin:4px}}
table{{border-collapse:collapse}} th,td{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}</style>
</head><body>
<h1>Representation analysis (Dong et al. 2017)</h1>
<p>Model <code>{esc(summary['model'])}</code>, data set <code>{esc(summary['dataset'])}</code>, layer
<code>{esc(summary['layer'])}</code>, adversarial set <code>{esc(summary['adversarial_set'])}</code>.</p>
<table>{''.join(rows)}</table>
{''.join(sections)}
</body></html>
"""


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items()) + "}"
    return html.escape(str(v))
