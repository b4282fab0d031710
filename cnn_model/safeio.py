"""Reading files that came from someone else, and writing files where someone else may write.

Reading: regular files only, never blocking, capped.

Every lesson, image, model, card and theme is read through :func:`read_regular`.
It opens the path without blocking (a FIFO would otherwise wait for a writer
forever), refuses anything that is not a regular file (a FIFO, a device such
as ``/dev/zero``, a socket, a folder), names what it found instead, and
reads at most ``limit`` bytes (a file that grows past it is refused, so a
huge or endless file cannot fill the memory). The check is made on the open
file, so a path swapped between a check and the read cannot slip through.

Writing: a file is written under a temporary name of its own and renamed
over its target when complete (:func:`replacing`). The temporary name is new
and unguessable (``.cnnlesson-<pid>-<random>.part.mp4``) and is created
exclusively, never through a link or an existing file, so nothing planted in
an output folder can redirect a write. Every temporary name begins with
``.cnnlesson-`` and the writer's process id: the next writer recognises what
a killed one left, and never mistakes someone else's file for its own.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path


class FileRefused(Exception):
    """A path that cannot be read as an input file; the message says why, without the path."""


_KINDS = (
    (stat.S_ISDIR, "a folder, not a file"),
    (stat.S_ISFIFO, "a named pipe (FIFO), not a regular file"),
    (stat.S_ISCHR, "a character device, not a regular file"),
    (stat.S_ISBLK, "a block device, not a regular file"),
    (stat.S_ISSOCK, "a socket, not a regular file"),
)

_ERRNO_TEXT = {
    errno.ENOENT: "no such file",
    errno.ELOOP: "a loop of symbolic links",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.ENAMETOOLONG: "the path is too long",
    errno.EISDIR: "a folder, not a file",
    errno.ENXIO: "a device or socket, not a regular file",
}


def kind_of(mode: int) -> str | None:
    """What a file of ``mode`` is, when it is not a regular file."""
    for test, text in _KINDS:
        if test(mode):
            return text
    return None if stat.S_ISREG(mode) else "not a regular file"


def os_error_text(exc: OSError) -> str:
    """A short, path-free reason for an ``OSError``."""
    return _ERRNO_TEXT.get(exc.errno or 0) or (exc.strerror or str(exc)).lower()


def describe(path: str | os.PathLike[str], follow_links: bool = True) -> str | None:
    """Why ``path`` is not a readable regular file (None when it is one); never blocks.
    Without ``follow_links`` a symbolic link is not a regular file either."""
    try:
        mode = (os.stat if follow_links else os.lstat)(path).st_mode
    except OSError as exc:
        return os_error_text(exc)
    except ValueError:  # a NUL in the path
        return "not a usable path"
    return kind_of(mode)


def is_regular(path: str | os.PathLike[str], follow_links: bool = True) -> bool:
    return describe(path, follow_links) is None


def read_regular(path: str | os.PathLike[str], limit: int) -> bytes:
    """The whole content of the regular file ``path``, at most ``limit`` bytes.

    Raises :class:`FileRefused` for anything else: a missing file, a symlink
    loop, a FIFO, a device, a folder, or a file larger than ``limit``.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise FileRefused(os_error_text(exc)) from None
    except ValueError:
        raise FileRefused("not a usable path") from None
    try:
        info = os.fstat(fd)
        kind = kind_of(info.st_mode)
        if kind is not None:
            raise FileRefused(kind)
        if info.st_size > limit:
            raise FileRefused(f"larger than {limit:,} bytes ({info.st_size:,})")
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            except OSError as exc:
                raise FileRefused(f"cannot be read ({os_error_text(exc)})") from None
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise FileRefused(f"larger than {limit:,} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text(path: str | os.PathLike[str], limit: int) -> str:
    """A regular UTF-8 text file (see :func:`read_regular`); bad bytes raise UnicodeDecodeError."""
    return read_regular(path, limit).decode("utf-8")


def real_path(path: str | os.PathLike[str]) -> Path:
    """``path`` with every symbolic link resolved, never raising (loops stay unresolved)."""
    try:
        return Path(os.path.realpath(path))
    except (OSError, ValueError, RecursionError):  # Python follows a long chain recursively
        return Path(os.path.abspath(path))


def inside(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> bool:
    """Whether ``path``, with its links resolved, lies within ``root`` (resolved too)."""
    return real_path(path).is_relative_to(real_path(root))


# --- writing ------------------------------------------------------------------

TEMP_PREFIX = ".cnnlesson-"
# A writer's temporary name and its process id (Linux ids have at most 7 digits).
_TEMP_NAME = re.compile(r"^\.cnnlesson-(\d{1,7})-")


def temp_owner(name: str) -> int | None:
    """The process id in a writer's temporary name; None for any other name."""
    match = _TEMP_NAME.match(name)
    return int(match.group(1)) if match else None


def temp_name(label: str, suffix: str = "") -> str:
    """A new temporary name of this process: ``.cnnlesson-<pid>-<random>.<label><suffix>``."""
    return f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(8)}.{label}{suffix}"


def create_new(path: Path) -> None:
    """Create the empty regular file ``path``; fails if anything (a link too) is there."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    os.close(os.open(path, flags, 0o666))  # the umask applies, as for any new file


def new_temp_file(folder: Path, label: str = "part", suffix: str = "") -> Path:
    """A new, empty file of this process's own in ``folder``, under a temporary name."""
    while True:
        path = folder / temp_name(label, suffix)
        try:
            create_new(path)
            return path
        except FileExistsError:  # a name someone guessed: take another
            continue


def put_in_place(path: Path, target: Path, replace_folder: bool = False) -> None:
    """Rename ``path`` over ``target`` (same folder), atomically.

    A link or a file at ``target`` is replaced, never written through. A
    folder there is an error naming ``target`` (``IsADirectoryError``), unless
    ``replace_folder`` (for cache entries, whose folder is the writer's own):
    then it is removed first.
    """
    if replace_folder and target.is_dir() and not target.is_symlink():
        shutil.rmtree(target, ignore_errors=True)
    try:
        os.replace(path, target)
    except IsADirectoryError:
        raise IsADirectoryError(errno.EISDIR, "a folder is in the way", str(target)) from None
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
            raise IsADirectoryError(errno.EISDIR, "a folder is in the way", str(target)) from None
        raise


@contextlib.contextmanager
def replacing(target: Path, replace_folder: bool = False) -> Iterator[Path]:
    """Yield a new temporary file beside ``target``; on success it replaces ``target``.

    On failure the temporary file is removed and ``target`` is untouched. An
    error about the temporary file names ``target`` instead.
    """
    try:
        path = new_temp_file(target.parent, "part", target.suffix)
    except OSError as exc:
        raise type(exc)(exc.errno, exc.strerror, str(target)) from None
    try:
        yield path
        put_in_place(path, target, replace_folder)
    except OSError as exc:
        if exc.filename == str(path):
            raise type(exc)(exc.errno, exc.strerror, str(target)) from None
        raise
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
