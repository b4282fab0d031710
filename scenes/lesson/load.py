"""Loading a lesson: parse, validate every field, resolve model, image and theme.

Validation never stops at the first problem: it collects every error it can
find, each with its file, line and column, and only a lesson with none is
returned. Cross-field checks (a layer the model has, a kernel that fits)
run after the field checks they depend on.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from cnn_model import ImageError, ModelError, samples
from cnn_model.images import open_image
from cnn_model.store import ModelLocation, model_classes, read_facts, resolve
from cnn_model.tinyvgg import layer_specs

from ..steps import registry
from ..steps.base import LayerInfo, ModelInfo, StepSpec
from ..visuals.theme import theme_names
from .errors import FieldPath, LessonError, LessonInvalid, display_path, path_text
from .messages import describe_value, listing, message_for, suggest, unknown_name
from .source import Source, parse
from .spec import LessonHeader

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

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def needs_trace(self) -> bool:
        return any(_step_needs_trace(s) for s in self.steps)


def uses_placeholders(narration: str) -> bool:
    """Whether a (valid) narration names a value of the trace, like {prediction}."""
    return any(name for _, name, _, _ in string.Formatter().parse(narration or ""))


def _step_needs_trace(spec: StepSpec) -> bool:
    """A step needs the image's trace to draw it, or to fill its narration."""
    return registry.get(spec.type).needs_trace or uses_placeholders(spec.narration)


def _pydantic_errors(
    source: Source, exc: ValidationError, model: type[BaseModel], prefix: FieldPath, what: str
) -> list[LessonError]:
    found = []
    for error in exc.errors():
        path = (*prefix, *error["loc"])
        message = message_for(error, model, what)
        if error["type"] == "missing":
            # Point at the mapping that lacks the field, but name the field.
            line, column = source.mark(path[:-1])
            found.append(LessonError(source.file, line, column, path_text(path), message))
        else:
            found.append(source.error(path, message, key=error["type"] == "extra_forbidden"))
    return found


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
    return ModelInfo(location.name, model_classes(location, facts.num_classes), layers)


def _check_narration(source: Source, path: FieldPath, narration: str) -> list[LessonError]:
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
    for name in fields:
        if name not in PLACEHOLDERS:
            errors.append(
                source.error(
                    path,
                    unknown_name("placeholder", name, list(PLACEHOLDERS), "placeholders")
                    + " (write {{ and }} for literal braces)",
                )
            )
    if not errors:
        # Every value is text: a format or conversion text does not take fails here.
        try:
            narration.format_map({name: "text" for name in PLACEHOLDERS})
        except (ValueError, KeyError, IndexError, AttributeError) as exc:
            errors.append(
                source.error(
                    path,
                    f"cannot fill the placeholders in this text ({type(exc).__name__}: {exc}); "
                    "write them plainly, like {prediction}",
                )
            )
    return errors


def _model_reference(source: Source, value: str, lesson_dir: Path) -> str:
    """A model name as it is, or a path written in the lesson, relative to the lesson."""
    if "model" in source.overridden or value in ("default", "cnn-explainer"):
        return value
    written = Path(value).expanduser()
    looks_like_path = "/" in value or value.endswith(".safetensors")
    if looks_like_path and not written.is_absolute():
        return str(lesson_dir / written)
    return value


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
    if sample is None and not path.exists():
        known = samples.sample_names()
        return None, [
            source.error(
                ("image",),
                f"no sample called {value!r} and no file {display_path(path)}"
                f"{suggest(value, known)}; samples: {listing(known)}",
            )
        ]
    try:
        open_image(path)
    except ImageError as exc:
        return None, [source.error(("image",), str(exc))]
    return path, []


def _parse_steps(source: Source, raw_steps: list[Any]) -> list[StepSpec | None]:
    """Each step against its own type's schema; errors go to ``source.errors``."""
    steps: list[StepSpec | None] = []
    known = registry.names()
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
            steps.append(None)
            continue
        step_type = registry.get(kind)
        try:
            steps.append(step_type.spec.model_validate(raw))
        except ValidationError as exc:
            source.errors.extend(
                _pydantic_errors(source, exc, step_type.spec, where, f"{article(kind)} step's")
            )
            steps.append(None)
        if isinstance(raw.get("narration"), str):
            source.errors.extend(_check_narration(source, (*where, "narration"), raw["narration"]))
    return steps


def step_label(spec: StepSpec) -> str:
    """A chapter title for one step: its own title, a title card's text, or its type."""
    if spec.title:
        return spec.title
    text = getattr(spec, "text", None)
    if spec.type == "title" and isinstance(text, str):
        return text
    return spec.type.replace("_", " ").capitalize()


@dataclass
class _Part:
    """Steps read from one file: the lesson itself, or one lesson of a course."""

    source: Source
    title: str
    steps: list[StepSpec | None]


