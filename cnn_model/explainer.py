"""CNN Explainer's own trained TinyVGG, fetched on request.

``fetch`` downloads ``model.json``, its weight shard and the sample images
from the CNN Explainer repository at a pinned commit (or takes them from a
local copy or another base URL), checks every file against the SHA-256
values below, converts the Keras / TensorFlow.js weights to this project's
TinyVGG and installs everything in the per-user cache, all or nothing.

The conversion reads ``model.json`` generically (layer list, weights
manifest with names, shapes and dtypes) and refuses anything that is not
exactly CNN Explainer's TinyVGG. Keras kernels ``[kh, kw, in, out]`` become
PyTorch's ``(out, in, kh, kw)``; the dense kernel ``[1690, 10]`` becomes a
``(10, 1690)`` weight whose columns keep Keras' channels-last flatten order,
so the model is saved with ``flatten_order="hwc"``.

Nothing fetched or converted here belongs in the repository: it lives only
in the user's cache (``cache_home()/cnn-explainer/<commit>``).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import math
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ModelError
from .safeio import FileRefused, describe, read_regular, real_path
from .store import (
    CARD_FILE,
    WEIGHTS_FILE,
    ModelLocation,
    fetched_location,
    save_model,
    sha256_file,
)

# The pinned commit and the cache folder it names are the store's, which finds
# a fetched model without importing this module.
from .store import EXPLAINER_COMMIT as COMMIT
from .store import explainer_dir as cache_dir
from .tinyvgg import CONV_LAYERS

if TYPE_CHECKING:
    from .network import TinyVGG

REPOSITORY = "https://github.com/poloclub/cnn-explainer"
UPSTREAM_BASE = f"https://raw.githubusercontent.com/poloclub/cnn-explainer/{COMMIT}/"
MODEL_JSON = "model.json"
SHARD = "group1-shard1of1.bin"
TIMEOUT_SECONDS = 15.0
PARTIAL = ".partial"  # suffix of a staging folder being filled
MAX_FILE_BYTES = 8 * 1024 * 1024  # the largest file is 80 KB; anything huge is wrong
DOWNLOAD_SECONDS = 120.0  # one file, however slowly a server trickles it

# Classes in the order of the dense layer's outputs.
CLASSES: tuple[str, ...] = (
    "lifeboat",
    "ladybug",
    "pizza",
    "bell pepper",
    "school bus",
    "koala",
    "espresso",
    "red panda",
    "orange",
    "sport car",
)
# The class names in other languages (the card's ``labels``), in the order of CLASSES.
LABELS: dict[str, tuple[str, ...]] = {
    "de": (
        "Rettungsboot",
        "Marienkäfer",
        "Pizza",
        "Paprika",
        "Schulbus",
        "Koala",
        "Espresso",
        "Roter Panda",
        "Orange",
        "Sportwagen",
    ),
    "fr": (
        "canot de sauvetage",
        "coccinelle",
        "pizza",
        "poivron",
        "bus scolaire",
        "koala",
        "espresso",
        "panda roux",
        "orange",
        "voiture de sport",
    ),
}

# SHA-256 of every file at the pinned commit, by its name in the cache (and
# in a local copy laid out the same way).
SHA256: dict[str, str] = {
    "model.json": "85706d2d99841eb6270ddbf912bcf43c4d1bf76bc68a0a56af49561a69589627",
    "group1-shard1of1.bin": "306666f2a1cc2a0a8f7b3422617daac5ecdca20c707ab44b721522be1fe3f630",
    "img/boat_1.jpeg": "767cd685408cfd255c3486edb017bd75ab4097beb478826f780617f4f603d75f",
    "img/bug_1.jpeg": "02f52ceeb1e5edc8f7b1162966021b9d157ea6f83277de54b9586f7a8354f938",
    "img/bug_3.jpeg": "ad4cdbde1c63db2edbf287501e50fef41c7036d092addaa5527e305dfa79f060",
    "img/bus_1.jpeg": "ff7ccbdb78b5da7c791378f02d3cc6d3e79d9bb4dc47d68898234da55376ec14",
    "img/bus_2.jpeg": "5e3ed877d90c2a4771de7020a0305ee6ee5dc86c8a54bcd165ff396781444aba",
    "img/car_1.jpeg": "469384feee8381213dc8b52503fc42ab4708cdf452bcf219335538f5a03647d7",
    "img/espresso_1.jpeg": "9307c85667470cdb22557ebcf77a573dac5df83e360b6e339f47627b5871b3df",
    "img/koala_1.jpeg": "7d159407825f48c16bcd5293d21ed5064306c4d32dfcda64c52b3a3bc5b20365",
    "img/koala_2.jpeg": "774b0ed1a6f34f882c6bad788879bfebd0f771282ff5440e9d1ed2ccfd2f36c9",
    "img/koala_3.jpeg": "de99125be09f333a4fa57535375b9defc6d661acce1c9aefaaa302dc9326cb07",
    "img/orange_1.jpeg": "ac1e3266da220b12f62098f91146a7b22417f3b32bdc3547c091cb82721cf5d8",
    "img/orange_3.jpeg": "e25ba8f59e051b7e9ed7b6b12316b81735c447e07ab58575c5dd2d69e9912b4f",
    "img/panda_1.jpeg": "aa027684fb8ca5c3faf6dfcf0152bdeb06865aa4eb5da7e18004ba4d344d6273",
    "img/panda_2.jpeg": "b9f78292b29df2ecb13d5bebf3f4d4f73c87957ee63eb812ec6bcd3e8d174077",
    "img/panda_3.jpeg": "41314470054cf09e7f91ab07b8d1b7a55cf138edcf523538f574054bce8afc55",
    "img/panda_5.jpeg": "b4e4d4403bdc9f65553aa85d12aeb46d258cff97d76b031846cbc03fa1651a99",
    "img/pepper_1.jpeg": "074afc1c4b93b7b9e6489e320d9f4656f8f00e12ef4a2f2157f61c8668a0e25e",
    "img/pepper_2.jpeg": "5e24a9b9f9f2ea58def8a04f395cf7abd26e06c9007d33d00f9ec00886fe68f3",
    "img/pizza_1.jpeg": "2508a03666aea814c2e51ec82265388c14e430773da7a6e43e7256b4162922d3",
    "img/pizza_2.jpeg": "6adeb1124e2ec3b726a1ce6951ff0457fdd1306521443679cc88ec28f1870303",
    "img/white.jpeg": "30dd3c58e707a9af2ac513200c85d0db2bfc60b334cffca5d9b0780dc0c33e51",
}

Progress = Callable[[str], None]


def upstream_path(name: str) -> str:
    """Where a cache file lives in the CNN Explainer repository."""
    if name.startswith("img/"):
        return "public/assets/" + name
    return "public/assets/data/" + name


def images_dir() -> Path | None:
    folder = cache_dir() / "img"
    return folder if folder.is_dir() else None


# --- reading the TensorFlow.js layers format ------------------------------


@dataclass(frozen=True)
class KerasLayer:
    """One layer of a Keras Sequential model as model.json describes it."""

    class_name: str
    config: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.config.get("name", "?"))


def _topology_layers(document: Any) -> list[KerasLayer]:
    """The layer list of a Sequential model, in either of Keras' JSON spellings."""
    if not isinstance(document, dict):
        raise ModelError("model.json: expected a JSON object")
    topology = document.get("modelTopology")
    if not isinstance(topology, dict):
        raise ModelError("model.json: no modelTopology (not a TensorFlow.js layers model)")
    model_config = topology.get("model_config", topology)
    if not isinstance(model_config, dict) or model_config.get("class_name") != "Sequential":
        kind = model_config.get("class_name") if isinstance(model_config, dict) else None
        raise ModelError(f"model.json: expected a Keras Sequential model, found {kind!r}")
    config = model_config.get("config")
    layers = config.get("layers") if isinstance(config, dict) else config
    if not isinstance(layers, list):
        raise ModelError("model.json: the Sequential model has no layer list")
    result = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict) or not isinstance(layer.get("config"), dict):
            raise ModelError(f"model.json: layer {i} is not a Keras layer description")
        result.append(KerasLayer(str(layer.get("class_name")), layer["config"]))
    return result


