"""What a render reports while it runs, and two ways of showing it.

The pipeline tells a :class:`RenderProgress` what happens: which steps it
renders, when each starts, how many frames each has drawn (workers on this
machine report as they draw; a cluster's steps only when they finish), and
when each is done. From that it keeps the numbers a display shows: steps done
of all, frames drawn of those expected, frames per second and the time left.

- :class:`LiveProgress` draws them as a live bar on a terminal (``rich``),
  with a line for each finished step above it.
- :class:`LineProgress` writes plain lines, one per finished step
  (``step 3/7 relu done in 4.2 s, 63 frames``), for logs and pipes.

The time left is an estimate: the frames still expected divided by the
frames drawn per second so far (all workers together, their start-up
included). A step that rendered before, at any quality, is expected to last
as long again (:mod:`scenes.render.lengths`), and then the estimate is shown
as ``~0:42 left``. Otherwise only a lower bound is known: its narration's
length or the animation its fields ask for, whichever is longer (a step with
neither counts as long as the average known step), and never less than what
it has drawn already; the estimate is then shown as ``>0:42 left``, at least
that long. Until the first frames are drawn it shows none.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

# A step of unknown length counts as this long while no other step's is known.
FALLBACK_STEP_SECONDS = 6.0


@dataclass
class StepState:
    index: int
    type: str
    expected: int | None  # frames, when its length can be told in advance
    exact: bool = False  # the expected frames are its length (else at least its length)
    frames: int = 0
    started: float | None = None
    seconds: float | None = None  # how long it took, once done
    done: bool = False
    failed: bool = False


class RenderProgress:
    """The state of a render's steps and what follows from it. It shows nothing
    itself: :class:`LiveProgress` and :class:`LineProgress` do."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.total = 0  # steps in the lesson
        self.cached = 0
        self.fps = 15.0  # the video's
        self.steps: dict[int, StepState] = {}
        self.first_start: float | None = None
        self.stage = "rendering"

    # --- what the pipeline reports ----------------------------------------

    def begin(
        self,
        total: int,
        cached: int,
        to_render: list[tuple[int, str, int | None, bool]],
        fps: float,
        parallel: int,
    ) -> None:
        """The lesson has ``total`` steps, ``cached`` of them ready; ``to_render``
        lists the others: (index, type, expected frames or None, whether that is
        their length or a lower bound)."""
        self.total, self.cached, self.fps = total, cached, fps
        self.steps = {
            i: StepState(i, kind, expected, exact) for i, kind, expected, exact in to_render
        }
        self.shown_begin(parallel)

    def started(self, index: int) -> None:
        now = self.clock()
        self.steps[index].started = now
        if self.first_start is None:
            self.first_start = now
        self.changed()

    def frames(self, index: int, frames: int) -> None:
        """Step ``index`` has drawn ``frames`` frames so far."""
        step = self.steps[index]
        if not step.done:
            step.frames = max(step.frames, frames)
            self.changed()

    def finished(
        self, index: int, frames: int | None, seconds: float | None = None, failed: bool = False
    ) -> None:
        """Step ``index`` is done after ``seconds`` (default: since it started),
        with ``frames`` frames (None: unknown, e.g. it failed)."""
        step = self.steps[index]
        now = self.clock()
        if seconds is None:
            seconds = now - step.started if step.started is not None else 0.0
        if self.first_start is None:
            self.first_start = now - seconds
        step.done, step.failed, step.seconds = True, failed, seconds
        if frames is not None:
            step.frames = step.expected = frames
            step.exact = True
        self.shown_step(step)
        self.changed()

    def assembling(self) -> None:
        self.stage = "joining"
        self.shown_assembling()
        self.changed()

    def close(self) -> None:
        """The render is over (done or not)."""

    # --- what a display shows ---------------------------------------------

    @property
    def done(self) -> int:
        """Steps ready: cached, and rendered now."""
        return self.cached + sum(s.done for s in self.steps.values())

    @property
    def frames_done(self) -> int:
        return sum(s.frames for s in self.steps.values())

    def expected_frames(self, step: StepState) -> int:
        if step.expected is not None:
            return max(step.expected, step.frames)
        known = [s.expected for s in self.steps.values() if s.expected is not None]
        guess = sum(known) / len(known) if known else FALLBACK_STEP_SECONDS * self.fps
        return max(round(guess), step.frames)

    @property
    def frames_expected(self) -> int:
        return sum(self.expected_frames(s) for s in self.steps.values())

    @property
    def elapsed(self) -> float:
        return 0.0 if self.first_start is None else max(0.0, self.clock() - self.first_start)

    @property
    def rate(self) -> float | None:
        """Frames drawn per second so far, all workers together (None: none yet)."""
        elapsed, frames = self.elapsed, self.frames_done
        return frames / elapsed if frames > 0 and elapsed > 0 else None

    @property
    def seconds_left(self) -> float | None:
        """Estimated seconds until every step is drawn (None: not known yet)."""
        rate = self.rate
        if rate is None:
            return None
        left = sum(self.expected_frames(s) - s.frames for s in self.steps.values() if not s.done)
        return left / rate

    @property
    def exact(self) -> bool:
        """Whether the time left counts every step's length (else it is a lower bound)."""
        return all(s.exact for s in self.steps.values() if not s.done)

    def left_text(self) -> str:
        """``~0:42 left``, ``>0:42 left`` (at least), or ``– left`` (not known yet)."""
        left = self.seconds_left
        if left is None:
            return "– left"
        return f"{'~' if self.exact else '>'}{clock_text(left)} left"

    def step_line(self, step: StepState) -> str:
        """``step 3/7 relu done in 4.2 s, 63 frames``."""
        where = f"step {step.index + 1}/{self.total} {step.type}"
        if step.failed:
            return f"{where} failed after {step.seconds or 0.0:.1f} s"
        return f"{where} done in {step.seconds or 0.0:.1f} s, {step.frames} frames"

    # --- hooks for a display ------------------------------------------------

    def shown_begin(self, parallel: int) -> None:
        """The render begins (a display may say what it will do)."""

    def shown_step(self, step: StepState) -> None:
        """A step has finished."""

    def shown_assembling(self) -> None:
        """The steps are drawn; the clips are being joined."""

    def changed(self) -> None:
        """Any number above may have changed."""


