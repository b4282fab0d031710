"""``index.html``: the lesson as a page that works offline and on any static host.

Everything the page needs is in the lesson folder or inside the page itself:
the video, its poster, the captions (as a file and, because browsers refuse
to load caption files from file:// pages, also inline), chapters that seek,
a step-through mode that pauses at the end of each step, and the numbers the
manifest records. No script, style or font is fetched from anywhere.
"""

from __future__ import annotations

import html
import json
from typing import Any
from urllib.parse import quote

STYLE = """
:root { color-scheme: light dark; --accent: #b35900; --muted: #5f5f5f; --line: #d0d0d0; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 "DejaVu Sans", system-ui, sans-serif; color: #1e1e1e;
       background: #fafafa; }
main { max-width: 1000px; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.6rem; margin: 0.2rem 0; }
.meta { color: var(--muted); display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; }
.meta img { width: 64px; height: 64px; image-rendering: pixelated; border: 1px solid var(--line); }
video { width: 100%; background: #000; border-radius: 4px; }
.controls { display: flex; gap: 0.5rem; align-items: center; flex-wrap: wrap; margin: 0.5rem 0; }
button { font: inherit; padding: 0.35rem 0.8rem; border: 1px solid #888; border-radius: 4px;
         background: #fff; color: #1e1e1e; cursor: pointer; }
button:focus-visible, input:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
#status { color: var(--muted); }
.layout { display: grid; grid-template-columns: 1fr; gap: 1rem; }
@media (min-width: 900px) { .layout { grid-template-columns: 2fr 1fr; } }
nav ol { list-style: none; padding: 0; margin: 0; }
nav li button { width: 100%; text-align: left; margin: 0.15rem 0; display: flex;
                justify-content: space-between; gap: 0.5rem; }
nav li button[aria-current="true"] { border-color: var(--accent); border-width: 2px;
                                     font-weight: bold; }
.time { color: var(--muted); font-variant-numeric: tabular-nums; }
section.step { border-top: 1px solid var(--line); padding: 0.5rem 0; }
section.step h3 { margin: 0.2rem 0; font-size: 1.05rem; }
table { border-collapse: collapse; font-size: 0.9rem; }
td, th { padding: 0.1rem 0.6rem; text-align: left; border-bottom: 1px solid var(--line); }
.files a { margin-right: 1rem; }
"""

