"""Lessons in other languages: complete catalogs, numbers the language's way, the page.

The catalog test reads the msgids the way translators get them, with Babel's
extractor over the whole ``scenes`` package: a new ``_()`` or ``ngettext()``
text anywhere (steps, visuals, the page) fails it until German and French
have it.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from conftest import ROOT
from scenes import i18n
from scenes.export.page import render_page
from scenes.i18n import (
    LANGUAGES,
    MINUS,
    _,
    integer,
    language,
    language_name,
    ngettext,
    number,
    parse_number,
    percent,
    set_language,
    unknown_language_message,
    using,
)
from scenes.visuals.numbers import fmt, term
from scenes.visuals.vector_cells import fmt_wide, parse_wide

TRANSLATED = [code for code in LANGUAGES if code != "en"]
NO_BREAK = ("\u00a0", "\u202f")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def source_messages() -> dict[str, tuple[str, str | tuple[str, ...]]]:
    """Every text of the scenes package marked for translation: key → (where, msgid)."""
    found: dict[str, tuple[str, str | tuple[str, ...]]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT / "scenes"),
        method_map=[("**.py", "python")],
        keywords={"_": None, "ngettext": (1, 2)},
    ):
        key = message[0] if isinstance(message, tuple) else message
        found.setdefault(key, (f"scenes/{filename}:{lineno}", message))
    return found


def catalog(code: str) -> Catalog:
    with i18n.catalog_path(code).open("rb") as po:
        return read_po(po, locale=code, domain=i18n.DOMAIN)


def fields(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name is not None}


def forms(entry: Message) -> list[str]:
    texts = entry.string if isinstance(entry.string, tuple | list) else [entry.string]
    return [str(text or "") for text in texts]


@pytest.fixture(autouse=True)
def english_afterwards() -> Iterator[None]:
    yield
    set_language("en")


def test_the_extractor_finds_the_pages_texts() -> None:
    messages = source_messages()
    assert "Next step" in messages
    assert messages["{count} number shown on screen"][1] == (
        "{count} number shown on screen",
        "{count} numbers shown on screen",
    )


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_text_has_a_translation(code: str) -> None:
    translated = catalog(code)
    missing = []
    for key, (where, message) in sorted(source_messages().items()):
        entry = translated.get(key)
        if entry is None or entry.fuzzy or not all(forms(entry)):
            missing.append(f"{where}: {key!r}")
            continue
        if isinstance(message, tuple):
            assert len(forms(entry)) == translated.num_plurals, (where, key)
    assert not missing, f"untranslated in {code} ({i18n.catalog_path(code)}):\n" + "\n".join(
        missing
    )


def test_the_english_catalog_lists_every_text_to_copy_from() -> None:
    english = catalog("en")
    assert [key for key in source_messages() if english.get(key) is None] == []


@pytest.mark.parametrize("code", TRANSLATED)
def test_translations_keep_the_placeholders(code: str) -> None:
    for key, (where, message) in source_messages().items():
        entry = catalog(code).get(key)
        if entry is None:
            continue  # reported by test_every_text_has_a_translation
        wanted = fields(message[1] if isinstance(message, tuple) else message)
        texts = forms(entry)
        for text in texts:
            assert fields(text) <= wanted, (where, text)  # no placeholder the code never fills
            text.format(**dict.fromkeys(wanted, "x"))  # and well-formed braces
        # Only the singular of a plural may leave the count out ("eine Zahl").
        assert fields(texts[-1]) == wanted, (where, texts[-1])


def test_texts_follow_the_current_language() -> None:
    assert _("Next step") == "Next step"
    with using("de"):
        assert language() == "de"
        assert _("Next step") == "Nächster Schritt"
        assert _("no such text") == "no such text"  # English until translated
        with using("fr"):
            assert _("Next step") == "Étape suivante"
        assert language() == "de"
        counted = "{count} number shown on screen", "{count} numbers shown on screen"
        assert ngettext(*counted, 1).format(count=1) == "1 angezeigte Zahl"
        assert ngettext(*counted, 3).format(count=3) == "3 angezeigte Zahlen"
    with using("fr"):
        # French counts 0 with the singular, and needs a third form for millions.
        assert ngettext(*counted, 0).format(count=0) == "0 nombre affiché à l’écran"
        assert ngettext(*counted, 2).format(count=2) == "2 nombres affichés à l’écran"
    assert language() == "en"


def test_an_unknown_language_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError) as refused:
        set_language("it")
    assert str(refused.value) == unknown_language_message("it")
    assert "de (Deutsch), en (English), fr (français)" in str(refused.value)
    assert "did you mean 'de'" in unknown_language_message("German")
    assert "did you mean 'fr'" in unknown_language_message("fr-CA")
    assert language() == "en"
    with pytest.raises(RuntimeError), using("de"):
        raise RuntimeError
    assert language() == "en"  # back, however the block ended
    assert [language_name(code) for code in LANGUAGES] == ["English", "Deutsch", "français"]


def test_numbers_are_written_the_languages_way() -> None:
    assert (number(0.88, 2), percent(0.88), integer(3833)) == ("0.88", "88%", "3,833")
    with using("de"):
        assert number(0.88, 2) == "0,88"
        assert number(-1.5, 3) == f"{MINUS}1,500"
        assert number(-0.004, 2) == "0,00"  # rounds to zero: no sign
        assert number(0.1, 2, plus=True) == "+0,10"
        assert number(12345.678, 1, grouping=True) == "12.345,7"
        assert integer(3833) == "3.833" and integer(-1690) == f"{MINUS}1.690"
        shown = percent(0.88)
        assert "88" in shown and shown.endswith("%") and shown[2] in NO_BREAK
        assert percent(0.8765, 1) == "87,6\u00a0%"
        assert parse_number(number(-1234.5, 2, grouping=True)) == -1234.5
    with using("fr"):
        assert number(0.88, 2) == "0,88"
        assert integer(3833)[1] in NO_BREAK
        assert percent(0.5)[2] in NO_BREAK


def test_every_language_rounds_as_python_does() -> None:
    # Only the symbols change with the language, never the digits (2.675 is 2.67499...).
    for value, shown in (
        (2.675, "2.67"),
        (0.125, "0.12"),
        (-0.004, "0.00"),
        (-0.005, "−0.01"),
        (-12.3456, "−12.35"),
    ):
        assert number(value, 2) == shown
        with using("de"):
            assert number(value, 2) == shown.replace(".", ",")


def test_fmt_follows_the_current_language() -> None:
    assert fmt(-1.234) == f"{MINUS}1.23" and fmt(-0.001) == "0.00"
    with using("de"):
        assert fmt(-1.234) == f"{MINUS}1,23"
        assert fmt(-0.001) == "0,00"
        assert fmt(0.12, plus=True) == "+0,12"
        assert term(fmt(-0.12)) == (MINUS, "0,12")
        assert term(fmt(0.12)) == ("+", "0,12")
        assert fmt(math.inf) == "∞"
        wide = fmt_wide(1.33e-24)
        assert wide == "1,33×10⁻²⁴"
        value, half = parse_wide(wide)
        assert value == pytest.approx(1.33e-24) and half == pytest.approx(0.005e-24)
        assert parse_wide(fmt_wide(0.1234)) == pytest.approx((0.1234, 0.00005))


def test_lines_do_not_break_at_a_no_break_space() -> None:
    from scenes.visuals.cards import wrap

    with using("de"):
        sentence = f"discarded: {percent(0.75)} of the values"
    lines = wrap(sentence, "DejaVu Sans", 22, 1.3)
    assert len(lines) > 1 and any("75\u00a0%" in line for line in lines)


def manifest(**extra: object) -> dict:
    data = {
        "title": "Lektion",
        "fps": 15,
        "steps": [
            {"index": 0, "label": "Titel", "narration": "Hallo", "start": 0.0, "duration": 2.0}
        ],
        "chapters": [{"title": "Anfang", "start": 0.0, "end": 2.0}],
        "files": {
            "video": "lesson.mp4",
            "poster": "poster.png",
            "captions_vtt": "captions.vtt",
            "captions_srt": "captions.srt",
            "chapters": "chapters.vtt",
        },
    }
    data.update(extra)
    return data


def test_the_page_is_written_in_the_lessons_language() -> None:
    page = render_page(manifest(language="de"), [])
    assert '<html lang="de">' in page
    assert re.search(r'<track id="captions-track" kind="captions" src="captions.vtt"\s+'
                     r'srclang="de" label="Deutsch" default>', page)  # fmt: skip
    assert "Nächster Schritt" in page and "Next step" not in page
    assert "Schritt {number} von {count}: {title}" in page  # the status line's text
    assert language() == "en"  # the page does not change the process's language
    english = render_page(manifest(), [])
    assert '<html lang="en">' in english and 'srclang="en" label="English" default>' in english


def test_the_page_offers_every_caption_language() -> None:
    tracks = [["fr", "captions.fr.vtt"], {"language": "en", "file": "captions.en.vtt"}]
    page = render_page(manifest(language="de", caption_tracks=tracks), [])
    found = re.findall(r'<track id="[^"]+" kind="captions" src="([^"]+)"\s+srclang="(\w+)" '
                       r'label="([^"]+)"( default)?>', page)  # fmt: skip
    assert found == [
        ("captions.vtt", "de", "Deutsch", " default"),
        ("captions.fr.vtt", "fr", "français", ""),
        ("captions.en.vtt", "en", "English", ""),
    ]
    options = re.findall(r'<option value="(\w*)"[^>]*>([^<]+)</option>', page)
    assert options == [("de", "Deutsch"), ("fr", "français"), ("en", "English"), ("", "Aus")]


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (make test installs it)")
def test_the_caption_switch_works_on_a_page_opened_from_disk(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    lesson = manifest(language="de", caption_tracks=[["fr", "captions.fr.vtt"]])
    for name, text in (("captions.vtt", "Hallo"), ("captions.fr.vtt", "Bonjour")):
        (tmp_path / name).write_text(f"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n{text}\n")
    cue = {"start": 0.0, "end": 1.0}
    page_file = tmp_path / "index.html"
    page_file.write_text(
        render_page(lesson, [{**cue, "text": "Hallo"}], {"fr": [{**cue, "text": "Bonjour"}]})
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        page = browser.new_page()
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(page_file.as_uri())
        state = """() => JSON.stringify(Array.from(document.getElementById('video').textTracks)
            .map((t) => [t.language, t.mode, t.cues ? Array.from(t.cues).map((c) => c.text) : null]))"""

        def shows(expected: list) -> None:
            # A track drops its inline cues when it starts loading and gets them back
            # when loading from disk fails, a moment later.
            page.wait_for_function(
                f"({state})() === {json.dumps(json.dumps(expected, separators=(',', ':')))}",
                timeout=5000,
            )

        shows([["de", "showing", ["Hallo"]], ["fr", "disabled", None]])
        page.select_option("#caption-language", "fr")
        shows([["de", "disabled", None], ["fr", "showing", ["Bonjour"]]])
        page.select_option("#caption-language", "")
        shows([["de", "disabled", None], ["fr", "disabled", None]])
        page.select_option("#caption-language", "de")
        shows([["de", "showing", ["Hallo"]], ["fr", "disabled", None]])
        page.click("#next")  # the status line speaks German (there is no next step here)
        page.keyboard.press("s")
        assert "Schrittmodus an" in page.inner_text("#status")
        browser.close()
    assert [u for u in requests if not u.startswith("file://")] == []
