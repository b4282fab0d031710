"""Where models live and how they are saved and loaded.

Names a user can give: ``default`` (shipped in this package),
``cnn-explainer`` (CNN Explainer's model, once fetched), the name of a model
trained with ``cnnlesson model train --name NAME``, or a path to a
``.safetensors`` file (its card beside it as ``<stem>.json`` or
``card.json``) or to a folder holding ``model.safetensors``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ModelError
from .safeio import FileRefused, describe, read_regular, replacing
from .tinyvgg import CHANNELS, CONV_LAYERS, KERNEL, FlattenOrder, layer_specs

if TYPE_CHECKING:
    from collections.abc import Callable

    from .network import TinyVGG

PACKAGE_WEIGHTS = Path(__file__).resolve().parent / "weights"
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "card.json"
FORMAT = "cnnlesson-tinyvgg-1"
METADATA_KEY = "cnnlesson"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
RESERVED = ("default", "cnn-explainer")
MAX_CLASSES = 1000  # a classifier with more outputs is not a TinyVGG lesson
# TinyVGG with MAX_CLASSES outputs is about 6.8 MB of float32; a card is a page of JSON.
MAX_WEIGHTS_BYTES = 16 * 1024 * 1024
MAX_CARD_BYTES = 1024 * 1024
MAX_CLASS_NAME = 60  # characters: a class name is a label on screen
# Trained TinyVGG weights stay far below 1; with every |w| at most this, no
# activation of a 64x64 image in [0, 1] can overflow float32 (the logits stay
# below 1e26), so a model that passes the checks never computes NaN.
MAX_WEIGHT = 1000.0


def data_home() -> Path:
    """Per-user folder for trained models (``CNNLESSON_DATA`` overrides it)."""
    override = os.environ.get("CNNLESSON_DATA")
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "cnnlesson"


def cache_home() -> Path:
    """Per-user cache for downloads (``CNNLESSON_CACHE`` overrides it)."""
    override = os.environ.get("CNNLESSON_CACHE")
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cnnlesson"


def user_models_dir() -> Path:
    return data_home() / "models"


def check_new_name(name: str) -> str:
    """``name`` if a trained model may be saved under it, else a clear ModelError."""
    if name in RESERVED:
        raise ModelError(
            f"the name {name!r} is reserved ({' and '.join(RESERVED)} are built in); "
            "choose another --name"
        )
    if not NAME_PATTERN.match(name) or name.endswith(".safetensors"):
        raise ModelError(
            f"invalid model name {name!r}: use 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def trained_paths(name: str) -> tuple[Path, Path]:
    """Weights and card paths of the trained model ``name`` in the user's data folder."""
    folder = user_models_dir() / check_new_name(name)
    return folder / WEIGHTS_FILE, folder / CARD_FILE


def sha256_file(path: Path, limit: int = MAX_WEIGHTS_BYTES) -> str:
    """The SHA-256 of a regular file of at most ``limit`` bytes (ModelError otherwise)."""
    try:
        return hashlib.sha256(read_regular(path, limit)).hexdigest()
    except FileRefused as exc:
        raise ModelError(f"{path}: {exc}") from None


@dataclass(frozen=True)
class ModelLocation:
    """A model a name resolves to: its weights file and model card."""

    name: str
    weights: Path
    card: Path | None
    source: str  # "shipped", "fetched", "trained" or "path"


