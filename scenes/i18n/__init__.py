"""The language of every text the tool writes on screen and on the lesson page.

A lesson's ``language:`` (default ``en``) picks a gettext catalog and the way
numbers are written. The catalogs are the ``.po`` files under
``locale/<code>/LC_MESSAGES/cnnlesson.po``; they are read with Babel and
compiled in memory once per language, so no compiled ``.mo`` file is kept in
the repository. English is the source language: a text missing from a
catalog is shown in English.

The language is process-wide: a render worker calls :func:`set_language` once
per step process, before it builds anything; tests and the page writer use
:func:`using`. Texts go through :func:`_` (or :func:`ngettext` when they
depend on a count) with named placeholders filled in after translation, so a
translator can reorder them::

    _("top {k} of {n} classes").format(k=integer(k), n=integer(n))

Numbers are rounded the way Python's ``format`` rounds them (the same digits
in every language), then written with the language's decimal and grouping
symbols, a true minus sign (U+2212) and never a signed zero.
"""

from __future__ import annotations

import copy
import difflib
import gettext
import io
import math
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import (
    format_decimal,
    get_decimal_symbol,
    get_group_symbol,
    get_infinity_symbol,
)

DOMAIN = "cnnlesson"
# Languages with a shipped catalog; the first is the source language.
LANGUAGES = ("en", "de", "fr")
DEFAULT = "en"
MINUS = "\u2212"  # a real minus sign: wider than a hyphen, unmistakable on screen

_current = DEFAULT


def known(code: str) -> bool:
    """Whether ``code`` is a language with a shipped catalog."""
    return code in LANGUAGES


def _listed() -> str:
    return ", ".join(f"{code} ({language_name(code)})" for code in sorted(LANGUAGES))


def _suggestion(code: str) -> str | None:
    """The shipped language ``code`` most likely means ("DE", "de-AT", "German")."""
    text = code.strip()
    base = text.replace("_", "-").split("-")[0].lower()
    if known(base):
        return base
    by_name = {}
    for candidate in LANGUAGES:
        by_name[language_name(candidate).lower()] = candidate
        by_name[(_locale(candidate).get_display_name(DEFAULT) or candidate).lower()] = candidate
    if text.lower() in by_name:
        return by_name[text.lower()]
    close = difflib.get_close_matches(text.lower(), list(LANGUAGES), n=1)
    return close[0] if close else None


def unknown_language_message(code: str) -> str:
    """Why ``code`` is refused, with the languages there are (for validation errors)."""
    hint = _suggestion(code)
    did_you_mean = f" (did you mean '{hint}'?)" if hint and hint != code else ""
    return (
        f"expected the code of a language with translations, one of {_listed()}; "
        f"got '{code}'{did_you_mean}"
    )


def language() -> str:
    """The language texts and numbers are written in now."""
    return _current


def set_language(code: str) -> None:
    """Write every later text and number in ``code`` (a code of :data:`LANGUAGES`)."""
    global _current
    if not known(code):
        raise ValueError(unknown_language_message(code))
    _current = code


@contextmanager
def using(code: str) -> Iterator[str]:
    """Write texts and numbers in ``code`` inside the ``with`` block, then go back."""
    previous = _current
    set_language(code)
    try:
        yield code
    finally:
        set_language(previous)


