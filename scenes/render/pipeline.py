"""The render pipeline: validate, trace once, render steps in parallel, join.

Each step renders as its own Manim scene in its own process. A step's clip is
cached under a key made of everything that can change its pixels, so an
unchanged step is never rendered twice and editing one step re-renders only
that step. Outputs are renamed into place only when complete.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import math
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

import cnn_model
from cnn_model.images import MAX_FILE_BYTES as IMAGE_FILE_BYTES
from cnn_model.images import load_input
from cnn_model.safeio import is_regular, read_regular, real_path
from cnn_model.store import (
    ModelLocation,
    class_labels,
    load_location,
    model_classes,
    read_facts,
    sha256_file,
)
from cnn_model.trace import Trace, load_trace, save_trace

from .. import audio, i18n, speech
from ..atomic import (
    PublishError,
    copy_file,
    new_log,
    output_problem,
    publish_folder,
    remove_stale,
    staging_folder,
    write_json,
)
from ..export import captions, voice
from ..export import chapters as chapters_mod
from ..export.publish import CarryClash, ExportOptions, carry_over, export, write_page
from ..lesson.load import (
    MAX_LESSON_SECONDS,
    MAX_STEP_SECONDS,
    Lesson,
    lesson_file_stem,
    load_lesson,
)
from ..quoting import quoted
from ..steps import registry
from ..version import __version__
from ..visuals.theme import load_theme
from . import settings as settings_mod
from . import timing
from .cluster import connect, run_on_cluster
from .digest import model_digest, this_code
from .errors import ClusterUnavailable, OutputRefused, RenderError
from .job import Mode, ModelRef, PartRange, Picture, StepJob, ThemeLook, cache_key
from .join import concat, probe
from .lengths import length_key, read_lengths, remember
from .pool import WarmWorker, WorkerGone, log_tail, worker_env
from .progress import RenderProgress, expected_frames
from .settings import RenderSettings
from .timing import TimedCue
from .variant import Variant, describe_recorded

__all__ = ["ClusterUnavailable", "OutputRefused", "RenderError", "render", "render_lesson"]

# A step's record in the cache: the values it showed, far below this.
MAX_RECORD_BYTES = 64 * 1024 * 1024


def _confined_dir(root: Path, path: Path) -> Path:
    """Make the folder ``path`` (within ``root``) and check that it really is there.

    A link or a file that someone left in its place, pointing outside the
    output folder, is refused: a render writes nothing outside ``-o``.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputRefused(f"cannot make the folder {path}: {exc.strerror or exc}") from None
    expected = real_path(root) / path.relative_to(root)
    if path.is_symlink() or real_path(path) != expected:
        raise OutputRefused(
            f"{path} is a link or lies outside the output folder {root}; "
            "remove it (a render writes only inside -o)"
        )
    return path


def output_root(out: str | Path) -> Path:
    """The output folder ``-o``, made if needed; it must be a folder."""
    root = Path(out)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputRefused(f"the output folder {root} is not a folder") from None
    except OSError as exc:
        reason = exc.strerror or exc
        raise OutputRefused(f"cannot make the output folder {root}: {reason}") from None
    if not root.is_dir():
        raise OutputRefused(f"the output folder {root} is not a folder")
    return root