def _course_parts(source: Source, header: LessonHeader, base: Path) -> list[_Part]:
    """The lessons a course lists, each parsed and its steps checked against the schemas."""
    parts: list[_Part] = []
    for i, entry in enumerate(header.lessons or []):
        path = base / entry
        if not path.is_file():
            source.errors.append(
                source.error(("lessons", i), f"no lesson file {display_path(path)}")
            )
            continue
        sub = read_source(path)
        if not sub.errors and isinstance(sub.data, dict):
            if "lessons" in sub.data:
                source.errors.append(
                    source.error(
                        ("lessons", i),
                        f"{display_path(path)} is itself a course; "
                        "a course lists lessons with steps",
                    )
                )
                continue
            try:
                sub_header = LessonHeader.model_validate(sub.data)
            except ValidationError as exc:
                sub.errors.extend(_pydantic_errors(sub, exc, LessonHeader, (), "lesson"))
            else:
                if sub_header.steps is None:
                    sub.errors.append(sub.error(("steps",), "required field is missing"))
                else:
                    parts.append(_Part(sub, sub_header.title, _parse_steps(sub, sub_header.steps)))
        source.errors.extend(sub.errors)
    return parts


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
        parts.append(_Part(source, "", _parse_steps(source, raw_steps)))
    elif header is not None and header.lessons:
        parts = _course_parts(source, header, path.parent)

    if header is None:
        return None

    # References: theme, model, image.
    if header.theme not in theme_names():
        errors.append(
            source.error(("theme",), unknown_name("theme", header.theme, theme_names(), "themes"))
        )
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

    # Cross-field checks, only where the fields themselves are valid; each
    # error is placed in the file the step was written in.
    needs_trace = False
    steps: list[StepSpec] = []
    origins: list[Origin] = []
    chapters: list[Chapter] = []
    for part in parts:
        first = len(steps)
        for i, spec in enumerate(part.steps):
            if spec is None:
                continue
            step_type = registry.get(spec.type)
            needs_trace = needs_trace or _step_needs_trace(spec)
            if step_type.check is not None and (info is not None or not step_type.needs_trace):
                for field_parts, message in step_type.check(spec, info):
                    errors.append(part.source.error(("steps", i, *field_parts), message))
            steps.append(spec)
            origins.append(Origin(part.source.file, part.source.mark(("steps", i))[0]))
            if part.source is source:  # a lesson: one chapter per step
                chapters.append(Chapter(step_label(spec), len(steps) - 1, 1))
        if part.source is not source:  # a course: one chapter per lesson
            chapters.append(Chapter(part.title, first, len(steps) - first))
    if header.poster is not None and header.poster > len(steps) and not errors:
        errors.append(
            source.error(
                ("poster",), f"expected a step number from 1 to {len(steps)}, got {header.poster}"
            )
        )
    if header.voice is not None:
        errors.extend(_voice_errors(source, header.voice))
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
    if errors:
        return None
    return Lesson(path, header, steps, location, image, origins, chapters)


def read_source(path: Path) -> Source:
    file = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        source = Source(file)
        source.errors.append(LessonError(file, 1, 1, "", "no such lesson file"))
        return source
    except (OSError, UnicodeDecodeError) as exc:
        source = Source(file)
        source.errors.append(LessonError(file, 1, 1, "", f"cannot read the file ({exc})"))
        return source
    return parse(text, file)


OVERRIDABLE = ("model", "image", "theme", "aspect", "voice")


def _apply_overrides(source: Source, overrides: dict[str, str | None] | None) -> None:
    """Replace lesson keys with command-line values (an image path is relative to the cwd)."""
    if not overrides or not isinstance(source.data, dict):
        return
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in OVERRIDABLE:
            raise ValueError(f"{key!r} cannot be overridden; choose from {OVERRIDABLE}")
        if key == "image" and samples.find_sample(value) is None and Path(value).exists():
            value = str(Path(value).resolve())
        source.data[key] = value
        source.overridden.add(key)


def validate_lesson(
    path: str | Path, overrides: dict[str, str | None] | None = None
) -> list[LessonError]:
    """Every error in the lesson at ``path`` (empty when it is valid).

    ``overrides`` replaces lesson keys (model, image, theme, aspect) as the
    command line's options do.
    """
    path = Path(path)
    source = read_source(path)
    _apply_overrides(source, overrides)
    validate_source(source, path)
    return sorted(set(source.errors))


def load_lesson(path: str | Path, overrides: dict[str, str | None] | None = None) -> Lesson:
    """The validated lesson at ``path``; raises :class:`LessonInvalid` with every error."""
    path = Path(path)
    source = read_source(path)
    _apply_overrides(source, overrides)
    lesson = validate_source(source, path)
    if lesson is None:
        raise LessonInvalid(source.errors)
    return lesson
