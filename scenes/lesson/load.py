"""Loading a lesson: parse, validate every field, resolve model, image and theme.

Validation never stops at the first problem: it collects every error it can
find, each with its file, line and column, and only a lesson with none is
returned. Cross-field checks (a layer the model has, a kernel that fits)
run after the field checks they depend on.
"""

from __future__ import annotations

import os
import re
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from cnn_model import ImageError, ModelError, samples
from cnn_model.images import open_image
from cnn_model.safeio import FileRefused, describe, read_regular, real_path
from cnn_model.store import (
    ModelLocation,
    class_labels,
    known_names,
    model_classes,
    read_facts,
    resolve,
    trained_models,
)
from cnn_model.tinyvgg import layer_specs

from .. import audio
from ..i18n import LANGUAGES
from ..quoting import quoted
from ..steps import registry
from ..steps.kit.base import NARRATION_FORMS, LayerInfo, ModelInfo, StepSpec
from ..visuals.theme import Theme
from .cues import PlacedCue, place_cues, written_cues
from .errors import FieldPath, LessonError, LessonInvalid, display_path, path_text
from .focus import carry_focus, focus_problem
from .labels import ClassNames, distinct, step_label
from .messages import closest, describe_value, listing, message_for, suggest, unknown_name
from .source import MAX_BYTES, Source, decode_error, parse, text_problem
from .spec import MAX_STEPS, Focus, LessonHeader, overridable, override_of
from .themes import resolve_theme

# What narration may ask for: a step lasts as long as its narration takes to
# read, so a very long text (or a slow reading speed) would ask for hours.
MAX_STEP_SECONDS = 600.0
MAX_LESSON_SECONDS = 2 * 3600.0
READING_LAG = 1.0  # seconds added to a narration's reading time
# Placeholder formats: {prediction:>12} pads, {probability:.2} cuts; wider is a mistake.
MAX_FORMAT_WIDTH = 60
# A course reads its lessons' files: together they stay within these.
MAX_COURSE_BYTES = 4 * MAX_BYTES
MAX_COURSE_VALUES = 100_000
LESSON_SUFFIXES = (".yaml", ".yml")
# An output name: letters and digits of any script, '-' and '_'; bounded in bytes
# so that "<name>.webm" and the staging names stay far below 255 bytes.
MAX_NAME_BYTES = 100
_RESERVED_NAMES = {"con", "prn", "aux", "nul"} | {
    f"{port}{i}" for port in ("com", "lpt") for i in ("0123456789¹²³")
}

PLACEHOLDERS = {
    "prediction": "the predicted class",
    "probability": "its probability (3 decimals)",
    "percent": "its probability as a percentage",
    "second": "the second most likely class",
    "second_probability": "that class's probability",
    "model": "the model's name",
    "classes": "how many classes the model has",
}


@dataclass(frozen=True)
class Origin:
    """Where a step was written: its file and line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Chapter:
    """A stretch of steps with one title: a step, or a whole lesson in a course."""

    title: str
    first: int  # index of its first step
    count: int


@dataclass
class Lesson:
    """A validated lesson, ready to render."""

    path: Path
    header: LessonHeader
    steps: list[StepSpec]
    model: ModelLocation | None
    image: Path | None
    origins: list[Origin] = field(default_factory=list)
    chapters: list[Chapter] = field(default_factory=list)
    # What still works but should be written otherwise (an old field name), located.
    warnings: list[LessonError] = field(default_factory=list)
    # Each step's narration cues, placed on its phases (placeholders not yet filled).
    cues: list[list[PlacedCue]] = field(default_factory=list)
    # The same steps in other languages: their cues become further caption tracks.
    translations: list[Lesson] = field(default_factory=list)
    # Each step's own name (its chapter's in a lesson), distinct within its lesson file.
    labels: list[str] = field(default_factory=list)
    # The colours, font and scales its frames and page are drawn in (from `theme:`).
    theme: Theme | None = None

    @property
    def name(self) -> str:
        """The lesson's output name (its folder and files), a safe slug of the file's."""
        return output_name(self.path)

    @property
    def needs_trace(self) -> bool:
        return any(_step_needs_trace(s) for s in self.steps)

    @property
    def trace_parts(self) -> list[str]:
        """The parts of the trace its steps read beyond the image's pass (sorted)."""
        found: set[str] = set()
        for spec in self.steps:
            parts = registry.get(spec.type).trace_parts
            if parts is not None:
                found.update(parts(spec))
        return sorted(found)


