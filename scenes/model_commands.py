"""``cnnlesson model …`` and ``cnnlesson classify``: models and predictions."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from rich.table import Table

import cnn_model
from cnn_model.tinyvgg import layer_specs, parameter_count

from .cli_common import CliError, console, out


def cmd_model_info(args: argparse.Namespace) -> int:
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
    out.print(f"[bold]{info['name']}[/bold] ({location.source}: {location.weights})")
    table = Table("layer", "kind", "output shape", "parameters")
    for layer in layers:
        shape = "x".join(str(s) for s in layer["output_shape"])
        table.add_row(layer["name"], layer["kind"], shape, f"{layer['parameters']:,}")
    out.print(table)
    out.print(f"total parameters: {info['parameters']:,}")
    out.print(f"classes: {', '.join(model.classes)}")
    acc = info["accuracy"]
    out.print(
        f"accuracy: {acc:.4f} ({info['accuracy_split']})"
        if acc is not None
        else "accuracy: unknown"
    )
    out.print(f"sha256: {info['sha256']}")
    return 0


def cmd_model_train(args: argparse.Namespace) -> int:
    from cnn_model import store, train

    command = "cnnlesson " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    config = train.TrainConfig(seed=args.seed, epochs=args.epochs)
    progress = None if args.quiet else (lambda message: console.print(message))
    if args.data is not None:
        raise CliError("training on an image folder is not available yet")
    result, card = train.train_synthetic(
        train.SyntheticData(
            seed=args.seed, train_count=args.train_count, heldout_count=args.heldout_count
        ),
        config,
        command,
        progress,
    )
    name = args.name or "shapes"
    if args.out is not None:
        weights = Path(args.out)
        if weights.suffix != ".safetensors":
            raise CliError(f"--out must end in .safetensors, got {args.out}")
        card_path = weights.with_suffix(".json")
        card["name"] = args.name or weights.stem
    else:
        folder = store.user_models_dir() / name
        weights, card_path = folder / store.WEIGHTS_FILE, folder / store.CARD_FILE
        card["name"] = name
    digest = store.save_model(result.model, weights, card, card_path)
    out.print(f"held-out accuracy {result.accuracy:.4f} after {card['training_seconds']} s")
    out.print(f"weights: {weights} (sha256 {digest})")
    out.print(f"model card: {card_path}")
    return 0


# --- classify ------------------------------------------------------------


def cmd_classify(args: argparse.Namespace) -> int:
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


def add_model_commands(sub: Any) -> None:
    """Register ``model`` and ``classify`` on the top-level subparsers."""
    model = sub.add_parser("model", help="train, inspect and fetch models")
    model_sub = model.add_subparsers(dest="model_command", required=True, metavar="ACTION")

    info = model_sub.add_parser("info", help="layer table, classes and accuracy of a model")
    info.add_argument("--model", default="default", help="model name or path (default: default)")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=cmd_model_info)

    tr = model_sub.add_parser("train", help="train TinyVGG (generated shapes, or an image folder)")
    tr.add_argument("--data", type=Path, help="image folder, one sub-folder per class")
    tr.add_argument("--name", help="name to save the model under (use it as `model: NAME`)")
    tr.add_argument("--out", help="write weights to this .safetensors path instead")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--epochs", type=int, default=14)
    tr.add_argument("--train-count", type=int, default=16000, help="generated training images")
    tr.add_argument("--heldout-count", type=int, default=2000, help="generated held-out images")
    tr.add_argument("--quiet", action="store_true")
    tr.set_defaults(func=cmd_model_train)

    cl = sub.add_parser("classify", help="classify an image and print the top classes")
    cl.add_argument("image", type=Path)
    cl.add_argument("--model", default="default")
    cl.add_argument("--top", type=int, default=5)
    cl.add_argument("--json", action="store_true", help="print every probability as JSON")
    cl.set_defaults(func=cmd_classify)