def begin_line(total: int, cached: int, rendering: int, parallel: int) -> str:
    """``rendering 5 of 7 steps (2 cached), 2 at a time``."""
    steps = "step" if total == 1 else "steps"
    if rendering == 0:
        return f"all {total} {steps} cached" if total > 1 else f"the {steps} is cached"
    at_once = f", {min(parallel, rendering)} at a time" if rendering > 1 else ""
    return f"rendering {rendering} of {total} {steps} ({cached} cached){at_once}"


ASSEMBLING = "joining the clips; writing captions, chapters, poster and page"


class LineProgress(RenderProgress):
    """Plain lines, one per finished step, for a log or a pipe."""

    def __init__(self, console: Console, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock)
        self.console = console

    def shown_begin(self, parallel: int) -> None:
        self.console.print(begin_line(self.total, self.cached, len(self.steps), parallel))

    def shown_step(self, step: StepState) -> None:
        self.console.print(self.step_line(step))

    def shown_assembling(self) -> None:
        self.console.print(ASSEMBLING)


def clock_text(seconds: float) -> str:
    """``0:42``, ``12:05``, ``1:02:09``."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class LiveProgress(RenderProgress):
    """A live bar on a terminal: steps done of all, frames of those expected, frames
    per second, time spent and time left; a line for each finished step above it."""

    def __init__(self, console: Console, clock: Callable[[], float] = time.monotonic) -> None:
        from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn
        from rich.text import Text

        owner = self

        class Numbers(ProgressColumn):
            """Worked out at every refresh: the time spent runs on between reports."""

            def render(self, task: Task) -> Text:
                return Text(owner.numbers())

        super().__init__(clock)
        self.console = console
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            Numbers(),
            console=console,
            transient=True,
            refresh_per_second=4,
        )
        self.task = self.bar.add_task("preparing", total=None)
        self.bar.start()

    def numbers(self) -> str:
        """``3/7 steps  412/980 frames  38.2 fps  0:11 spent  ~0:15 left``."""
        parts = [f"{self.done}/{self.total} steps"]
        if self.steps:
            parts.append(f"{self.frames_done}/{self.frames_expected} frames")
            rate = self.rate
            parts.append(f"{rate:.1f} fps" if rate is not None else "– fps")
            parts.append(f"{clock_text(self.elapsed)} spent")
            if self.stage == "rendering":
                parts.append(self.left_text())
        return "  ".join(parts)

    def shown_begin(self, parallel: int) -> None:
        self.console.print(begin_line(self.total, self.cached, len(self.steps), parallel))
        self.bar.update(self.task, description="rendering")

    def shown_step(self, step: StepState) -> None:
        self.console.print(self.step_line(step))

    def shown_assembling(self) -> None:
        self.bar.update(self.task, description="joining")

    def changed(self) -> None:
        total = self.frames_expected if self.steps else None
        done = self.frames_done if self.steps else 0
        if self.stage == "joining" and total is not None:
            done = total
        self.bar.update(self.task, total=total, completed=done)

    def close(self) -> None:
        self.bar.stop()


def expected_frames(seconds: float, fps: float) -> int | None:
    """A step's expected frames from the seconds it takes (None: unknown)."""
    return round(seconds * fps) if seconds > 0 else None


__all__ = [
    "LineProgress",
    "LiveProgress",
    "RenderProgress",
    "StepState",
    "begin_line",
    "clock_text",
    "expected_frames",
]
