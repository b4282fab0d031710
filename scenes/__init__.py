"""The lesson engine: YAML lessons in, Manim videos out."""

from __future__ import annotations

__version__ = "0.1.0"