def _previous_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of the render in ``folder`` ({} if none, or too damaged to read)."""
    try:
        data = json.loads(read_regular(folder / "manifest.json", MAX_RECORD_BYTES).decode("utf-8"))
    except Exception:  # no render there, or one too damaged to tell: nothing to keep apart
        return {}
    return data if isinstance(data, dict) else {}


def _check_same_lesson(lesson_dir: Path, path: Path) -> None:
    """Refuse to replace the render of another lesson file whose name gives the same
    folder name (``a b.yaml`` and ``a-b.yaml`` both render into ``a-b/``). The same
    file moved elsewhere, or rendered from another checkout, is the same lesson."""
    previous = _previous_manifest(lesson_dir).get("source_name")
    if isinstance(previous, str) and previous != lesson_file_stem(path):
        raise OutputRefused(
            f"{lesson_dir} holds the render of another lesson file, {quoted(previous)}, whose "
            f"name gives the same folder name as {path.name}; rename one of the two files, "
            "render into another -o, or remove that folder"
        )


def _check_same_variant(folder: Path, variant: Variant) -> None:
    """Refuse to replace a folder holding another variant of the lesson (two variants
    whose names came out the same, or a ``--name`` given to another's folder)."""
    recorded = _previous_manifest(folder).get("variant")
    if not variant.may_replace(recorded):
        assert isinstance(recorded, dict)
        raise OutputRefused(
            f"{folder} holds another render of this lesson ({describe_recorded(recorded)}); "
            f"this one ({variant.describe()}) would replace it: give it a folder of its own "
            "with --name NAME, or remove that folder"
        )


@dataclass
class StepResult:
    index: int
    type: str
    key: str
    clip: Path
    record: dict[str, Any]
    cached: bool
    narration: str


@dataclass
class RenderResult:
    lesson: Lesson
    settings: RenderSettings
    video: Path
    manifest: Path
    steps: list[StepResult] = field(default_factory=list)
    seconds: float = 0.0
    variant: Variant | None = None  # which variant, and its folder under the output root
    # Wall seconds of the render's stages (preparing, start-up, steps, joining).
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def rendered(self) -> list[int]:
        """Indices of the steps rendered now (not taken from the cache)."""
        return [s.index for s in self.steps if not s.cached]


def cached_trace(
    location: ModelLocation,
    image: Path,
    folder: Path,
    model_code: str,
    parts: Sequence[str] = (),
) -> tuple[Trace, Path]:
    """The trace of ``image`` through the model, computed once per model and pixels.

    The model counts as its weights, its name and class names (from its card)
    and ``model_code``, the hash of the code that traces it. The cache key
    needs only hashes (no torch), so an unchanged lesson never loads the
    model at all. ``parts`` adds what training lessons read (see
    :func:`cnn_model.learning.add_parts`); their sources are hashed into the
    key as well: the training history's file, the card naming the data.
    """
    pixels = load_input(image)
    classes = model_classes(location, read_facts(location.weights).num_classes)
    model_id = json.dumps(
        {
            "weights": sha256_file(location.weights),
            "name": location.name,
            "classes": classes,
            "code": model_code,
            "parts": list(parts),
            "sources": part_sources(location, parts),
        },
        sort_keys=True,
    )
    model_key = hashlib.sha256(model_id.encode("utf-8")).hexdigest()
    image_sha = hashlib.sha256(pixels.tobytes()).hexdigest()
    path = folder / f"{model_key[:16]}-{image_sha[:16]}.npz"
    # The cache lies in the output folder, where anything may have been put:
    # only a regular file (never a link) that loads as this very trace is used.
    # Anything else is traced again and replaced.
    if is_regular(path, follow_links=False):
        with contextlib.suppress(Exception):
            cached = load_trace(path)
            if (
                cached.classes == classes
                and cached.image_sha256 == image_sha
                and np.array_equal(cached.image, pixels)
            ):
                return cached, path
    model = load_location(location)
    result = cnn_model.trace(model, image)
    if parts:
        from cnn_model.learning import add_parts

        add_parts(result, location, model, list(parts))
    save_trace(result, path)
    return result, path


def part_sources(location: ModelLocation, parts: Sequence[str]) -> str:
    """A hash of the files the trace's parts come from: the model's card (naming its
    history and data), the history's two files, and a data folder's files (their
    names, sizes and times: the images themselves are hashed when traced)."""
    if not parts or location.card is None:
        return ""
    from cnn_model.history import history_digest
    from cnn_model.learning import FEATURES_PART, LEARNING_PART, data_identity

    digest = hashlib.sha256(sha256_file(location.card, 1 << 20).encode())
    if LEARNING_PART in parts:
        digest.update(history_digest(location).encode())
    if any(part.startswith(FEATURES_PART) for part in parts):
        digest.update(data_identity(location).encode())
    return digest.hexdigest()


def parts_digest(trace: Trace, parts: Sequence[str]) -> str | None:
    """What a step reading ``parts`` of ``trace`` draws from beyond the image: the
    sources' hashes (None for a step that reads no part)."""
    from cnn_model.learning import FEATURES_PART, LEARNING_PART

    if not parts:
        return None
    found = []
    for part in sorted(parts):
        layer = part.removeprefix(FEATURES_PART)
        if part == LEARNING_PART and trace.learning is not None:
            found.append(f"{part}={trace.learning.source_sha256}")
        elif layer != part and layer in trace.features:
            found.append(f"{part}={trace.features[layer].source_sha256}")
    return hashlib.sha256("\n".join(found).encode()).hexdigest()


def shown_classes(lesson: Lesson, trace: Trace | None) -> list[str]:
    """The class names as the lesson shows them: its own ``labels:`` first, then the
    model card's names in the lesson's language, else the model's own names."""
    if trace is None:
        return []
    names = list(trace.classes)
    if lesson.model is not None:
        translated = class_labels(lesson.model, len(names), lesson.header.language)
        if translated is not None:
            names = translated
    own = lesson.header.labels or {}
    return [
        own.get(model_name, name) for model_name, name in zip(trace.classes, names, strict=True)
    ]


def narration_values(trace: Trace | None, classes: list[str], language: str) -> dict[str, str]:
    """What the placeholders of a narration say, in the lesson's language."""
    if trace is None:
        return {}
    first, second = trace.top_classes(2)
    p1, p2 = (float(trace.probabilities[i]) for i in (first, second))
    with i18n.using(language):
        return {
            "prediction": classes[first],
            "probability": i18n.number(p1, 3),
            "percent": i18n.percent(p1, 1),
            "second": classes[second],
            "second_probability": i18n.number(p2, 3),
            "model": trace.model_name,
            "classes": i18n.integer(len(trace.classes)),
        }


def fill_narration(narration: str, values: dict[str, str]) -> str:
    return narration.format_map(values) if narration else ""


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock, so two renders of one lesson assemble one at a time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Never through a link: a lock file planted as a link would truncate its target.
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _cached(clip: Path, meta: Path) -> bool:
    """Whether a step's clip and record in the cache can be used.

    The cache lies in the output folder, where anything may have been put or
    damaged: an entry is used only when both are regular files, the record
    is a JSON object and the clip opens as a video (or an image). Otherwise
    the step renders again, and its worker renames the new files over these
    (a link among them is replaced, never written through).
    """
    try:
        if not (is_regular(clip, follow_links=False) and is_regular(meta, follow_links=False)):
            raise ValueError("not regular files")
        record = json.loads(read_regular(meta, MAX_RECORD_BYTES).decode("utf-8"))
        if not isinstance(record, dict) or not isinstance(record.get("duration"), int | float):
            raise ValueError("not a step's record")
        if clip.suffix == ".png":
            with Image.open(clip, formats=["PNG"]) as image:
                image.verify()
        elif not probe(clip)["frames"]:
            raise ValueError("no frames")
        return True
    except Exception:  # whatever is wrong with the entry, the step renders again
        return False


# A step is split into parts only when it is longer than a worker's fair share of
# the render, and each part is at least this many seconds of video: every part
# builds the whole scene again, which pays only for long ones.
MIN_PART_SECONDS = 8.0


@dataclass
class _Unit:
    """One worker's job: a whole step, or a part of a long one."""

    index: int  # the step's
    job: StepJob
    frames: int  # expected (for the order: longest first)
    worker: _Worker | None = None
    code: int | None = None


def _units(
    jobs: list[tuple[int, StepJob]],
    parallel: int,
    expected: dict[int, int],
    parts_dir: Callable[[], Path],
) -> list[_Unit]:
    """The workers' jobs, longest first: a video step longer than a worker's fair
    share of the whole render is split into parts (see :class:`.job.PartRange`),
    so that one long step keeps every core busy."""
    total = sum(expected.get(index, 0) for index, _ in jobs)
    share = total / parallel if parallel else total
    units: list[_Unit] = []
    for index, job in jobs:
        frames = expected.get(index, 0)
        fps = job.picture.fps
        count = 1
        if parallel > 1 and job.mode == "video" and frames > share:
            count = min(parallel, math.ceil(frames / share), int(frames / (MIN_PART_SECONDS * fps)))
        if count <= 1:
            units.append(_Unit(index, job, frames))
            continue
        bounds = [round(frames * i / count) for i in range(count)] + [None]
        folder = parts_dir()
        for i in range(count):
            first, end = bounds[i], bounds[i + 1]
            assert first is not None
            part = job.moved(
                part=PartRange(first=first, end=end),
                clip=folder / f"{job.key()}-{i}.mp4",
                record=folder / f"{job.key()}-{i}.json",
            )
            units.append(_Unit(index, part, (end or frames) - first))
    units.sort(key=lambda unit: -unit.frames)
    return units


def _join_parts(job: StepJob, parts: list[StepJob]) -> None:
    """Join a step's parts into its clip (without re-encoding), then write its record:
    the first part's, as every part built the whole step."""
    assert job.clip is not None
    records = [json.loads(part.record.read_text("utf-8")) for part in parts]
    if len({json.dumps(r["phases"], sort_keys=True) for r in records}) != 1:
        raise RuntimeError("the parts of the step played different phases")
    clips = [
        p.clip for p in parts if p.clip is not None and p.clip.is_file() and p.clip.stat().st_size
    ]
    concat(clips, job.clip, cache_entry=True)
    record = dict(records[0])
    record["render_seconds"] = round(sum(r["render_seconds"] for r in records), 3)
    record["drawn_frames"] = sum(int(r["drawn_frames"]) for r in records)
    record["held_frames"] = sum(int(r["held_frames"]) for r in records)
    record["timings"] = {
        name: round(sum(r["timings"][name] for r in records), 3) for name in records[0]["timings"]
    }
    record["texts"] = {name: sum(r["texts"][name] for r in records) for name in records[0]["texts"]}
    record["parts"] = len(parts)
    write_json(job.record, record, cache_entry=True)


def _run_jobs(
    jobs: list[tuple[int, StepJob]],
    log_dir: Path,
    parallel: int,
    progress: RenderProgress | None,
    expected: dict[int, int] | None = None,
    timings: dict[str, float] | None = None,
    warm: WarmWorker | None = None,
) -> dict[int, str]:
    """Render the jobs in children of one warm worker (see :mod:`.pool`), at most
    ``parallel`` at once; returns errors by step. ``warm`` is a warm worker
    started earlier (this ends it), else one is started here if there are jobs.

    ``expected`` (frames by step) orders the work, longest first, and lets a
    long step be split into parts drawn side by side. Each child gets its job
    on a pipe and writes its output to a log of its own in ``log_dir``: removed
    when it succeeds, kept (until the next render) when it fails. With
    ``progress``, each child also reports the frames it has drawn, on a pipe of
    its own. ``timings`` hears how long the warm worker kept the first child
    waiting.
    """
    if not jobs:
        if warm is not None:
            warm.abandon()
        return {}
    began = time.perf_counter()
    parts = _PartsFolder(log_dir)
    units = _units(jobs, parallel, expected or {}, parts)
    by_step = _by_step(units)
    step_jobs = dict(jobs)
    pending = list(units)
    running: list[_Unit] = []
    failures: dict[int, str] = {}
    try:
        if warm is None:
            warm = WarmWorker(log_dir, worker_env())
        while pending or running:
            while pending and len(running) < parallel:
                unit = pending.pop(0)
                try:
                    unit.worker = _start_child(warm, unit.job, log_dir, progress is not None)
                except WorkerGone as exc:  # it could not start, or has died: nothing runs
                    for lost in [unit, *pending]:
                        failures.setdefault(lost.index, str(exc))
                    pending.clear()
                    break
                running.append(unit)
                if progress and all(u.worker is None or u is unit for u in by_step[unit.index]):
                    progress.started(unit.index)  # the step's first part to start
            time.sleep(0.05)
            for unit in list(running):
                worker = unit.worker
                assert worker is not None
                frames = worker.frames()
                code = worker.proc.poll()
                if code is None:
                    if progress and frames is not None:
                        progress.frames(unit.index, _drawn(by_step[unit.index]))
                    continue
                running.remove(unit)
                worker.close()
                unit.code = code
                if code != 0:
                    failed = log_tail(worker.log) or (
                        warm.failure() if warm.gone else f"worker exited with status {code}"
                    )
                    failures.setdefault(unit.index, failed)
                else:
                    worker.log.unlink(missing_ok=True)
                step = by_step[unit.index]
                if any(other.code is None for other in step):
                    continue
                _join_step(step_jobs[unit.index], step, failures)
                if progress:
                    ok = unit.index not in failures
                    progress.finished(unit.index, _drawn(step) if ok else None, failed=not ok)
    finally:
        for unit in running:
            if unit.worker is not None:
                unit.worker.proc.send_signal(signal.SIGTERM)
        for unit in running:
            if unit.worker is not None:
                unit.worker.proc.wait()
                unit.worker.close()
                unit.worker.log.unlink(missing_ok=True)
        if warm is not None:
            warm.close()
            if timings is not None and warm.ready is not None:
                timings["start-up"] = max(0.0, warm.began + warm.ready - began)
        parts.remove()
    return failures


def _run_on_cluster(
    client: Any,
    jobs: list[tuple[int, StepJob]],
    progress: RenderProgress | None,
    expected: dict[int, int],
    log_dir: Path,
) -> dict[int, str]:
    """Render the jobs on a Dask cluster, a long step in parts as on this machine
    (as many as the cluster has threads), and join each step's parts here."""
    parts = _PartsFolder(log_dir)
    try:
        threads = max(1, sum(client.nthreads().values()))
        units = _units(jobs, threads, expected, parts)
        failures = run_on_cluster(client, [(unit.index, unit.job) for unit in units], progress)
        by_step = _by_step(units)
        for index, job in jobs:
            _join_step(job, by_step[index], failures)
        return failures
    finally:
        parts.remove()


class _PartsFolder:
    """Where a render's parts of steps are written: made when the first part needs
    it (most renders split nothing), removed with all it holds at the end."""

    def __init__(self, parent: Path) -> None:
        self.parent = parent
        self.path: Path | None = None

    def __call__(self) -> Path:
        if self.path is None:
            self.path = staging_folder(self.parent, "parts")
        return self.path

    def remove(self) -> None:
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)


