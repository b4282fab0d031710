"""``index.html``: the lesson as a page that works offline and on any static host.

Everything the page needs is in the lesson folder or inside the page itself:
the video, its poster, the captions (as a file and, because browsers refuse
to load caption files from file:// pages, also inline), chapters that seek,
a step-through mode that pauses at the end of each step, and the numbers the
manifest records. No script, style or font is fetched from anywhere.

The page is written in the lesson's language (``manifest["language"]``,
English when missing): its own texts come from :mod:`scenes.i18n`, and
captions in further languages (``manifest["caption_tracks"]``) are offered by
a switch that needs no network either.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from ..i18n import DEFAULT, _, integer, known, language_name, ngettext, number, using

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
button:focus-visible, input:focus-visible, select:focus-visible {
  outline: 3px solid var(--accent); outline-offset: 2px; }
#status { color: var(--muted); }
select { font: inherit; padding: 0.3rem; }
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
  const trackEls = Array.from(video.querySelectorAll("track"));
  const switcher = document.getElementById("caption-language");
  const status = document.getElementById("status");
  const stepToggle = document.getElementById("step-mode");
  const starts = data.steps.map((s) => s.start);
  const ends = data.steps.map((s) => s.start + s.duration);
  const EPS = 0.002;
  // A pause at a step's end shows its last frame: half a frame before the boundary.
  const BEFORE_END = 0.5 / data.fps;
  let stopAt = null;
  let lastSeen = null;  // playback and wall-clock time at watch()'s previous frame

  // The page's own texts, in the lesson's language: "{name}" is filled in.
  function tr(key, values) {
    return data.text[key].replace(/\{(\w+)\}/g, (m, name) => String(values[name]));
  }

  // Caption files do not load into file:// pages; the same cues are inline. A
  // track starting to load (when first shown) drops them, and its failure to
  // load puts them back.
  function addInlineCues(el) {
    const cues = el.srclang === data.language ? data.cues : data.tracks[el.srclang] || [];
    if (el.track.cues && el.track.cues.length) { return; }
    for (const c of cues) { el.track.addCue(new VTTCue(c.start, c.end, c.text)); }
  }
  // One language's captions at a time ("" for none). Captions burned into the
  // picture are not shown a second time.
  function showCaptions(lang) {
    trackEls.forEach((el) => {
      if (el.srclang !== lang) { el.track.mode = "disabled"; return; }
      el.track.mode = data.burned && lang === data.language ? "hidden" : "showing";
    });
    switcher.value = lang;
  }
  trackEls.forEach((el) => {
    el.addEventListener("error", () => addInlineCues(el));
    if (el.readyState === 3 || location.protocol === "file:") { addInlineCues(el); }
  });
  showCaptions(data.language);
  switcher.addEventListener("change", () => showCaptions(switcher.value));
  // A choice made in the video's own caption menu shows in the switch too.
  video.textTracks.addEventListener("change", () => {
    const on = trackEls.find((el) => el.track.mode === "showing" ||
                                     (el.track.mode === "hidden" && data.burned));
    switcher.value = on ? on.srclang : "";
  });

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
      say(tr("step", {number: i + 2, count: starts.length, title: data.steps[i + 1].title}));
    }
  }
  function previous() {
    const i = stepAt(video.currentTime);
    const target = video.currentTime - starts[i] > 1 || i === 0 ? i : i - 1;
    seek(starts[target], true);
    say(tr("step", {number: target + 1, count: starts.length, title: data.steps[target].title}));
  }
  document.getElementById("next").addEventListener("click", next);
  document.getElementById("previous").addEventListener("click", previous);
  stepToggle.addEventListener("change", () => {
    stopAt = stepToggle.checked ? ends[stepAt(video.currentTime)] : null;
    say(tr(stepToggle.checked ? "stepping_on" : "stepping_off", {}));
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
      say(tr("paused", {number: i + 1, count: starts.length}));
      stopAt = null;
    }
    requestAnimationFrame(watch);
  }
  requestAnimationFrame(watch);

  const chapterButtons = Array.from(document.querySelectorAll("nav button[data-start]"));
  chapterButtons.forEach((b) => b.addEventListener("click", () => {
    seek(parseFloat(b.dataset.start), true);
    say(tr("chapter", {title: b.dataset.title}));
  }));
  video.addEventListener("timeupdate", () => {
    const t = video.currentTime;
    chapterButtons.forEach((b) => {
      const on = t + EPS >= parseFloat(b.dataset.start) && t < parseFloat(b.dataset.end) - EPS;
      b.setAttribute("aria-current", on ? "true" : "false");
    });
  });
  document.addEventListener("keydown", (e) => {
    if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement ||
        e.altKey || e.ctrlKey || e.metaKey) { return; }
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
    rest = len(values) - limit
    more = (
        "<p>"
        + html.escape(
            ngettext(
                "… and {count} more in manifest.json", "… and {count} more in manifest.json", rest
            ).format(count=integer(rest))
        )
        + "</p>"
        if rest > 0
        else ""
    )
    summary = ngettext(
        "{count} number shown on screen", "{count} numbers shown on screen", len(values)
    ).format(count=integer(len(values)))
    # Translators: column headers of the table of numbers: where a number is in the
    # network (layer[index]), what kind of number it is, and its text as shown on screen.
    named = (_("where"), _("what"), _("shown"))
    headers = "".join(f"<th>{html.escape(h)}</th>" for h in named)
    return (
        f"<details><summary>{html.escape(summary)}</summary>"
        f"<table><thead><tr>{headers}</tr></thead>"
        f"<tbody>{rows}</tbody></table>{more}</details>"
    )


def _fill(template: str, **parts: str) -> str:
    """A translated text, HTML-escaped, with ready-made HTML ``parts`` put in its places."""
    return html.escape(template).format(**parts)


def caption_tracks(manifest: dict[str, Any]) -> list[tuple[str, str]]:
    """(language, WebVTT file) of every caption track, the lesson's own first.

    Further tracks come from ``manifest["caption_tracks"]``: pairs
    ``[language, file]`` or mappings ``{"language": ..., "file": ...}``; a
    second track in a language already listed is left out.
    """
    tracks = [(lesson_language(manifest), str(manifest["files"]["captions_vtt"]))]
    for entry in manifest.get("caption_tracks") or []:
        if isinstance(entry, Mapping):
            code, path = entry.get("language"), entry.get("file")
        else:
            code, path = entry
        if code and path and all(code != seen for seen, _path in tracks):
            tracks.append((str(code), str(path)))
    return tracks


def lesson_language(manifest: dict[str, Any]) -> str:
    """The language code the lesson is written in (English when the manifest names none)."""
    return str(manifest.get("language") or DEFAULT)


def render_page(
    manifest: dict[str, Any],
    cues: list[dict[str, Any]],
    track_cues: Mapping[str, Sequence[dict[str, Any]]] | None = None,
) -> str:
    """The page's HTML for a lesson folder described by ``manifest``.

    ``cues`` are the captions of the lesson's own language; ``track_cues``
    those of the further caption tracks by language code, put inline so the
    language switch works on a page opened from disk (a track without them
    loads only from a web server). The page's own texts are written in the
    lesson's language (English if it has no catalog).
    """
    code = lesson_language(manifest)
    with using(code if known(code) else DEFAULT):
        return _page(manifest, cues, track_cues or {})


def _page(
    manifest: dict[str, Any],
    cues: list[dict[str, Any]],
    track_cues: Mapping[str, Sequence[dict[str, Any]]],
) -> str:
    code = lesson_language(manifest)
    title = html.escape(manifest["title"])
    files = manifest["files"]
    steps = manifest["steps"]
    model = manifest.get("model", {})
    prediction = manifest.get("prediction")
    meta = []
    if model:
        strong = f"<strong>{html.escape(model['name'])}</strong>"
        shown = _fill(_("Model: {name}"), name=strong)
        meta.append(f"<span>{shown}</span>")
    if files.get("input"):
        alt = _("The input image, {width} by {height} pixels").format(
            width=integer(64), height=integer(64)
        )
        image = _fill(_("Image: {name}"), name=html.escape(manifest["image"]["name"]))
        meta.append(
            f'<span><img src="{_url(files["input"])}" alt="{html.escape(alt)}"> {image}</span>'
        )
    if prediction:
        shown = prediction.get("label") or prediction["class"]  # as the lesson names it
        strong = f"<strong>{html.escape(str(shown))}</strong>"
        shown = _fill(
            _("Prediction: {name} ({probability})"),
            name=strong,
            probability=html.escape(number(prediction["probability"], 4)),
        )
        meta.append(f"<span>{shown}</span>")
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
    tracks = caption_tracks(manifest)
    burned = bool(manifest.get("captions", {}).get("burned_in"))
    downloads = " ".join(
        f'<a href="{_url(path)}" download>{html.escape(label)}</a>'
        for label, path in (
            (_("video (MP4)"), files["video"]),
            (_("captions (WebVTT)"), files["captions_vtt"]),
            (_("captions (SRT)"), files["captions_srt"]),
            *[
                (
                    _("captions, {language} (WebVTT)").format(language=language_name(lang)),
                    path,
                )
                for lang, path in tracks[1:]
            ],
            (_("chapters (WebVTT)"), files["chapters"]),
            *[
                (_("video ({format})").format(format=k.upper()), v)
                for k, v in files.get("formats", {}).items()
            ],
        )
    )
    track_tags = "\n".join(
        f'<track id="{"captions-track" if i == 0 else f"captions-track-{i + 1}"}" '
        f'kind="captions" src="{_url(path)}"\n'
        f'       srclang="{html.escape(lang)}" label="{html.escape(language_name(lang))}"'
        f"{' default' if i == 0 and not burned else ''}>"
        for i, (lang, path) in enumerate(tracks)
    )
    options = "".join(
        f'<option value="{html.escape(lang)}"{" selected" if i == 0 else ""}>'
        f"{html.escape(language_name(lang))}</option>"
        for i, (lang, _path) in enumerate(tracks)
    )
    data = {
        "title": manifest["title"],
        "language": code,
        "steps": [
            {"start": s["start"], "duration": s["duration"], "title": s["label"]} for s in steps
        ],
        "cues": cues,
        # The further tracks' cues (the lesson's own are "cues").
        "tracks": {lang: list(track_cues.get(lang, [])) for lang, _path in tracks[1:]},
        "fps": manifest["fps"],
        "burned": burned,
        # The status line's texts; the page's script fills in the {placeholders}.
        "text": {
            # Translators: the status line under the video; {title} is the step's heading.
            "step": _("Step {number} of {count}: {title}"),
            "paused": _(
                "Paused at the end of step {number} of {count}. Press Next (or N) to go on."
            ),
            "stepping_on": _("Step-through on: the video pauses after each step."),
            "stepping_off": _("Step-through off."),
            "chapter": _("Chapter: {title}"),
        },
    }
    description = html.escape(manifest.get("description") or "")
    # Extracted for translation here: the extractor does not look inside f-strings.
    ui = {
        "video": _fill(_("Lesson video: {title}"), title=title),
        "stepping": html.escape(_("Step through the lesson")),
        "previous": html.escape(_("Previous step")),
        "next": html.escape(_("Next step")),
        "pause": html.escape(_("Pause after each step")),
        "captions": html.escape(_("Captions")),
        "off": html.escape(_("Off")),
        "keys": html.escape(_("Keys: N next step, P previous step, S pause after each step.")),
        "chapters": html.escape(_("Chapters")),
        "steps": html.escape(_("Steps")),
        "files": _fill(_("Files: {links}"), links=downloads),
    }
    return f"""<!doctype html>
<html lang="{html.escape(code)}">
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
       src="{_url(files["video"])}" aria-label="{ui["video"]}">
{track_tags}
</video>
<div class="controls" role="group" aria-label="{ui["stepping"]}">
<button type="button" id="previous" aria-label="{ui["previous"]}"
        aria-keyshortcuts="p">◀ {ui["previous"]}</button>
<button type="button" id="next" aria-label="{ui["next"]}"
        aria-keyshortcuts="n">{ui["next"]} ▶</button>
<label><input type="checkbox" id="step-mode" aria-keyshortcuts="s"> {ui["pause"]}</label>
<label>{ui["captions"]} <select id="caption-language">{options}<option value="">{
        ui["off"]
    }</option></select></label>
</div>
<p id="status" role="status" aria-live="polite">
{ui["keys"]}</p>
</div>
<nav aria-label="{ui["chapters"]}"><h2>{ui["chapters"]}</h2><ol>{chapters}</ol></nav>
</div>
<h2>{ui["steps"]}</h2>
{sections}
<p class="files">{ui["files"]}</p>
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