def save_model(
    model: TinyVGG,
    weights_path: Path,
    card: dict[str, Any],
    card_path: Path,
    beside: Callable[[str], dict[str, Any]] | None = None,
) -> str:
    """Write weights (safetensors) and the card; returns the weights' SHA-256.

    ``beside`` writes more files beside the weights once they are written (it is
    given their SHA-256) and returns what the card says of them (a training
    history: ``{"history": ...}``)."""
    from safetensors.torch import save_file

    weights_path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    facts = {
        "format": FORMAT,
        "num_classes": model.num_classes,
        "flatten_order": model.flatten_order,
    }
    # One metadata entry holding sorted JSON: safetensors stores its metadata
    # in a hash map, so several entries would come out in a different order
    # each time and identical weights would get different checksums.
    metadata = {METADATA_KEY: json.dumps(facts, sort_keys=True)}
    # Each file is written under a new name of its own and renamed into place:
    # nothing already at either path (a link, say) is written through.
    with replacing(weights_path) as tmp:
        save_file(state, str(tmp), metadata=metadata)
        digest = sha256_file(tmp)
    card = {**card, "sha256": digest, "weights": weights_path.name}
    card.pop("history", None)
    if beside is not None:
        card.update(beside(digest))
    with replacing(card_path) as tmp_card:
        tmp_card.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return digest


def _card_for(weights: Path) -> Path | None:
    """The card beside ``weights``: anything there by that name, even if it is not a
    regular file (reading it then says what it is)."""
    for candidate in (weights.with_suffix(".json"), weights.parent / CARD_FILE):
        if os.path.lexists(candidate):
            return candidate
    return None


def _location_from_path(path: Path) -> ModelLocation:
    if path.is_dir():
        weights = path / WEIGHTS_FILE
        if not os.path.lexists(weights):
            raise ModelError(f"{path}: folder has no {WEIGHTS_FILE}")
    else:
        weights = path
    problem = describe(weights)
    if problem is not None:
        raise ModelError(f"{weights}: {problem}")
    return ModelLocation(
        weights.stem if weights.stem != "model" else weights.parent.name,
        weights,
        _card_for(weights),
        "path",
    )


def trained_models() -> list[ModelLocation]:
    root = user_models_dir()
    found = []
    if root.is_dir():
        for folder in sorted(root.iterdir()):
            weights = folder / WEIGHTS_FILE
            if folder.name in RESERVED or not NAME_PATTERN.match(folder.name):
                continue  # not addressable by name; still loadable by path
            if weights.is_file():
                found.append(ModelLocation(folder.name, weights, _card_for(weights), "trained"))
    return found


# CNN Explainer's model, once ``explainer`` has fetched and converted it, lives
# in the cache in a folder named after the commit of its repository it came from.
EXPLAINER_COMMIT = "d0971f9447ed9806022a3d47587b62394682bc51"


def explainer_dir() -> Path:
    """The cache folder of CNN Explainer's fetched files and converted model."""
    return cache_home() / "cnn-explainer" / EXPLAINER_COMMIT


def fetched_location() -> ModelLocation | None:
    """CNN Explainer's model if it has been fetched, else None."""
    folder = explainer_dir()
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        return None
    card = folder / CARD_FILE
    return ModelLocation("cnn-explainer", weights, card if card.is_file() else None, "fetched")


def shipped_default() -> ModelLocation:
    return ModelLocation(
        "default",
        PACKAGE_WEIGHTS / "default.safetensors",
        PACKAGE_WEIGHTS / "default.json",
        "shipped",
    )


def available_models() -> list[ModelLocation]:
    """Every model a name can refer to right now, default first."""
    models = [shipped_default()]
    fetched = fetched_location()
    if fetched is not None:
        models.append(fetched)
    models.extend(trained_models())
    return models


def known_names() -> list[str]:
    names = [m.name for m in available_models()]
    if "cnn-explainer" not in names:
        names.insert(1, "cnn-explainer")
    return names


def resolve(name_or_path: str | os.PathLike[str]) -> ModelLocation:
    """Find the model a name or path refers to, or explain what is known."""
    text = str(name_or_path)
    if text == "default":
        return shipped_default()
    if text == "cnn-explainer":
        fetched = fetched_location()
        if fetched is None:
            raise ModelError(
                "model 'cnn-explainer' has not been fetched yet; run "
                "`cnnlesson model fetch cnn-explainer` (needs the internet once) or "
                "`cnnlesson model fetch cnn-explainer --from FOLDER` with a local copy"
            )
        return fetched
    if NAME_PATTERN.match(text) and not text.endswith(".safetensors"):
        for location in trained_models():
            if location.name == text:
                return location
    path = Path(text).expanduser()
    if os.path.lexists(path):
        return _location_from_path(path)
    raise ModelError(
        f"unknown model {text!r}; known models: {', '.join(known_names())} "
        "(or give a path to a .safetensors file)"
    )


