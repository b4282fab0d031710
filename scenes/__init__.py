"""The lesson engine: YAML lessons in, Manim videos out.

For course platforms that call the engine without the command line::

    from scenes import render_lesson, validate_lesson

    errors = validate_lesson("lessons/convolution.yaml")   # [] when valid
    result = render_lesson("lessons/convolution.yaml", quality="l", out="media", jobs=2)
    result.video, result.manifest
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .version import __version__

__all__ = ["__version__", "render_lesson", "validate_lesson"]

if TYPE_CHECKING:
    from .lesson.load import validate_lesson
    from .render.pipeline import render_lesson


def __getattr__(name: str) -> Any:
    # Imported on first use: `import scenes` stays cheap for the worker processes.
    if name == "render_lesson":
        from .render.pipeline import render_lesson

        return render_lesson
    if name == "validate_lesson":
        from .lesson.load import validate_lesson

        return validate_lesson
    raise AttributeError(name)
