"""Render one step in a process of its own: ``python -m scenes.render.worker - [PARENT]``.

A fresh process per step keeps Manim's global configuration from leaking
between steps and lets steps render in parallel. The job (what to render and
where its clip goes) comes on standard input from the render that started the
worker, never from a file others could edit meanwhile (a JSON file may be
named instead, for tests and debugging). The clip and a JSON record of what
the step showed are written to temporary names and renamed into place only
when complete.

``python -m scenes.render.worker --serve PARENT SOCKET OUTLINES`` is a warm worker: it
imports Manim and the engine once, then forks a child for each job the render
sends on the socket (see :mod:`.pool`). Each child is such a fresh process, but
starts in milliseconds instead of seconds: Manim's configuration is set anew in
it and dies with it.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from cnn_model.safeio import put_in_place

from ..atomic import temp_dir_prefix, write_json, writing
from .job import StepJob

PR_SET_PDEATHSIG = 1


def even(pixels: float) -> int:
    """The nearest even number of pixels (H.264 with yuv420p needs even sizes)."""
    return 2 * round(pixels / 2)


def configure_manim(job: StepJob, media_dir: Path) -> None:
    from manim import config

    from ..visuals.layout import Frame
    from . import encoding

    picture = job.picture
    frame = Frame.for_aspect(picture.aspect)
    short = picture.pixel_height
    if frame.landscape:
        width, height = even(short * frame.width / frame.height), short
    elif frame.portrait:
        width, height = short, even(short * frame.height / frame.width)
    else:
        width = height = short
    width, height = even(width), even(height)
    config.pixel_width = width
    config.pixel_height = height
    config.frame_width = frame.width
    config.frame_height = frame.height
    config.frame_rate = float(picture.fps)
    config.video_codec = encoding.CODEC
    config.pixel_format = encoding.PIXEL_FORMAT
    config.video_encoder_options = encoding.video_options(picture.fps, min(width, height))
    config.media_dir = str(media_dir)
    config.disable_caching = True
    config.verbosity = "ERROR"
    config.progress_bar = "none"
    config.output_file = "step"
    config.format = {"video": "mp4", "last_frame": "png", "dry_run": "none", "audit": "none"}[
        job.mode
    ]
    config.dry_run = job.mode in ("dry_run", "audit")


def build_scene(job: StepJob, on_frames: Callable[[int], None] | None = None) -> Any:
    """Construct the step's scene (Manim must already be configured); ``on_frames``
    hears how many frames it has played as it plays them."""
    from cnn_model.trace import load_trace

    from ..i18n import set_language
    from ..steps import registry
    from ..steps.kit.base import StepContext
    from ..visuals.layout import Frame
    from . import fastcopy, text_outlines
    from .frame_audit import FrameAudit
    from .scene import Part, StepScene

    fastcopy.install()
    text_outlines.install()

    picture = job.picture
    spec = job.spec()
    set_language(picture.language)
    trace = load_trace(job.trace) if job.trace is not None else None
    if trace is not None and picture.model is not None:
        # The class names as the lesson shows them (translated, or renamed by the lesson).
        trace.classes = list(picture.model.classes)
    ctx = StepContext(
        trace=trace,
        theme=picture.theme.theme(),
        frame=Frame.for_aspect(picture.aspect),
        narration=picture.narration,
        colour_range=picture.colour_range,
        title=spec.title,
        original_image=job.image_file,
    )
    audit = (
        FrameAudit(ctx.frame, ctx.theme.background, ctx.theme.font) if job.mode == "audit" else None
    )
    # Without a video, animations only need their end states: skip the frames.
    return StepScene(
        registry.get(job.type),
        spec,
        ctx,
        phase_seconds=picture.phase_seconds,
        fps=picture.fps,
        audit=audit,
        skip_animations=job.mode != "video",
        on_frames=on_frames,
        part=Part(job.part.first, job.part.end) if job.part is not None else None,
    )


# Manim lists its partial clips for FFmpeg's concat demuxer inside single quotes,
# one per line: a path holding any of these cannot be listed.
_UNLISTABLE = ("'", "\n", "\r")


def scratch_parent(beside: Path) -> Path:
    """Where Manim's scratch folder goes: beside the clip (so the finished clip is
    renamed into place), or in the system's temporary folder when the clip's path
    holds a character Manim cannot list (a quote in ``Bob's course``, a line break)."""
    if not any(char in str(beside.absolute()) for char in _UNLISTABLE):
        return beside
    fallback = Path(tempfile.gettempdir())
    if any(char in str(fallback.absolute()) for char in _UNLISTABLE):
        raise RuntimeError("the output folder's path and TMPDIR both hold a quote or line break")
    return fallback


class FrameReport:
    """Writes a step's frames played so far to the render that started the worker,
    one number a line on a pipe of its own, at most every ``every`` seconds (and the
    last count when closed). A render that no longer reads loses the numbers, never
    the step: a full or closed pipe is skipped."""

    def __init__(self, fd: int, every: float = 0.25) -> None:
        os.set_inheritable(fd, False)  # the worker's own: no process it starts holds it
        os.set_blocking(fd, False)
        self.fd = fd
        self.every = every
        self.last = -1
        self.sent_at = 0.0

    def __call__(self, frames: int, force: bool = False) -> None:
        now = time.monotonic()
        if frames == self.last or (not force and now - self.sent_at < self.every):
            return
        try:
            os.write(self.fd, f"{frames}\n".encode("ascii"))
        except (BlockingIOError, BrokenPipeError, OSError):
            return
        self.last, self.sent_at = frames, now

    def close(self, frames: int | None = None) -> None:
        if self.fd < 0:
            return
        if frames is not None:
            with contextlib.suppress(OSError):
                os.set_blocking(self.fd, True)  # the last count is waited for, not dropped
                self(frames, force=True)
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self.fd = -1


def run(
    job: StepJob, report: FrameReport | None = None, started: float | None = None
) -> dict[str, Any]:
    """Render the job; returns the record written to ``job.record``. ``report`` hears
    the frames played so far; ``started`` is when the worker began (by
    ``time.perf_counter``), if before now."""
    out_meta = job.record
    out_meta.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter() if started is None else started
    parent = scratch_parent(out_meta.parent)
    with tempfile.TemporaryDirectory(prefix=temp_dir_prefix(), dir=parent) as tmp:
        record, produced = _render(job, Path(tmp), started, report)
        if produced is None and job.clip is not None and job.mode == "video":
            # A part that drew nothing: no clip, and no old one left in its place.
            job.clip.unlink(missing_ok=True)
        if produced is not None:
            if job.clip is None:
                raise RuntimeError("the job names no clip")
            if parent == out_meta.parent:
                # The scratch folder is beside the clip: the rename is atomic.
                put_in_place(produced, job.clip, replace_folder=True)
            else:
                with writing(job.clip, cache_entry=True) as staged:
                    shutil.copyfile(produced, staged)
    write_json(out_meta, record, cache_entry=True)
    return record


def _render(
    job: StepJob, media: Path, started: float, report: FrameReport | None = None
) -> tuple[dict[str, Any], Path | None]:
    """Render the step's scene in ``media``; its record and the file it produced."""
    from . import text_outlines

    configure_manim(job, media)
    began = time.perf_counter()
    text_outlines.take_counts()
    scene = build_scene(job, report)
    if job.mode in ("dry_run", "audit"):
        # Nobody sees a dry run's frames: skip drawing them. (The pixel
        # size stays real: Text lays itself out on a canvas of that size.)
        scene.renderer.update_frame = lambda *args, **kwargs: None
    scene.render()
    spent = time.perf_counter() - began
    drawing, encoding = scene.timings.drawing, scene.timings.encoding
    record: dict[str, Any] = {
        "type": job.type,
        "duration": float(scene.time),
        "frames": scene.frames(),
        "phases": [span.as_dict() for span in scene.spans],
        "values": scene.ctx.recorder.values,
        "maps": scene.ctx.recorder.maps,
        "facts": scene.ctx.recorder.facts,
        "overflow": scene.overflow,
        "render_seconds": round(time.perf_counter() - started, 3),
        # Where the time went: for the benchmarks, never part of a lesson's manifest.
        "timings": {
            "start": round(began - started, 3),
            "building": round(spent - drawing - encoding, 3),
            "drawing": round(drawing, 3),
            "encoding": round(encoding, 3),
        },
        "texts": text_outlines.take_counts(),  # how many Text layouts were parsed
        "drawn_frames": scene.drawn_now(),
        "held_frames": scene.timings.held,
    }
    if scene.audit is not None:
        record["findings"] = [finding.as_dict() for finding in scene.audit.findings]
    if job.mode in ("dry_run", "audit"):
        return record, None
    pattern = "step.mp4" if job.mode == "video" else "step*.png"
    produced = next(media.rglob(pattern), None)
    if produced is None and job.part is not None and scene.drawn == 0:
        return record, None  # a part none of whose animations start in its frames
    if produced is None:
        raise RuntimeError("manim produced no output file")
    return record, produced


def die_with_parent(parent: int) -> None:
    """Ask Linux to end this worker if the render that started it is killed."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return  # not Linux: the parent's own clean-up still stops workers on Ctrl-C
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    serving = bool(args) and args[0] == "--serve"
    if serving and len(args) == 4:
        return serve(int(args[1]), int(args[2]), Path(args[3]))
    if serving or len(args) not in (1, 2, 3):  # never "--serve" read as a job file
        print(
            "usage: python -m scenes.render.worker -|JOB.json [PARENT_PID [PROGRESS_FD]]\n"
            "       python -m scenes.render.worker --serve PARENT_PID SOCKET_FD OUTLINES_DIR",
            file=sys.stderr,
        )
        return 2
    if len(args) >= 2:
        die_with_parent(int(args[1]))
    report = FrameReport(int(args[2])) if len(args) == 3 else None
    text = sys.stdin.buffer.read() if args[0] == "-" else Path(args[0]).read_bytes()
    return run_jobs(read_jobs(text), report)


def run_jobs(jobs: list[StepJob], report: FrameReport | None, started: float | None = None) -> int:
    if len(jobs) > 1:  # a batch of dry runs: no progress to report
        for job in jobs:
            run(job)
        return 0
    try:
        record = run(jobs[0], report, started)
    except BaseException:
        if report is not None:
            report.close()
        raise
    if report is not None:
        # The step's own count (or its part's), to the last frame.
        report.close(int(record["drawn_frames"]))
    return 0


def warm_up() -> None:
    """Import what every step needs, so that a forked child starts with it loaded."""
    import manim  # noqa: F401

    from ..steps import registry
    from . import frame_audit, scene  # noqa: F401

    registry.names()


def serve(parent: int, control: int, outlines: Path) -> int:
    """Be a warm worker for the render ``parent`` (see :mod:`.pool`): on the socket
    ``control``, each message b"run" comes with the descriptors of the job's pipe,
    the log and (optionally) the frame report pipe; the answer is b"pid N", and
    b"exit N STATUS" follows when that child has ended. The socket closing ends
    the worker and any child still running. Its children hand the text outlines
    they parsed back through the folder ``outlines`` (the render's to remove)."""
    die_with_parent(parent)
    warm_up()
    from . import text_outlines

    sock = socket.socket(fileno=control)
    wake_read, wake_write = os.pipe()
    for fd in (wake_read, wake_write):
        os.set_blocking(fd, False)
        os.set_inheritable(fd, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake the select below
    children: set[int] = set()
    me = os.getpid()
    try:
        while True:
            ready, _, _ = select.select([sock.fileno(), wake_read], [], [])
            if wake_read in ready:
                with contextlib.suppress(BlockingIOError):
                    while os.read(wake_read, 512):
                        pass
            _report_exits(sock, children)
            if sock.fileno() not in ready:
                continue
            message, fds, _, _ = socket.recv_fds(sock, 64, 3)
            if not message:
                return 0  # the render has finished (or died)
            try:
                text_outlines.read_new(outlines)  # what the steps done so far have parsed
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    _child(me, fds, (sock.fileno(), wake_read, wake_write), outlines)
            finally:
                for fd in fds:
                    os.close(fd)
            children.add(pid)
            sock.send(f"pid {pid}".encode("ascii"))
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def _report_exits(sock: socket.socket, children: set[int]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.discard(pid)
        with contextlib.suppress(OSError):
            sock.send(f"exit {pid} {os.waitstatus_to_exitcode(status)}".encode("ascii"))


def _child(server: int, fds: list[int], server_fds: tuple[int, ...], outlines: Path) -> NoReturn:
    """A forked child of the warm worker: run the one job on its pipe, write its
    output to its log, and exit with the worker's usual status. The text outlines
    it parsed go back to the warm worker through the folder ``outlines``."""
    code = 1
    try:
        started = time.perf_counter()
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in server_fds:
            os.close(fd)
        die_with_parent(server)
        job_fd, log_fd, *rest = fds
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        report = FrameReport(os.dup(rest[0])) if rest else None
        with os.fdopen(os.dup(job_fd), "rb") as pipe:
            text = pipe.read()
        code = run_jobs(read_jobs(text), report, started)
        # A batch (of dry runs or audits) is all its warm worker is given: no later
        # child would read what it parsed.
        if code == 0 and not _is_batch(text):
            from . import text_outlines

            with contextlib.suppress(Exception):  # only a later step's head start
                text_outlines.write_new(outlines)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _is_batch(text: bytes) -> bool:
    return text.lstrip().startswith(b"[")


def read_jobs(text: bytes) -> list[StepJob]:
    """One job, or a list of jobs that draw nothing (dry runs and audits): those may
    share a process, as every setting they depend on is set anew for each."""
    if not _is_batch(text):
        return [StepJob.read(text)]
    jobs = [StepJob.model_validate(item) for item in json.loads(text)]
    drawing = [job.type for job in jobs if job.mode not in ("dry_run", "audit")]
    if drawing:
        raise ValueError("only jobs that draw nothing may share a worker")
    return jobs


if __name__ == "__main__":
    sys.exit(main())
