"""Every step type writes its texts and numbers in the lesson's language.

Each registered step type is built (without a scene, as in test_phases) with
the German catalog, and every text it puts on screen is collected: the
``Text`` mobjects of what it adds and animates, and every string drawn from
cached glyphs (numbers, sums, formulas). No text may be an English catalog
text that German translates differently, and no number may be written with a
decimal point.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from manim import MarkupText, Mobject, Text
from PIL import Image, ImageDraw
from test_phases import CASES, step_context, valid_spec

import cnn_model
from scenes import i18n
from scenes.steps import REGISTRY
from scenes.steps.kit.base import Add, Beat, Item, ModelInfo, StepContext
from scenes.visuals.glyphs import GlyphFont

LANGUAGE = "de"
# A number written the English way ("0.12", "1.2345"); German groups thousands with
# a point ("3.844"), so whole numbers grouped that way are taken out first, and so
# are layer names ("conv_1_1") in case one ever carries a suffix after a point.
DECIMAL_POINT = re.compile(r"\d\.\d\d")
GROUPED = re.compile(r"(?<![\d.,])[1-9]\d{0,2}(?:\.\d{3})+(?![\d.,])")
IDENTIFIER = re.compile(r"\b[a-z]+(?:_\d+)+(?:\.\w+)?\b")
DECIMAL_COMMA = re.compile(r"\d,\d")


def catalog(code: str) -> Catalog:
    with i18n.catalog_path(code).open("rb") as po:
        return read_po(po, locale=code, domain=i18n.DOMAIN)


def forms(value: str | tuple[str, ...] | list[str] | None) -> list[str]:
    texts = value if isinstance(value, tuple | list) else [value]
    return [str(text or "") for text in texts]


def template(english: str) -> re.Pattern[str]:
    """``english`` with each placeholder standing for any text."""
    parts = []
    for literal, field, _spec, _conversion in string.Formatter().parse(english):
        parts.append(re.escape(literal))
        if field is not None:
            parts.append(".+?")
    return re.compile("".join(parts), re.DOTALL)


@pytest.fixture(scope="module")
def english_texts() -> list[tuple[str, re.Pattern[str]]]:
    """Every English text of the catalog (and each line of one) that German writes
    otherwise, as a pattern a shown text must not match."""
    german = catalog(LANGUAGE)
    german_texts: set[str] = set()
    for entry in german:
        for text in forms(entry.string):
            german_texts.update({text, *text.split("\n")})
    found = []
    for entry in catalog("en"):
        if not entry.id:
            continue
        for msgid in forms(entry.id):
            for english in {msgid, *msgid.split("\n")}:
                if english in german_texts:
                    continue  # German writes it the same ("min {low} · max {high}")
                words = re.sub(r"\{\w*\}", " ", english)
                if re.search(r"[A-Za-z]{3}", words) is None:
                    continue  # nothing but placeholders and signs ("{rule}: {order}")
                found.append((english, template(english)))
    assert len(found) > 100
    return found


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 240x160 picture, so the input step shows the original and its crop."""
    image = Image.new("RGB", (240, 160), (90, 150, 230))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 115, 240, 160], fill=(60, 140, 50))
    draw.ellipse([30, 20, 70, 60], fill=(255, 210, 40))
    path = tmp_path_factory.mktemp("images") / "house.png"
    image.save(path)
    return path