@dataclass(frozen=True)
class _Expected:
    name: str
    class_name: str
    settings: dict[str, Any]


_CONV = {
    "filters": 10,
    "kernel_size": [3, 3],
    "strides": [1, 1],
    "padding": "valid",
    "data_format": "channels_last",
    "dilation_rate": [1, 1],
    "activation": "linear",
    "use_bias": True,
}
_POOL = {
    "pool_size": [2, 2],
    "strides": [2, 2],
    "padding": "valid",
    "data_format": "channels_last",
}
_RELU = {"activation": "relu"}

ARCHITECTURE: tuple[_Expected, ...] = (
    _Expected("conv_1_1", "Conv2D", {**_CONV, "batch_input_shape": [None, 64, 64, 3]}),
    _Expected("relu_1_1", "Activation", _RELU),
    _Expected("conv_1_2", "Conv2D", _CONV),
    _Expected("relu_1_2", "Activation", _RELU),
    _Expected("max_pool_1", "MaxPooling2D", _POOL),
    _Expected("conv_2_1", "Conv2D", _CONV),
    _Expected("relu_2_1", "Activation", _RELU),
    _Expected("conv_2_2", "Conv2D", _CONV),
    _Expected("relu_2_2", "Activation", _RELU),
    _Expected("max_pool_2", "MaxPooling2D", _POOL),
    _Expected("flatten", "Flatten", {"data_format": "channels_last"}),
    _Expected("output", "Dense", {"units": 10, "activation": "softmax", "use_bias": True}),
)

