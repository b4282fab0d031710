"""Training data from an image folder: one sub-folder per class.

    my-data/
      cats/  a.jpg b.png ...
      dogs/  c.jpeg d.webp ...

Class names are the sub-folder names in sorted order (hidden folders are
skipped). Every file under a class folder with the suffix of an input image
format (PNG, JPEG, GIF, BMP, WebP, TIFF, PPM) is used, at any size and mode;
it is read the way a lesson reads its image (short side resized to 64,
centre-cropped to 64x64, RGB with transparency over white). Other files
(notes, ``.DS_Store``) are ignored and reported. An image that cannot be
read stops training with its name.

The held-out split is stratified and deterministic: each class's files, in
sorted order, are shuffled by a generator seeded with the split seed and the
class name, and the first ``round(n * fraction)`` go to the held-out split
(at least one and at most ``n - 1`` when the class has two or more images).
"""

from __future__ import annotations

import hashlib
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .errors import ImageError, ModelError
from .images import FORMATS, load_input
from .safeio import is_regular, real_path
from .store import MAX_CLASSES, check_class_names
from .train import TrainConfig, TrainResult, environment, train

Progress = Callable[[str], None]
# Suffixes of the formats input images are read in.
IMAGE_SUFFIXES: frozenset[str] = frozenset(
    k.lower() for k, kind in Image.registered_extensions().items() if kind in FORMATS
)
DEFAULT_HELDOUT = 0.2
# Entries looked at while scanning: far above a TinyVGG data set, and it keeps a
# class folder that links to a huge tree (or to /) from being walked for hours.
MAX_ENTRIES = 500_000
PREPROCESSING = (
    "short side resized to 64 (Lanczos), centre-cropped to 64x64, RGB with transparency "
    "over white, values / 255, no mean or std"
)


@dataclass(frozen=True)
class ImageFolder:
    """The classes and image files found in a folder."""

    root: Path
    classes: list[str]
    files: list[list[Path]]  # per class, sorted
    ignored: list[Path] = field(default_factory=list)  # files that are not images

    @property
    def counts(self) -> dict[str, int]:
        return {c: len(f) for c, f in zip(self.classes, self.files, strict=True)}

    @property
    def total(self) -> int:
        return sum(len(f) for f in self.files)

    def file_list_sha256(self) -> str:
        """A hash of the file list: ``class/relative path<TAB>size`` lines, sorted."""
        lines = []
        for name, files in zip(self.classes, self.files, strict=True):
            base = self.root / name
            for path in files:
                lines.append(f"{name}/{path.relative_to(base).as_posix()}\t{path.stat().st_size}\n")
        return hashlib.sha256("".join(sorted(lines)).encode("utf-8")).hexdigest()


def _hidden(path: Path, base: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(base).parts)


def scan(root: str | Path) -> ImageFolder:
    """Find the classes and images under ``root``, or explain what is wrong."""
    root = Path(root).expanduser()
    if not root.exists():
        raise ModelError(f"{root}: no such folder")
    if not root.is_dir():
        raise ModelError(f"{root}: not a folder (expected one sub-folder per class)")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(class_dirs) < 2:
        loose = [p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        found = ", ".join(p.name for p in class_dirs) or "none"
        hint = (
            f"; the {len(loose)} images directly in it belong in class sub-folders" if loose else ""
        )
        raise ModelError(
            f"{root}: training needs at least 2 classes, one sub-folder of images per class; "
            f"found {len(class_dirs)} ({found}){hint}"
        )
    if len(class_dirs) > MAX_CLASSES:
        raise ModelError(
            f"{root}: found {len(class_dirs)} class sub-folders; TinyVGG lessons take at most "
            f"{MAX_CLASSES} classes"
        )
    check_class_names([p.name for p in class_dirs], len(class_dirs), f"{root} (class folders)")
    classes: list[str] = []
    files: list[list[Path]] = []
    ignored: list[Path] = []
    empty: list[str] = []
    seen = 0
    for folder in class_dirs:
        images = []
        entries: list[Path] = []
        for path in folder.rglob("*"):
            seen += 1
            if seen > MAX_ENTRIES:
                raise ModelError(
                    f"{root}: more than {MAX_ENTRIES:,} files and folders; "
                    "that is not a TinyVGG training set (a class folder linking elsewhere?)"
                )
            entries.append(path)
        for path in sorted(entries):
            # Regular files only: a FIFO or a device would block or never end.
            if not is_regular(path) or _hidden(path, folder):
                continue
            if path.suffix.lower() in IMAGE_SUFFIXES:
                images.append(path)
            else:
                ignored.append(path)
        if not images:
            empty.append(folder.name)
        classes.append(folder.name)
        files.append(images)
    if empty:
        raise ModelError(
            f"{root}: {'class folder has' if len(empty) == 1 else 'class folders have'} "
            f"no images: {', '.join(empty)} (every class needs at least one image; "
            f"image suffixes: {', '.join(sorted(IMAGE_SUFFIXES))})"
        )
    return ImageFolder(root, classes, files, ignored)


def split(
    data: ImageFolder, fraction: float = DEFAULT_HELDOUT, seed: int = 0
) -> tuple[list[tuple[Path, int]], list[tuple[Path, int]]]:
    """A deterministic, stratified (train, held-out) split of ``data``'s files."""
    if not 0.0 <= fraction < 1.0:
        raise ModelError(f"the held-out fraction must be at least 0 and below 1, got {fraction}")
    train_items: list[tuple[Path, int]] = []
    heldout_items: list[tuple[Path, int]] = []
    for label, (name, files) in enumerate(zip(data.classes, data.files, strict=True)):
        n = len(files)
        held = round(n * fraction)
        if fraction > 0 and n >= 2:
            held = min(max(held, 1), n - 1)
        elif n < 2:
            held = 0
        rng = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])
        order = rng.permutation(n)
        chosen = set(int(i) for i in order[:held])
        for i, path in enumerate(files):
            (heldout_items if i in chosen else train_items).append((path, label))
    return train_items, heldout_items


