"""Writing outputs so that readers only ever see complete files and folders.

Every file is first written under a new, unguessable hidden name carrying the
writer's process id (``.cnnlesson-1234-<random>.part.mp4``, made exclusively:
see :mod:`cnn_model.safeio`) and then renamed over the target, which is atomic
on one file system. A lesson folder is published whole: it is made complete in
a hidden staging folder beside it (``.cnnlesson-1234-….staging``), which then
trades places with the old folder in one atomic exchange
(``renameat2(RENAME_EXCHANGE)`` on Linux). Where a file system cannot
exchange, the old folder is first renamed aside, and put back if the writer
is interrupted, or by a later render if the writer died between the two
renames: a reader finds the whole old folder or the whole new one, never a
mixture. Leftovers of a killed writer (staging files and folders, job logs)
are recognised by their prefix and process id and removed by the next render;
no other name is ever taken for one of them.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import shutil
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cnn_model.safeio import TEMP_PREFIX, replacing, temp_name, temp_owner

# An old lesson folder renamed aside while its successor moves in (no exchange).
_ASIDE = re.compile(r"^\.cnnlesson-(\d{1,7})-aside-(.+)$")
# The same, as earlier versions named it.
_LEGACY_ASIDE = re.compile(r"^\.render-(\d{1,7})-aside-(.+)$")
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
# Seconds to wait between the steps of publishing a folder: a hook for the
# tests that kill a render at every instant of it (never set otherwise).
DELAY_VARIABLE = "CNNLESSON_PUBLISH_DELAY"


class PublishError(Exception):
    """A lesson folder could not be put in place; the message names it."""


@contextlib.contextmanager
def writing(target: Path, cache_entry: bool = False) -> Iterator[Path]:
    """Yield a new temporary file beside ``target``; it replaces ``target`` on success.

    ``cache_entry``: ``target`` is an entry of the render cache, where a folder
    in the way is damage to clear, not a file of someone's to keep.
    """
    with replacing(target, replace_folder=cache_entry) as path:
        yield path


def new_log(folder: Path) -> tuple[Path, int]:
    """A new log file of this process's own in ``folder`` (never an existing file or
    link), and a descriptor open for writing it (so the file is never opened again)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    while True:
        path = folder / temp_name("log", ".txt")
        try:
            return path, os.open(path, flags, 0o666)
        except FileExistsError:
            continue


def copy_file(source: Path, target: Path) -> None:
    with writing(target) as path:
        shutil.copyfile(source, path)


def write_json(target: Path, data: Any, cache_entry: bool = False) -> None:
    with writing(target, cache_entry) as path:
        path.write_text(json.dumps(data, indent=1), encoding="utf-8")


def temp_dir_prefix() -> str:
    return f"{TEMP_PREFIX}{os.getpid()}-"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie does not: it has exited).

    A killed render's workers are orphans; where nothing reaps orphans (an
    init of a container that does not wait for them) they stay zombies for
    good, and their leftovers must still be recognised as stale.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return True
    # The state follows the command name, which is in parentheses and may hold any byte.
    fields = stat_line.rpartition(")")[2].split()
    return not fields or fields[0] not in ("Z", "X")


def is_temporary(name: str) -> bool:
    """Whether ``name`` is one of a writer's temporary names (never a published file)."""
    return temp_owner(name) is not None