WEIGHT_SHAPES: dict[str, tuple[int, ...]] = {
    "conv_1_1/kernel": (3, 3, 3, 10),
    "conv_1_1/bias": (10,),
    "conv_1_2/kernel": (3, 3, 10, 10),
    "conv_1_2/bias": (10,),
    "conv_2_1/kernel": (3, 3, 10, 10),
    "conv_2_1/bias": (10,),
    "conv_2_2/kernel": (3, 3, 10, 10),
    "conv_2_2/bias": (10,),
    "output/kernel": (1690, 10),
    "output/bias": (10,),
}


def check_architecture(layers: list[KerasLayer]) -> list[str]:
    """Every way ``layers`` differ from CNN Explainer's TinyVGG (empty if none)."""
    problems: list[str] = []
    names = [layer.name for layer in layers]
    expected_names = [e.name for e in ARCHITECTURE]
    if names != expected_names:
        problems.append(f"layers are [{', '.join(names)}], expected [{', '.join(expected_names)}]")
    for i, (layer, expected) in enumerate(zip(layers, ARCHITECTURE, strict=False)):
        where = f"layer {i + 1} ({layer.name})"
        if layer.class_name != expected.class_name:
            problems.append(f"{where} is a {layer.class_name}, expected {expected.class_name}")
            continue
        for key, want in expected.settings.items():
            got = layer.config.get(key, want if key == "data_format" else None)
            if got != want:
                problems.append(f"{where}: {key} is {json.dumps(got)}, expected {json.dumps(want)}")
    return problems


def _dtype_of(name: str, dtype: Any) -> np.dtype[Any]:
    if dtype != "float32":
        raise ModelError(f"model.json: weight {name} has dtype {dtype!r}; only float32 is read")
    return np.dtype("<f4")


def _read_json(model_json: Path) -> Any:
    try:
        return json.loads(read_regular(model_json, MAX_FILE_BYTES).decode("utf-8"))
    except FileRefused as exc:
        raise ModelError(f"{model_json}: cannot read model.json ({exc})") from None
    except (ValueError, RecursionError) as exc:
        reason = exc if isinstance(exc, ValueError) else "nested too deeply"
        raise ModelError(f"{model_json}: cannot read model.json ({reason})") from None


