"""Mobjects copied the quick way are the copies ``copy.deepcopy`` makes."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
from manim import (
    Arrow,
    Axes,
    Circle,
    ImageMobject,
    Mobject,
    Square,
    Text,
    ValueTracker,
    VGroup,
    config,
)

from scenes.render import fastcopy


def same(a: Any, b: Any) -> bool:
    """Equal values: arrays element by element, mobjects by kind and points."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return type(a) is type(b) and a.shape == b.shape and np.array_equal(a, b)
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return type(b) is dict and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, Mobject):
        return type(a) is type(b) and same(a.points, b.points)
    if callable(a):  # an updater: the same function
        return a is b
    if type(a).__eq__ is object.__eq__ and hasattr(a, "__dict__"):  # no equality of its own
        return type(a) is type(b) and same(vars(a), vars(b))
    return type(a) is type(b) and bool(a == b)


def mobjects(tmp_path: Path) -> list[Mobject]:
    config.media_dir = str(tmp_path)
    shared = Square().set_fill("#336699", 0.5)
    shared.sheen_direction = shared.points  # two attributes, one array
    return [
        VGroup(Square(0.5), Text("0.13", font="DejaVu Sans", font_size=20)),
        Text("Max pooling: −0.53", font="DejaVu Sans", weight="BOLD"),
        Arrow(),
        Circle().set_stroke("#ff7f0e", 5),
        Axes(x_range=[-1, 1], y_range=[-1, 1]),
        ImageMobject(np.arange(48, dtype=np.uint8).reshape(4, 3, 4)),
        ValueTracker(0.25),
        shared,
        Square().add_updater(lambda m: m),
    ]


def copies(mob: Mobject) -> tuple[Mobject, Mobject]:
    """The quick copy and Manim's own deep copy of ``mob``."""
    current = Mobject.__deepcopy__
    try:
        Mobject.__deepcopy__ = fastcopy.MANIM_COPY  # type: ignore[method-assign]
        slow = copy.deepcopy(mob)
        fastcopy.install()
        quick = copy.deepcopy(mob)
    finally:
        Mobject.__deepcopy__ = current  # type: ignore[method-assign]
    return quick, slow


def test_quick_copies_equal_deep_copies_and_are_independent(tmp_path: Path) -> None:
    for mob in mobjects(tmp_path):
        quick, slow = copies(mob)
        for q, s, o in zip(quick.get_family(), slow.get_family(), mob.get_family(), strict=True):
            assert q is not o and type(q) is type(s)
            assert q.__dict__.keys() == s.__dict__.keys()
            for key in q.__dict__:
                assert same(getattr(q, key), getattr(s, key)), (type(mob).__name__, key)
                value = getattr(q, key)
                if isinstance(value, np.ndarray):
                    assert value is not getattr(o, key)  # its own array, to change at will
        before = mob.get_center().copy()
        quick.shift([1, 2, 0]).set_color("#00ff00")
        assert np.allclose(mob.get_center(), before)
    shared, _ = copies(mobjects(tmp_path)[7])
    assert shared.sheen_direction is shared.points  # still one array, as deepcopy keeps it
