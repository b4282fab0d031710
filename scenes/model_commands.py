"""``cnnlesson model …`` and ``cnnlesson classify``: models and predictions."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

import cnn_model
from cnn_model.safeio import real_path
from cnn_model.tinyvgg import layer_specs

from .cli_common import CliError, console, out
from .lesson.errors import one_line


def cmd_model_info(args: argparse.Namespace) -> int:
    from cnn_model.network import parameter_count

    location = cnn_model.resolve(args.model)
    model = cnn_model.store.load_location(location)
    layers: list[dict[str, Any]] = []
    for spec in layer_specs(model.num_classes):
        module = getattr(model, spec.name, None) if spec.name not in ("input", "flatten") else None
        params = parameter_count(module) if module is not None else 0
        layers.append(
            {
                "name": spec.name,
                "kind": spec.kind,
                "output_shape": list(spec.output_shape),
                "parameters": params,
            }
        )
    info: dict[str, Any] = {
        "name": location.name,
        "source": location.source,
        "weights": str(location.weights),
        "classes": model.classes,
        "layers": layers,
        "parameters": parameter_count(model),
        "accuracy": model.card.get("accuracy"),
        "accuracy_split": model.card.get("accuracy_split"),
        "sha256": model.sha256,
        "flatten_order": model.flatten_order,
    }
    if args.json:
        out.print(json.dumps(info, indent=2))
        return 0
    out.print(
        Text(one_line(str(info["name"])), style="bold")
        + one_line(f" ({location.source}: {location.weights})")
    )
    table = Table("layer", "kind", "output shape", "parameters")
    for layer in layers:
        shape = "x".join(str(s) for s in layer["output_shape"])
        table.add_row(layer["name"], layer["kind"], shape, f"{layer['parameters']:,}")
    out.print(table)
    out.print_line(f"total parameters: {info['parameters']:,}")
    out.print_line(f"classes: {', '.join(model.classes)}")
    acc = info["accuracy"]
    out.print_line(
        f"accuracy: {acc:.4f} ({info['accuracy_split']})"
        if acc is not None
        else "accuracy: unknown"
    )
    out.print_line(f"sha256: {info['sha256']}")
    for line in _provenance(model.card):
        out.print_line(line)
    return 0


def _provenance(card: dict[str, Any]) -> list[str]:
    """Where a model came from, from its card: repository and licence, or training data."""
    lines = []
    source = card.get("source")
    if isinstance(source, dict) and source.get("repository"):
        lines.append(f"source: {source['repository']} at commit {source.get('commit', '?')}")
    if card.get("licence"):
        lines.append(f"licence: {card['licence']}")
    if card.get("attribution"):
        lines.append(f"attribution: {card['attribution']}")
    data = card.get("data")
    if isinstance(data, dict) and data.get("source") == "folder":
        lines.append(f"trained on: {data.get('path')} ({data.get('files')} images)")
    if card.get("command"):
        lines.append(f"command: {card['command']}")
    return lines


# --- list and fetch ------------------------------------------------------


def _listing() -> list[dict[str, Any]]:
    from cnn_model import explainer, store

    rows: list[dict[str, Any]] = []
    for location in store.available_models():
        try:
            card = store.read_card(location)
            problem = None
        except cnn_model.ModelError as exc:
            card, problem = {}, str(exc)
        classes = card.get("classes")
        rows.append(
            {
                "name": location.name,
                "source": location.source,
                "available": True,
                "weights": str(location.weights),
                "card": str(location.card) if location.card else None,
                "classes": classes if isinstance(classes, list) else None,
                "accuracy": card.get("accuracy"),
                "problem": problem,
            }
        )
    if explainer.fetched_location() is None:
        rows.insert(
            1,
            {
                "name": "cnn-explainer",
                "source": "not fetched",
                "available": False,
                "weights": None,
                "card": None,
                "classes": list(explainer.CLASSES),
                "accuracy": None,
                "problem": None,
                "fetch": "cnnlesson model fetch cnn-explainer [--from FOLDER_OR_URL]",
            },
        )
    return rows


def cmd_model_list(args: argparse.Namespace) -> int:
    from cnn_model import store

    rows = _listing()
    if args.json:
        payload = {
            "models": rows,
            "trained_models_dir": str(store.user_models_dir()),
            "cache_dir": str(store.cache_home()),
        }
        out.print(json.dumps(payload, indent=2))
        return 0
    # Plain lines, not a table: paths are what this command is for and must not be cut.
    width = max(len(row["name"]) for row in rows)
    for row in rows:
        name = row["name"].ljust(width)
        if not row["available"]:
            out.print(f"{name}  not fetched: run `{row['fetch']}`")
            continue
        facts = [row["source"]]
        if row["classes"]:
            facts.append(f"{len(row['classes'])} classes")
        if isinstance(row["accuracy"], float):
            facts.append(f"held-out accuracy {row['accuracy']:.4f}")
        out.print(f"{name}  {', '.join(facts)}")
        out.print(f"{' ' * width}  {row['weights']}")
        if row["problem"]:
            out.print(f"{' ' * width}  warning: {row['problem']}")
    out.print(f"trained models are saved in {store.user_models_dir()}")
    out.print(f"downloads are cached in {store.cache_home()}")
    return 0


def cmd_model_fetch(args: argparse.Namespace) -> int:
    from cnn_model import explainer

    progress = None if args.quiet else (lambda message: console.print(message))
    result = explainer.fetch(args.source, force=args.force, progress=progress)
    location = result.location
    if result.already_present:
        out.print(f"cnn-explainer is already fetched and verified: {location.weights}")
    else:
        out.print(
            f"fetched cnn-explainer (commit {explainer.COMMIT[:12]}) from {result.source}: "
            f"{result.files} files verified"
        )
        out.print(f"weights: {location.weights}")
    out.print(f"samples: {explainer.images_dir()} (use e.g. `image: espresso_1` in a lesson)")
    out.print("use it as `model: cnn-explainer` in a lesson or `--model cnn-explainer`")
    return 0


def _check_out(weights: Path) -> None:
    """``--out`` must name a .safetensors file in a folder that can be written."""
    from .atomic import output_problem

    if weights.suffix != ".safetensors":
        raise CliError(f"--out must end in .safetensors, got {weights}")
    for path in (weights, weights.with_suffix(".json")):
        problem = output_problem(path)
        if problem is not None:
            raise CliError(f"--out {weights}: {path} is {problem}")
    try:
        weights.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=weights.parent):
            pass
    except OSError as exc:
        raise CliError(f"--out {weights}: cannot write there ({exc.strerror or exc})") from None


def cmd_model_train(args: argparse.Namespace) -> int:
    from cnn_model import folder, history, store, train

    command = "cnnlesson " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    progress = None if args.quiet else (lambda message: console.print(message))
    if args.name is not None:
        store.check_new_name(args.name)
    if args.out is not None:
        _check_out(Path(args.out))  # before training, not after it
    if args.data is not None:
        name = args.name
        if name is None and args.out is None:
            name = real_path(args.data).name
            try:
                store.check_new_name(name)
            except cnn_model.ModelError:
                raise CliError(
                    f"cannot use the folder name {name!r} as the model name; give --name NAME"
                ) from None
        config = train.TrainConfig(
            seed=args.seed,
            epochs=args.epochs or 30,
            batch_size=args.batch_size or 32,
            snapshots=args.snapshots,
        )
        result, card = folder.train_folder(args.data, config, command, args.heldout, progress)
    else:
        name = args.name or "shapes"
        config = train.TrainConfig(
            seed=args.seed,
            epochs=args.epochs or 14,
            batch_size=args.batch_size or 64,
            snapshots=args.snapshots,
        )
        result, card = train.train_synthetic(
            train.SyntheticData(
                seed=args.seed, train_count=args.train_count, heldout_count=args.heldout_count
            ),
            config,
            command,
            progress,
        )
    if args.out is not None:
        weights = Path(args.out)
        card_path = weights.with_suffix(".json")
        card["name"] = args.name or weights.stem
        use_as = str(weights)
    else:
        assert name is not None
        weights, card_path = store.trained_paths(name)
        card["name"] = name
        use_as = name
        if weights.exists():
            console.print(f"replacing the existing model {name!r}")
    digest = history.save_with_history(result.model, weights, card, card_path, result.snapshots)
    accuracy = card.get("accuracy")
    if accuracy is None:
        out.print(f"trained in {card['training_seconds']} s; no held-out images to score")
    else:
        out.print(
            f"held-out accuracy {accuracy:.4f} on {card['heldout_count']} images "
            f"after {card['training_seconds']} s"
        )
    out.print_line(f"classes: {', '.join(card['classes'])}")
    out.print_line(f"weights: {weights} (sha256 {digest})")
    out.print_line(f"model card: {card_path}")
    if result.snapshots is not None:
        kept = result.snapshots.iterations
        out.print_line(
            f"training history: {len(kept)} snapshots (iterations {kept[0]} to {kept[-1]}) "
            "beside the weights"
        )
    out.print_line(f"use it as `model: {use_as}` in a lesson or `--model {use_as}`")
    return 0


# --- classify ------------------------------------------------------------


def cmd_classify(args: argparse.Namespace) -> int:
    if args.top < 1:
        raise CliError(f"--top must be at least 1, got {args.top}")
    model = cnn_model.load_model(args.model)
    result = cnn_model.trace(model, args.image)
    if args.json:
        payload: dict[str, Any] = {
            "image": str(args.image),
            "model": model.name,
            "prediction": result.predicted_class,
            "probabilities": {
                c: float(p) for c, p in zip(result.classes, result.probabilities, strict=True)
            },
        }
        out.print(json.dumps(payload, indent=2))
        return 0
    for name, probability in result.top(args.top):
        out.print(f"{name:<16} {probability:.3f}")
    return 0


def _whole(text: str, least: int, most: int) -> int:
    try:
        value = int(text)
    except ValueError:
        shown = text if len(text) <= 30 else text[:27] + "..."
        raise argparse.ArgumentTypeError(f"expected a whole number, got {shown!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"expected at least {least}, got {value}")
    if value > most:
        raise argparse.ArgumentTypeError(f"expected at most {most:,}, got {value:.3g}")
    return value


def _bounded(most: int) -> Any:
    def parse(text: str) -> int:
        return _whole(text, 1, most)

    return parse


# torch and NumPy take seeds of 64 bits; an int64 is the range every one of them accepts.
MAX_SEED = 2**63 - 1
MAX_EPOCHS = 1000
MAX_BATCH = 4096
# Generated images are held in memory as 64x64x3 bytes: 200,000 is about 2.5 GB.
MAX_GENERATED = 200_000


def _snapshot_count(text: str) -> int:
    from cnn_model.history import MAX_SNAPSHOTS

    return _whole(text, 0, MAX_SNAPSHOTS)


def _seed(text: str) -> int:
    return _whole(text, 0, MAX_SEED)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction from 0 up to 1, got {value}")
    return value


def add_model_commands(sub: Any) -> None:
    """Register ``model`` and ``classify`` on the top-level subparsers."""
    model = sub.add_parser("model", help="train, inspect and fetch models")
    model_sub = model.add_subparsers(dest="model_command", required=True, metavar="ACTION")

    info = model_sub.add_parser("info", help="layer table, classes and accuracy of a model")
    info.add_argument(
        "--model",
        default="default",
        help="default, cnn-explainer, a trained NAME or a path to weights (default: default)",
    )
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=cmd_model_info)

    listing = model_sub.add_parser("list", help="the models you can name and where they live")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=cmd_model_list)

    fetch = model_sub.add_parser(
        "fetch", help="download CNN Explainer's trained model (checksums verified)"
    )
    fetch.add_argument("model_name", choices=["cnn-explainer"], metavar="cnn-explainer")
    fetch.add_argument(
        "--from",
        dest="source",
        metavar="DIR_OR_URL",
        help="a local copy (model.json, group1-shard1of1.bin, img/) or a base URL "
        "with that layout, instead of GitHub",
    )
    fetch.add_argument("--force", action="store_true", help="fetch again even if present")
    fetch.add_argument("--quiet", action="store_true", help="no per-file progress")
    fetch.set_defaults(func=cmd_model_fetch)

    tr = model_sub.add_parser("train", help="train TinyVGG (generated shapes, or an image folder)")
    tr.add_argument("--data", type=Path, help="image folder, one sub-folder per class")
    tr.add_argument(
        "--name",
        help="name to save the model under (use it as `model: NAME`; "
        "default: the folder's name, or shapes)",
    )
    tr.add_argument("--out", help="write weights to this .safetensors path instead")
    tr.add_argument("--seed", type=_seed, default=0, help="initial weights, shuffling and split")
    tr.add_argument(
        "--epochs",
        type=_bounded(MAX_EPOCHS),
        help="passes over the data (default: 30 folder, 14 generated)",
    )
    tr.add_argument(
        "--batch-size",
        type=_bounded(MAX_BATCH),
        help="images per step (default: 32 folder, 64 generated)",
    )
    tr.add_argument(
        "--heldout",
        type=_fraction,
        default=0.2,
        help="fraction of each class held out to measure accuracy (default: 0.2)",
    )
    tr.add_argument(
        "--train-count",
        type=_bounded(MAX_GENERATED),
        default=16000,
        help="generated training images",
    )
    tr.add_argument(
        "--heldout-count",
        type=_bounded(MAX_GENERATED),
        default=2000,
        help="generated held-out images",
    )
    tr.add_argument(
        "--snapshots",
        type=_snapshot_count,
        default=20,
        help="weight snapshots kept for the training lessons, log-spaced from the random "
        "start to the end, at least 3 (start, first step, end) (default: 20; 0 keeps none)",
    )
    tr.add_argument("--quiet", action="store_true")
    tr.set_defaults(func=cmd_model_train)

    cl = sub.add_parser("classify", help="classify an image and print the top classes")
    cl.add_argument("image", type=Path)
    cl.add_argument(
        "--model",
        default="default",
        help="default, cnn-explainer, a trained NAME or a path to weights (default: default)",
    )
    cl.add_argument("--top", type=int, default=5)
    cl.add_argument("--json", action="store_true", help="print every probability as JSON")
    cl.set_defaults(func=cmd_classify)