def read_weights(model_json: Path) -> dict[str, np.ndarray]:
    """The arrays of a TF.js weights manifest, read from its shard files in order."""
    document = _read_json(model_json)
    manifest = document.get("weightsManifest") if isinstance(document, dict) else None
    if not isinstance(manifest, list) or not manifest:
        raise ModelError(f"{model_json}: no weightsManifest")
    folder = model_json.parent
    arrays: dict[str, np.ndarray] = {}
    for group_index, group in enumerate(manifest):
        paths = group.get("paths") if isinstance(group, dict) else None
        specs = group.get("weights") if isinstance(group, dict) else None
        if not isinstance(paths, list) or not isinstance(specs, list):
            raise ModelError(f"{model_json}: weightsManifest group {group_index} is malformed")
        data = bytearray()
        for shard in paths:
            # Shards sit beside model.json; a manifest may not point elsewhere.
            if not isinstance(shard, str) or Path(shard).name != shard or shard in ("", ".", ".."):
                raise ModelError(f"{model_json}: unsafe or invalid shard path {shard!r}")
            try:
                data += read_regular(folder / shard, MAX_FILE_BYTES)
            except FileRefused as exc:
                raise ModelError(f"{folder / shard}: cannot read weight shard ({exc})") from None
        offset = 0
        for spec in specs:
            if not isinstance(spec, dict) or "quantization" in spec:
                raise ModelError(f"{model_json}: unsupported weight entry {spec!r}")
            name = str(spec.get("name"))
            shape = spec.get("shape")
            if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
                raise ModelError(f"{model_json}: weight {name} has invalid shape {shape!r}")
            dtype = _dtype_of(name, spec.get("dtype"))
            size = math.prod(shape) * dtype.itemsize
            if offset + size > len(data):
                raise ModelError(
                    f"{model_json}: the weight shards end before {name} "
                    f"({len(data)} bytes, {offset + size} needed)"
                )
            values = np.frombuffer(bytes(data[offset : offset + size]), dtype=dtype)
            arrays[name] = values.reshape(shape).astype(np.float32)
            offset += size
        if offset != len(data):
            raise ModelError(
                f"{model_json}: {len(data) - offset} bytes of the weight shards are not "
                "described by the weightsManifest"
            )
    return arrays


def convert(model_json: Path) -> TinyVGG:
    """CNN Explainer's Keras TinyVGG (model.json + shard) as this project's TinyVGG."""
    import torch

    from .network import TinyVGG

    document = _read_json(model_json)
    problems = check_architecture(_topology_layers(document))
    if problems:
        raise ModelError(
            f"{model_json} is not CNN Explainer's TinyVGG: "
            + "; ".join(problems[:6])
            + (f"; and {len(problems) - 6} more" if len(problems) > 6 else "")
        )
    arrays = read_weights(model_json)
    found = {name.removesuffix(":0"): value for name, value in arrays.items()}
    if set(found) != set(WEIGHT_SHAPES):
        missing = sorted(set(WEIGHT_SHAPES) - set(found))
        extra = sorted(set(found) - set(WEIGHT_SHAPES))
        raise ModelError(
            f"{model_json}: weights do not match TinyVGG "
            f"(missing: {', '.join(missing) or 'none'}; unexpected: {', '.join(extra) or 'none'})"
        )
    for name, shape in WEIGHT_SHAPES.items():
        if found[name].shape != shape:
            raise ModelError(
                f"{model_json}: weight {name} has shape {list(found[name].shape)}, "
                f"expected {list(shape)}"
            )
    model = TinyVGG(num_classes=len(CLASSES), flatten_order="hwc")
    state: dict[str, torch.Tensor] = {}
    for layer in CONV_LAYERS:
        # Keras [kh, kw, in, out] -> PyTorch (out, in, kh, kw); both cross-correlate.
        kernel = found[f"{layer}/kernel"].transpose(3, 2, 0, 1)
        state[f"{layer}.weight"] = torch.from_numpy(np.ascontiguousarray(kernel))
        state[f"{layer}.bias"] = torch.from_numpy(found[f"{layer}/bias"].copy())
    # Dense [1690, 10] -> (10, 1690). Rows stay in channels-last order, which is
    # what flatten_order="hwc" feeds the layer: index = (y*13 + x)*10 + c.
    dense = found["output/kernel"].T
    state["output.weight"] = torch.from_numpy(np.ascontiguousarray(dense))
    state["output.bias"] = torch.from_numpy(found["output/bias"].copy())
    model.load_state_dict(state, strict=True)
    model.classes = list(CLASSES)
    model.name = "cnn-explainer"
    model.eval()
    return model