def lesson_file_stem(path: Path) -> str:
    """The file's name (NFC) without ``.yaml`` or ``.yml``; another name whole. Two
    lesson files whose output names are one (``a b.yaml``, ``a-b.yaml``) differ here."""
    name = unicodedata.normalize("NFC", path.name)
    for suffix in LESSON_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def output_name(path: Path) -> str:
    """A safe name for a lesson's outputs, made from its file name.

    Never empty, never ``.`` or ``..``, never hidden, never a path, at most
    ``MAX_NAME_BYTES`` bytes: ``...yaml`` becomes ``lesson``, ``Faltung für
    alle.yaml`` ``Faltung-für-alle``.
    """
    stem = lesson_file_stem(path)
    if stem == unicodedata.normalize("NFC", path.name):  # not a .yaml or .yml name
        stem = Path(stem).stem
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem)
    slug = re.sub(r"-{2,}", "-", slug).strip("-_")
    while len(slug.encode("utf-8")) > MAX_NAME_BYTES:
        slug = slug[:-1]
    slug = slug.strip("-_")
    if not slug:
        return "lesson"
    if slug.lower() in _RESERVED_NAMES:  # names Windows cannot hold, for LMS uploads
        return f"lesson-{slug}"
    return slug


def reading_seconds(narration: str, words_per_minute: int, lag: float = READING_LAG) -> float:
    """How long a narration takes to read at ``words_per_minute``, with a short ``lag``."""
    words = len(narration.split())
    return 0.0 if words == 0 else 60.0 * words / words_per_minute + lag


def uses_placeholders(narration: str) -> bool:
    """Whether a (valid) narration names a value of the trace, like {prediction}."""
    try:
        return any(name for _, name, _, _ in string.Formatter().parse(narration or ""))
    except ValueError:  # a stray brace: reported by the narration check, not a placeholder
        return False


def _step_needs_trace(spec: StepSpec) -> bool:
    """A step needs the image's trace to draw it, or to fill its narration."""
    return registry.get(spec.type).needs_trace or uses_placeholders(spec.narration_text())


# Errors of a field that wanted text (or a name) and got what YAML made of plain text.
_TEXT_WANTED = ("string_type", "literal_error")


def _yaml_kind(value: object) -> str:
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "nothing (null)"
    if isinstance(value, int | float):
        return "a number"
    return "a date" if type(value).__name__ in ("date", "datetime") else "another kind of value"


def _pydantic_errors(
    source: Source, exc: ValidationError, model: type[BaseModel], prefix: FieldPath, what: str
) -> list[LessonError]:
    found = []
    for error in exc.errors():
        error["loc"] = _without_forms(error["loc"])
        path = (*prefix, *error["loc"])
        message = message_for(error, model, what)
        if path[-1:] == ("narration",) and error["type"] == "string_type":
            message = (
                f"expected text, or a list of cues (say, at, audio), "
                f"got {describe_value(error.get('input'))}"
            )
        written = source.written.get(path)
        if written is not None and error["type"] in _TEXT_WANTED:
            kind = _yaml_kind(error.get("input"))
            message += f"; YAML reads {written} as {kind}: put it in quotes"
        found.append(source.field_error(path, message, error["type"]))
    return found


def _without_forms(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """An error's location without the union tag pydantic adds after ``narration``
    (``narration.cues[0].say`` is written ``narration[0].say``)."""
    return tuple(
        part
        for i, part in enumerate(loc)
        if not (i and loc[i - 1] == "narration" and part in NARRATION_FORMS)
    )


def _voice_errors(source: Source, voice_name: str) -> list[LessonError]:
    """The voice-over engine must be installed and know the voice."""
    from .. import speech

    if not speech.available():
        return [
            source.error(
                ("voice",),
                f"a voice-over needs {speech.ENGINE}, which is not "
                f"installed (Debian: apt-get install {speech.ENGINE})",
            )
        ]
    known = speech.voices()
    if voice_name not in known:
        return [source.error(("voice",), unknown_name("voice", voice_name, known, "voices"))]
    return []


def article(word: str) -> str:
    """ "an input", "a title"."""
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def model_info(location: ModelLocation) -> ModelInfo:
    """Layers and classes of a model, from its file's header and card (no torch)."""
    facts = read_facts(location.weights)
    layers = {
        s.name: LayerInfo(s.name, s.kind, s.output_shape) for s in layer_specs(facts.num_classes)
    }
    return ModelInfo(
        location.name, model_classes(location, facts.num_classes), layers, location=location
    )


def _check_narration(
    source: Source, path: FieldPath, narration: str, own: dict[str, str] | None = None
) -> list[LessonError]:
    """The placeholders of a narration: each known (the lesson's, or ``own``, those of
    its step's type) and written plainly."""
    known = {**PLACEHOLDERS, **(own or {})}
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(narration) if name is not None]
    except ValueError as exc:
        return [
            source.error(
                path,
                f"cannot read the placeholders in this text ({exc}); "
                "write {{ and }} for literal braces",
            )
        ]
    errors = []
    specs = [spec for _, name, spec, _ in string.Formatter().parse(narration) if name is not None]
    for spec in specs:
        problem = _format_problem(spec or "")
        if problem is not None:
            return [source.error(path, problem)]
    for name in fields:
        if name not in known:
            errors.append(
                source.error(
                    path,
                    unknown_name("placeholder", name, list(known), "placeholders")
                    + " (write {{ and }} for literal braces)",
                )
            )
    if not errors:
        # Every value is text: a format or conversion text does not take fails here.
        try:
            narration.format_map({name: "text" for name in known})
        except (ValueError, KeyError, IndexError, AttributeError) as exc:
            errors.append(
                source.error(
                    path,
                    f"cannot fill the placeholders in this text ({type(exc).__name__}: {exc}); "
                    "write them plainly, like {prediction}",
                )
            )
    return errors