def _by_step(units: list[_Unit]) -> dict[int, list[_Unit]]:
    """Each step's units, its parts in their order in the step."""
    found: dict[int, list[_Unit]] = {}
    for unit in sorted(units, key=lambda u: u.job.part.first if u.job.part else 0):
        found.setdefault(unit.index, []).append(unit)
    return found


def _join_step(job: StepJob, units: list[_Unit], failures: dict[int, str]) -> None:
    """Once a step drawn in parts is done, join them into its clip (unless one
    failed); a join that fails is the step's failure."""
    index = units[0].index
    if len(units) < 2 or index in failures:
        return
    try:
        _join_parts(job, [unit.job for unit in units])
    except Exception as exc:
        failures[index] = f"its parts could not be joined: {exc}"


def _drawn(units: list[_Unit]) -> int:
    """The frames a step's workers have reported drawing, all parts together."""
    return sum(unit.worker.last or 0 for unit in units if unit.worker is not None)


class _Process(Protocol):
    def poll(self) -> int | None: ...
    def send_signal(self, signum: int) -> None: ...
    def wait(self) -> int: ...


@dataclass
class _Worker:
    """A worker process, its log, and the pipe it reports its frames on (or -1)."""

    proc: _Process
    log: Path
    report: int = -1
    unread: bytes = b""
    last: int | None = None

    def frames(self) -> int | None:
        """The last count of frames the worker reported (None: none yet)."""
        if self.report < 0:
            return self.last
        while True:
            try:
                chunk = os.read(self.report, 4096)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                chunk = b""
            if not chunk:  # the worker closed its end
                os.close(self.report)
                self.report = -1
                break
            self.unread = (self.unread + chunk)[-4096:]
        *lines, self.unread = self.unread.split(b"\n")
        for line in reversed(lines):
            if line.strip().isdigit() and len(line) < 12:
                self.last = int(line)
                break
        return self.last

    def close(self) -> int | None:
        """Read what is left on the pipe and close it; the last count reported."""
        if self.report >= 0:
            self.frames()  # an exited worker's counts are all in the pipe by now
        if self.report >= 0:
            os.close(self.report)
            self.report = -1
        return self.last