def catalog_path(code: str) -> Traversable:
    """Where the ``.po`` catalog of ``code`` is shipped (inside the package)."""
    return resources.files(__name__) / "locale" / code / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(code: str) -> gettext.NullTranslations:
    """The catalog of ``code`` compiled in memory (English texts when there is none)."""
    if not known(code):
        return gettext.NullTranslations()
    with catalog_path(code).open("rb") as po:
        catalog = read_po(po, locale=code, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # leaves out untranslated and fuzzy entries
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def _(message: str) -> str:
    """``message`` in the current language."""
    return translations(_current).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a counted message for ``n`` in the current language."""
    return translations(_current).ngettext(singular, plural, n)


@cache
def _locale(code: str) -> Locale:
    return Locale.parse(code)


def language_name(code: str) -> str:
    """The language's own name for itself: "English", "Deutsch", "français"."""
    try:
        name = _locale(code).get_display_name(code)
    except (ValueError, UnknownLocaleError):
        return code
    return name or code


def _nan_symbol(locale: Locale) -> str:
    return str(locale.number_symbols["latn"].get("nan", "NaN"))


def _signed(negative: bool, body: str, plus: bool) -> str:
    if negative:
        return MINUS + body
    return f"+{body}" if plus else body


def _not_finite(value: float, plus: bool) -> str:
    locale = _locale(_current)
    if math.isnan(value):
        return _nan_symbol(locale)
    return _signed(value < 0, get_infinity_symbol(locale), plus)


def number(value: float, decimals: int, *, plus: bool = False, grouping: bool = False) -> str:
    """``value`` with exactly ``decimals`` places in the current language.

    "0.88" in English, "0,88" in German and French; a true minus sign; a
    value that rounds to zero carries no sign ("0.00", never "−0.00"), so a
    sign on screen always means something. ``plus`` writes "+" before a value
    that is not negative; ``grouping`` separates thousands ("3,833.50").
    """
    value = float(value)
    if not math.isfinite(value):
        return _not_finite(value, plus)
    rounded = f"{value:.{decimals}f}"  # the digits Python would show, in every language
    negative = rounded.startswith("-")
    digits = rounded.lstrip("-")
    if negative and float(digits) == 0.0:
        return _plain(digits, decimals, grouping)  # "-0.00": no sign, and no plus either
    return _signed(negative, _plain(digits, decimals, grouping), plus)


def _plain(digits: str, decimals: int, grouping: bool) -> str:
    pattern = ("#,##0" if grouping else "0") + ("." + "0" * decimals if decimals > 0 else "")
    return format_decimal(Decimal(digits), format=pattern, locale=_locale(_current))


def integer(n: int) -> str:
    """A whole number with the language's grouping: "3,833" (en), "3.833" (de)."""
    body = format_decimal(abs(int(n)), locale=_locale(_current))
    return MINUS + body if n < 0 else body


def percent(fraction: float, decimals: int = 0) -> str:
    """``fraction`` (0.88) as a percentage the language's way: "88%", "88 %" (de, fr)."""
    fraction = float(fraction)
    if not math.isfinite(fraction):
        return _not_finite(fraction, False)
    rounded = f"{fraction * 100:.{decimals}f}"
    negative = rounded.startswith("-") and float(rounded.lstrip("-")) != 0.0
    locale = _locale(_current)
    pattern = copy.copy(locale.percent_formats[None])
    pattern.frac_prec = (decimals, decimals)
    body = pattern.apply(Decimal(rounded.lstrip("-")) / 100, locale)
    return MINUS + body if negative else body


def decimal_symbol() -> str:
    """The decimal separator of the current language ("." or ",")."""
    return get_decimal_symbol(_locale(_current))


def parse_number(shown: str) -> float:
    """A number as :func:`number` or :func:`integer` wrote it in the current language."""
    locale = _locale(_current)
    text = shown.strip().replace(MINUS, "-")
    text = text.replace(get_group_symbol(locale), "").replace(decimal_symbol(), ".")
    if text.lstrip("+-") == get_infinity_symbol(locale):
        return -math.inf if text.startswith("-") else math.inf
    if text == _nan_symbol(locale):
        return math.nan
    return float(text)


__all__ = [
    "DEFAULT",
    "LANGUAGES",
    "MINUS",
    "_",
    "decimal_symbol",
    "integer",
    "known",
    "language",
    "language_name",
    "ngettext",
    "number",
    "parse_number",
    "percent",
    "set_language",
    "translations",
    "unknown_language_message",
    "using",
]
