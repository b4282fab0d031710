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

The HTML is the Jinja2 template ``templates/page.html.j2`` (with ``page.css`` and
``page.js``), rendered with autoescaping: lesson text is escaped wherever it
goes unless this module marks a value as HTML. Its colours and font are the
lesson theme's, so a dark lesson plays on a dark page; a colour too faint to
read on the theme's background is darkened (or lightened) until it can be.
"""

from __future__ import annotations

import functools
import html
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from ..i18n import DEFAULT, _, integer, known, language_name, ngettext, number, using

TEMPLATES = Path(__file__).parent / "templates"
PAGE_TEMPLATE = "page.html.j2"
# The page's colours when the manifest names no theme: the default theme's.
DEFAULT_COLOURS = {
    "background": "#ffffff",
    "text": "#222222",
    "muted": "#6b6b6b",
    "accent": "#e07b00",
    "empty_cell": "#ececec",
    "grid_line": "#bdbdbd",
}
DEFAULT_FONT = "DejaVu Sans"
# WCAG 2.1 contrast: 4.5 for text (AA), 3 for what marks focus and the current chapter.
TEXT_CONTRAST = 4.5
MARK_CONTRAST = 3.0
_HEX6 = re.compile(r"#[0-9a-fA-F]{6}")


@functools.cache
def environment() -> jinja2.Environment:
    """The page's template environment: every value is HTML-escaped unless marked safe."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["url"] = quote  # a relative file name as an address (then HTML-escaped)
    env.filters["css_string"] = css_string
    env.globals["fill"] = fill
    return env


def fill(template: str, **parts: object) -> Markup:
    """A translated text, HTML-escaped, with ``parts`` put in its places: escaped too,
    unless they are HTML already (:class:`Markup`, like a template's ``{% set %}``)."""
    return Markup.escape(template).format(**parts)