def _dead(pid: int | None) -> bool:
    return pid is not None and pid != os.getpid() and not _alive(pid)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def remove_stale(folder: Path, recursive: bool = True) -> list[Path]:
    """Delete temporary files and folders in ``folder`` whose writer has died.

    An old lesson folder renamed aside by a writer that died before its
    successor moved in is put back instead, when nothing has taken its place.
    """
    removed: list[Path] = []
    if not folder.is_dir() or folder.is_symlink():
        return removed
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    for path in list(candidates):
        legacy = _LEGACY_ASIDE.match(path.name)
        if legacy is not None and path.parent == folder and _dead(int(legacy.group(1))):
            # Set aside by an earlier version that died between its two renames:
            # only ever put back, never deleted (the name is not distinctive).
            original = folder / legacy.group(2)
            if path.is_dir() and not path.is_symlink() and not os.path.lexists(original):
                with contextlib.suppress(OSError):
                    os.rename(path, original)
            continue
        pid = temp_owner(path.name)
        if not _dead(pid):
            continue
        aside = _ASIDE.match(path.name)
        if aside is not None and path.parent == folder:
            original = folder / aside.group(2)
            if not os.path.lexists(original):
                with contextlib.suppress(OSError):
                    os.rename(path, original)
                    continue
        _remove(path)
        removed.append(path)
    return removed


def staging_folder(parent: Path, label: str = "staging") -> Path:
    """A new hidden folder in ``parent`` for a writer's work, with the usual permissions.

    (``mkdtemp`` makes it readable by its owner only; a published lesson
    folder must be readable like any other, e.g. by a web server.)
    """
    import tempfile

    path = Path(tempfile.mkdtemp(prefix=temp_dir_prefix(), suffix=f".{label}", dir=parent))
    umask = os.umask(0)
    os.umask(umask)
    path.chmod(0o777 & ~umask)
    return path


def _pause() -> None:
    delay = os.environ.get(DELAY_VARIABLE)
    if delay:
        with contextlib.suppress(ValueError):
            time.sleep(float(delay))


def _renameat2() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None


def exchange(first: Path, second: Path) -> bool:
    """Swap two existing paths in one atomic step; False where the system cannot."""
    func = _renameat2()
    if func is None:
        return False
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    done = func(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(second))


def publish_folder(staging: Path, target: Path, *, allow_exchange: bool = True) -> None:
    """Put the complete folder ``staging`` in place of ``target`` (a sibling), atomically.

    A reader of ``target`` sees the whole old folder or the whole new one.
    The old folder is deleted afterwards. Raises :class:`PublishError`
    naming ``target``; the old folder is then still in place.
    """
    _pause()
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise PublishError(f"cannot publish {target}: {exc.strerror}") from None
    if mode is not None and not stat.S_ISDIR(mode):
        raise PublishError(
            f"cannot publish {target}: it is not a folder (a link or a file is in the way)"
        )
    try:
        if mode is None:
            os.rename(staging, target)
            return
        if allow_exchange and exchange(staging, target):
            _pause()
            shutil.rmtree(staging, ignore_errors=True)  # now the old folder
            return
    except OSError as exc:
        raise PublishError(
            f"cannot publish {target}: {exc.strerror or exc}; the previous render is unchanged"
        ) from None
    # No exchange here: the old folder steps aside, the new one moves in.
    aside = target.with_name(f"{temp_dir_prefix()}aside-{target.name}")
    try:
        os.rename(target, aside)
    except OSError as exc:
        raise PublishError(
            f"cannot publish {target}: {exc.strerror or exc}; the previous render is unchanged"
        ) from None
    try:
        _pause()
        os.rename(staging, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.rename(aside, target)
        raise PublishError(
            f"cannot publish {target}: {exc.strerror or exc}; the previous render is unchanged"
        ) from None
    except BaseException:  # interrupted between the renames: the old folder goes back
        if not os.path.lexists(target):
            with contextlib.suppress(OSError):
                os.rename(aside, target)
        raise
    _pause()
    shutil.rmtree(aside, ignore_errors=True)


def output_problem(path: Path) -> str | None:
    """Why ``path`` may not be written as an output file (None: a regular file or a new path)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None  # a new path (whether its folder can be made is checked when writing)
    except NotADirectoryError:
        return "inside a file, not a folder; give a regular file or a new path"
    except OSError as exc:
        return exc.strerror or str(exc)
    if stat.S_ISLNK(mode):
        return "a symbolic link; give a regular file or a new path"
    if not stat.S_ISREG(mode):
        from cnn_model.safeio import kind_of

        return f"{kind_of(mode)}; give a regular file or a new path"
    return None
