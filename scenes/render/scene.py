"""One lesson step as one Manim scene."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from manim import Scene, ValueTracker

from ..steps.kit.base import Add, Beat, Hold, StepContext
from ..steps.kit.registry import StepType
from ..visuals.layout import outside


def play_step(
    scene: Scene,
    step_type: StepType,
    spec: Any,
    ctx: StepContext,
    on_beat: Callable[[], None] | None = None,
) -> None:
    """Play a step's beats on ``scene`` (any Manim scene, e.g. a test's)."""
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
        else:  # pragma: no cover - builders yield only the three kinds
            raise TypeError(f"a step builder yielded {item!r}")
        if on_beat is not None:
            on_beat()


class StepScene(Scene):
    """Plays the beats a step's builder yields, then holds for the narration.

    After every beat it notes any mobject that lies outside the frame, so
    tests can check layouts without looking at frames.
    """

    def __init__(
        self,
        step_type: StepType,
        spec: Any,
        ctx: StepContext,
        min_seconds: float = 0.0,
        **kwargs: Any,
    ) -> None:
        self.step_type = step_type
        self.spec = spec
        self.ctx = ctx
        self.min_seconds = min_seconds
        self.overflow: list[str] = []
        super().__init__(**kwargs)

    def construct(self) -> None:
        play_step(self, self.step_type, self.spec, self.ctx, on_beat=self._check_layout)
        remaining = self.min_seconds - self.time
        if remaining > 1e-3:
            self.wait(remaining)

    def _check_layout(self) -> None:
        for mob in self.mobjects:
            if isinstance(mob, ValueTracker):  # holds a number, draws nothing
                continue
            if outside(mob, self.ctx.frame):
                where = [round(float(v), 2) for v in mob.get_center()[:2]]
                self.overflow.append(f"{type(mob).__name__} at {where} after {self.time:.1f} s")