def css_string(value: object) -> Markup:
    """``value`` as a quoted CSS string inside a <style> element: every character but
    letters, digits, spaces, '-' and '_' written as a CSS escape."""
    text = "".join(c if c.isalnum() or c in " -_" else f"\\{ord(c):06x}" for c in str(value)[:200])
    return Markup(f'"{text}"')


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _luminance(rgb: tuple[float, float, float]) -> float:
    """Relative luminance (WCAG 2.1) of an RGB colour of 0-255 values."""
    linear = [
        c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb
    ]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """The contrast ratio of two "#rrggbb" colours (1 to 21)."""
    la, lb = sorted((_luminance(_rgb(a)), _luminance(_rgb(b))), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def readable(colour: str, background: str, ratio: float) -> str:
    """``colour``, or the nearest mix of it with black or white (whichever stands out
    more on ``background``) that has at least ``ratio`` contrast with it."""
    if contrast(colour, background) >= ratio:
        return colour
    target = (
        "#000000"
        if contrast("#000000", background) > contrast("#ffffff", background)
        else "#ffffff"
    )
    start, end = _rgb(colour), _rgb(target)
    for step in range(1, 21):
        t = step / 20
        mixed = "#" + "".join(
            f"{round(a + (b - a) * t):02x}" for a, b in zip(start, end, strict=True)
        )
        if contrast(mixed, background) >= ratio:
            return mixed
    return target


def page_colours(theme: Mapping[str, Any] | None) -> dict[str, str]:
    """The page's colours from the lesson's theme (as the manifest records it): its
    background, and its text, muted and accent colours made readable on it."""
    given = dict(DEFAULT_COLOURS)
    for key in given:
        value = (theme or {}).get(key)
        if isinstance(value, str) and _HEX6.fullmatch(value):
            given[key] = value.lower()
    background = given["background"]
    text = readable(given["text"], background, TEXT_CONTRAST)
    button = given["empty_cell"]
    if contrast(text, button) < TEXT_CONTRAST:
        button = background
    dark = contrast("#ffffff", background) > contrast("#000000", background)
    return {
        "scheme": "dark" if dark else "light",
        "background": background,
        "text": text,
        "muted": readable(given["muted"], background, TEXT_CONTRAST),
        "accent": readable(given["accent"], background, MARK_CONTRAST),
        "line": given["grid_line"],
        "button": button,
    }


def _inline_json(data: Any) -> str:
    """JSON safe inside a <script> element: no "<" at all, so no "</script" or "<!--"."""
    text = json.dumps(data, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _url(path: str) -> str:
    """A relative file name as an attribute value: URL-encoded, then HTML-escaped."""
    return html.escape(quote(path))


def _numbers_table(step: dict[str, Any], limit: int = 12) -> dict[str, Any] | None:
    """The first numbers a step showed, for a table under its narration."""
    values = step.get("values") or []
    if not values:
        return None
    rows = [
        {
            "where": f"{v['layer']}[{', '.join(str(i) for i in v['index'])}]",
            "kind": v["kind"],
            "shown": v["text"],
        }
        for v in values[:limit]
    ]
    rest = len(values) - limit
    more = (
        ngettext(
            "… and {count} more in manifest.json", "… and {count} more in manifest.json", rest
        ).format(count=integer(rest))
        if rest > 0
        else ""
    )
    summary = ngettext(
        "{count} number shown on screen", "{count} numbers shown on screen", len(values)
    ).format(count=integer(len(values)))
    return {"rows": rows, "more": more, "summary": summary}


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
    lesson's language (English if it has no catalog); its colours and font
    are the lesson theme's (``manifest["theme"]``). The HTML is the template
    ``templates/page.html.j2`` filled with :func:`page_context`.
    """
    code = lesson_language(manifest)
    with using(code if known(code) else DEFAULT):
        context = page_context(manifest, cues, track_cues or {})
    return environment().get_template(PAGE_TEMPLATE).render(context)


def _video_ratio(manifest: dict[str, Any]) -> float:
    """The video's width / height (16:9 when the manifest does not say)."""
    width, height = manifest.get("width"), manifest.get("height")
    if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
        return width / height
    return 16 / 9


def page_context(
    manifest: dict[str, Any],
    cues: list[dict[str, Any]],
    track_cues: Mapping[str, Sequence[dict[str, Any]]],
) -> dict[str, Any]:
    """What the page template shows: plain values (the template escapes them) and
    the page's texts in the current language."""
    code = lesson_language(manifest)
    files = manifest["files"]
    steps = manifest["steps"]
    model = manifest.get("model", {})
    prediction = manifest.get("prediction")
    theme = manifest.get("theme") if isinstance(manifest.get("theme"), Mapping) else None
    tracks = caption_tracks(manifest)
    burned = bool(manifest.get("captions", {}).get("burned_in"))
    downloads = [
        {"label": label, "file": path}
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
    ]
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
    text = {
        "model": _("Model: {name}"),
        "input_alt": _("The input image, {width} by {height} pixels").format(
            width=integer(64), height=integer(64)
        ),
        "image": _("Image: {name}"),
        "prediction": _("Prediction: {name} ({probability})"),
        "video": _("Lesson video: {title}"),
        "stepping": _("Step through the lesson"),
        "previous": _("Previous step"),
        "next": _("Next step"),
        "pause": _("Pause after each step"),
        "captions": _("Captions"),
        "off": _("Off"),
        "keys_help": _("Keys: N next step, P previous step, S pause after each step."),
        "chapters": _("Chapters"),
        "steps": _("Steps"),
        "files": _("Files: {links}"),
        # Translators: column headers of the table of numbers: where a number is in the
        # network (layer[index]), what kind of number it is, and its text as shown on screen.
        "number_headers": (_("where"), _("what"), _("shown")),
    }
    shown_prediction = None
    if prediction:
        shown_prediction = {
            "name": str(prediction.get("label") or prediction["class"]),  # as the lesson names it
            "probability": number(prediction["probability"], 4),
        }
    return {
        "language": code,
        "title": manifest["title"],
        "description": manifest.get("description") or "",
        "model": model.get("name") if model else None,
        "input_image": files.get("input"),
        "image_name": (manifest.get("image") or {}).get("name", ""),
        "prediction": shown_prediction,
        "video": files["video"],
        "poster": files["poster"],
        "video_ratio": _video_ratio(manifest),
        "colours": page_colours(theme),
        "font": (theme or {}).get("font") or DEFAULT_FONT,
        "tracks": [
            {
                "id": "captions-track" if i == 0 else f"captions-track-{i + 1}",
                "src": path,
                "language": lang,
                "label": language_name(lang),
                "default": i == 0 and not burned,
            }
            for i, (lang, path) in enumerate(tracks)
        ],
        "chapters": manifest["chapters"],
        "steps": [
            {
                "number": s["index"] + 1,
                "label": s["label"],
                "start": s["start"],
                "narration": s["narration"],
                "numbers": _numbers_table(s),
            }
            for s in steps
        ],
        "downloads": downloads,
        # Names, not a dict: `text.keys` would be the method of a dict.
        "text": SimpleNamespace(**text),
        # JSON that cannot end its <script> element: safe as it is.
        "data": Markup(_inline_json(data)),
    }


def iframe_snippet(page_url: str, title: str, width: int = 960, height: int = 720) -> str:
    return (
        f'<iframe src="{_url(page_url)}" width="{width}" height="{height}" '
        f'title="{html.escape(title)}" allow="fullscreen" allowfullscreen '
        f'style="border:0"></iframe>'
    )