def read_card(location: ModelLocation) -> dict[str, Any]:
    if location.card is None:
        return {}
    try:
        card = json.loads(read_regular(location.card, MAX_CARD_BYTES).decode("utf-8"))
    except FileRefused as exc:
        raise ModelError(f"{location.card}: cannot read the model card ({exc})") from None
    except (ValueError, RecursionError) as exc:
        reason = exc if isinstance(exc, ValueError) else "nested too deeply"
        raise ModelError(f"{location.card}: cannot read the model card ({reason})") from None
    if not isinstance(card, dict):
        raise ModelError(f"{location.card}: a model card must be a JSON object")
    problem = _card_problem(card)
    if problem is not None:
        raise ModelError(f"{location.card}: {problem}")
    return card


# Fields of a card that are shown as they are: each is text when present.
_CARD_TEXT = ("name", "architecture", "accuracy_split", "licence", "attribution", "command")


def _card_problem(card: dict[str, Any]) -> str | None:
    """What is wrong with the fields of a card that are shown or computed with, if anything."""
    accuracy = card.get("accuracy")
    if accuracy is not None and (
        not isinstance(accuracy, int | float)
        or isinstance(accuracy, bool)
        or not 0.0 <= accuracy <= 1.0
    ):
        return "'accuracy' must be a number from 0 to 1 (or null)"
    for key in ("heldout_count", "train_count", "training_seconds"):
        value = card.get(key)
        if value is not None and (
            not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value < 1e12
        ):
            return f"'{key}' must be a number of at least 0"
    for key in _CARD_TEXT:
        value = card.get(key)
        if value is not None and not (isinstance(value, str) and len(value) <= 2000):
            return f"'{key}' must be text of at most 2000 characters"
    # The parts of "source" and "data" that are shown: short text or numbers.
    for key, shown in (("source", ("repository", "commit")), ("data", ("source", "path", "files"))):
        part = card.get(key)
        if part is None:
            continue
        if not isinstance(part, dict):
            return f"'{key}' must be a JSON object"
        for name in shown:
            value = part.get(name)
            if not (
                value is None
                or isinstance(value, int | float)
                or (isinstance(value, str) and len(value) <= 2000)
            ):
                return f"'{key}.{name}' must be a number or text of at most 2000 characters"
    return None


@dataclass(frozen=True)
class ModelFacts:
    """What a weights file says about itself, read and checked without torch."""

    num_classes: int
    flatten_order: FlattenOrder
    shapes: dict[str, list[int]]
    sha256: str = ""


def read_weights_file(weights: Path) -> bytes:
    """The bytes of a weights file: a regular file of at most ``MAX_WEIGHTS_BYTES``."""
    try:
        return read_regular(weights, MAX_WEIGHTS_BYTES)
    except FileRefused as exc:
        raise ModelError(f"{weights}: {exc}") from None


def read_header(path: Path, data: bytes) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    """The header of one of this project's safetensors files, the facts in its
    metadata, and the bytes after the header (ModelError when it cannot be read)."""
    try:
        header_len = int.from_bytes(data[:8], "little")
        if len(data) < 8 or not 2 <= header_len <= min(1_000_000, len(data) - 8):
            raise ValueError("no safetensors header")
        text = data[8 : 8 + header_len]
        # The rules of the safetensors loader itself, so nothing passes here that it refuses.
        if not text.startswith(b"{"):
            raise ValueError("the header does not start with '{'")
        header = json.loads(text)
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
        metadata = header.get("__metadata__") or {}
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            raise ValueError("its metadata is not a map of texts")
        facts = json.loads(metadata.get(METADATA_KEY, "{}"))
    except (ValueError, AttributeError, TypeError, RecursionError) as exc:
        raise ModelError(f"{path}: not a readable safetensors file ({exc})") from None
    if not isinstance(facts, dict):
        raise ModelError(f"{path}: not a file of this project")
    return header, facts, data[8 + header_len :]