def _start_child(warm: WarmWorker, job: StepJob, log_dir: Path, report: bool) -> _Worker:
    """A child of the warm worker rendering ``job``, and the new log it writes to (and,
    with ``report``, the pipe on which it reports its frames)."""
    log, fd = new_log(log_dir)
    read_end, write_end = os.pipe() if report else (-1, -1)
    try:
        child = warm.start(job.to_json().encode("utf-8"), fd, write_end if report else None)
    except BaseException:
        if report:
            os.close(read_end)
        log.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)
        if report:
            os.close(write_end)
    if report:
        os.set_blocking(read_end, False)
    return _Worker(child, log, read_end)


@dataclass
class Prepared:
    """A lesson turned into one render job per step."""

    lesson: Lesson
    settings: RenderSettings
    variant: Variant
    out_root: Path
    cache_dir: Path
    trace: Trace | None
    jobs: list[StepJob]
    cues: list[list[TimedCue]] = field(default_factory=list)  # each step's, timed
    # Each translation's language and cues (read, not spoken), for its caption track.
    translations: list[tuple[str, list[list[TimedCue]]]] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)  # the class names, as shown

    @property
    def voiced(self) -> bool:
        """Whether any cue is spoken (recorded, or by the voice)."""
        return any(cue.sound is not None for cues in self.cues for cue in cues)

    @property
    def folder(self) -> Path:
        """The folder the render publishes: the lesson's, or its variant's inside it."""
        return self.out_root / self.variant.path

    @property
    def lock(self) -> Path:
        """One lock for all of a lesson's variants: each one's folder lies in the
        lesson's, which the default variant's render replaces whole."""
        return self.cache_dir / f"{self.lesson.name}.lock"


