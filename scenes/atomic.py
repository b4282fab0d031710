"""Writing outputs so that readers only ever see complete files.

Every file is first written under a hidden name carrying the writer's
process id (``.video.mp4.1234.part.mp4``) and then renamed over the target,
which is atomic on one file system. Leftovers of a killed writer are
recognised by that process id and removed by the next render.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_OWNER = re.compile(r"^\.(?:render-(\d+)-|.*\.(\d+)\.part)")


def staged(target: Path) -> Path:
    """The hidden name ``target`` is written under before it is published."""
    return target.with_name(f".{target.name}.{os.getpid()}.part{target.suffix}")


def publish(path: Path, target: Path) -> None:
    os.replace(path, target)


@contextlib.contextmanager
def writing(target: Path) -> Iterator[Path]:
    """Yield a staging path; publish it on success, delete it on failure."""
    path = staged(target)
    try:
        yield path
        publish(path, target)
    finally:
        path.unlink(missing_ok=True)


def copy_file(source: Path, target: Path) -> None:
    with writing(target) as path:
        shutil.copyfile(source, path)


def write_json(target: Path, data: Any) -> None:
    with writing(target) as path:
        path.write_text(json.dumps(data, indent=1), encoding="utf-8")


def temp_dir_prefix() -> str:
    return f".render-{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(folder: Path) -> list[Path]:
    """Delete staging files and folders under ``folder`` whose writer has died."""
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for path in list(folder.rglob(".*")):
        match = _OWNER.match(path.name)
        if not match:
            continue
        pid = int(match.group(1) or match.group(2))
        if pid == os.getpid() or _alive(pid):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed
