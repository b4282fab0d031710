"""Cross-field checks several step types share (no drawing here)."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import ValidationError, ValidatorFunctionWrapHandler, WrapValidator

from ...quoting import describe_value, quoted
from .base import FieldParts, LayerInfo, ModelInfo

if TYPE_CHECKING:
    from cnn_model.trace import Trace

MAX_LISTED_CLASSES = 12


KIND_NAMES = {
    "conv": "a convolution layer",
    "relu": "a ReLU layer",
    "max_pool": "a max-pool layer",
}


def layer_of_kind(
    info: ModelInfo, layer: str, kinds: tuple[str, ...], field: str = "layer"
) -> tuple[LayerInfo | None, list[tuple[FieldParts, str]]]:
    """The named layer if it exists and is of one of ``kinds``, else an error."""
    allowed = [name for name, spec in info.layers.items() if spec.kind in kinds]
    what = " or ".join(KIND_NAMES.get(k, k) for k in kinds)
    found = info.layers.get(layer)
    if found is None or found.kind not in kinds:
        got = quoted(layer) if found is None else f"{quoted(layer)}, a {found.kind} layer"
        return None, [((field,), f"expected {what} ({', '.join(allowed)}), got {got}")]
    return found, []


def neuron_of(
    info: ModelInfo, layer: LayerInfo | None, name: str, kinds: tuple[str, ...], neuron: int | None
) -> list[tuple[FieldParts, str]]:
    """An error unless ``neuron`` is a neuron of the layer; when the layer itself is
    wrong (``layer`` None), an error still if no layer of ``kinds`` has that neuron."""
    if neuron is None:
        return []
    if layer is not None:
        count = layer.shape[0]
        return channel_in(count, neuron, "neuron", "a neuron", f"{name} has {count} neurons")
    counts = {spec.shape[0] for spec in info.layers.values() if spec.kind in kinds}
    if not counts:
        return []
    what = " or ".join(KIND_NAMES.get(k, k) for k in kinds).removeprefix("a ")
    most = max(counts)
    reason = (
        f"every {what} of model '{info.name}' has {most} neurons"
        if len(counts) == 1
        else f"no {what} of model '{info.name}' has more than {most} neurons"
    )
    return channel_in(most, neuron, "neuron", "a neuron", reason)


def channel_in(
    count: int, value: int, field: str, what: str, reason: str
) -> list[tuple[FieldParts, str]]:
    """An error unless 0 <= value < count; ``reason`` says where the count comes from."""
    if value >= count:
        return [((field,), f"expected {what} from 0 to {count - 1} ({reason}), got {value}")]
    return []


def one_class_error(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """One message for a class given as neither text nor an integer (not one per type)."""
    try:
        return handler(value)
    except ValidationError:
        got = describe_value(value)
        raise ValueError(
            f"expected a class name (text) or a class index (an integer), got {got}"
        ) from None


def class_errors(
    info: ModelInfo, value: str | int | None, field: str = "class_name"
) -> list[tuple[FieldParts, str]]:
    """An error unless ``value`` names or indexes a class of the model (None: predicted)."""
    if value is None:
        return []
    classes, count = info.classes, len(info.classes)
    if isinstance(value, int):
        if 0 <= value < count:
            return []
        return [
            (
                (field,),
                f"expected a class index from 0 to {count - 1} "
                f"(model '{info.name}' has {count} classes), got {value}",
            )
        ]
    if value in classes:
        return []
    close = difflib.get_close_matches(value, classes, n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    listed = ", ".join(classes[:MAX_LISTED_CLASSES]) + (
        ", ..." if count > MAX_LISTED_CLASSES else ""
    )
    return [
        (
            (field,),
            f"expected a class of model '{info.name}' ({listed}) or its index "
            f"from 0 to {count - 1}, got '{value}'{hint}",
        )
    ]


def class_index(trace: Trace, value: str | int | None) -> int:
    """The class a step is about: by index, by name, or the prediction."""
    if value is None:
        return trace.prediction
    if isinstance(value, int):
        if not 0 <= value < len(trace.classes):
            raise ValueError(f"class index {value} is outside 0..{len(trace.classes) - 1}")
        return value
    if value not in trace.classes:
        raise ValueError(f"model {quoted(trace.model_name)} has no class {quoted(value)}")
    return trace.classes.index(value)


# A class named by text or by index; one clear message when it is neither.
ClassName = Annotated[str | int | None, WrapValidator(one_class_error)]


def check_class_name(spec: Any, info: ModelInfo | None) -> list[tuple[FieldParts, str]]:
    """The checker of steps whose only cross-field rule is their ``class_name``."""
    return [] if info is None else class_errors(info, spec.class_name)