SCRIPT = r"""
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("lesson-data").textContent);
  const video = document.getElementById("video");
  const trackEl = document.getElementById("captions-track");
  const status = document.getElementById("status");
  const stepToggle = document.getElementById("step-mode");
  const starts = data.steps.map((s) => s.start);
  const ends = data.steps.map((s) => s.start + s.duration);
  const EPS = 0.002;
  // A pause at a step's end shows its last frame: half a frame before the boundary.
  const BEFORE_END = 0.5 / data.fps;
  let stopAt = null;
  let lastSeen = null;  // playback and wall-clock time at watch()'s previous frame

  // Caption files do not load into file:// pages; the same cues are inline.
  function addInlineCues() {
    const track = trackEl.track;
    if (track.cues && track.cues.length) { return; }
    for (const c of data.cues) { track.addCue(new VTTCue(c.start, c.end, c.text)); }
    track.mode = data.burned ? "hidden" : "showing";
  }
  trackEl.addEventListener("error", addInlineCues);
  if (trackEl.readyState === 3 || location.protocol === "file:") { addInlineCues(); }
  // Captions burned into the picture are not shown a second time.
  trackEl.track.mode = data.burned ? "hidden" : "showing";

  function stepAt(t) {
    let index = 0;
    for (let i = 0; i < starts.length; i++) { if (t + EPS >= starts[i]) { index = i; } }
    return index;
  }
  function fmt(t) {
    const m = Math.floor(t / 60), s = Math.floor(t % 60);
    return m + ":" + String(s).padStart(2, "0");
  }
  function say(text) { status.textContent = text; }

  function seek(t, play) {
    video.currentTime = t;
    stopAt = stepToggle.checked ? ends[stepAt(t)] : null;
    if (play) { video.play(); }
  }
  function next() {
    const i = stepAt(video.currentTime);
    if (i + 1 < starts.length) {
      seek(starts[i + 1], true);
      say("Step " + (i + 2) + " of " + starts.length + ": " + data.steps[i + 1].title);
    }
  }
  function previous() {
    const i = stepAt(video.currentTime);
    const target = video.currentTime - starts[i] > 1 || i === 0 ? i : i - 1;
    seek(starts[target], true);
    say("Step " + (target + 1) + " of " + starts.length + ": " + data.steps[target].title);
  }
  document.getElementById("next").addEventListener("click", next);
  document.getElementById("previous").addEventListener("click", previous);
  stepToggle.addEventListener("change", () => {
    stopAt = stepToggle.checked ? ends[stepAt(video.currentTime)] : null;
    say(stepToggle.checked ? "Step-through on: the video pauses after each step."
                           : "Step-through off.");
  });
  // A seek with the video's own controls: the next pause is at the new step's end.
  function reaim() {
    if (stepToggle.checked && !video.paused) { stopAt = ends[stepAt(video.currentTime)]; }
  }
  video.addEventListener("seeking", reaim);
  video.addEventListener("seeked", reaim);
  video.addEventListener("play", () => {
    if (stepToggle.checked) {
      const i = stepAt(video.currentTime);
      stopAt = video.currentTime >= ends[i] - BEFORE_END - EPS && i + 1 < ends.length
        ? ends[i + 1] : ends[i];
    }
  });
  // Checked every animation frame, so the pause lands on the step's last frame.
  function watch() {
    // A jump since the last frame is a seek (its events may not have arrived
    // yet): aim at the new step's end instead of pulling the video back.
    const now = video.currentTime, wall = performance.now() / 1000;
    if (stopAt !== null && !video.paused && lastSeen !== null) {
      const expected = (wall - lastSeen.wall) * video.playbackRate;
      if (Math.abs(now - lastSeen.t - expected) > 0.3 + 0.5 * expected) {
        stopAt = ends[stepAt(now)];
      }
    }
    lastSeen = {t: now, wall: wall};
    if (stopAt !== null && !video.paused && video.currentTime >= stopAt - BEFORE_END) {
      video.pause();
      video.currentTime = stopAt - BEFORE_END;
      const i = stepAt(video.currentTime);
      say("Paused at the end of step " + (i + 1) + " of " + starts.length +
          ". Press Next (or N) to go on.");
      stopAt = null;
    }
    requestAnimationFrame(watch);
  }
  requestAnimationFrame(watch);

  const chapterButtons = Array.from(document.querySelectorAll("nav button[data-start]"));
  chapterButtons.forEach((b) => b.addEventListener("click", () => {
    seek(parseFloat(b.dataset.start), true);
    say("Chapter: " + b.dataset.title);
  }));
  video.addEventListener("timeupdate", () => {
    const t = video.currentTime;
    chapterButtons.forEach((b) => {
      const on = t + EPS >= parseFloat(b.dataset.start) && t < parseFloat(b.dataset.end) - EPS;
      b.setAttribute("aria-current", on ? "true" : "false");
    });
  });
  document.addEventListener("keydown", (e) => {
    if (e.target instanceof HTMLInputElement || e.altKey || e.ctrlKey || e.metaKey) { return; }
    if (e.key === "n") { next(); e.preventDefault(); }
    else if (e.key === "p") { previous(); e.preventDefault(); }
    else if (e.key === "s") { stepToggle.click(); e.preventDefault(); }
  });
  document.querySelectorAll(".time[data-t]").forEach((el) => {
    el.textContent = fmt(parseFloat(el.dataset.t));
  });
})();
"""


def _inline_json(data: Any) -> str:
    """JSON safe inside a <script> element: no "<" at all, so no "</script" or "<!--"."""
    text = json.dumps(data, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _url(path: str) -> str:
    """A relative file name as an attribute value: URL-encoded, then HTML-escaped."""
    return html.escape(quote(path))


def _numbers_table(step: dict[str, Any], limit: int = 12) -> str:
    values = step.get("values") or []
    if not values:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(v['layer'])}[{', '.join(str(i) for i in v['index'])}]</td>"
        f"<td>{html.escape(v['kind'])}</td><td>{html.escape(v['text'])}</td></tr>"
        for v in values[:limit]
    )
    more = (
        f"<p>… and {len(values) - limit:,} more in manifest.json</p>" if len(values) > limit else ""
    )
    return (
        f"<details><summary>{len(values):,} numbers shown on screen</summary>"
        f"<table><thead><tr><th>where</th><th>what</th><th>shown</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>{more}</details>"
    )