def prepare(
    lesson: Lesson,
    out: str | Path,
    jobs: int | None = None,
    mode: Mode = "video",
    name: str | None = None,
    jobs_dir: Callable[[Path], None] | None = None,
) -> Prepared:
    """Resolve settings, trace the image once and describe every step's render job;
    ``name`` is the variant's folder name given with ``--name``. ``jobs_dir`` hears
    of the folder for the workers' logs as soon as it is ready, before the trace."""
    settings = settings_mod.resolve(lesson, jobs)
    try:
        variant = Variant.of(lesson, settings.aspect, settings.theme, settings.language, name)
    except ValueError as exc:
        raise OutputRefused(str(exc)) from None
    look = ThemeLook.of(lesson.theme if lesson.theme is not None else load_theme(settings.theme))
    out_root = output_root(out)
    cache_dir = _confined_dir(out_root, out_root / ".cache")
    for folder in (cache_dir / "clips", cache_dir / "jobs", cache_dir / "traces"):
        _confined_dir(out_root, folder)
    # What killed renders left: job files, staging folders, an old folder set aside.
    remove_stale(cache_dir)
    remove_stale(out_root, recursive=False)
    if jobs_dir is not None:
        jobs_dir(cache_dir / "jobs")
    lesson_dir = out_root / lesson.name
    folder = out_root / variant.path
    for path in dict.fromkeys((lesson_dir, folder)):
        if path.is_symlink() or (os.path.lexists(path) and not path.is_dir()):
            raise OutputRefused(
                f"{path} is not a folder (a link or a file is in the way); "
                "a render writes only inside -o"
            )
    # Stale files of a killed render, and a variant's folder it had set aside.
    for path in dict.fromkeys((lesson_dir, folder)):
        remove_stale(path, recursive=False)
    with _locked(cache_dir / f"{lesson.name}.lock"), contextlib.suppress(OSError):
        folder.rmdir()  # only if empty: what an interrupted render once left
    _check_same_lesson(lesson_dir, lesson.path)
    if folder != lesson_dir:
        _check_same_lesson(folder, lesson.path)
    _check_same_variant(folder, variant)

    model_code = model_digest()
    trace: Trace | None = None
    trace_file: Path | None = None
    if lesson.needs_trace and lesson.model is not None and lesson.image is not None:
        trace, trace_file = cached_trace(
            lesson.model, lesson.image, cache_dir / "traces", model_code, lesson.trace_parts
        )
    classes = shown_classes(lesson, trace)
    values = narration_values(trace, classes, settings.language)
    code = this_code()
    image_file_sha = (
        sha256_file(lesson.image, IMAGE_FILE_BYTES) if lesson.image is not None else None
    )
    trace_sha = sha256_file(trace_file) if trace_file is not None else None
    model = (
        ModelRef(sha256=trace.model_sha256, name=trace.model_name, classes=tuple(classes))
        if trace is not None
        else None
    )
    step_jobs: list[StepJob] = []
    # The cues with the model's words filled in (a placeholder counted as one word
    # when it was validated): their length is checked again before any speech.
    timed = _read_cues(lesson, values, settings.words_per_minute, trace, classes, settings.language)
    _check_lengths(lesson, [_seconds(cues, settings.fps) for cues in timed])
    timed = [_spoken(lesson, cues, settings, out_root, cache_dir) for cues in timed]
    _check_lengths(lesson, [_seconds(cues, settings.fps) for cues in timed])
    for index, spec in enumerate(lesson.steps):
        step_type = registry.get(spec.type)
        uses_trace = step_type.needs_trace and trace is not None
        parts = step_type.trace_parts(spec) if step_type.trace_parts is not None else ()
        picture = Picture(
            # A chapter's name is not drawn: renaming one re-renders nothing.
            step=spec.model_dump(mode="json", exclude={"chapter"}),
            narration=" ".join(cue.text for cue in timed[index]),
            phase_seconds=timing.phase_seconds(timed[index], settings.fps),
            language=settings.language,
            theme=look,
            aspect=settings.aspect,
            pixel_height=settings.pixel_height,
            fps=settings.fps,
            colour_range=settings.colour_range,
            mode=mode,
            model=model if uses_trace else None,
            image_sha256=trace.image_sha256 if uses_trace and trace else None,
            image_file_sha256=image_file_sha if uses_trace else None,
            parts_sha256=parts_digest(trace, parts) if uses_trace and trace else None,
        )
        key = cache_key(picture, code)
        suffix = ".png" if mode == "last_frame" else ".mp4"
        step_jobs.append(
            StepJob(
                picture=picture,
                code=code,
                trace=trace_file if uses_trace else None,
                trace_sha256=trace_sha if uses_trace else None,
                image_file=lesson.image if uses_trace else None,
                clip=cache_dir / "clips" / f"{key}{suffix}",
                record=cache_dir / "clips" / f"{key}{suffix}.json",
            )
        )
    translations = [
        (
            other.header.language,
            _read_cues(
                other,
                narration_values(trace, shown_classes(other, trace), other.header.language),
                other.header.words_per_minute,
                trace,
                shown_classes(other, trace),
            ),
        )
        for other in lesson.translations
    ]
    return Prepared(
        lesson,
        settings,
        variant,
        out_root,
        cache_dir,
        trace,
        step_jobs,
        timed,
        translations,
        classes,
    )


def _read_cues(
    lesson: Lesson,
    values: dict[str, str],
    words_per_minute: int,
    trace: Trace | None = None,
    classes: list[str] | None = None,
    language: str | None = None,
) -> list[list[TimedCue]]:
    """Each step's cues with their placeholders filled (the lesson's ``values`` and its
    step type's own), lasting their reading time (the author's recording, if any, is
    timed when it is read)."""
    found = []
    for spec, cues in zip(lesson.steps, lesson.cues, strict=True):
        fill = registry.get(spec.type).fill
        own = values
        if fill is not None and trace is not None and cues:
            own = {**values, **fill(spec, trace, classes or [], language or lesson.header.language)}
        step = []
        for cue in cues:
            text = fill_narration(cue.text, own)
            seconds = timing.cue_seconds(text, words_per_minute, None)
            step.append(TimedCue(text, cue.phase, seconds, recording=cue.audio))
        found.append(step)
    return found


