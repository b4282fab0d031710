"""Reading files that came from someone else: regular files only, never blocking, capped.

Every lesson, image, model, card and theme is read through :func:`read_regular`.
It opens the path without blocking (a FIFO would otherwise wait for a writer
forever), refuses anything that is not a regular file (a FIFO, a device such
as ``/dev/zero``, a socket, a folder), names what it found instead, and
reads at most ``limit`` bytes (a file that grows past it is refused, so a
huge or endless file cannot fill the memory). The check is made on the open
file, so a path swapped between a check and the read cannot slip through.
"""

from __future__ import annotations

import errno
import os
import stat
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


def describe(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` is not a readable regular file (None when it is one); never blocks."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        return os_error_text(exc)
    except ValueError:  # a NUL in the path
        return "not a usable path"
    return kind_of(mode)


def is_regular(path: str | os.PathLike[str]) -> bool:
    return describe(path) is None


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
    except (OSError, ValueError):
        return Path(os.path.abspath(path))


def inside(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> bool:
    """Whether ``path``, with its links resolved, lies within ``root`` (resolved too)."""
    return real_path(path).is_relative_to(real_path(root))