def read_images(
    items: list[tuple[Path, int]], progress: Progress | None = None, what: str = "images"
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (N, 64, 64, 3) inputs and int64 labels; every unreadable file is named."""
    pixels = np.zeros((len(items), 64, 64, 3), dtype=np.uint8)
    labels = np.array([label for _, label in items], dtype=np.int64)
    problems: list[str] = []
    step = max(1, len(items) // 10)
    for i, (path, _) in enumerate(items):
        try:
            pixels[i] = load_input(path)
        except ImageError as exc:
            problems.append(str(exc))
        if progress is not None and ((i + 1) % step == 0 or i + 1 == len(items)) and len(items):
            progress(f"reading {what}: {i + 1:,}/{len(items):,}")
    if problems:
        shown = "; ".join(problems[:5])
        more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        raise ImageError(
            f"{len(problems)} unreadable image{'s' if len(problems) != 1 else ''} "
            f"(fix or remove {'them' if len(problems) != 1 else 'it'}): {shown}{more}"
        )
    return pixels, labels


def train_folder(
    root: str | Path,
    config: TrainConfig,
    command: str,
    heldout_fraction: float = DEFAULT_HELDOUT,
    progress: Progress | None = None,
) -> tuple[TrainResult, dict[str, Any]]:
    """Train TinyVGG on an image folder; returns the result and its model card."""
    start = time.perf_counter()
    data = scan(root)
    train_items, heldout_items = split(data, heldout_fraction, config.seed)
    if progress is not None:
        counts = ", ".join(f"{c} {n}" for c, n in data.counts.items())
        progress(
            f"{len(data.classes)} classes ({counts}): {len(train_items)} training and "
            f"{len(heldout_items)} held-out images"
        )
        if data.ignored:
            names = ", ".join(str(p.relative_to(data.root)) for p in data.ignored[:5])
            more = ", ..." if len(data.ignored) > 5 else ""
            what = (
                "file that is not an image"
                if len(data.ignored) == 1
                else "files that are not images"
            )
            progress(f"ignoring {len(data.ignored)} {what}: {names}{more}")
    # Read everything first, so a bad file is reported before any training.
    x_all, y_all = read_images(train_items + heldout_items, progress)
    x_train, y_train = x_all[: len(train_items)], y_all[: len(train_items)]
    x_held, y_held = x_all[len(train_items) :], y_all[len(train_items) :]
    result = train(x_train, y_train, x_held, y_held, len(data.classes), config, progress)
    has_heldout = len(heldout_items) > 0
    card: dict[str, Any] = {
        "name": "",
        "architecture": "TinyVGG (CNN Explainer)",
        "classes": list(data.classes),
        "accuracy": round(result.accuracy, 4) if has_heldout else None,
        "accuracy_split": "heldout" if has_heldout else None,
        "heldout_count": len(heldout_items),
        "train_count": len(train_items),
        "train_accuracy": round(result.train_accuracy, 4),
        "data": {
            "source": "folder",
            "path": str(real_path(data.root)),
            "class_counts": data.counts,
            "files": data.total,
            "file_list_sha256": data.file_list_sha256(),
            "ignored_files": len(data.ignored),
            "heldout_fraction": heldout_fraction,
            "split": "stratified per class, seeded by the seed and the class name",
        },
        "seed": config.seed,
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "max_lr": config.max_lr,
        "preprocessing": PREPROCESSING,
        "flatten_order": "chw",
        "training_seconds": round(time.perf_counter() - start, 1),
        "command": command,
        "environment": environment(),
    }
    return result, card