def read_facts(weights: Path, data: bytes | None = None) -> ModelFacts:
    """The header of one of this project's safetensors files, checked with its values.

    Every tensor must have TinyVGG's shape, be float32, lie inside the file
    and hold only finite numbers: weights with NaN or infinity would make
    every probability NaN.
    """
    if data is None:
        data = read_weights_file(weights)
    header, facts, body = read_header(weights, data)
    if facts.get("format") != FORMAT:
        raise ModelError(f"{weights}: not a TinyVGG weights file of this project")
    order = facts.get("flatten_order")
    classes = facts.get("num_classes")
    if (
        order not in ("chw", "hwc")
        or not isinstance(classes, int)
        or isinstance(classes, bool)
        or not 2 <= classes <= MAX_CLASSES
    ):
        raise ModelError(f"{weights}: damaged metadata ({str(facts)[:200]})")
    expected = expected_shapes(classes)
    check_tensors(weights, header, body, expected, f"not TinyVGG with {classes} classes")
    return ModelFacts(classes, order, expected, hashlib.sha256(data).hexdigest())


def check_tensors(
    path: Path,
    header: dict[str, Any],
    body: bytes,
    expected: dict[str, list[int]],
    what: str = "not what it should hold",
) -> None:
    """The file holds exactly the tensors ``expected``, with those shapes, each float32,
    finite and within ``MAX_WEIGHT``, filling the file (ModelError otherwise)."""
    shapes = {
        k: v.get("shape") if isinstance(v, dict) else None
        for k, v in header.items()
        if k != "__metadata__"
    }
    # Compared by type too: in Python 10.0 == 10 and True == 1, yet only integers are sizes.
    keys = expected.keys() | shapes.keys()
    wrong = sorted(
        str(k)
        for k in keys
        if k not in shapes or k not in expected or _typed(shapes[k]) != _typed(expected[k])
    )
    if wrong:
        raise ModelError(
            f"{path}: {what} (tensors that differ: {', '.join(w[:40] for w in wrong[:5])})"
        )
    _check_values(path, header, body)


def _check_values(weights: Path, header: dict[str, Any], body: bytes) -> None:
    """Every tensor float32, finite and within ``MAX_WEIGHT``; the tensors lie one after
    another and fill the file exactly (ModelError naming the first bad one)."""
    import numpy as np

    spans = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        offsets = entry.get("data_offsets")
        if entry.get("dtype") != "F32":
            raise ModelError(f"{weights}: tensor {name} is {entry.get('dtype')!r}, not float32")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= len(body)
            or offsets[1] - offsets[0] != 4 * _count(entry["shape"])
        ):
            raise ModelError(f"{weights}: tensor {name} does not lie where its header says")
        spans.append((offsets[0], offsets[1]))
        values = np.frombuffer(body, dtype="<f4", count=_count(entry["shape"]), offset=offsets[0])
        if not np.isfinite(values).all():
            bad = int(np.count_nonzero(~np.isfinite(values)))
            raise ModelError(
                f"{weights}: tensor {name} holds {bad} values that are not finite numbers "
                "(NaN or infinity); the model cannot be used"
                if bad != 1
                else f"{weights}: tensor {name} holds a value that is not a finite number "
                "(NaN or infinity); the model cannot be used"
            )
        largest = float(np.abs(values).max()) if values.size else 0.0
        if largest > MAX_WEIGHT:
            raise ModelError(
                f"{weights}: tensor {name} holds values as large as {largest:.3g}; TinyVGG "
                f"weights stay below {MAX_WEIGHT:g} (larger ones overflow the activations)"
            )
    end = 0
    for start, stop in sorted(spans):
        if start != end:
            raise ModelError(f"{weights}: its tensors overlap or leave gaps in the file")
        end = stop
    if end != len(body):
        raise ModelError(f"{weights}: {len(body) - end:,} bytes follow the last tensor")