def model_card(source: str) -> dict[str, Any]:
    return {
        "name": "cnn-explainer",
        "architecture": "TinyVGG (CNN Explainer)",
        "classes": list(CLASSES),
        "labels": {code: list(names) for code, names in LABELS.items()},
        "accuracy": None,
        "accuracy_split": None,
        "source": {
            "repository": REPOSITORY,
            "commit": COMMIT,
            "files": {name: SHA256[name] for name in (MODEL_JSON, SHARD)},
            "fetched_from": source,
            "format": "Keras 2.2.4 Sequential exported to TensorFlow.js (layers-model)",
        },
        "licence": "MIT",
        "attribution": (
            "CNN Explainer (Wang et al., 2020), Copyright (c) 2020 Polo Club of Data "
            "Science, Georgia Tech; trained weights and sample images used under the "
            "MIT licence"
        ),
        "preprocessing": (
            "the 64x64 image as RGB (greyscale expanded to three equal channels), "
            "values / 255, no resize, no mean or std"
        ),
        "flatten_order": "hwc",
        "conversion": (
            "conv kernels [kh, kw, in, out] -> (out, in, kh, kw); dense kernel "
            "[1690, 10] -> (10, 1690) in channels-last flatten order"
        ),
    }


# --- fetching --------------------------------------------------------------


def _is_url(text: str) -> bool:
    try:
        scheme = urllib.parse.urlsplit(text).scheme.lower()
    except ValueError as exc:
        raise ModelError(f"--from {text!r}: not a usable folder or address ({exc})") from None
    return scheme in ("http", "https", "file")


def _local_layout(folder: Path) -> Callable[[str], Path]:
    """How names map to files in a local copy: flat (like the tests' copy) or a clone."""
    # Whatever is there by that name is taken: reading it says if it is not a file.
    if os.path.lexists(folder / MODEL_JSON):
        return lambda name: folder / name
    if os.path.lexists(folder / "public" / "assets" / "data" / MODEL_JSON):
        return lambda name: folder / upstream_path(name)
    raise ModelError(
        f"{folder}: no {MODEL_JSON} here; expected a folder with {MODEL_JSON}, {SHARD} "
        "and img/*.jpeg (or a clone of the cnn-explainer repository)"
    )


