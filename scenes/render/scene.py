"""One lesson step as one Manim scene."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from manim import Camera, Scene, ValueTracker
from manim.renderer.cairo_renderer import CairoRenderer

from ..steps.kit.base import Add, Beat, Hold, Phase, StepContext
from ..steps.kit.registry import StepType
from ..visuals.layout import outside
from .camera import ImageBoxCamera, StillLayers
from .clip_writer import StepFileWriter
from .frame_audit import FrameAudit


def play_step(
    scene: Scene,
    step_type: StepType,
    spec: Any,
    ctx: StepContext,
    on_beat: Callable[[], None] | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> None:
    """Play a step's beats on ``scene`` (any Manim scene, e.g. a test's);
    ``on_phase`` hears of each phase marker as the builder reaches it."""
    scene.camera.background_color = ctx.theme.background  # type: ignore[union-attr]
    for item in step_type.build(spec, ctx):
        if isinstance(item, Beat):
            if item.animations:
                scene.play(*item.animations, run_time=item.run_time)
            else:
                scene.wait(item.run_time)
        elif isinstance(item, Hold):
            scene.wait(item.seconds)
        elif isinstance(item, Add):
            if item.remove:
                scene.remove(*item.mobjects)
            else:
                scene.add(*item.mobjects)
        elif isinstance(item, Phase):
            if on_phase is not None:
                on_phase(item.name)
            continue
        else:  # pragma: no cover - builders yield only these kinds
            raise TypeError(f"a step builder yielded {item!r}")
        if on_beat is not None:
            on_beat()


@dataclass(frozen=True)
class PhaseSpan:
    """Where a phase lies in its step's clip, in frames: [first, end)."""

    name: str
    first: int
    end: int

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "first_frame": self.first, "end_frame": self.end}


@dataclass(frozen=True)
class Part:
    """Which animations of a step a worker draws: those that start at a frame in
    [first, end) (end None: to the step's end). Every worker of a step builds the
    whole scene, so all agree on where each animation starts, and each animation
    is drawn by exactly one part; the others only apply its end state."""

    first: int = 0
    end: int | None = None

    def draws(self, frame: int) -> bool:
        return self.first <= frame and (self.end is None or frame < self.end)


@dataclass
class Timings:
    """Where a step's worker spent its time, in seconds (and how many frames it
    wrote as repeats of the one before, for the benchmark's encode floor)."""

    drawing: float = 0.0  # the camera drawing frames
    encoding: float = 0.0  # waiting for the encoder (it runs in a thread of its own)
    held: int = 0  # frames written as a still hold's repeats (after its first)


class TimedFileWriter(StepFileWriter):
    """The step's file writer (see :mod:`.clip_writer`), counting how long the
    drawing waits for the encoder (a full frame queue, a segment's encoder joined
    at its end)."""

    timings = Timings()  # the scene's own, set by StepRenderer

    def write_frame(self, *args: Any, **kwargs: Any) -> None:
        started = time.perf_counter()
        super().write_frame(*args, **kwargs)
        self.timings.encoding += time.perf_counter() - started
        self.timings.held += max(0, int(kwargs.get("repeat", 1)) - 1)

    def close_partial_movie_stream(self) -> None:
        started = time.perf_counter()
        super().close_partial_movie_stream()
        self.timings.encoding += time.perf_counter() - started

    def finish(self) -> None:
        started = time.perf_counter()
        super().finish()
        self.timings.encoding += time.perf_counter() - started