def _seconds(cues: list[TimedCue], fps: float) -> float:
    return sum(timing.phase_seconds(cues, fps).values())


def _spoken(
    lesson: Lesson,
    cues: list[TimedCue],
    settings: RenderSettings,
    out_root: Path,
    cache_dir: Path,
) -> list[TimedCue]:
    """The cues with their sound: the author's recording, else the lesson's voice (if it
    has one), each lasting as long as its sound; a silent cue keeps its reading time."""
    voice_name = lesson.header.voice
    found = []
    for cue in cues:
        if cue.recording is not None:
            seconds = audio.recording_seconds(cue.recording)
            name = os.path.relpath(cue.recording, lesson.path.parent)
            found.append(_with_sound(cue, cue.recording, seconds, name, settings))
        elif voice_name and cue.text.strip():
            wav = speech.speak(cue.text, voice_name, _confined_dir(out_root, cache_dir / "speech"))
            seconds = speech.seconds(wav)
            found.append(_with_sound(cue, wav, seconds, f"{speech.ENGINE}:{voice_name}", settings))
        else:
            found.append(cue)
    return found


def _with_sound(
    cue: TimedCue, file: Path, seconds: float, name: str, settings: RenderSettings
) -> TimedCue:
    length = timing.cue_seconds(cue.text, settings.words_per_minute, seconds)
    return dataclasses.replace(cue, seconds=length, sound=file, audio=name)


def _check_lengths(lesson: Lesson, seconds: list[float]) -> None:
    """Refuse a step or a lesson whose narration, once filled in or spoken, runs too long."""
    for index, length in enumerate(seconds):
        if length > MAX_STEP_SECONDS:
            raise OutputRefused(
                f"step {index + 1} ({lesson.steps[index].type}, {lesson.origins[index]}): its "
                f"narration takes {length / 60:.0f} minutes; a step may take at most "
                f"{MAX_STEP_SECONDS / 60:.0f} minutes"
            )
    if sum(seconds) > MAX_LESSON_SECONDS:
        raise OutputRefused(
            f"the narration, filled in, takes {sum(seconds) / 3600:.1f} hours; a lesson may "
            f"take at most {MAX_LESSON_SECONDS / 3600:.0f} hours (split it into several lessons)"
        )


def render_lesson(
    path: str | Path,
    *,
    out: str | Path = "media",
    jobs: int | None = None,
    scheduler: str | None = None,
    progress: RenderProgress | None = None,
    formats: tuple[str, ...] = (),
    burn_captions: bool = False,
    name: str | None = None,
    **overrides: object,
) -> RenderResult:
    """Render the lesson at ``path`` into ``out/<lesson name>/`` (another variant of it
    into a folder inside that one, see :mod:`scenes.render.variant`; ``name`` names
    that folder); returns what was written.

    ``overrides`` replace the lesson's own settings for this render, e.g.
    ``quality="h"``, ``aspect="9:16"``, ``theme="dark"``, ``model=``, ``image=``
    (see :func:`scenes.lesson.spec.overridable`); they are validated with the lesson.
    ``scheduler`` (``tcp://HOST:PORT``) renders the steps on a Dask cluster.

    Raises :class:`~scenes.lesson.errors.LessonInvalid` (every error, located)
    before anything is traced or rendered when the lesson or an override is
    invalid, and :class:`RenderError` when a step fails to render.
    """
    lesson = load_lesson(path, overrides, "render_lesson")
    return render(
        lesson,
        out=out,
        jobs=jobs,
        scheduler=scheduler,
        progress=progress,
        formats=formats,
        burn_captions=burn_captions,
        name=name,
    )


def render(
    lesson: Lesson,
    *,
    out: str | Path = "media",
    jobs: int | None = None,
    scheduler: str | None = None,
    progress: RenderProgress | None = None,
    formats: tuple[str, ...] = (),
    burn_captions: bool = False,
    name: str | None = None,
) -> RenderResult:
    """Render a loaded lesson (see :func:`render_lesson`)."""
    started = time.perf_counter()
    timings: dict[str, float] = {}
    client = connect(scheduler) if scheduler else None  # a cluster that cannot serve fails now
    warm: WarmWorker | None = None

    def start_warm(log_dir: Path) -> None:
        # It imports Manim on one core while the other traces the image.
        nonlocal warm
        warm = WarmWorker(log_dir, worker_env())

    try:
        prepared = prepare(lesson, out, jobs, name=name, jobs_dir=None if client else start_warm)
        settings, cache_dir = prepared.settings, prepared.cache_dir
        lesson_dir = prepared.folder

        results: list[StepResult] = []
        to_render: list[tuple[int, StepJob]] = []
        for index, job in enumerate(prepared.jobs):
            assert job.clip is not None
            cached = _cached(job.clip, job.record)
            if not cached:
                to_render.append((index, job))
            results.append(
                StepResult(index, job.type, job.key(), job.clip, {}, cached, job.picture.narration)
            )

        lengths = read_lengths(cache_dir)
        estimates = {i: _expected_frames(lesson, i, job, lengths) for i, job in to_render}
        expected = {i: frames or 0 for i, (frames, _) in estimates.items()}
        if progress:
            progress.begin(
                len(lesson.steps),
                len(lesson.steps) - len(to_render),
                [(i, job.type, *estimates[i]) for i, job in to_render],
                settings.fps,
                settings.jobs,
            )
        timings["preparing"] = time.perf_counter() - started
        if client is not None:
            failures = _run_on_cluster(client, to_render, progress, expected, cache_dir / "jobs")
        else:
            given, warm = warm, None  # _run_jobs ends it
            failures = _run_jobs(
                to_render, cache_dir / "jobs", settings.jobs, progress, expected, timings, given
            )
        timings["steps"] = time.perf_counter() - started - timings["preparing"]
    finally:
        if warm is not None:  # the render stopped before its steps
            warm.abandon()
        if client is not None:
            client.close()
    if failures:
        first = min(failures)
        raise RenderError(
            f"step {first + 1} ({lesson.steps[first].type}, {lesson.origins[first]}) "
            f"failed to render:\n{failures[first]}"
        )
    for result in results:
        record = prepared.jobs[result.index].record
        result.record = json.loads(record.read_text("utf-8"))
    # For the next render's estimate of the time left, at any quality.
    remember(
        cache_dir,
        {
            length_key(job.picture, job.code): float(result.record["duration"])
            for job, result in zip(prepared.jobs, results, strict=True)
        },
    )

    options = ExportOptions(
        formats=tuple(formats),
        burn_captions=burn_captions,
        poster_step=lesson.header.poster,
        poster_at=lesson.header.poster_at,
        font=prepared.jobs[0].picture.theme.font,
    )
    if progress:
        progress.assembling()
    joining = time.perf_counter()
    with _locked(prepared.lock):
        _assemble(prepared, results, lesson_dir, options)
    timings["joining"] = time.perf_counter() - joining
    video = lesson_dir / f"{prepared.variant.file_stem}.mp4"
    manifest_path = lesson_dir / "manifest.json"
    return RenderResult(
        lesson,
        settings,
        video,
        manifest_path,
        results,
        time.perf_counter() - started,
        prepared.variant,
        timings,
    )


