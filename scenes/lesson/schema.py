"""The lesson language described from its own schemas: JSON Schema and field lists."""

from __future__ import annotations

import json
import types
import typing
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, create_model
from pydantic_core import PydanticUndefined

from ..steps import registry
from .spec import LessonHeader

SCHEMA_ID = "https://cnnlesson.invalid/lesson.schema.json"


def lesson_model() -> type[BaseModel]:
    """A pydantic model of a whole lesson, steps as a union keyed by ``type``."""
    specs = tuple(registry.get(name).spec for name in registry.names())
    step = Annotated[Union[specs], Field(discriminator="type")]  # type: ignore[valid-type]  # noqa: UP007
    return create_model(
        "Lesson",
        __base__=LessonHeader,
        steps=(
            list[step] | None,
            Field(None, min_length=1, description="The steps, in order (or `lessons`)."),
        ),
    )


def json_schema() -> dict[str, Any]:
    schema = lesson_model().model_json_schema()
    # A lesson has steps; a course lists lessons instead: exactly one of them.
    schema["oneOf"] = [{"required": ["steps"]}, {"required": ["lessons"]}]
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "cnnlesson lesson"
    schema["description"] = (
        "A lesson script for cnnlesson: a title, lesson-level settings and a list of steps, "
        "each with a type; or a course: a list of lesson files."
    )
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def type_name(annotation: Any) -> str:
    """A reader's name for a field's type: 'integer', 'one of a, b', 'matrix of numbers'."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Annotated:  # a type with validators: describe what authors may write
        for extra in args[1:]:
            written = getattr(extra, "json_schema_input_type", PydanticUndefined)
            if written is not PydanticUndefined and written is not Any:
                return type_name(written)
        return type_name(args[0])
    if annotation is int:
        return "integer"
    if annotation is float:
        return "number"
    if annotation is str:
        return "text"
    if annotation is bool:
        return "true/false"
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in args)
    if origin in (Union, types.UnionType):
        names = [type_name(a) for a in args if a is not type(None)]
        optional = " (optional)" if type(None) in args else ""
        return " or ".join(names) + optional
    if origin is list:
        inner = type_name(args[0]) if args else "value"
        if inner.startswith("list of "):
            return "matrix of " + inner.removeprefix("list of ")
        plural = {"integer": "integers", "number": "numbers", "text": "texts"}.get(inner, inner)
        return f"list of {plural}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    return getattr(annotation, "__name__", str(annotation))


def field_rows(model: type[BaseModel]) -> list[tuple[str, str, str, str]]:
    """(name, type, default, description) for each field but ``type``."""
    rows = []
    for name, info in model.model_fields.items():
        if name == "type":
            continue
        if info.is_required():
            default = "required"
        elif info.default is PydanticUndefined or info.default is None:
            default = "-"
        else:
            default = json.dumps(info.default)
        rows.append((name, type_name(info.annotation), default, info.description or ""))
    return rows
