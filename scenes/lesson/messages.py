"""Pydantic's validation errors rewritten as "expected ..., got ..." sentences."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

import annotated_types
from pydantic import BaseModel
from pydantic_core import ErrorDetails

from ..quoting import describe_value, quoted


def _bounds(model: type[BaseModel], field: str) -> tuple[Any, Any]:
    """Inclusive bounds of a numeric field (schemas use only ge= and le=)."""
    info = model.model_fields.get(field)
    lo: Any = None
    hi: Any = None
    for item in info.metadata if info is not None else []:
        if isinstance(item, annotated_types.Ge):
            lo = item.ge
        elif isinstance(item, annotated_types.Le):
            hi = item.le
    return lo, hi


def _kind_of(model: type[BaseModel], field: str) -> str:
    info = model.model_fields.get(field)
    annotation = getattr(info, "annotation", None)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):  # int | None -> int
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = options[0] if len(options) == 1 else annotation
    if annotation is int:
        return "an integer"
    if annotation is float:
        return "a number"
    return "a value"


def expectation(model: type[BaseModel], field: str, kind: str | None = None) -> str:
    """ "an integer ≥ 1", "a number from 0 to 30", or just "an integer"."""
    kind = kind or _kind_of(model, field)
    lo, hi = _bounds(model, field)
    if lo is not None and hi is not None:
        return f"{kind} from {lo} to {hi}"
    if lo is not None:
        return f"{kind} ≥ {lo}"
    if hi is not None:
        return f"{kind} ≤ {hi}"
    return kind


def closest(name: str, known: list[str]) -> str | None:
    """The known name ``name`` most likely means, if one is close enough."""
    close = difflib.get_close_matches(name[:200], known, n=1, cutoff=0.6)
    return close[0] if close else None


def suggest(name: str, known: list[str]) -> str:
    """ " (did you mean 'x'?)" for the closest known name, or nothing."""
    close = closest(name, known)
    return f" (did you mean '{close}'?)" if close else ""


def listing(known: list[str], limit: int = 12) -> str:
    shown = known[:limit] + (["..."] if len(known) > limit else [])
    return ", ".join(shown)


def unknown_name(
    what: str, value: object, known: list[str], known_label: str, limit: int = 12
) -> str:
    """ "unknown theme 'drak' (did you mean 'dark'?); known themes: ..."."""
    if isinstance(value, str):
        shown, hint = quoted(value), suggest(value[:200], known)
    else:
        shown, hint = describe_value(value), ""
    return f"unknown {what} {shown}{hint}; known {known_label}: {listing(known, limit)}"


def _unwrap(annotation: Any) -> type[BaseModel] | None:
    """The model inside an annotation such as ``list[Setting]`` or ``Setting | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _unwrap(arg)
        if found is not None:
            return found
    return None


def model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel]:
    """The (nested) model that holds the field at the end of ``loc``."""
    for part in loc[:-1]:
        if isinstance(part, str):
            info = model.model_fields.get(part)
            inner = _unwrap(info.annotation) if info is not None else None
            if inner is None:
                break
            model = inner
    return model


def message_for(error: ErrorDetails, model: type[BaseModel], what: str) -> str:
    """One readable sentence for one pydantic error on ``model`` (a ``what``)."""
    kind = error["type"]
    loc = error["loc"]
    field = str(loc[0]) if loc else ""
    got = describe_value(error.get("input"))
    ctx = error.get("ctx") or {}
    top_level = len(loc) == 1
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        owner = model_at(model, tuple(loc))
        field = str(loc[-1])
        if owner is not model:
            what = "these"
        known = [n for n in owner.model_fields if n != "type"]
        hint = suggest(field, known)
        return (
            f"unknown field{hint}"
            if hint
            else f"unknown field; {what} fields are: {listing(known, 40)}"
        )
    if kind in ("int_type", "int_parsing", "int_from_float"):
        wanted = expectation(model, field, "an integer") if top_level else "an integer"
        return f"expected {wanted}, got {got}"
    if kind in ("float_type", "float_parsing", "finite_number"):
        wanted = expectation(model, field, "a number") if top_level else "a number"
        return f"expected {wanted}, got {got}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return (
            f"expected {expectation(model, field) if top_level else 'a value in range'}, got {got}"
        )
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected', '?').replace(' or ', ', ')}, got {got}"
    if kind == "string_type":
        return f"expected text, got {got}"
    if kind == "string_too_short":
        return (
            "expected non-empty text, got ''"
            if ctx.get("min_length") == 1
            else f"expected text of at least {ctx.get('min_length')} characters, got {got}"
        )
    if kind == "string_too_long":
        length = len(str(error.get("input")))
        return f"expected text of at most {ctx.get('max_length')} characters, got {length}"
    if kind == "bool_type":
        return f"expected true or false, got {got}"
    if kind == "list_type":
        return f"expected a list, got {got}"
    if kind == "too_short" and ctx.get("min_length") == 1:
        return "expected at least one item, got an empty list"
    if kind == "too_short":
        return f"expected at least {ctx.get('min_length')} item(s), got {ctx.get('actual_length')}"
    if kind == "too_long":
        return f"expected at most {ctx.get('max_length')} item(s), got {ctx.get('actual_length')}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping, got {got}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"])).removeprefix("Value error, ")
    return f"{error['msg'][0].lower()}{error['msg'][1:]}, got {got}"