def _expected_frames(
    lesson: Lesson, index: int, job: StepJob, lengths: dict[str, float]
) -> tuple[int | None, bool]:
    """How many frames a step will have, before it renders, and whether that is its
    length: the length it had in an earlier render, or else at least its narration's
    minimum length or the animation its fields ask for, whichever is longer (None:
    neither is known)."""
    fps = job.picture.fps
    known = lengths.get(length_key(job.picture, job.code))
    if known is not None:
        return expected_frames(known, fps), True
    spec = lesson.steps[index]
    plan = registry.get(spec.type).planned_seconds
    planned = plan(spec) if plan is not None else 0.0
    return expected_frames(max(sum(job.picture.phase_seconds.values()), planned), fps), False


def preview_step(
    lesson: Lesson,
    index: int,
    out: str | Path = "media",
    output: Path | None = None,
    name: str | None = None,
) -> Path:
    """Render only the last frame of step ``index`` (from 0) as a PNG; returns its path
    (by default in the folder of the lesson's variant that a render would write)."""
    prepared = prepare(lesson, out, 1, mode="last_frame", name=name)
    job = prepared.jobs[index]
    assert job.clip is not None
    png = job.clip
    if not _cached(png, job.record):
        failures = _run_jobs([(index, job)], prepared.cache_dir / "jobs", 1, None)
        if failures:
            raise RenderError(f"step {index + 1} failed to render:\n{failures[index]}")
    target = output or prepared.folder / f"preview-step-{index + 1}.png"
    try:
        # The lesson's lock: a render publishing its folder now would lose the file.
        with _locked(prepared.lock):
            if output is None:
                _confined_dir(prepared.out_root, prepared.folder)
            problem = output_problem(target)
            if problem is not None:
                raise OutputRefused(f"cannot write {target}: it is {problem}")
            target.parent.mkdir(parents=True, exist_ok=True)
            copy_file(png, target)
    except OSError as exc:  # the path given cannot be made (a read-only or virtual folder)
        raise OutputRefused(f"cannot write {target}: {exc.strerror or exc}") from None
    return target


def _assemble(
    prepared: Prepared, results: list[StepResult], lesson_dir: Path, options: ExportOptions
) -> None:
    """Join, add voice, export, and publish the lesson folder whole.

    The new folder is made complete in a staging folder beside the old one,
    which it then replaces in one atomic step: a failure or a kill at any
    moment leaves the previous render whole.
    """
    lesson = prepared.lesson
    name = prepared.variant.file_stem
    staging = staging_folder(prepared.out_root)
    try:
        manifest = _manifest(prepared, results)
        spans = chapters_mod.spans(lesson.chapters, manifest["steps"])
        joined = staging / f"{name}.mp4"
        concat([r.clip for r in results], joined, chapters_mod.mp4_chapters(spans))
        track = _voice_track(prepared, manifest) if prepared.voiced else None
        if track is not None:
            voiced = staging / f".voiced-{name}.mp4"
            voice.mux(joined, track, voiced)
            voiced.replace(joined)
            manifest["voice"] = {
                "engine": speech.ENGINE,
                "voice": lesson.header.voice,
                "recordings": sum(
                    cue.recording is not None for cues in prepared.cues for cue in cues
                ),
                "loudness_lufs": audio.TARGET_LUFS,
            }
        pixels = prepared.trace.image if prepared.trace is not None else None
        exported = export(joined, manifest, lesson.chapters, pixels, staging, options)
        info = probe(joined)
        # The frame rate and duration stay the render's own: an audio track muxed in
        # makes the container's average rate drift in the last digits.
        manifest.update({k: info[k] for k in ("width", "height", "frames")})
        manifest["duration"] = manifest["frames"] / manifest["fps"]
        manifest["chapters"] = [c.as_dict() for c in exported.chapters]
        manifest["captions"] = {"cues": len(exported.cues), "burned_in": options.burn_captions}
        manifest["files"] = exported.files
        (staging / "steps").mkdir()
        for result, step in zip(results, manifest["steps"], strict=True):
            _step_files(result.clip, step, exported.cues, track, staging)
        tracks = _translated_captions(prepared, manifest, staging)
        write_page(manifest, exported.cues, staging, tracks)
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        carry_over(lesson_dir, staging)
        # A variant's folder lies in the lesson's: there (again) even if another
        # render, before this one held the lock, found it empty and removed it.
        _confined_dir(prepared.out_root, lesson_dir.parent)
        publish_folder(staging, lesson_dir)
    except PublishError as exc:
        raise RenderError(str(exc)) from None
    except CarryClash as exc:
        raise OutputRefused(f"{exc}; the previous render is unchanged") from None
    except OSError as exc:
        where = lesson_dir
        if exc.filename and real_path(exc.filename).is_relative_to(real_path(staging)):
            where = lesson_dir / real_path(exc.filename).relative_to(real_path(staging))
        raise RenderError(
            f"cannot write {where}: {exc.strerror or exc}; the previous render is unchanged"
        ) from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _translated_captions(
    prepared: Prepared, manifest: dict[str, Any], staging: Path
) -> dict[str, list[captions.Cue]]:
    """A caption track for each translation, its cues on this video's phases; each is
    written as ``captions.<language>.vtt`` and listed in the manifest."""
    tracks: dict[str, list[captions.Cue]] = {}
    manifest["caption_tracks"] = []
    for language, steps in prepared.translations:
        found: list[captions.Cue] = []
        for step, cues in zip(manifest["steps"], steps, strict=True):
            for cue in timing.fitted(step["phases"], cues):
                found += captions.cue_captions(
                    int(step["index"]), str(cue["text"]), float(cue["start"]), float(cue["end"])
                )
        name = f"captions.{language}.vtt"
        (staging / name).write_text(captions.captions_vtt(found), encoding="utf-8")
        manifest["caption_tracks"].append({"language": language, "file": name})
        tracks[language] = found
    return tracks


