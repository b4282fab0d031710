"""Cross-field checks several step types share (no drawing here)."""

from __future__ import annotations

from .base import FieldParts, LayerInfo, ModelInfo

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
        got = f"{layer!r}" if found is None else f"{layer!r}, a {found.kind} layer"
        return None, [((field,), f"expected {what} ({', '.join(allowed)}), got {got}")]
    return found, []


def channel_in(
    count: int, value: int, field: str, what: str, reason: str
) -> list[tuple[FieldParts, str]]:
    """An error unless 0 <= value < count; ``reason`` says where the count comes from."""
    if value >= count:
        return [((field,), f"expected {what} from 0 to {count - 1} ({reason}), got {value}")]
    return []