def _format_problem(spec: str) -> str | None:
    """Why a placeholder's format (after the ':') is refused before it is tried: a
    nested placeholder, or a width or precision beyond ``MAX_FORMAT_WIDTH``
    (``{prediction:>2000000000}`` would make a string of 2 GB)."""
    if "{" in spec or "}" in spec:
        return "a placeholder's format cannot hold another placeholder; write it plainly"
    for digits in re.findall(r"\d+", spec):
        if len(digits) > 3 or int(digits) > MAX_FORMAT_WIDTH:
            shown = digits if len(digits) <= 12 else f"{digits[:6]}... ({len(digits)} digits)"
            return (
                f"a placeholder width or precision of {shown} is too large; "
                f"at most {MAX_FORMAT_WIDTH} characters, like {{prediction:>12}}"
            )
    return None


def _model_reference(source: Source, value: str, lesson_dir: Path) -> str:
    """A model name as it is, or a path written in the lesson, relative to the lesson."""
    if "model" in source.overridden or value in ("default", "cnn-explainer"):
        return value
    if any(location.name == value for location in trained_models()):
        return value
    # Anything else is a path, read from the lesson's folder (never the working one).
    written = Path(value).expanduser()
    path = written if written.is_absolute() else lesson_dir / written
    looks_like_name = "/" not in value and not value.endswith(".safetensors")
    if looks_like_name and not os.path.lexists(path):
        raise ModelError(
            f"unknown model {quoted(value)}; known models: {', '.join(known_names())} "
            "(or give a path to a .safetensors file, from the lesson's folder)"
        )
    return str(path)


def _resolve_image(
    source: Source, header: LessonHeader, lesson_dir: Path, model_name: str | None
) -> tuple[Path | None, list[LessonError]]:
    value = header.image
    if value is None:
        default = samples.DEFAULT_SAMPLE.get(model_name or "")
        return (samples.find_sample(default) if default else None), []
    sample = samples.find_sample(value)
    base = Path.cwd() if "image" in source.overridden else lesson_dir
    path = sample or base / Path(value).expanduser()
    if sample is None and not os.path.lexists(path):
        known = samples.sample_names()
        return None, [
            source.error(
                ("image",),
                f"no sample called {quoted(value)} and no file {display_path(path)}"
                f"{suggest(value, known)}; samples: {listing(known)}",
            )
        ]
    try:
        open_image(path)
    except ImageError as exc:
        return None, [source.error(("image",), str(exc))]
    return path, []


def _parse_steps(source: Source, raw_steps: list[Any], folder: Path) -> list[StepSpec | None]:
    """Each step against its own type's schema; errors go to ``source.errors``. Recordings
    are read from ``folder``, the lesson file's."""
    steps: list[StepSpec | None] = []
    known = registry.names()
    if len(raw_steps) > MAX_STEPS:
        source.errors.append(
            source.error(
                ("steps",),
                f"expected at most {MAX_STEPS} steps, got {len(raw_steps):,}; "
                "split the lesson into several (a course can join them)",
            )
        )
        return []
    for i, raw in enumerate(raw_steps):
        where: FieldPath = ("steps", i)
        if not isinstance(raw, dict):
            source.errors.append(
                source.error(where, f"expected a mapping with a 'type', got {describe_value(raw)}")
            )
            steps.append(None)
            continue
        kind = raw.get("type")
        if kind is None:
            source.errors.append(
                source.error(where, f"missing 'type'; known step types: {', '.join(known)}")
            )
            steps.append(None)
            continue
        if not isinstance(kind, str) or kind not in known:
            source.errors.append(
                source.error(
                    (*where, "type"),
                    unknown_name("step type", kind, known, "step types", limit=len(known)),
                )
            )
            # A misspelt type is checked as the type it most likely means, so that the
            # step's other errors show in this run too, not one run after the next.
            guess = closest(kind, known) if isinstance(kind, str) else None
            if guess is None:
                steps.append(None)
                continue
            kind, raw = guess, {**raw, "type": guess}
        step_type = registry.get(kind)
        raw = _renamed_fields(source, where, step_type.spec, raw)
        try:
            steps.append(step_type.spec.model_validate(raw))
        except ValidationError as exc:
            found = _pydantic_errors(source, exc, step_type.spec, where, f"{article(kind)} step's")
            source.errors.extend(found)
            # The phases follow from the fields, so the cues cannot be placed; what
            # can be told without the fields is still told.
            taken = {e.path for e in found}
            for field_parts, message in _loose_cue_problems(step_type, _raw_cues(raw), folder):
                if path_text((*where, *field_parts)) not in taken:
                    source.errors.append(source.error((*where, *field_parts), message))
            steps.append(None)
        narration = raw.get("narration")
        own = step_type.placeholders
        if isinstance(narration, str):
            source.errors.extend(_check_narration(source, (*where, "narration"), narration, own))
        elif isinstance(narration, list):
            for j, cue in enumerate(narration):
                if isinstance(cue, dict) and isinstance(cue.get("say"), str):
                    source.errors.extend(
                        _check_narration(source, (*where, "narration", j, "say"), cue["say"], own)
                    )
    return steps


