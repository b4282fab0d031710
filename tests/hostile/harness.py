"""Running ``cnnlesson`` on hostile input: in a subprocess, with a memory cap and a timeout.

Nothing here trusts the command: it runs in its own session (so a timeout
kills it and every worker it started), under ``RLIMIT_AS`` (a runaway
allocation fails inside the command instead of taking the machine down) and
``RLIMIT_FSIZE`` (no file can grow without bound), with standard input closed.
"""

from __future__ import annotations

import os
import resource
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

MEMORY_CAP = 1536 * 1024 * 1024  # the real commands need under 1 GB of address space
FILE_CAP = 512 * 1024 * 1024
TIMEOUT = 90.0


@dataclass
class Run:
    args: list[str]
    returncode: int | None  # None: killed at the timeout
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def _limits(memory: int) -> None:
    os.setsid()
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_CAP, FILE_CAP))


def run_capped(
    args: list[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = TIMEOUT,
    memory: int = MEMORY_CAP,
) -> Run:
    """``python -m scenes.cli ARGS`` in ``cwd`` under the caps; never raises for its outcome."""
    command = [sys.executable, "-m", "scenes.cli", *args]
    started = time.monotonic()
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: _limits(memory),
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        code = None
    return Run(
        args,
        code,
        out.decode("utf-8", "replace"),
        err.decode("utf-8", "replace"),
        time.monotonic() - started,
    )


Entry = tuple[str, int, int]  # kind of file, size, modification time


def snapshot(root: Path, skip: tuple[Path, ...] = ()) -> dict[str, Entry]:
    """Every path under ``root`` (links not followed) with its kind, size and mtime."""
    found: dict[str, Entry] = {}
    skipped = {os.path.abspath(p) for p in skip}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if os.path.abspath(Path(dirpath) / d) not in skipped]
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            info = os.lstat(path)
            kind = stat.S_IFMT(info.st_mode)
            size = info.st_size if stat.S_ISREG(info.st_mode) else 0
            # A folder's own time changes when something inside it does: its entries tell.
            mtime = 0 if stat.S_ISDIR(info.st_mode) else info.st_mtime_ns
            found[path.relative_to(root).as_posix()] = (str(kind), size, mtime)
    return found


def changes(before: dict[str, Entry], after: dict[str, Entry]) -> list[str]:
    """Paths added, removed or changed between two snapshots."""
    keys = before.keys() | after.keys()
    return sorted(k for k in keys if before.get(k) != after.get(k))