class StepRenderer(CairoRenderer):
    """Manim's Cairo renderer, drawing only what a viewer will see: a skipped
    animation (one of another part's, or any in a dry run) draws no frame, where
    Manim would still draw its static picture; an animation's still shapes are
    drawn once, not on every frame (``layered``). Counts its drawing time."""

    layered = True

    def __init__(
        self, draws: Callable[[], bool] | None = None, timings: Timings | None = None, **kwargs: Any
    ) -> None:
        super().__init__(file_writer_class=TimedFileWriter, **kwargs)
        self.draws = draws
        self.timings = timings if timings is not None else Timings()
        self.playing = False
        self.still: StillLayers | None = None  # for an animation's frames, once planned
        self.planned = False

    def init_scene(self, *args: Any, **kwargs: Any) -> None:
        super().init_scene(*args, **kwargs)
        self.file_writer.timings = self.timings

    def update_skipping_status(self) -> None:
        super().update_skipping_status()
        if not self.skip_animations and self.draws is not None and not self.draws():
            self.skip_animations = True

    def play(self, scene: Any, *args: Any, **kwargs: Any) -> None:
        self.playing = True
        self.planned = False
        if self.still is not None:
            self.still.clear()
        before = self.time
        try:
            super().play(scene, *args, **kwargs)
        finally:
            self.playing = False
        if self.draws is not None and self.skip_animations and not self._original_skipping_status:
            # Skipped because another part draws it: the clock moves on as when it
            # is drawn (whole frames, not the exact run time), so that every part
            # agrees on the frame each animation starts at.
            self.time = before
            dt = 1 / self.camera.frame_rate
            if scene.is_current_animation_frozen_frame():
                self.time += int(scene.duration / dt) * dt
            else:
                for _ in np.arange(0, scene.duration, dt):
                    self.time += dt

    def render(self, scene: Any, time: float, moving_mobjects: Any = None) -> None:
        self.update_frame(scene, moving_mobjects)
        # The camera's own array, not a copy: the step's writer converts the picture
        # before it returns (see .clip_writer.StepFileWriter), keeping none of it.
        self.add_frame(self.camera.pixel_array)

    def update_frame(self, scene: Any, *args: Any, **kwargs: Any) -> None:
        if self.playing and self.skip_animations:
            return  # a skipped animation's frames are never written
        started = time.perf_counter()
        if not (args and not kwargs and self._draw_with_layers(scene, args[0])):
            super().update_frame(scene, *args, **kwargs)
        self.timings.drawing += time.perf_counter() - started

    def _draw_with_layers(self, scene: Any, mobjects: Any) -> bool:
        """Draw a frame of a playing animation with its still shapes drawn once (see
        :class:`.camera.StillLayers`); False if this frame is not one of those."""
        camera = self.camera
        if (
            not self.playing
            or mobjects is not scene.moving_mobjects
            or not mobjects
            or scene.is_current_animation_frozen_frame()
            or not isinstance(camera, ImageBoxCamera)
            or not self.layered
        ):
            return False
        order = camera.get_mobjects_to_display(mobjects)
        if not self.planned:
            self.planned = True
            if self.still is None:
                self.still = StillLayers(camera)
            self.still.plan(order, _busy(scene))
        if self.still is None or not self.still.layers:
            return False
        if self.static_image is not None:
            camera.set_frame_to_background(self.static_image)
        else:
            camera.reset()
        if self.still.draw(order):
            return True
        self.still.clear()  # the plan no longer fits this animation: as Manim draws
        return False


def _busy(scene: Any) -> set[int]:
    """The ids of every mobject a playing animation or an updater may change."""
    busy: set[int] = set()
    for animation in scene.animations or []:
        busy.update(id(m) for m in animation.mobject.get_family())
    for top in [*scene.mobjects, *scene.foreground_mobjects]:
        if top in scene.foreground_mobjects or top.get_family_updaters():
            busy.update(id(m) for m in top.get_family())
    return busy