def _renamed_fields(
    source: Source, where: FieldPath, spec: type[StepSpec], raw: dict[str, Any]
) -> dict[str, Any]:
    """A step's fields with the old names of renamed fields replaced by the new ones, a
    warning for each (an old name still works); an error if both names are given."""
    if not any(old in raw for old in spec.renamed):
        return raw
    fields = dict(raw)
    for old, new in spec.renamed.items():
        if old not in fields:
            continue
        if new in fields:
            source.errors.append(
                source.error(
                    (*where, old), f"{old} is the old name of {new}, which is given too; keep {new}"
                )
            )
            del fields[old]
            continue
        fields[new] = fields.pop(old)
        source.renamed[(*where, new)] = (*where, old)
        for marks in (source.value_marks, source.key_marks):
            if (*where, old) in marks:
                marks[(*where, new)] = marks[(*where, old)]
        source.warnings.append(
            source.error((*where, old), f"{old} is now called {new}; the old name will go")
        )
    return fields


@dataclass
class _Part:
    """Steps read from one file: the lesson itself, or one lesson of a course."""

    source: Source
    title: str
    steps: list[StepSpec | None]
    folder: Path  # the file's folder: recordings are read from there
    focus: Focus | None = None  # a course's lesson's own focus, which wins over the carried one


@dataclass
class _Budget:
    """What a course's files may add up to: steps, bytes and values."""

    steps: int = 0
    bytes: int = 0
    values: int = 0


def _course_entry(
    source: Source, i: int, entry: str, base: Path, key: str = "lessons"
) -> Path | None:
    """The lesson file a course entry (or a translation) names, if it may be read; else
    one error, no content."""
    where: FieldPath = (key, i)
    written = Path(entry)
    path = base / written
    shown = display_path(path)
    if written.is_absolute() or not real_path(path).is_relative_to(real_path(base)):
        source.errors.append(
            source.error(
                where,
                f"{quoted(entry)} is outside the course's folder ({display_path(base) or '.'}); "
                "a course lists lesson files in its own folder or below it",
            )
        )
        return None
    if path.suffix.lower() not in LESSON_SUFFIXES:
        source.errors.append(
            source.error(where, f"{shown} is not a lesson file (lesson files end in .yaml or .yml)")
        )
        return None
    problem = describe(path)
    if problem == "no such file":
        source.errors.append(source.error(where, f"no lesson file {shown}"))
        return None
    if problem is not None:
        source.errors.append(source.error(where, f"{shown}: {problem}"))
        return None
    return path


def _course_parts(source: Source, header: LessonHeader, base: Path) -> list[_Part]:
    """The lessons a course lists, each parsed and its steps checked against the schemas.

    Only files in the course's own folder tree are read. A file that is not
    a lesson (no mapping with steps) gets one line that quotes none of it.
    Each file is read once however often it is listed, and the files
    together may not exceed the course budget of steps, bytes and values.
    """
    parts: list[_Part] = []
    budget = _Budget()
    parsed: dict[Path, _Part | None] = {}
    for i, entry in enumerate(header.lessons or []):
        path = _course_entry(source, i, entry, base)
        if path is None:
            continue
        key = real_path(path)
        if key not in parsed:
            parsed[key] = _course_part(source, i, path, budget)
        part = parsed[key]
        if part is None:
            continue
        budget.steps += len(part.steps)
        if budget.steps > MAX_STEPS:
            source.errors.append(
                source.error(
                    ("lessons", i),
                    f"the course has more than {MAX_STEPS} steps up to this lesson; "
                    "split it into several courses",
                )
            )
            break
        parts.append(part)
    return parts