def _typed(shape: object) -> object:
    return [(type(size), size) for size in shape] if isinstance(shape, list) else shape


def _count(shape: list[int]) -> int:
    count = 1
    for size in shape:
        count *= size
    return count


def expected_shapes(num_classes: int) -> dict[str, list[int]]:
    """The tensors of TinyVGG's state with ``num_classes`` outputs, and their shapes."""
    shapes: dict[str, list[int]] = {}
    channels = 3
    for conv in CONV_LAYERS:
        shapes[f"{conv}.weight"] = [CHANNELS, channels, KERNEL, KERNEL]
        shapes[f"{conv}.bias"] = [CHANNELS]
        channels = CHANNELS
    flat = next(s.output_shape[0] for s in layer_specs(num_classes) if s.name == "flatten")
    shapes["output.weight"] = [num_classes, flat]
    shapes["output.bias"] = [num_classes]
    return shapes


def check_class_names(classes: Any, num_classes: int, where: str) -> list[str]:
    """The card's class names when they are usable labels, else a ModelError saying why."""
    if not isinstance(classes, list) or len(classes) != num_classes:
        count = len(classes) if isinstance(classes, list) else "no list of"
        raise ModelError(f"{where}: the card names {count} classes; the model has {num_classes}")
    for i, name in enumerate(classes):
        if not isinstance(name, str):
            raise ModelError(f"{where}: class {i} is not text")
        problem = None
        if not name.strip():
            problem = "is empty"
        elif len(name) > MAX_CLASS_NAME:
            problem = f"is longer than {MAX_CLASS_NAME} characters"
        elif not name.isprintable():
            problem = "holds control or unprintable characters"
        else:
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                problem = "is not valid Unicode text"
        if problem is not None:
            raise ModelError(f"{where}: class {i} ({name[:MAX_CLASS_NAME]!a}) {problem}")
    # Names that look the same on screen are the same name: é and e + U+0301, "a" and "a ".
    if len({unicodedata.normalize("NFC", name).strip() for name in classes}) != len(classes):
        raise ModelError(f"{where}: class names repeat; each class needs its own name")
    return list(classes)


def model_classes(location: ModelLocation, num_classes: int) -> list[str]:
    """The class names from the model's card (checked), or "class 0", "class 1", ..."""
    card = read_card(location)
    if "classes" not in card:
        return [f"class {i}" for i in range(num_classes)]
    return check_class_names(card["classes"], num_classes, str(location.card))


def class_labels(location: ModelLocation, num_classes: int, language: str) -> list[str] | None:
    """The class names in ``language`` from the card's ``labels`` map (checked like the
    names themselves), or None when the card has none for it."""
    labels = read_card(location).get("labels")
    if not isinstance(labels, dict) or language not in labels:
        return None
    return check_class_names(labels[language], num_classes, f"{location.card} labels.{language}")


def load_location(location: ModelLocation) -> TinyVGG:
    from safetensors import SafetensorError
    from safetensors.torch import load

    from .network import TinyVGG

    data = read_weights_file(location.weights)
    facts = read_facts(location.weights, data)
    try:
        state = load(data)
    except (SafetensorError, ValueError) as exc:
        raise ModelError(f"{location.weights}: not a readable safetensors file ({exc})") from None
    model = TinyVGG(num_classes=facts.num_classes, flatten_order=facts.flatten_order)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelError(f"{location.weights}: weights do not fit TinyVGG ({exc})") from None
    model.card = read_card(location)
    model.classes = model_classes(location, facts.num_classes)
    model.name = location.name
    model.sha256 = facts.sha256
    model.eval()
    return model


def load_model(name_or_path: str | os.PathLike[str] = "default") -> TinyVGG:
    """Load a model by name (``default``, ``cnn-explainer``, a trained name) or path."""
    return load_location(resolve(name_or_path))
