"""Rendering steps on a Dask distributed cluster (``render --scheduler tcp://HOST:PORT``).

Each step job (or each part of a long step) goes to the cluster whole: the
job's JSON with the bytes of the trace and of the original image, which the job
names by their hashes, so a worker needs no disk shared with the render. On
the worker the step renders in a process of its own (``python -m
scenes.render.worker``), in a temporary folder; the clip and its record come
back as bytes and are written into this machine's cache only when complete. A
worker lost mid-render has its task run again elsewhere by Dask; a step that
fails comes back as the tail of its worker's log.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..atomic import write_json, writing
from .digest import this_code
from .errors import ClusterUnavailable
from .job import StepJob
from .pool import log_tail

if TYPE_CHECKING:
    from distributed import Client

    from .progress import RenderProgress

CONNECT_SECONDS = 15  # to reach the scheduler, then again for a worker to be there
RETRIES = 2  # runs of a step's task after the first, when a worker is lost
PACKAGE = "cnnlesson"

# (ok, clip bytes or the failure's text, the step's record)
Outcome = tuple[bool, bytes | str, dict[str, Any]]


def connect(address: str) -> Client:
    """A client of the scheduler at ``address`` whose workers can render steps.

    Raises :class:`ClusterUnavailable`, within about ``2 * CONNECT_SECONDS``,
    when the scheduler cannot be reached, has no worker, or a worker lacks this
    package or runs other code than this process (a render must not depend on
    which machine drew a step).
    """
    try:
        from distributed import Client
        from distributed.comm import get_address_host_port
    except ImportError:
        raise ClusterUnavailable(
            "rendering on a cluster needs Dask: pip install 'dask[distributed]'"
        ) from None
    # Dask logs its own account of a failed connection: the message below says it once.
    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    try:
        get_address_host_port(address)
    except Exception as exc:
        raise ClusterUnavailable(
            f"{address!r} is not a Dask scheduler's address ({_reason(exc)}); "
            "write it as tcp://HOST:PORT"
        ) from None
    try:
        client = Client(address, timeout=f"{CONNECT_SECONDS}s", set_as_default=False)
    except Exception as exc:  # unreachable, refused, a malformed address
        raise ClusterUnavailable(
            f"cannot reach the Dask scheduler at {address} within {CONNECT_SECONDS} s "
            f"({_reason(exc)}); start one with `dask scheduler`, or leave out --scheduler"
        ) from None
    try:
        _check_workers(client, address)
    except BaseException:
        client.close()
        raise
    return client


def _check_workers(client: Client, address: str) -> None:
    try:
        client.wait_for_workers(1, timeout=CONNECT_SECONDS)
    except Exception:
        raise ClusterUnavailable(
            f"the Dask scheduler at {address} has no worker after {CONNECT_SECONDS} s; "
            f"start some with `dask worker {address}`"
        ) from None
    try:
        client.run(importlib.metadata.version, PACKAGE)
        theirs = client.run(this_code)  # imports the engine there
    except Exception:
        raise ClusterUnavailable(
            f"a worker of the Dask cluster at {address} does not have {PACKAGE} installed; "
            f"install it there (the same version as here) and start the worker again"
        ) from None
    ours = this_code()
    other = sorted(worker for worker, digest in theirs.items() if digest != ours)
    if other:
        raise ClusterUnavailable(
            f"the workers {', '.join(other)} of the Dask cluster at {address} run other "
            f"{PACKAGE} code than this machine; install the same version there"
        )


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_on_cluster(
    client: Client,
    jobs: list[tuple[int, StepJob]],
    progress: RenderProgress | None,
) -> dict[int, str]:
    """Render ``jobs`` on the cluster and write their clips and records into this
    machine's cache; returns the failures' texts by step index. A step may come
    as several jobs, its parts (see :class:`.job.PartRange`): the step is
    reported started with its first and finished with its last."""
    from distributed import as_completed

    blobs: dict[Path, bytes] = {}

    def read(path: Path | None) -> bytes | None:
        # The bytes go with each task (not scattered to one worker, where losing
        # that worker would lose them): any worker can run any step, again.
        if path is None:
            return None
        if path not in blobs:
            blobs[path] = path.read_bytes()
        return blobs[path]

    futures = {}
    left: dict[int, int] = {}  # each step's jobs not yet back
    for index, job in jobs:
        future = client.submit(
            render_remote,
            job.to_json(),
            read(job.trace),
            read(job.image_file),
            job.image_file.suffix if job.image_file is not None else "",
            retries=RETRIES,
            pure=False,
            key=f"cnnlesson-step-{index + 1}-{job.key()}-{os.urandom(4).hex()}",
        )
        futures[future] = (index, job)
        if progress and index not in left:
            progress.started(index)
        left[index] = left.get(index, 0) + 1
    failures: dict[int, str] = {}
    frames: dict[int, int] = {}
    seconds: dict[int, float] = {}
    try:
        for future in as_completed(list(futures), loop=client.loop):
            index, job = futures[future]
            record: dict[str, Any] = {}
            try:
                ok, payload, record = future.result()
            except Exception as exc:  # lost workers beyond the retries, a cancelled task
                failures[index] = f"the cluster could not run this step: {_reason(exc)}"
            else:
                if ok:
                    _keep(job, payload, record)
                else:
                    failures.setdefault(index, str(payload))
            # A step's time is its workers' own (the steps queue on the cluster).
            drawn, spent = record.get("drawn_frames"), record.get("render_seconds")
            frames[index] = frames.get(index, 0) + (drawn if isinstance(drawn, int) else 0)
            seconds[index] = seconds.get(index, 0.0) + (
                float(spent) if isinstance(spent, int | float) else 0.0
            )
            left[index] -= 1
            if progress and not left[index]:
                failed = index in failures
                progress.finished(index, None if failed else frames[index], seconds[index], failed)
    finally:
        client.cancel(list(futures))
    return failures


def _keep(job: StepJob, clip: bytes | str, record: dict[str, Any]) -> None:
    """Write a step's clip, then its record, into the cache (each renamed into place
    when complete: an entry is used only when both are there). A part that drew
    nothing has no clip."""
    if job.clip is None or not isinstance(clip, bytes):
        raise RuntimeError("a step's job names no clip, or its worker sent none")
    if clip or job.part is None:
        with writing(job.clip, cache_entry=True) as staged:
            staged.write_bytes(clip)
    write_json(job.record, record, cache_entry=True)


def render_remote(job_json: str, trace: bytes | None, image: bytes | None, suffix: str) -> Outcome:
    """Run on a cluster worker: render one step in a process of its own, in a
    temporary folder, and return its clip's bytes and its record."""
    job = StepJob.read(job_json)
    if job.code != this_code():
        return False, "this worker runs other cnnlesson code than the render that sent the step", {}
    with tempfile.TemporaryDirectory(prefix="cnnlesson-step-") as folder:
        tmp = Path(folder)
        paths: dict[str, Any] = {"trace": None, "image_file": None}
        for name, data, expected, file in (
            ("trace", trace, job.trace_sha256, "trace.npz"),
            ("image_file", image, job.picture.image_file_sha256, f"image{suffix}"),
        ):
            if expected is None or getattr(job, name) is None:
                continue
            if data is None or hashlib.sha256(data).hexdigest() != expected:
                return False, f"the {name.replace('_', ' ')} sent with the step is damaged", {}
            (tmp / file).write_bytes(data)
            paths[name] = tmp / file
        out = ".png" if job.mode == "last_frame" else ".mp4"
        local = job.moved(clip=tmp / f"step{out}", record=tmp / "record.json", **paths)
        log = tmp / "worker.log"
        with log.open("wb") as sink:
            code = subprocess.run(
                [sys.executable, "-m", "scenes.render.worker", "-", str(os.getpid())],
                input=local.to_json().encode("utf-8"),
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=_step_environment(),
                check=False,
            ).returncode
        if code != 0:
            return False, log_tail(log) or f"worker exited with status {code}", {}
        record = json.loads(local.record.read_text(encoding="utf-8"))
        clip = local.clip.read_bytes() if local.clip is not None and local.clip.exists() else b""
        return True, clip, record


def _step_environment() -> dict[str, str]:
    """The environment of a step's process on a worker: the worker's own, but for the
    allocator setting a Dask nanny gives its workers (it returns freed memory to the
    system at once), which makes Manim's drawing about a quarter slower."""
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    env["PYTHONUNBUFFERED"] = "1"
    return env