def _course_part(source: Source, i: int, path: Path, budget: _Budget) -> _Part | None:
    """One lesson of a course, parsed and checked (None when it cannot be used)."""
    shown = display_path(path)
    sub = read_source(path)
    budget.bytes += sub.size_bytes
    budget.values += sub.size_values
    if budget.bytes > MAX_COURSE_BYTES or budget.values > MAX_COURSE_VALUES:
        source.errors.append(
            source.error(
                ("lessons", i),
                f"the course's lesson files hold more than {MAX_COURSE_BYTES:,} bytes or "
                f"{MAX_COURSE_VALUES:,} values together; split it into several courses",
            )
        )
        return None
    if sub.data is None and sub.unreadable:
        # Not readable as YAML at all: nothing tells it is a lesson, and the parser's
        # messages quote the text (an alias, a tag, a value), so none is passed on.
        source.errors.append(
            source.error(
                ("lessons", i),
                f"{shown} does not read as a lesson (line {sub.errors[0].line} is not valid "
                f"YAML or not UTF-8 text); `cnnlesson validate {shown}` says why",
            )
        )
        return None
    looks_like_lesson = isinstance(sub.data, dict) and "steps" in sub.data
    if sub.errors and (sub.data is None or looks_like_lesson):
        source.errors.extend(sub.errors)  # errors in the lesson's own text
        return None
    if not looks_like_lesson:  # one line; nothing it holds is quoted back
        if isinstance(sub.data, dict) and "lessons" in sub.data:
            why = "is itself a course; a course lists lessons with steps"
        else:
            why = "is not a lesson (a lesson file is a mapping with a title and steps)"
        source.errors.append(source.error(("lessons", i), f"{shown} {why}"))
        return None
    try:
        sub_header = LessonHeader.model_validate(sub.data)
    except ValidationError as exc:
        sub.errors.extend(_pydantic_errors(sub, exc, LessonHeader, (), "lesson"))
        source.errors.extend(sub.errors)
        return None
    if sub_header.steps is None:
        source.errors.append(sub.error(("steps",), "expected a non-empty list of steps, got null"))
        return None
    steps = _parse_steps(sub, sub_header.steps, path.parent)
    part = _Part(sub, sub_header.title, steps, path.parent, sub_header.focus)
    source.errors.extend(sub.errors)
    return part


def validate_source(source: Source, path: Path) -> Lesson | None:
    """Validate a parsed lesson (or course); every error goes to ``source.errors``.

    Validation goes on past the first problems so that one run reports them
    all: a value the YAML could not give (a refused tag, a duplicate key) is
    not reported again by the checks that follow, and a header with bad
    fields is checked further with those fields left out.
    """
    if not isinstance(source.data, dict):
        return None
    parsed = len(source.errors)
    damaged = [e.path for e in source.errors if e.path]
    lesson = _validate(source, path, source.data)
    source.errors[:] = [
        e
        for i, e in enumerate(source.errors)
        if i < parsed or not any(_within(e.path, d) for d in damaged)
    ]
    return None if source.errors else lesson


def _within(path: str, outer: str) -> bool:
    return path == outer or path.startswith((f"{outer}.", f"{outer}["))


def _header(source: Source, data: dict[str, Any]) -> tuple[LessonHeader | None, set[str]]:
    """The lesson header and its bad fields; with errors, the header of its valid fields
    (so that they are checked further)."""
    try:
        return LessonHeader.model_validate(data), set()
    except ValidationError as exc:
        source.errors.extend(_pydantic_errors(source, exc, LessonHeader, (), "lesson"))
        bad = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
    partial = {k: v for k, v in data.items() if k not in bad}
    partial.setdefault("title", "?")  # stands in for a missing or bad title
    try:
        return LessonHeader.model_validate(partial), bad
    except ValidationError:
        return None, bad


