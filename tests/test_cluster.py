"""Rendering on a real Dask cluster: a scheduler and two worker processes on 127.0.0.1,
started from the venv's ``dask`` command and stopped by their process ids."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from conftest import ROOT
from rendering import cnnlesson, run_render

DASK = Path(sys.executable).with_name("dask")
LESSON = """\
title: Cluster
steps:
  - type: title
    text: On a cluster
  - type: relu
    narration: ReLU keeps what is positive and writes zero for the rest.
  - type: max_pool
"""
pytestmark = pytest.mark.render


class Cluster:
    def __init__(
        self, folder: Path, preload: Path | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.folder = folder
        self.env = {**os.environ, **(env or {})}
        self.procs: list[subprocess.Popen[bytes]] = []
        address_file = folder / "scheduler.json"
        scheduler = [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0"]
        self._start(
            [*scheduler, "--no-dashboard", "--scheduler-file", str(address_file)], "scheduler"
        )
        deadline = time.monotonic() + 60
        while not address_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.address = json.loads(address_file.read_text())["address"]
        assert self.address.startswith("tcp://127.0.0.1:")
        worker = [str(DASK), "worker", self.address, "--nworkers", "2", "--nthreads", "1"]
        worker += ["--host", "127.0.0.1", "--no-dashboard"]
        if preload is not None:
            worker += ["--preload", str(preload)]
        self._start(worker, "workers")

    def _start(self, command: list[str], name: str) -> None:
        log = (self.folder / f"{name}.log").open("wb")
        # A session of its own: the test stops the process and its children by its id.
        self.procs.append(
            subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=self.env,
            )
        )

    def stop(self) -> None:
        for proc in reversed(self.procs):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def step_renderers(self) -> list[psutil.Process]:
        """The step worker processes running under the cluster's workers now."""
        found = []
        for proc in self.procs:
            for child in psutil.Process(proc.pid).children(recursive=True):
                try:
                    if "scenes.render.worker" in " ".join(child.cmdline()):
                        found.append(child)
                except psutil.NoSuchProcess:
                    continue
        return found


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield running
    finally:
        running.stop()


def render(lesson: Path, out: Path, *extra: str) -> tuple[Path, dict[str, Any]]:
    command = [sys.executable, "-m", "scenes.cli", "render", str(lesson), "-q", "d"]
    return run_render([*command, "-o", str(out), "--quiet", *extra])


def comparable(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    keys = ("type", "duration", "frames", "values", "maps", "facts", "narration", "start")
    return [{k: step[k] for k in keys} for step in manifest["steps"]]


def test_a_cluster_render_equals_a_local_one_even_when_a_worker_is_lost(
    cluster: Cluster, tmp_path: Path
) -> None:
    lesson = tmp_path / "cluster.yaml"
    lesson.write_text(LESSON, encoding="utf-8")
    killed: list[int] = []

    def kill_one_worker() -> None:
        # The first step renderer seen on the cluster: its Dask worker process dies,
        # the nanny starts another and the scheduler runs the step again.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            for step in cluster.step_renderers():
                try:
                    worker = step.parent()
                    if worker is not None:
                        worker.kill()
                        killed.append(worker.pid)
                        return
                except psutil.NoSuchProcess:
                    continue
            time.sleep(0.2)

    killer = threading.Thread(target=kill_one_worker)
    killer.start()
    remote_video, remote = render(lesson, tmp_path / "remote", "--scheduler", cluster.address)
    killer.join()
    assert killed, "no step was seen rendering on the cluster"
    local_video, local = render(lesson, tmp_path / "local")
    assert comparable(remote) == comparable(local)
    assert remote["frames"] == local["frames"] and remote["duration"] == local["duration"]
    assert remote["prediction"] == local["prediction"]
    # Nothing but whole entries reached this machine's cache.
    clips = tmp_path / "remote" / ".cache" / "clips"
    assert sorted(p.name[32:] for p in clips.iterdir()) == sorted([".mp4", ".mp4.json"] * 3)
    assert remote_video.stat().st_size > 0 and local_video.stat().st_size > 0


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return cnnlesson(*args, timeout=90)


def test_an_unreachable_scheduler_is_one_line_and_exit_2_in_bounded_time(tmp_path: Path) -> None:
    port = free_port()
    started = time.monotonic()
    address = f"tcp://127.0.0.1:{port}"
    done = run_cli("render", "lessons/relu.yaml", "-o", str(tmp_path), "--scheduler", address)
    assert done.returncode == 2, done.stderr
    assert time.monotonic() - started < 45
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the Dask scheduler" in lines[0], done.stderr
    assert not (tmp_path / "relu").exists()


def test_a_cluster_without_the_package_is_refused(tmp_path: Path) -> None:
    hide = tmp_path / "hide_engine.py"
    hide.write_text("import sys\nsys.modules['scenes'] = None  # as if not installed\n")
    bare = Cluster(tmp_path, preload=hide)
    try:
        address = bare.address
        done = run_cli("render", "lessons/relu.yaml", "-o", str(tmp_path), "--scheduler", address)
    finally:
        bare.stop()
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not have cnnlesson installed" in lines[0], done.stderr


def free_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_worker_unpacks_a_step_without_loading_manim() -> None:
    # A Dask worker unpickles render_remote and the job in its own process; only the
    # step's own process draws. Were Manim loaded there, a worker whose Manim is broken
    # would die on every task instead of reporting the step's located error.
    probe = (
        "import sys, scenes.render.cluster, scenes.render.job\n"
        "print(sorted(m for m in sys.modules if m == 'manim' or m.startswith('scenes.steps.types')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_step_failing_on_a_worker_is_the_same_located_error(tmp_path: Path) -> None:
    # Workers whose step processes cannot import Manim: every step fails there.
    broken = tmp_path / "broken" / "manim"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('manim is broken on this worker')\n")
    path = os.pathsep.join(p for p in (str(broken.parent), os.environ.get("PYTHONPATH")) if p)
    lesson = tmp_path / "cluster.yaml"
    lesson.write_text(LESSON, encoding="utf-8")
    failing = Cluster(tmp_path, env={"PYTHONPATH": path})
    try:
        out = str(tmp_path / "out")
        done = run_cli("render", str(lesson), "-q", "d", "-o", out, "--scheduler", failing.address)
    finally:
        failing.stop()
    assert done.returncode == 1, done.stderr
    assert f"step 1 (title, {lesson}:3) failed to render:" in done.stderr, done.stderr
    # The end of the worker's log, as a local failure shows it.
    assert "ImportError: manim is broken on this worker" in done.stderr
    clips = tmp_path / "out" / ".cache" / "clips"
    assert not any(clips.iterdir())  # nothing half-written reached the cache