@pytest.fixture
def glyph_texts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every string drawn from cached glyphs while the test runs (numbers, sums)."""
    drawn: list[str] = []
    compose = GlyphFont.compose

    def recording(self: GlyphFont, content: str, size: float, colour: str) -> Any:
        drawn.append(content)
        return compose(self, content, size, colour)

    monkeypatch.setattr(GlyphFont, "compose", recording)
    yield drawn


def shown_mobjects(items: Iterable[Item]) -> Iterator[Mobject]:
    """What the items add, and what their animations move or bring in."""
    for item in items:
        if isinstance(item, Add):
            yield from item.mobjects
        elif isinstance(item, Beat):
            for animation in item.animations:
                for name in ("mobject", "target_mobject"):
                    mobject = getattr(animation, name, None)
                    if isinstance(mobject, Mobject):
                        yield mobject


def text_of(mobject: Mobject) -> str | None:
    """The source text of a Text (Manim's ``.text`` has its spaces removed)."""
    if isinstance(mobject, Text | MarkupText):
        return str(getattr(mobject, "original_text", mobject.text))
    return None


def shown_texts(items: list[Item], drawn: list[str]) -> list[str]:
    texts = list(drawn)
    for mobject in shown_mobjects(items):
        for member in mobject.get_family():
            shown = text_of(member)
            if shown is not None:
                texts.append(shown)
                texts.extend(shown.split("\n"))  # a paragraph's lines are wrapped English
    return [t for t in texts if t.strip()]


def built_in_german(spec: Any, ctx: StepContext) -> list[Item]:
    with i18n.using(LANGUAGE):
        return list(REGISTRY[spec.type].build(spec, ctx))


def check_language(name: str, texts: list[str], english: list[tuple[str, re.Pattern[str]]]) -> None:
    assert texts, f"{name} shows no text"
    slipped = sorted(
        {
            f"{text!r} (msgid {msgid!r})"
            for text in texts
            for msgid, p in english
            if p.fullmatch(text)
        }
    )
    assert slipped == [], f"English on screen in {LANGUAGE}:\n" + "\n".join(slipped)
    points = sorted(
        {text for text in texts if DECIMAL_POINT.search(GROUPED.sub("", IDENTIFIER.sub("", text)))}
    )
    assert points == [], f"numbers with a decimal point in {LANGUAGE}: {points}"
    if REGISTRY[name].needs_trace:  # every step on the model's numbers shows decimals
        assert any(DECIMAL_COMMA.search(text) for text in texts), (name, texts[:20])


@pytest.mark.parametrize(("name", "fields", "aspect"), CASES)
def test_every_step_type_writes_german(
    name: str,
    fields: dict[str, Any],
    aspect: str,
    star_trace: cnn_model.Trace,
    model_info: ModelInfo,
    english_texts: list[tuple[str, re.Pattern[str]]],
    glyph_texts: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = valid_spec(name, fields, model_info)
    items = built_in_german(spec, step_context(spec, star_trace, aspect, monkeypatch))
    check_language(name, shown_texts(items, glyph_texts), english_texts)


def test_the_input_step_writes_german_beside_an_original(
    default_model: cnn_model.TinyVGG,
    photo: Path,
    model_info: ModelInfo,
    english_texts: list[tuple[str, re.Pattern[str]]],
    glyph_texts: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = valid_spec("input", {}, model_info)
    ctx = step_context(spec, cnn_model.trace(default_model, photo), "16:9", monkeypatch)
    ctx.original_image = photo
    items = built_in_german(spec, ctx)
    assert ctx.recorder.facts["original"] is not None  # the original was shown
    texts = shown_texts(items, glyph_texts)
    check_language("input", texts, english_texts)
    assert "Original" in texts and any(t.startswith("kurze Seite auf 64") for t in texts)


def test_the_check_sees_english(
    star_trace: cnn_model.Trace,
    model_info: ModelInfo,
    english_texts: list[tuple[str, re.Pattern[str]]],
    glyph_texts: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same step built in English fails the check: the check is not blind."""
    spec = valid_spec("relu", {}, model_info)
    items = list(REGISTRY["relu"].build(spec, step_context(spec, star_trace, "16:9", monkeypatch)))
    texts = shown_texts(items, glyph_texts)
    with pytest.raises(AssertionError, match="English on screen"):
        check_language("relu", texts, english_texts)
    assert any(DECIMAL_POINT.search(t) for t in texts)  # and English decimals are seen