def _validate(source: Source, path: Path, data: dict[str, Any]) -> Lesson | None:
    errors = source.errors
    header, bad = _header(source, data)

    parts: list[_Part] = []
    raw_steps = data.get("steps")
    if "steps" in data and "lessons" in data:
        errors.append(
            source.error(("lessons",), "expected either steps or lessons (a course), got both")
        )
    elif "steps" not in data and "lessons" not in data:
        errors.append(
            source.error(("steps",), "required field is missing (or give `lessons` for a course)")
        )
    elif "steps" in data and raw_steps is None:
        errors.append(source.error(("steps",), "expected a non-empty list of steps, got null"))
    elif "lessons" in data and data["lessons"] is None:
        errors.append(
            source.error(("lessons",), "expected a non-empty list of lesson files, got null")
        )
    elif isinstance(raw_steps, list):
        parts.append(_Part(source, "", _parse_steps(source, raw_steps, path.parent), path.parent))
    elif header is not None and header.lessons:
        parts = _course_parts(source, header, path.parent)

    if header is None:
        return None

    # References: theme, model, image.
    theme_base = Path.cwd() if "theme" in source.overridden else path.parent
    theme, theme_errors = resolve_theme(source, header.theme, theme_base)
    errors.extend(theme_errors)
    location: ModelLocation | None = None
    info: ModelInfo | None = None
    try:
        if "model" not in bad:  # a bad model value is reported already
            location = resolve(_model_reference(source, header.model, path.parent))
            info = model_info(location)
    except ModelError as exc:
        errors.append(source.error(("model",), str(exc)))
    image, image_errors = _resolve_image(
        source, header, path.parent, location.name if location else None
    )
    errors.extend(image_errors)
    if info is not None and image is not None:
        # As written: a sample's name says its class ("star_1"); a file's name may.
        info.image = header.image if header.image is not None else image.stem

    if info is not None:  # the neuron each step shows, followed from step to step
        errors.extend(_focus_errors(source, header.focus, parts, info))
        resolved = carry_focus(header.focus, [(p.focus, p.steps) for p in parts], info)
        # New parts: a lesson a course lists twice may follow another neuron each time.
        parts = [replace(p, steps=s) for p, s in zip(parts, resolved, strict=True)]

    # Cross-field checks, only where the fields themselves are valid; each
    # error is placed in the file the step was written in.
    needs_trace = False
    steps: list[StepSpec] = []
    origins: list[Origin] = []
    chapters: list[Chapter] = []
    labels: list[str] = []
    cues: list[list[PlacedCue]] = []
    names = _class_names(header, location, info)
    for part in parts:
        first = len(steps)
        for i, spec in enumerate(part.steps):
            if spec is None:
                continue
            step_type = registry.get(spec.type)
            needs_trace = needs_trace or _step_needs_trace(spec)
            fields_valid = True
            if step_type.check is not None and (info is not None or not step_type.needs_trace):
                for field_parts, message in step_type.check(spec, info):
                    errors.append(part.source.error(("steps", i, *field_parts), message))
                    fields_valid = False
            if fields_valid and step_type.complete is not None and info is not None:
                spec = step_type.complete(spec, info)
            step_cues: list[PlacedCue] = []
            if fields_valid:  # phases follow from the fields (positions, settings)
                step_cues, problems = place_cues(spec, step_type.phases.names(spec), part.folder)
                problems += _recording_problems(step_cues)
            else:
                cues_written = [(c.at, c.audio, where) for c, where in written_cues(spec)]
                problems = _loose_cue_problems(step_type, cues_written, part.folder)
            for field_parts, message in problems:
                errors.append(part.source.error(("steps", i, *field_parts), message))
            cues.append(step_cues)
            steps.append(spec)
            origins.append(Origin(part.source.file, part.source.mark(("steps", i))[0]))
        part_labels = [step_label(s, header.language, names) for s in steps[first:]]
        labels += distinct(part_labels)
        if part.source is source:  # a lesson: one chapter per step
            chapters += [Chapter(label, first + n, 1) for n, label in enumerate(labels[first:])]
        else:  # a course: one chapter per lesson
            chapters.append(Chapter(" ".join(part.title.split()), first, len(steps) - first))
    # No two chapters of one video share a name (a course may list a lesson twice).
    chapters = [
        Chapter(title, c.first, c.count)
        for c, title in zip(chapters, distinct([c.title for c in chapters]), strict=True)
    ]
    errors.extend(_duration_errors(parts, header.words_per_minute))
    # A lesson's steps are all counted, valid or not; a course's only when every lesson
    # could be read.
    written = sum(len(part.steps) for part in parts)
    counted = written > 0 and (header.lessons is None or not errors)
    if header.poster is not None and header.poster > written and counted:
        errors.append(
            source.error(
                ("poster",), f"expected a step number from 1 to {written}, got {header.poster}"
            )
        )
    if header.voice is not None:
        errors.extend(_voice_errors(source, header.voice))
    if header.language not in LANGUAGES:
        errors.append(
            source.error(
                ("language",),
                unknown_name("language", header.language, list(LANGUAGES), "languages"),
            )
        )
    if header.labels is not None and info is not None:
        errors.extend(_label_errors(source, header.labels, info.classes))
    if (
        needs_trace
        and location is not None
        and image is None
        and header.image is None
        and ("image" not in bad)
    ):
        errors.append(
            source.error(
                ("image",) if "image" in data else (),
                f"this lesson's steps use the model, so it needs an `image:` "
                f"(model {location.name!r} has no default sample)",
            )
        )
    translations = _translations(source, header, path, steps)
    if errors:
        return None
    warnings = sorted(set(source.warnings + [w for p in parts for w in p.source.warnings]))
    return Lesson(
        path,
        header,
        steps,
        location,
        image,
        origins,
        chapters,
        warnings,
        cues,
        translations,
        labels,
        theme=theme,
    )


def _class_names(
    header: LessonHeader, location: ModelLocation | None, info: ModelInfo | None
) -> ClassNames:
    """The model's classes as the lesson shows them: its own ``labels:``, else the model
    card's names in its language, else the model's."""
    if info is None:
        return ClassNames()
    shown = list(info.classes)
    if location is not None and header.language in LANGUAGES:
        try:
            shown = class_labels(location, len(shown), header.language) or shown
        except ModelError:  # a damaged card: its names are refused where they are used
            pass
    own = header.labels or {}
    return ClassNames(
        info.classes, [own.get(c, name) for c, name in zip(info.classes, shown, strict=True)]
    )


def _focus_errors(
    source: Source, focus: Focus | None, parts: list[_Part], info: ModelInfo
) -> list[LessonError]:
    """A focus (the lesson's, or a course's lesson's own) on a neuron the model lacks."""
    found = [(source, focus)] + [(p.source, p.focus) for p in parts if p.source is not source]
    errors = [
        where.error(("focus", "neuron"), problem)
        for where, own in found
        if own is not None and (problem := focus_problem(own, info)) is not None
    ]
    return list(dict.fromkeys(errors))  # once for a lesson a course lists twice


