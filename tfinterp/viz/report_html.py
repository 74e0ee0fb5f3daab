"""Static HTML pages of Baek, Jang & Cho ("Can we interpret the black box?"): the neuron report
(sec. 4.2, Fig. 3) and the I-metric quiz (sec. 5, Figs. 5-6), plus the I-metric histogram
(Fig. 8).

Plain HTML / CSS / JavaScript, no server and no network: the pages open from ``file://``.
Images are PNG files in an ``img/`` folder beside the page. This module draws what it is
given (arrays and numbers); it imports NumPy, Pillow-free PNG writing (`viz.overlay`) and
matplotlib for the histogram, nothing above the kit.

The neuron report, per neuron: its panels (the seed: 2 dataset examples, 2 feature
visualizations), each shown as a Grid-CAM view at one of 4 crop sizes chosen by the panel's
slider (a page-wide slider moves them all); hovering a panel shows the original image. Every
view carries ``data-level`` and ``data-view`` (``gridcam`` / ``original``) so a browser test
can see what is displayed.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from tfinterp.utils import atomic_path
from tfinterp.viz.overlay import _enlarge, _image_rgb, heat_rgb, write_figure

DISPLAY = 192  # panels are enlarged (nearest neighbour) to about this many pixels


def _scale(image) -> int:
    h, w = np.asarray(image).shape[:2]
    return max(1, DISPLAY // max(h, w))


def _write_png(path: Path, rgb) -> str:
    write_figure(path, _enlarge(np.clip(np.asarray(rgb, np.float32), 0, 1), _scale(rgb)))
    return path.name


def _write_text(path: Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return Path(path)


_STYLE = """
body { font-family: sans-serif; color: #222; margin: 1.2em auto; max-width: 1100px; }
h1 { font-size: 1.35em; } h2 { font-size: 1.1em; margin-top: 1.4em; }
.panels { display: flex; flex-wrap: wrap; gap: 18px; }
.panel { border: 1px solid #ccc; border-radius: 4px; padding: 8px; width: 212px; background: #fafafa; }
.panel .title { font-weight: bold; font-size: 0.85em; min-height: 2.4em; }
.panel img.view { width: 196px; height: 196px; image-rendering: pixelated; cursor: crosshair;
                  border: 2px solid transparent; }
.panel img.view[data-view="original"] { border-color: #48c; }
.panel .caption { font-size: 0.78em; color: #555; }
.panel input[type=range] { width: 190px; }
.controls { background: #eef; padding: 6px 10px; border-radius: 4px; margin: 0.8em 0; font-size: 0.9em; }
table.index { border-collapse: collapse; font-size: 0.85em; }
table.index td, table.index th { border: 1px solid #ddd; padding: 4px 8px; text-align: center; }
table.index img { width: 64px; height: 64px; image-rendering: pixelated; }
.nav { margin: 0.6em 0; } .nav a { margin-right: 1em; }
.note { font-size: 0.8em; color: #555; max-width: 900px; }
"""

_REPORT_JS = """
function views() { return Array.from(document.querySelectorAll('img.view')); }
function levelsOf(img) { return JSON.parse(img.dataset.levels); }
function show(img) {
  const lv = parseInt(img.dataset.level, 10);
  if (img.dataset.view === 'original') { img.src = img.dataset.original; }
  else { img.src = levelsOf(img)[lv - 1]; }
  const cap = document.getElementById(img.id + '-caption');
  if (cap) {
    const sizes = JSON.parse(img.dataset.sizes);
    cap.textContent = img.dataset.view === 'original' ? 'original image (hover)' :
      'Grid-CAM level ' + lv + ': crops of ' + sizes[lv - 1] + ' of ' + img.dataset.grid + ' cells';
  }
}
function setLevel(img, v) { img.dataset.level = String(v); show(img); }
function setAll(v) {
  views().forEach(img => setLevel(img, v));
  document.querySelectorAll('input.level').forEach(s => { s.value = v; });
  document.getElementById('all-level-value').textContent = v;
}
function setOriginals(on) {
  views().forEach(img => { img.dataset.view = on ? 'original' : 'gridcam'; show(img); });
}
window.addEventListener('DOMContentLoaded', () => {
  views().forEach(img => {
    img.addEventListener('mouseenter', () => { img.dataset.view = 'original'; show(img); });
    img.addEventListener('mouseleave', () => {
      if (!document.getElementById('originals').checked) { img.dataset.view = 'gridcam'; show(img); }
    });
  });
  document.querySelectorAll('input.level').forEach(s => {
    s.addEventListener('input', () => setLevel(document.getElementById(s.dataset.target), s.value));
  });
  const all = document.getElementById('all-level');
  all.addEventListener('input', () => setAll(all.value));
  document.getElementById('originals').addEventListener('change', e => setOriginals(e.target.checked));
});
"""


def write_neuron_report(out, neurons: list[dict], layer: str, model: str, grid: int, sizes, notes: str = "",
                        extra: dict | None = None) -> dict:
    """Write the neuron report of Baek et al. (sec. 4.2) into folder `out`: ``neuron_<c>.html``
    per neuron, ``index.html`` for the layer, PNGs in ``img/``.

    `neurons`: one dict per neuron with ``channel`` (int), ``panels`` (a list of dicts with
    ``title``, ``image`` [H, W, C] in [0, 1], ``maps`` (one [H, W] map in [0, 1] per crop
    size, drawn over the image), optional ``caption``) and optional ``stats`` (name -> value,
    shown on the page and in the index). `grid` and `sizes` describe the Grid-CAM levels
    (crop sizes in cells). Returns {"index": path, "pages": [paths]}.
    """
    out = Path(out)
    img_dir = out / "img"
    sizes = [int(s) for s in sizes]
    esc = html.escape
    pages, rows = [], []
    chans = [int(n["channel"]) for n in neurons]
    for i, n in enumerate(neurons):
        c = int(n["channel"])
        cards = []
        for j, p in enumerate(n["panels"]):
            base = f"c{c}_p{j}"
            orig = _write_png(img_dir / f"{base}.png", _image_rgb(p["image"]))
            levels = [_write_png(img_dir / f"{base}_l{k + 1}.png", heat_rgb(p["image"], m, alpha=0.45))
                      for k, m in enumerate(p["maps"])]
            if len(levels) != len(sizes):
                raise ValueError(f"panel {j} of neuron {c} has {len(levels)} maps for {len(sizes)} crop sizes")
            lv = [f"img/{name}" for name in levels]
            vid = f"view{j}"
            cards.append(
                f'<div class="panel"><div class="title">{esc(p["title"])}</div>'
                f'<img class="view" id="{vid}" alt="{esc(p["title"])}" src="{lv[0]}" data-level="1" '
                f'data-view="gridcam" data-original="img/{orig}" data-levels=\'{json.dumps(lv)}\' '
                f'data-sizes=\'{json.dumps(sizes)}\' data-grid="{grid}">'
                f'<br><input type="range" class="level" min="1" max="{len(sizes)}" step="1" value="1" '
                f'data-target="{vid}" aria-label="crop size of panel {j + 1}">'
                f'<div class="caption" id="{vid}-caption">Grid-CAM level 1: crops of {sizes[0]} of {grid} cells</div>'
                + (f'<div class="caption">{esc(p["caption"])}</div>' if p.get("caption") else "") + "</div>")
        stats = n.get("stats") or {}
        stat_txt = ", ".join(f"{esc(str(k))} {_fmt(v)}" for k, v in stats.items())
        prev_link = f'<a href="neuron_{chans[i - 1]}.html">&larr; neuron {chans[i - 1]}</a>' if i > 0 else ""
        next_link = (f'<a href="neuron_{chans[i + 1]}.html">neuron {chans[i + 1]} &rarr;</a>'
                     if i + 1 < len(chans) else "")
        page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(model)} {esc(layer)} neuron {c}</title>
<style>{_STYLE}</style></head><body>
<div class="nav"><a href="index.html">index of {esc(layer)}</a>{prev_link}{next_link}</div>
<h1>{esc(model)}: layer {esc(layer)}, neuron (channel) {c}</h1>
<p class="note">{stat_txt}</p>
<div class="controls">all panels: Grid-CAM crop size
<input type="range" id="all-level" min="1" max="{len(sizes)}" step="1" value="1" aria-label="crop size of all panels">
level <span id="all-level-value">1</span> &nbsp;
<label><input type="checkbox" id="originals"> show the original images</label>
&nbsp; (hover a panel to see its original image)</div>
<div class="panels">{''.join(cards)}</div>
<p class="note">{esc(notes)}</p>
<script>{_REPORT_JS}</script>
</body></html>
"""
        path = _write_text(out / f"neuron_{c}.html", page)
        pages.append(str(path))
        thumbs = "".join(f'<img src="img/c{c}_p{j}.png" alt="">' for j in range(len(n["panels"])))
        rows.append(f'<tr><td><a href="neuron_{c}.html">{c}</a></td><td>{thumbs}</td><td>{stat_txt}</td></tr>')
    extra_txt = "".join(f"<li>{esc(str(k))}: {esc(str(v))}</li>" for k, v in (extra or {}).items())
    index = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(model)} {esc(layer)}: neuron report</title>
<style>{_STYLE}</style></head><body>
<h1>Neuron report: {esc(model)}, layer {esc(layer)}</h1>
<p class="note">After Baek, Jang &amp; Cho, "Can we interpret the black box?" (sec. 4.2): per neuron, its
top dataset examples and feature visualizations with Grid-CAM views at {len(sizes)} crop sizes (a slider
switches them; hover shows the original image).</p>
<ul class="note">{extra_txt}</ul>
<table class="index"><tr><th>neuron</th><th>panels</th><th>numbers</th></tr>
{''.join(rows)}
</table>
<p class="note">{esc(notes)}</p>
</body></html>
"""
    index_path = _write_text(out / "index.html", index)
    return {"index": str(index_path), "pages": pages}


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return html.escape(str(v))


# ---- the I-metric quiz -----------------------------------------------------------------------

_QUIZ_STYLE = """
body { font-family: sans-serif; color: #222; margin: 1.2em auto; max-width: 980px; }
.question { border-top: 2px solid #ccc; padding-top: 0.6em; margin-top: 1.2em; }
.shown img { width: 160px; height: 160px; image-rendering: pixelated; margin: 4px; border: 1px solid #999; }
.shown figure { display: inline-block; margin: 0 6px; text-align: center; font-size: 0.75em; color: #555; }
.options { display: grid; grid-template-columns: repeat(3, 124px); gap: 8px; }
.options img { width: 116px; height: 116px; image-rendering: pixelated; border: 4px solid #ddd; cursor: pointer; }
.options img.picked { border-color: #d60; }
.status { font-size: 0.85em; color: #555; }
#result { width: 100%; height: 8em; font-family: monospace; font-size: 0.75em; }
"""

_QUIZ_JS = """
const picks = {};
function status(q) {
  const n = (picks[q] || []).length;
  document.getElementById('status-' + q).textContent = n + ' of 3 picked';
}
function toggle(img) {
  const q = parseInt(img.dataset.question, 10), o = parseInt(img.dataset.option, 10);
  const cur = picks[q] || [];
  const at = cur.indexOf(o);
  if (at >= 0) { cur.splice(at, 1); img.classList.remove('picked'); }
  else if (cur.length < 3) { cur.push(o); img.classList.add('picked'); }
  else { document.getElementById('status-' + q).textContent = '3 already picked: click one to unpick it'; return; }
  picks[q] = cur; status(q);
}
function responses() {
  return {kind: KIND, build: BUILD, condition: CONDITION, key_file: KEY_FILE,
          participant: document.getElementById('participant').value || 'anonymous',
          time: new Date().toISOString(),
          answers: QUESTIONS.map(q => ({question: q, picked: (picks[q] || []).slice().sort((a, b) => a - b)}))};
}
function submitAnswers() {
  const doc = responses();
  const text = JSON.stringify(doc, null, 1);
  document.getElementById('result').value = text;
  const link = document.getElementById('download');
  link.href = URL.createObjectURL(new Blob([text], {type: 'application/json'}));
  link.download = 'imetric_' + CONDITION + '_' + doc.participant.replace(/[^A-Za-z0-9_-]/g, '_') + '.json';
  link.style.display = 'inline';
  link.click();
}
window.addEventListener('DOMContentLoaded', () => {
  document.querySelectorAll('.options img').forEach(img => img.addEventListener('click', () => toggle(img)));
  QUESTIONS.forEach(status);
});
"""


def write_quiz_page(path, build: str, condition: str, title: str, questions: list[dict], kind: str,
                    key_file: str = "", intro: str = "") -> Path:
    """The I-metric test page of Baek et al. (sec. 5.1.2, Fig. 6) for one condition: per question
    the shown images (``shown``: a list of {"src", "caption"}) and 9 option images (``options``:
    srcs, relative to the page) in a 3 x 3 grid; the participant clicks 3 per question, and
    "submit" writes the answers as JSON into the page and downloads them (a Blob link, no
    server). `questions`: [{"question": int, "shown": [...], "options": [...]}]; `key_file`
    (the answer key's path) goes into the answers so the scorer finds it."""
    esc = html.escape
    blocks = []
    for q in questions:
        i = int(q["question"])
        shown = "".join(f'<figure><img src="{esc(s["src"])}" alt=""><figcaption>{esc(s.get("caption", ""))}'
                        f'</figcaption></figure>' for s in q["shown"])
        opts = "".join(f'<img src="{esc(src)}" alt="option {k + 1}" data-question="{i}" data-option="{k}" '
                       f'id="q{i}-o{k}">' for k, src in enumerate(q["options"]))
        blocks.append(f'<div class="question" id="question-{i}"><h2>Question {i + 1} of {len(questions)}</h2>'
                      f'<div class="shown">{shown}</div>'
                      f'<p>Which 3 of these 9 images contain most of the pattern above? '
                      f'<span class="status" id="status-{i}"></span></p><div class="options">{opts}</div></div>')
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>I-metric quiz: {esc(title)}</title>
<style>{_QUIZ_STYLE}</style></head><body>
<h1>What does this neuron detect? ({esc(title)})</h1>
<p>{esc(intro)}</p>
<p>Your name or initials: <input id="participant" size="14"></p>
{''.join(blocks)}
<p style="margin-top:2em"><button id="submit" onclick="submitAnswers()">submit and download the answers (JSON)</button>
<a id="download" style="display:none">download again</a></p>
<textarea id="result" readonly placeholder="your answers appear here after submit"></textarea>
<script>
const KIND = {json.dumps(kind)};
const BUILD = {json.dumps(build)};
const CONDITION = {json.dumps(condition)};
const KEY_FILE = {json.dumps(str(key_file))};
const QUESTIONS = {json.dumps([int(q["question"]) for q in questions])};
{_QUIZ_JS}
</script>
</body></html>
"""
    return _write_text(Path(path), page)


def write_quiz_index(path, build: str, pages: dict, titles: dict, note: str = "") -> Path:
    """An index of the quiz pages (one condition per participant, as in the seed)."""
    esc = html.escape
    items = "".join(f'<li><a href="{esc(Path(p).name)}">{esc(titles[c])}</a> ({esc(c)})</li>' for c, p in pages.items())
    return _write_text(Path(path), f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>I-metric quizzes</title><style>{_QUIZ_STYLE}</style></head>
<body><h1>I-metric quizzes (build {esc(build)})</h1><p>Each participant takes one condition only.</p>
<ul>{items}</ul><p>{esc(note)}</p></body></html>
""")


def write_image(path, image) -> str:
    """One image [H, W, C] in [0, 1] as a PNG enlarged for display; returns the file name."""
    return _write_png(Path(path), _image_rgb(image))


def save_imetric_histogram(path, scores: list[dict], summary: dict, questions: int, chance: dict) -> Path:
    """Baek et al. Fig. 8: per condition, the participants' I-metric (total hits out of 3 x
    questions) as a histogram, with the chance level; and the pooled hits per question (0..3)
    against the hypergeometric chance distribution."""
    from tfinterp.viz.figures import _plt, _save

    plt = _plt()
    conds = list(summary)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    top = 3 * questions
    colours = {"fv": "#d62728", "examples": "#1f77b4", "both": "#2ca02c"}
    for c in conds:
        totals = [s["total"] for s in scores if s["condition"] == c]
        axes[0].hist(totals, bins=np.arange(-0.5, top + 1.5, 1), alpha=0.55, color=colours.get(c),
                     label=f"{summary[c]['title']} (n={len(totals)}, mean {np.mean(totals):.1f})")
    level = chance["mean"] * questions
    axes[0].axvline(level, color="k", ls="--", lw=1, label=f"chance ({level:g})")
    axes[0].set_xlabel(f"I-metric: answers found (of {top})")
    axes[0].set_ylabel("participants")
    axes[0].set_xlim(-0.5, top + 0.5)
    axes[0].legend(fontsize=7, loc="upper left")
    width = 0.8 / (len(conds) + 1)
    ks = np.arange(4)
    for i, c in enumerate(conds):
        h = np.asarray(summary[c]["hits_per_question"], np.float64)
        axes[1].bar(ks + i * width, h / max(h.sum(), 1), width, color=colours.get(c), label=summary[c]["title"])
    axes[1].bar(ks + len(conds) * width, chance["p"], width, color="#999", label="chance (3 of 9 at random)")
    axes[1].set_xticks(ks + width * len(conds) / 2, [str(k) for k in ks])
    axes[1].set_xlabel("answers found in one question")
    axes[1].set_ylabel("fraction of questions")
    axes[1].legend(fontsize=7)
    fig.suptitle("I-metric (Baek et al.): picks among the 3 top-activating options of 9")
    fig.tight_layout()
    return Path(_save(fig, path))
