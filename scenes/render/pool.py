"""The render's side of a warm worker (``python -m scenes.render.worker --serve``).

Starting Python and importing Manim and the engine takes seconds, more than a
short step takes to draw at low quality. A render therefore starts one warm
worker, which imports all that once and forks a child for each job: the
child is a process of its own (Manim's global configuration is set anew in it
and dies with it) that starts in milliseconds.

The job travels on a pipe of its own, never through a file; the child writes
its output into the log the render opened for it, and its frames on the
report pipe, exactly like a worker started with its own interpreter. The warm
worker dies with the render, and its children die with it.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..atomic import new_log

ANSWER_SECONDS = 120.0  # for the warm worker to fork a child (it may still be importing)


def log_tail(log: Path, lines: int = 15, size: int = 64 * 1024) -> str:
    """The last ``lines`` lines of a worker's log, what a failure shows (read never
    through a link, at most its last ``size`` bytes; "" if it cannot be read)."""
    try:
        fd = os.open(log, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return ""
    with os.fdopen(fd, "rb") as handle:
        with contextlib.suppress(OSError):
            handle.seek(max(0, os.fstat(fd).st_size - size))
        text = handle.read(size).decode("utf-8", "replace")
    return "\n".join(text.strip().splitlines()[-lines:])


class WorkerGone(RuntimeError):
    """The warm worker has ended; its log's tail says why."""


def worker_env() -> dict[str, str]:
    """The environment of a warm worker: the render's, its output unbuffered."""
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


class WarmWorker:
    """One warm worker process and the children it has forked for this render."""

    def __init__(self, log_dir: Path, env: dict[str, str]) -> None:
        self.began = time.perf_counter()
        self.ready: float | None = None  # seconds until it forked its first child
        self.log, fd = new_log(log_dir)
        # Where its children hand back the text outlines they parsed (see
        # .text_outlines): only this user can open it, and close() removes it.
        self.outlines = Path(tempfile.mkdtemp(prefix="cnnlesson-outlines-"))
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "scenes.render.worker",
                    "--serve",
                    str(os.getpid()),
                    str(theirs.fileno()),
                    str(self.outlines),
                ],
                stdin=subprocess.DEVNULL,
                stdout=fd,
                stderr=subprocess.STDOUT,
                env=env,
                pass_fds=(theirs.fileno(),),
            )
        except BaseException:
            ours.close()
            shutil.rmtree(self.outlines, ignore_errors=True)
            raise
        finally:
            theirs.close()
            os.close(fd)
        self.sock = ours
        self.exits: dict[int, int] = {}  # child pid → exit status
        self.gone = False

    def start(self, job: bytes, log_fd: int, report_fd: int | None = None) -> Child:
        """Fork a child for ``job``, writing to ``log_fd`` (and its frames to
        ``report_fd``); raises :class:`WorkerGone` if the warm worker has ended."""
        read_end, write_end = os.pipe()
        try:
            try:
                fds = [read_end, log_fd] + ([report_fd] if report_fd is not None else [])
                socket.send_fds(self.sock, [b"run"], fds)
            except OSError:
                raise WorkerGone(self.failure()) from None
            finally:
                os.close(read_end)
            pid = self._answer()
            with contextlib.suppress(BrokenPipeError):  # died at once: its log tells
                left = memoryview(job)
                while left:
                    left = left[os.write(write_end, left) :]
        finally:
            os.close(write_end)
        return Child(self, pid)

    def _answer(self) -> int:
        deadline = time.monotonic() + ANSWER_SECONDS
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                raise WorkerGone(f"the warm worker did not answer in {ANSWER_SECONDS:.0f} s")
            answer = self._receive()
            if answer is not None:
                if self.ready is None:
                    self.ready = time.perf_counter() - self.began
                return answer

    def _receive(self) -> int | None:
        """Read one message: a new child's pid is returned, an exit is noted."""
        try:
            message = self.sock.recv(64)
        except BlockingIOError:
            return None
        except OSError:
            message = b""
        if not message:
            self.gone = True
            raise WorkerGone(self.failure())
        words = message.decode("ascii").split()
        if words[0] == "pid":
            return int(words[1])
        self.exits[int(words[1])] = int(words[2])
        return None

    def collect(self) -> None:
        """Note every exit the warm worker has reported so far."""
        if self.gone:
            return
        while select.select([self.sock], [], [], 0)[0]:
            try:
                self._receive()
            except WorkerGone:
                return

    def failure(self) -> str:
        """Why the warm worker ended: the tail of its log, or its exit status."""
        code = self.proc.poll()
        if code is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self.proc.wait(timeout=5)
        return log_tail(self.log) or f"the warm worker exited with status {code}"

    def abandon(self) -> None:
        """End the warm worker at once, before it has done any work (nothing needs
        rendering), and remove its log and folder."""
        self.sock.close()
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.outlines, ignore_errors=True)
        self.log.unlink(missing_ok=True)

    def close(self) -> None:
        """End the warm worker (and any child still running) and remove its log,
        unless it failed."""
        self.sock.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.outlines, ignore_errors=True)
        if self.proc.returncode == 0:
            self.log.unlink(missing_ok=True)


class Child:
    """A forked child of a warm worker, with the little of ``subprocess.Popen`` that
    the render uses."""

    def __init__(self, worker: WarmWorker, pid: int) -> None:
        self.worker = worker
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.worker.collect()
            self.returncode = self.worker.exits.pop(self.pid, None)
            if self.returncode is None and self.worker.gone:
                self.returncode = -int(signal.SIGKILL)  # died with its warm worker
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def wait(self) -> int:
        while self.poll() is None:
            time.sleep(0.02)
        assert self.returncode is not None
        return self.returncode