def _translations(
    source: Source,
    header: LessonHeader,
    path: Path,
    steps: list[StepSpec],
) -> list[Lesson]:
    """The lesson's translations, each validated and checked to have the same steps, with
    the same phases, in another language; their problems go to ``source.errors``."""
    found: list[Lesson] = []
    languages = [header.language]
    for i, entry in enumerate(header.translations or []):
        where: FieldPath = ("translations", i)
        file = _course_entry(source, i, entry, path.parent, "translations")
        if file is None:
            continue
        shown = display_path(file)
        sub = read_source(file)
        if isinstance(sub.data, dict) and "translations" in sub.data:
            # Never validated: two lessons listing each other would never end.
            source.errors.append(
                source.error(
                    where, f"{shown} lists translations itself; only the lesson it translates may"
                )
            )
            continue
        lesson = validate_source(sub, file)
        if lesson is None:
            source.errors.extend(sub.errors)
            continue
        problem = None
        if lesson.header.language in languages:
            problem = (
                f"{shown} is in {lesson.header.language!r}, a language this lesson already has; "
                "give each translation its own language:"
            )
        elif [s.type for s in lesson.steps] != [s.type for s in steps]:
            problem = (
                f"{shown} has the steps {', '.join(s.type for s in lesson.steps)}; a translation "
                f"needs this lesson's steps in the same order: {', '.join(s.type for s in steps)}"
            )
        else:
            for n, (own, other) in enumerate(zip(steps, lesson.steps, strict=True)):
                phases = registry.get(own.type).phases
                if phases.names(own) != phases.names(other):
                    problem = (
                        f"step {n + 1} of {shown} ({other.type}) has the phases "
                        f"{', '.join(phases.names(other))}; this lesson's has "
                        f"{', '.join(phases.names(own))} (give it the same fields)"
                    )
                    break
        if problem is not None:
            source.errors.append(source.error(where, problem))
            continue
        languages.append(lesson.header.language)
        found.append(lesson)
    return found


def _label_errors(source: Source, labels: dict[str, str], classes: list[str]) -> list[LessonError]:
    """``labels:`` must name classes of the model, each with a distinct printable name."""
    errors = []
    for name, shown in labels.items():
        if name not in classes:
            errors.append(
                source.error(("labels", name), unknown_name("class", name, classes, "classes"))
            )
        problem = text_problem(shown) or (None if shown.isprintable() else "is not printable")
        if problem is not None:
            errors.append(source.error(("labels", name), f"the name {problem}"))
    shown_names = [labels.get(c, c) for c in classes]
    doubled = sorted({n for n in shown_names if shown_names.count(n) > 1})
    if doubled and not errors:
        errors.append(
            source.error(
                ("labels",),
                f"two classes would be shown as {quoted(doubled[0])}; give each its own",
            )
        )
    return errors


def _raw_cues(raw: dict[str, Any]) -> list[tuple[str | None, str | None, FieldPath]]:
    """The phase and recording of each cue of a step whose fields are not all valid, as
    far as they are text: (at, audio, where in the step)."""
    narration = raw.get("narration")
    if not isinstance(narration, list):
        return []
    found: list[tuple[str | None, str | None, FieldPath]] = []
    for j, cue in enumerate(narration):
        if isinstance(cue, dict):
            at, recording = cue.get("at"), cue.get("audio")
            found.append(
                (
                    at if isinstance(at, str) and at else None,
                    recording if isinstance(recording, str) and recording else None,
                    ("narration", j),
                )
            )
    return found


def _loose_cue_problems(
    step_type: registry.StepType,
    cues: list[tuple[str | None, str | None, FieldPath]],
    folder: Path,
) -> list[tuple[FieldPath, str]]:
    """What can be told about cues while their step's fields are in error, when the
    step's phases are not known: an ``at:`` no step of its type has, whatever its
    fields, and a recording that is missing, unreadable or silent."""
    problems: list[tuple[FieldPath, str]] = []
    phases = step_type.phases
    for at, recording, where in cues:
        if at is not None and not phases.could_name(at):
            problems.append(
                (
                    (*where, "at"),
                    f"a {step_type.name} step has no phase {quoted(at)}"
                    f"{suggest(at, phases.examples(at))}; its phases: {phases.describe()}",
                )
            )
        if recording is not None:
            placed = PlacedCue("", "", folder / Path(recording).expanduser(), where)
            problems += _recording_problems([placed])
    return problems


def _recording_problems(cues: list[PlacedCue]) -> list[tuple[FieldPath, str]]:
    """A recording that is missing, unreadable, silent or too long, at its ``audio`` field."""
    problems: list[tuple[FieldPath, str]] = []
    for cue in cues:
        if cue.audio is None:
            continue
        try:
            audio.recording_seconds(cue.audio)
        except audio.AudioError as exc:
            problems.append(((*cue.where, "audio"), f"{display_path(cue.audio)}: {exc.reason}"))
    return problems


