"""Which variant of a lesson a render makes, and the folder it goes to.

One lesson file is often rendered several ways: the course's 16:9 video, a
vertical 9:16 cut for phones, a dark one for slides, a German one, the same
story with another model. Each is a *variant*, and each has a folder of its
own, so that no render replaces another:

- ``OUT/<lesson>/`` holds the render with the tool's defaults: aspect 16:9,
  theme cnn-explainer, language en, model default. That is the folder a
  course author uploads and links to, whatever they try beside it.
- A render whose aspect, theme, language or model differ from those gets a
  sub-folder naming exactly the parts that differ, in that order, and its
  files are named after it: ``OUT/koala/9x16-dark/koala-9x16-dark.mp4``,
  ``OUT/course/cnn-explainer/``, ``OUT/relu/de/``; a theme file is named by its
  file name (``theme: ./my-uni.yaml`` → ``OUT/koala/my-uni/``). The rule looks at the
  settings the render uses, whether the lesson file or the command line set
  them (a lesson written for 9:16 renders into ``<lesson>/9x16/``), so a
  folder's name always tells what is in it.
- ``--name NAME`` picks the sub-folder's name instead: ``OUT/koala/shorts/``.

Quality, image, voice, colour range and reading speed make no variant: a
draft and a final render of one variant share its folder, the final one
replacing the draft. Each folder's ``manifest.json`` says which variant it
holds; a render never replaces a folder holding another variant (two
automatic names that happen to be the same, or ``--name`` given to a
variant's folder), and says to pick another name.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from ..lesson.load import _RESERVED_NAMES as WINDOWS_RESERVED
from ..lesson.load import Lesson
from ..quoting import quoted

# The settings that make a variant, with the tool's defaults, in the order a
# folder name lists them.
DEFAULTS: tuple[tuple[str, str], ...] = (
    ("aspect", "16:9"),
    ("theme", "cnn-explainer"),
    ("language", "en"),
    ("model", "default"),
)
# Folders a render writes inside its own folder: never a variant's name.
RESERVED = frozenset({"steps", "thumbnails", "frames"})
# A variant's folder name, in bytes: "<lesson>-<variant>.webm" stays far below 255.
MAX_VARIANT_BYTES = 100
NAME_HELP = "letters, digits, - and _, starting with a letter or digit"


def name_problem(text: str) -> str | None:
    """Why ``text`` cannot be a variant's folder name (None: it can)."""
    name = unicodedata.normalize("NFC", text)
    if not name:
        return "is empty; give a folder name such as shorts"
    if not all(c.isalnum() or c in "-_" for c in name):
        return f"{quoted(name)} is not one folder name: use {NAME_HELP}"
    if not name[0].isalnum():
        return f"{quoted(name)} must start with a letter or digit"
    if len(name.encode("utf-8")) > MAX_VARIANT_BYTES:
        return f"{quoted(name)} is longer than {MAX_VARIANT_BYTES} bytes"
    if name.lower() in RESERVED:
        return (
            f"{quoted(name)} is a folder every render writes itself "
            f"({', '.join(sorted(RESERVED))}); pick another name"
        )
    if name.lower() in WINDOWS_RESERVED:
        return f"{quoted(name)} is a name Windows cannot hold as a folder; pick another name"
    return None


def _part(setting: str, value: str) -> str:
    """A setting's value as a part of a folder name: ``9:16`` → ``9x16``."""
    if setting == "aspect":
        return value.replace(":", "x")
    if setting == "theme" and value.lower().endswith((".yaml", ".yml")):
        value = PurePosixPath(value.replace("\\", "/")).stem  # a theme file: its name
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in value)
    slug = "-".join(p for p in slug.split("-") if p).strip("_")
    return slug or setting


def _bounded(name: str) -> str:
    while len(name.encode("utf-8")) > MAX_VARIANT_BYTES:
        name = name[:-1]
    return name.rstrip("-_")


@dataclass(frozen=True)
class Variant:
    """A lesson's render as a variant: its settings and its folder."""

    lesson: str  # the lesson's output name: the top folder
    aspect: str
    theme: str
    language: str
    model: str
    given: str | None = None  # the folder name given with --name

    @classmethod
    def of(
        cls, lesson: Lesson, aspect: str, theme: str, language: str, given: str | None = None
    ) -> Variant:
        """The variant a render of ``lesson`` with these settings makes; ``given`` is a
        ``--name`` (refused with :class:`ValueError` when it is not a safe name)."""
        if given is not None:
            problem = name_problem(given)
            if problem is not None:
                raise ValueError(f"--name {problem}")
            given = unicodedata.normalize("NFC", given)
        model = lesson.model.name if lesson.model is not None else lesson.header.model
        return cls(lesson.name, aspect, theme, language, model, given)

    def settings(self) -> dict[str, str]:
        return {key: getattr(self, key) for key, _default in DEFAULTS}

    def differs(self) -> list[str]:
        """The settings that differ from the defaults, in folder-name order."""
        return [key for key, default in DEFAULTS if getattr(self, key) != default]

    @property
    def name(self) -> str | None:
        """The variant's folder name inside the lesson's folder (None: the default)."""
        if self.given is not None:
            return self.given
        differing = self.differs()
        if not differing:
            return None
        name = _bounded("-".join(_part(key, getattr(self, key)) for key in differing))
        return f"{name}-variant" if name.lower() in RESERVED else name

    @property
    def path(self) -> PurePosixPath:
        """The folder, relative to the output root: ``koala`` or ``koala/9x16-dark``."""
        name = self.name
        return PurePosixPath(self.lesson, name) if name else PurePosixPath(self.lesson)

    @property
    def file_stem(self) -> str:
        """The name of the video and its other formats: ``koala`` or ``koala-9x16-dark``."""
        name = self.name
        return f"{self.lesson}-{name}" if name else self.lesson

    def describe(self) -> str:
        """``9:16, theme dark`` for messages: the settings that differ, or ``default``."""
        shown = {"aspect": "{}", "theme": "theme {}", "language": "language {}"}
        parts = [shown.get(k, "model {}").format(getattr(self, k)) for k in self.differs()]
        return ", ".join(parts) or "the default settings"

    def as_dict(self) -> dict[str, Any]:
        """What the manifest says of the variant."""
        return {
            "name": self.name,
            "given": self.given is not None,
            "folder": str(self.path),
            **self.settings(),
            "differs": self.differs(),
        }

    def may_replace(self, recorded: object) -> bool:
        """Whether this render may replace a folder whose manifest says ``recorded``:
        the same variant, or a folder given the same ``--name`` before. A folder of an
        earlier version, which records none, may be replaced."""
        if not isinstance(recorded, dict):
            return True
        if self.given is not None and recorded.get("given") is True:
            return recorded.get("name") == self.given
        return all(recorded.get(key) == value for key, value in self.settings().items())


def describe_recorded(recorded: dict[str, Any]) -> str:
    """A manifest's variant for a message, like :meth:`Variant.describe`."""
    values = (str(recorded.get(key, default)) for key, default in DEFAULTS)
    return Variant("", *values).describe()