def render_page(manifest: dict[str, Any], cues: list[dict[str, Any]]) -> str:
    """The page's HTML for a lesson folder described by ``manifest``."""
    title = html.escape(manifest["title"])
    files = manifest["files"]
    steps = manifest["steps"]
    model = manifest.get("model", {})
    prediction = manifest.get("prediction")
    meta = []
    if model:
        meta.append(f"<span>Model: <strong>{html.escape(model['name'])}</strong></span>")
    if files.get("input"):
        meta.append(
            f'<span><img src="{_url(files["input"])}" alt="The input image, '
            f'64 by 64 pixels"> Image: {html.escape(manifest["image"]["name"])}</span>'
        )
    if prediction:
        meta.append(
            f"<span>Prediction: <strong>{html.escape(prediction['class'])}</strong> "
            f"({prediction['probability']:.4f})</span>"
        )
    chapters = "".join(
        f'<li><button type="button" data-start="{c["start"]:.3f}" data-end="{c["end"]:.3f}" '
        f'data-title="{html.escape(c["title"])}" aria-current="false">'
        f"<span>{i + 1}. {html.escape(c['title'])}</span>"
        f'<span class="time" data-t="{c["start"]:.3f}"></span></button></li>'
        for i, c in enumerate(manifest["chapters"])
    )
    sections = "".join(
        f'<section class="step" id="step-{s["index"] + 1}"><h3>{s["index"] + 1}. '
        f'{html.escape(s["label"])} <span class="time" data-t="{s["start"]:.3f}"></span></h3>'
        f"<p>{html.escape(s['narration'])}</p>{_numbers_table(s)}</section>"
        for s in steps
    )
    downloads = " ".join(
        f'<a href="{_url(path)}" download>{html.escape(label)}</a>'
        for label, path in (
            ("video (MP4)", files["video"]),
            ("captions (WebVTT)", files["captions_vtt"]),
            ("captions (SRT)", files["captions_srt"]),
            ("chapters (WebVTT)", files["chapters"]),
            *[(f"video ({k.upper()})", v) for k, v in files.get("formats", {}).items()],
        )
    )
    burned = bool(manifest.get("captions", {}).get("burned_in"))
    data = {
        "title": manifest["title"],
        "steps": [
            {"start": s["start"], "duration": s["duration"], "title": s["label"]} for s in steps
        ],
        "cues": cues,
        "fps": manifest["fps"],
        "burned": burned,
    }
    description = html.escape(manifest.get("description") or "")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{STYLE}</style>
</head>
<body>
<main>
<h1>{title}</h1>
{f"<p>{description}</p>" if description else ""}
<div class="meta">{"".join(meta)}</div>
<div class="layout">
<div>
<video id="video" controls preload="metadata" playsinline poster="{_url(files["poster"])}"
       src="{_url(files["video"])}" aria-label="Lesson video: {title}">
<track id="captions-track" kind="captions" src="{_url(files["captions_vtt"])}"
       srclang="en" label="English"{"" if burned else " default"}>
</video>
<div class="controls" role="group" aria-label="Step through the lesson">
<button type="button" id="previous" aria-label="Previous step"
        aria-keyshortcuts="p">◀ Previous step</button>
<button type="button" id="next" aria-label="Next step"
        aria-keyshortcuts="n">Next step ▶</button>
<label><input type="checkbox" id="step-mode" aria-keyshortcuts="s"> Pause after each step</label>
</div>
<p id="status" role="status" aria-live="polite">
Keys: N next step, P previous step, S pause after each step.</p>
</div>
<nav aria-label="Chapters"><h2>Chapters</h2><ol>{chapters}</ol></nav>
</div>
<h2>Steps</h2>
{sections}
<p class="files">Files: {downloads}</p>
</main>
<script type="application/json" id="lesson-data">{_inline_json(data)}</script>
<script>{SCRIPT}</script>
</body>
</html>
"""


def iframe_snippet(page_url: str, title: str, width: int = 960, height: int = 720) -> str:
    return (
        f'<iframe src="{_url(page_url)}" width="{width}" height="{height}" '
        f'title="{html.escape(title)}" allow="fullscreen" allowfullscreen '
        f'style="border:0"></iframe>'
    )