def _duration_errors(parts: list[_Part], words_per_minute: int) -> list[LessonError]:
    """Narration, and fields that set a step's length (window positions, settings to
    compare), may not ask for more than ``MAX_STEP_SECONDS`` a step, ``MAX_LESSON_SECONDS``
    in all (a placeholder counts as one word; the render checks again once they are filled)."""
    errors: list[LessonError] = []
    total = 0.0
    for part in parts:
        for i, spec in enumerate(part.steps):
            if spec is None:
                continue
            seconds = reading_seconds(spec.narration_text(), words_per_minute)
            plan = registry.get(spec.type).planned_seconds
            planned = plan(spec) if plan is not None else 0.0
            total += max(seconds, planned)
            if planned > MAX_STEP_SECONDS:
                errors.append(
                    part.source.error(
                        ("steps", i),
                        f"its fields ask for about {planned / 60:.0f} minutes of animation; a "
                        f"step may take at most {MAX_STEP_SECONDS / 60:.0f} minutes (split it "
                        "over several steps)",
                    )
                )
            if seconds > MAX_STEP_SECONDS:
                errors.append(
                    part.source.error(
                        ("steps", i, "narration"),
                        f"this narration takes {seconds / 60:.0f} minutes to read at "
                        f"{words_per_minute} words per minute; a step may take at most "
                        f"{MAX_STEP_SECONDS / 60:.0f} minutes (split it over several steps)",
                    )
                )
    if total > MAX_LESSON_SECONDS and not errors:
        first = parts[0].source
        errors.append(
            first.error(
                (),
                f"the steps take at least {total / 3600:.1f} hours (narration and animation); "
                f"a lesson may take at most {MAX_LESSON_SECONDS / 3600:.0f} hours (split it "
                "into several lessons)",
            )
        )
    return errors


def read_source(path: Path) -> Source:
    """Read and parse a lesson file: a regular UTF-8 file of at most ``MAX_BYTES``."""
    file = display_path(path)
    try:
        data = read_regular(path, MAX_BYTES)
    except FileRefused as exc:
        source = Source(file)
        reason = str(exc)
        message = "no such lesson file" if reason == "no such file" else f"cannot read it: {reason}"
        source.errors.append(LessonError(file, 1, 1, "", message))
        return source
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        source = Source(file, unreadable=True)
        line, column, message = decode_error(data, exc)
        source.errors.append(LessonError(file, line, column, "", message))
        return source
    return parse(text, file)


def _apply_overrides(source: Source, overrides: Mapping[str, object] | None, origin: str) -> None:
    """Replace lesson keys with the values given for one render (on the command line
    when ``origin`` is "command line", else as keywords of the function ``origin``).
    An image path given so is relative to the working folder."""
    if not overrides:
        return
    settings = overridable()
    unknown = [key for key in overrides if key not in settings]
    if unknown:
        raise TypeError(
            f"{origin}() got an unexpected keyword argument {unknown[0]!r}; the lesson "
            f"settings it takes are {', '.join(settings)}"
        )
    if not isinstance(source.data, dict):
        return
    for key, value in overrides.items():
        if value is None:
            continue
        label = override_of(settings[key]).flags(key)[-1] if origin == COMMAND_LINE else f"{key}="
        source.overridden[key] = label
        source.override_origin = origin
        problem = text_problem(value) if isinstance(value, str) else None
        if problem is not None:
            source.errors.append(source.error((key,), f"the value {problem}"))
            source.data.pop(key, None)
            continue
        if (
            key == "image"
            and isinstance(value, str)
            and samples.find_sample(value) is None
            and os.path.lexists(value)
        ):
            value = os.path.abspath(value)
        source.data[key] = value


COMMAND_LINE = "command line"


def validate_lesson(
    path: str | Path,
    overrides: Mapping[str, object] | None = None,
    origin: str = "validate_lesson",
) -> list[LessonError]:
    """Every error in the lesson at ``path`` (empty when it is valid).

    ``overrides`` replaces lesson settings (see :func:`~scenes.lesson.spec.overridable`)
    as a render's options or keywords do; their errors name ``origin``.
    """
    path = Path(path)
    source = read_source(path)
    _apply_overrides(source, overrides, origin)
    validate_source(source, path)
    return sorted(set(source.errors))


def load_lesson(
    path: str | Path,
    overrides: Mapping[str, object] | None = None,
    origin: str = "load_lesson",
) -> Lesson:
    """The validated lesson at ``path``; raises :class:`LessonInvalid` with every error."""
    path = Path(path)
    source = read_source(path)
    _apply_overrides(source, overrides, origin)
    lesson = validate_source(source, path)
    if lesson is None:
        raise LessonInvalid(source.errors)
    return lesson