def _voice_track(prepared: Prepared, manifest: dict[str, Any]) -> audio.Sound:
    """The lesson's sound: every spoken cue, brought to one loudness, at its start."""
    parts = []
    for step, cues in zip(manifest["steps"], prepared.cues, strict=True):
        for placed, cue in zip(step["cues"], cues, strict=True):
            if cue.sound is not None:
                parts.append((float(placed["start"]), audio.normalise(cue.load())))
    return audio.track(parts, float(manifest["duration"]))


def _step_files(
    clip: Path,
    step: dict[str, Any],
    cues: list[captions.Cue],
    track: audio.Sound | None,
    staging: Path,
) -> None:
    """A step's own clip, with its part of the sound, and its own captions, so that
    it can be embedded alone."""
    target = staging / step["clip"]
    start = float(step["start"])
    if track is None:
        shutil.copyfile(clip, target)
    else:
        voice.mux(clip, audio.excerpt(track, start, start + float(step["duration"])), target)
    own = [
        captions.Cue(c.start - start, c.end - start, c.text, c.step)
        for c in cues
        if c.step == step["index"]
    ]
    (staging / step["captions"]).write_text(captions.captions_vtt(own), encoding="utf-8")


def _manifest(prepared: Prepared, results: list[StepResult]) -> dict[str, Any]:
    """What was rendered: every step's place in the video and every value it showed."""
    lesson, settings, trace = prepared.lesson, prepared.settings, prepared.trace
    fps = settings.fps
    steps = []
    label = {c.first: c.title for c in lesson.chapters}
    first_frame = 0
    for result in results:
        clip_info = probe(result.clip)
        frames = int(clip_info["frames"])
        spec = lesson.steps[result.index]
        phases, cues = timing.placed(
            result.record.get("phases", []),
            prepared.cues[result.index],
            first_frame,
            frames,
            fps,
        )
        steps.append(
            {
                "index": result.index,
                "type": result.type,
                "title": spec.title,
                "label": label.get(result.index) or lesson.labels[result.index],
                "narration": result.narration,
                "source": str(lesson.origins[result.index]),
                "start": round(first_frame / fps, 6),
                "duration": frames / fps,
                "frames": frames,
                "phases": phases,
                "cues": cues,
                "clip": f"steps/{result.index + 1:02d}-{result.type}.mp4",
                "captions": f"steps/{result.index + 1:02d}-{result.type}.vtt",
                "cached": result.cached,
                "values": result.record.get("values", []),
                "maps": result.record.get("maps", []),
                "facts": result.record.get("facts", {}),
            }
        )
        first_frame += frames
    frames = sum(s["frames"] for s in steps)
    manifest: dict[str, Any] = {
        "lesson": lesson.name,
        "title": lesson.header.title,
        "description": lesson.header.description,
        "source": str(lesson.path),
        "source_name": lesson_file_stem(lesson.path),
        "variant": prepared.variant.as_dict(),
        "video": f"{prepared.variant.file_stem}.mp4",
        "fps": fps,
        "frames": frames,
        "duration": frames / fps,
        "language": settings.language,
        "settings": settings.as_dict(),
        # The colours the frames were drawn in: the page takes its own from them.
        "theme": prepared.jobs[0].picture.theme.model_dump() if prepared.jobs else {},
        "engine_version": __version__,
        "steps": steps,
    }
    if trace is not None:
        manifest["model"] = {
            "name": trace.model_name,
            "sha256": trace.model_sha256,
            "classes": trace.classes,
        }
        manifest["image"] = {
            "name": lesson.image.name if lesson.image else "",
            "path": str(lesson.image),
            "sha256": trace.image_sha256,
        }
        labels = prepared.classes
        manifest["model"]["labels"] = labels
        manifest["prediction"] = {
            "class": trace.predicted_class,
            "label": labels[trace.prediction],
            "probability": float(trace.probabilities[trace.prediction]),
            "top": [{"class": c, "probability": p} for c, p in trace.top(5)],
        }
    return manifest