class StepScene(Scene):
    """Plays the beats a step's builder yields, phase by phase.

    ``phase_seconds`` says how long each phase must last at least (its cues'
    speaking or reading time): a phase whose animation is shorter is held at
    its end, still showing its last picture, until its words are done. The
    phases' spans, in frames, are kept in :attr:`spans`.

    After every beat it notes any mobject that lies outside the frame, so
    tests can check layouts without looking at frames. With ``audit`` it also
    has every beat's end and every animation's middle checked for text a
    viewer could not read (see :mod:`.frame_audit`).

    It draws with :class:`.ImageBoxCamera` unless told otherwise: the same
    frames as Manim's camera, with heat-maps far cheaper to draw.
    """

    def __init__(
        self,
        step_type: StepType,
        spec: Any,
        ctx: StepContext,
        phase_seconds: dict[str, float] | None = None,
        fps: float = 15.0,
        audit: FrameAudit | None = None,
        on_frames: Callable[[int], None] | None = None,
        part: Part | None = None,
        camera_class: type[Camera] = ImageBoxCamera,
        **kwargs: Any,
    ) -> None:
        self.step_type = step_type
        self.spec = spec
        self.ctx = ctx
        self.phase_seconds = dict(phase_seconds or {})
        self.fps = fps
        self.expected = step_type.phases.names(spec)
        self.spans: list[PhaseSpan] = []
        self._open: tuple[str, int] | None = None
        self.overflow: list[str] = []
        self.audit = audit
        self.beats = 0
        self.phase = ""
        # Hears how many frames the scene has played, after every frame of an
        # animation and after every beat (a render's progress display).
        self.on_frames = on_frames
        # A part of the step draws only its own animations (see Part); the frames
        # it has drawn are counted for the render's progress.
        self.part = part
        self.drawn = 0
        self._play_first = 0
        self.timings = Timings()
        renderer = StepRenderer(
            draws=None if part is None else self._draws_now,
            timings=self.timings,
            camera_class=camera_class,
            skip_animations=bool(kwargs.get("skip_animations", False)),
        )
        super().__init__(renderer=renderer, **kwargs)

    def _draws_now(self) -> bool:
        assert self.part is not None
        return self.part.draws(self.frames())

    def play(self, *args: Any, **kwargs: Any) -> None:
        self._play_first = self.frames()
        super().play(*args, **kwargs)
        if not self.renderer.skip_animations:
            self.drawn += self.frames() - self._play_first

    def drawn_now(self) -> int:
        """Frames this worker has drawn so far (all of them, unless it draws a part)."""
        if self.part is None:
            return self.frames()
        renderer = self.renderer
        assert isinstance(renderer, StepRenderer)
        if renderer.playing and not renderer.skip_animations:
            return self.drawn + self.frames() - self._play_first
        return self.drawn

    def construct(self) -> None:
        play_step(
            self,
            self.step_type,
            self.spec,
            self.ctx,
            on_beat=self._after_beat,
            on_phase=self._begin_phase,
        )
        if self._open is None:  # a builder without markers: one phase, the whole step
            self._open = (self.expected[0], 0)
        self._end_phase()
        names = [span.name for span in self.spans]
        if names != self.expected:
            raise RuntimeError(
                f"the {self.step_type.name} step played the phases {names}, "
                f"but declares {self.expected}"
            )

    def frames(self) -> int:
        """Frames played so far (exact in a video: Manim counts whole frames)."""
        return round(self.time * self.fps)

    def play_internal(self, skip_rendering: bool = False) -> None:
        if self.audit is not None and self.animations:
            # Half-way through: what a viewer sees while things move and fade.
            for animation in self.animations:
                animation.interpolate(0.5)
            self.audit.look(self.mobjects, self.beats + 1, self.phase, "mid", self.time)
        super().play_internal(skip_rendering)

    def update_to_time(self, t: float) -> None:
        super().update_to_time(t)
        if self.on_frames is not None:
            self.on_frames(self.drawn_now())

    def _after_beat(self) -> None:
        self._check_layout()
        if self.on_frames is not None:
            self.on_frames(self.drawn_now())

    def _begin_phase(self, name: str) -> None:
        self.phase = name
        if self._open is None:
            # The first phase starts with the step (only title and the like come before).
            self._open = (name, 0)
            return
        self._end_phase()
        self._open = (name, self.frames())

    def _end_phase(self) -> None:
        assert self._open is not None
        name, first = self._open
        needed = math.ceil(self.phase_seconds.get(name, 0.0) * self.fps - 1e-6)
        missing = needed - (self.frames() - first)
        if missing > 0:
            # A quarter frame more: Manim writes int(seconds * fps) frames of a still
            # wait, or one more for a wait with updaters; either way no fewer.
            self.wait((missing + 0.25) / self.fps)
        self.spans.append(PhaseSpan(name, first, self.frames()))
        self._open = None

    def _check_layout(self) -> None:
        self.beats += 1
        if self.audit is not None:
            self.audit.look(self.mobjects, self.beats, self.phase, "end", self.time)
        for mob in self.mobjects:
            if isinstance(mob, ValueTracker):  # holds a number, draws nothing
                continue
            if outside(mob, self.ctx.frame):
                where = [round(float(v), 2) for v in mob.get_center()[:2]]
                self.overflow.append(f"{type(mob).__name__} at {where} after {self.time:.1f} s")
