"""The frame audit of a lesson: every step's scene checked for unreadable text.

Each step is built as in a dry run (nothing drawn or encoded) in a worker of
its own, with :class:`~scenes.render.frame_audit.FrameAudit` looking at every
beat's end and every animation's middle. A lesson can be audited in several
looks at once (themes, aspects); the steps of all of them share the workers.
A step's findings are cached like its clip, under the same kind of key.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnn_model.safeio import is_regular, read_regular

from ..atomic import new_log
from ..lesson.load import Lesson, step_label
from .job import StepJob
from .pipeline import MAX_RECORD_BYTES, RenderError, prepare
from .pool import Child, WarmWorker, WorkerGone, log_tail, worker_env


@dataclass(frozen=True)
class StepAudit:
    """What the audit found in one step, in one look."""

    lesson: Path
    index: int  # from 0
    type: str
    label: str
    theme: str
    aspect: str
    findings: list[dict[str, Any]]

    def lines(self) -> list[str]:
        where = (
            f"{self.lesson}: step {self.index + 1} ({self.type}, {self.label}) "
            f"[{self.aspect}, {self.theme}]"
        )
        return [
            f'{where} beat {f["beat"]} "{f["phase"]}" {f["moment"]} at {f["seconds"]:.1f} s: '
            f"{f['kind']}: {f['message']}"
            for f in self.findings
        ]


@dataclass(frozen=True)
class Look:
    """One way to see a lesson: the overrides it renders with."""

    theme: str | None = None
    aspect: str | None = None

    def overrides(self) -> dict[str, object]:
        found: dict[str, object] = {}
        if self.theme is not None:
            found["theme"] = self.theme
        if self.aspect is not None:
            found["aspect"] = self.aspect
        return found


def _cached_record(job: StepJob) -> dict[str, Any] | None:
    try:
        if not is_regular(job.record, follow_links=False):
            return None
        record = json.loads(read_regular(job.record, MAX_RECORD_BYTES).decode("utf-8"))
    except Exception:  # a damaged entry: audit the step again
        return None
    if not isinstance(record, dict) or not isinstance(record.get("findings"), list):
        return None
    return record


def _run_batches(jobs: list[StepJob], log_dir: Path, parallel: int) -> tuple[StepJob, str] | None:
    """Build the jobs in ``parallel`` children of a warm worker, each taking its share
    in one process (nothing is drawn: one process per step would gain nothing)."""
    batches = [jobs[i::parallel] for i in range(min(parallel, len(jobs)))]
    running: list[tuple[Child, Path, list[StepJob]]] = []
    warm = WarmWorker(log_dir, worker_env())
    try:
        for batch in batches:
            blob = json.dumps([job.model_dump(mode="json") for job in batch]).encode("utf-8")
            log, fd = new_log(log_dir)
            try:
                running.append((warm.start(blob, fd), log, batch))
            finally:
                os.close(fd)
        for child, log, batch in running:
            code = child.wait()
            if code != 0:
                tail = log_tail(log)
                # The batch runs in order: the first job without a record failed.
                failed = next((j for j in batch if _cached_record(j) is None), batch[0])
                return failed, tail or warm.failure()
            log.unlink(missing_ok=True)
        return None
    except WorkerGone as exc:
        return batches[0][0], str(exc)
    finally:
        for child, _log, _ in running:
            child.send_signal(signal.SIGTERM)
            child.wait()
        warm.close()


def audit_lessons(
    lessons: Iterable[Lesson],
    *,
    out: str | Path = "media",
    jobs: int | None = None,
) -> list[StepAudit]:
    """Audit every step of ``lessons`` (already loaded, each in its own look)."""
    pending: list[tuple[int, StepJob]] = []
    places: list[tuple[Lesson, int, StepJob, str, str]] = []
    parallel = 1
    cache_dir: Path | None = None
    for lesson in lessons:
        prepared = prepare(lesson, out, jobs, mode="audit")
        parallel = max(parallel, prepared.settings.jobs)
        cache_dir = prepared.cache_dir
        for index, job in enumerate(prepared.jobs):
            audited = job.moved(clip=None, record=job.record.with_name(f"{job.key()}.audit.json"))
            slot = len(places)
            places.append(
                (lesson, index, audited, prepared.settings.theme, prepared.settings.aspect)
            )
            if _cached_record(audited) is None:
                pending.append((slot, audited))
    if pending:
        assert cache_dir is not None
        failure = _run_batches([job for _, job in pending], cache_dir / "jobs", parallel)
        if failure is not None:
            failed, message = failure
            slot = next(slot for slot, job in pending if job is failed)
            lesson, index = places[slot][0], places[slot][1]
            raise RenderError(f"{lesson.path}: step {index + 1} failed to build:\n{message}")
    results: list[StepAudit] = []
    for lesson, index, job, theme, aspect in places:
        record = _cached_record(job)
        if record is None:
            raise RenderError(f"{lesson.path}: step {index + 1} left no audit record")
        results.append(
            StepAudit(
                lesson=lesson.path,
                index=index,
                type=job.type,
                label=step_label(lesson.steps[index], lesson.header.language),
                theme=theme,
                aspect=aspect,
                findings=list(record["findings"]),
            )
        )
    return results


__all__ = ["Look", "StepAudit", "audit_lessons"]