class _Sink:
    """A temp file being written while its SHA-256 is computed."""

    def __init__(self, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0
        self.handle = target.open("wb")

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > MAX_FILE_BYTES:
            raise ModelError(
                f"{self.target.name}: more than {MAX_FILE_BYTES:,} bytes; not the expected file"
            )
        self.digest.update(chunk)
        self.handle.write(chunk)

    def close(self) -> str:
        self.handle.close()
        return self.digest.hexdigest()


def _offline_hint(url: str, reason: str) -> str:
    return (
        f"cannot download {url}: {reason}. Check the internet connection, or fetch from a "
        "local copy with `cnnlesson model fetch cnn-explainer --from FOLDER` (a folder "
        f"holding {MODEL_JSON}, {SHARD} and img/) or another base URL"
    )


def _download(url: str, sink: _Sink) -> None:
    if urllib.parse.urlsplit(url).scheme.lower() == "file":
        # Read like a local copy: a FIFO or a device is refused, never waited on.
        path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
        _copy(path, sink)
        return
    request = urllib.request.Request(url, headers={"User-Agent": "cnnlesson"})
    deadline = time.monotonic() + DOWNLOAD_SECONDS
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            # read1 returns what has arrived: a server that trickles a byte at a
            # time still meets the deadline (read would wait for a whole chunk).
            while chunk := response.read1(1 << 16):
                sink.write(chunk)
                if time.monotonic() > deadline:
                    raise ModelError(
                        _offline_hint(url, f"not complete after {DOWNLOAD_SECONDS:.0f} seconds")
                    )
    except urllib.error.HTTPError as exc:
        raise ModelError(_offline_hint(url, f"HTTP {exc.code} {exc.reason}")) from None
    except urllib.error.URLError as exc:
        raise ModelError(_offline_hint(url, str(exc.reason))) from None
    except TimeoutError:
        raise ModelError(
            _offline_hint(url, f"no answer within {TIMEOUT_SECONDS:.0f} seconds")
        ) from None
    except OSError as exc:
        raise ModelError(_offline_hint(url, str(exc))) from None
    except http.client.HTTPException as exc:  # a server that does not speak HTTP properly
        reason = f"bad answer ({type(exc).__name__}: {str(exc).strip()!r})"
        raise ModelError(_offline_hint(url, reason)) from None
    except ValueError as exc:  # an address urllib cannot parse
        raise ModelError(f"cannot download {url}: not a usable address ({exc})") from None


def _copy(path: Path, sink: _Sink) -> None:
    try:
        sink.write(read_regular(path, MAX_FILE_BYTES))
    except FileRefused as exc:
        raise ModelError(f"cannot read {path}: {exc}") from None


def _verified(folder: Path) -> bool:
    """Whether ``folder`` holds every file with its right checksum and the converted model."""
    if not (folder / WEIGHTS_FILE).is_file() or not (folder / CARD_FILE).is_file():
        return False
    for name, digest in SHA256.items():
        path = folder / name
        if not path.is_file() or sha256_file(path) != digest:
            return False
    return True


@dataclass(frozen=True)
class FetchResult:
    location: ModelLocation
    source: str
    files: int
    already_present: bool


def fetch(
    source: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> FetchResult:
    """Download (or copy), verify, convert and install CNN Explainer's model.

    ``source`` is None for the pinned upstream commit, a local folder (laid out
    as model.json, group1-shard1of1.bin, img/, or a clone of the repository)
    or a base URL (http, https or file) with the flat layout. Either every file
    is verified and the model installed, or the cache is left as it was.
    """
    target = cache_dir()
    if not force and _verified(target):
        location = fetched_location()
        assert location is not None
        return FetchResult(location, str(target), len(SHA256), True)

    text = None if source is None else os.fspath(source)
    if text is None:
        described = f"{UPSTREAM_BASE} (commit {COMMIT[:12]})"

        def get(name: str, sink: _Sink) -> None:
            _download(UPSTREAM_BASE + upstream_path(name), sink)
    elif _is_url(text):
        base = text if text.endswith("/") else text + "/"
        described = base

        def get(name: str, sink: _Sink) -> None:
            _download(base + name, sink)
    else:
        folder = Path(text).expanduser()
        if not folder.is_dir():
            what = describe(folder) or "a file, not a folder"
            if what == "no such file":
                what = "no such folder"
            raise ModelError(f"--from {text}: {what} (give a folder or a URL)")
        where = _local_layout(folder)
        described = str(real_path(folder))

        def get(name: str, sink: _Sink) -> None:
            path = where(name)
            if not os.path.lexists(path):
                raise ModelError(f"{path}: missing from the local copy")
            _copy(path, sink)

    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(parent)
    staging = Path(tempfile.mkdtemp(prefix=f".{COMMIT[:12]}-", suffix=PARTIAL, dir=parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)
    try:
        for count, (name, expected) in enumerate(SHA256.items(), start=1):
            sink = _Sink(staging / name)
            try:
                get(name, sink)
            finally:
                actual = sink.close()
            if actual != expected:
                raise ModelError(
                    f"{name}: checksum mismatch (expected SHA-256 {expected}, got {actual}); "
                    "the file is damaged or not the pinned version, nothing was installed"
                )
            if progress is not None:
                progress(f"[{count}/{len(SHA256)}] {name}: {sink.size:,} bytes, SHA-256 ok")
        model = convert(staging / MODEL_JSON)
        card = model_card(described)
        digest = save_model(model, staging / WEIGHTS_FILE, card, staging / CARD_FILE)
        if progress is not None:
            progress(f"converted to TinyVGG (flatten order hwc), weights sha256 {digest}")
        _install(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    location = fetched_location()
    assert location is not None
    return FetchResult(location, described, len(SHA256), False)


def _remove_stale_partials(parent: Path) -> None:
    """Staging folders left behind by a fetch that was killed an hour or more ago."""
    now = time.time()
    for stale in parent.glob(f".*{PARTIAL}"):
        try:
            if stale.is_dir() and now - stale.stat().st_mtime > 3600:
                shutil.rmtree(stale, ignore_errors=True)
        except OSError:
            pass


def _install(staging: Path, target: Path) -> None:
    """Put a complete staging folder in place of ``target`` with renames only."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        if old.exists():
            shutil.rmtree(old)
        os.replace(target, old)
    try:
        os.replace(staging, target)
    except OSError:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
