"""The size of the ``<iframe>`` that embeds a lesson page, from what the page shows.

The iframe holds the whole page (``index.html``): the title, the description,
a line with the model, the input image and the prediction (for a lesson that
uses a model), the video, the step buttons under it and a status line; the
chapters and the steps' numbers follow further down and scroll inside the
frame. Its size lets everything down to the status line show without
scrolling, with the video as wide as the page lets it be, and some room to
spare for a title or description one line longer.

Measured on the page in Chromium. Each width is below the page's 900-pixel
breakpoint, so the video spans the page, 32 pixels narrower than the frame:

====== ======= ========== ========== =========================================
aspect iframe  video      model line buttons and status line under the video
====== ======= ========== ========== =========================================
16:9   800     768 × 432  71         92 (buttons on one line)
9:16   420     388 × 690  111        157 (buttons and model line wrap)
1:1    640     608 × 608  71         132 (buttons wrap)
====== ======= ========== ========== =========================================

Above them: 58 pixels of padding and title, 56 for a one-line description;
below: 16 of padding and 34 to spare. A lesson with a model, 16:9, gets an
800 × 759 frame; 9:16, 420 × 1122 (a phone-shaped lesson makes a tall frame,
as it is on the page); 1:1, 640 × 975. ``tests/test_variants.py`` opens the
pages at these sizes and checks that the video and the status line show
whole, so a change of the page's layout that needs other sizes fails there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class _Layout:
    width: int  # the iframe's, in CSS pixels
    ratio: float  # the video's width / height
    model_line: int  # the line with the model, input image and prediction, at that width
    below: int  # from the video's bottom to the status line's bottom


LAYOUTS = {
    "16:9": _Layout(800, 16 / 9, 71, 92),
    "9:16": _Layout(420, 9 / 16, 111, 157),
    "1:1": _Layout(640, 1.0, 71, 132),
}
PAGE_MARGIN = 32  # the page's padding, left and right together
TITLE = 58  # the page's top padding and a one-line title
DESCRIPTION = 56  # a one-line description and its margins
NO_DESCRIPTION = 3  # the title's own margin, when no description follows
SPARE = 16 + 34  # the page's bottom padding, and room for a title or description one line longer


def iframe_size(aspect: str, description: bool = True, model_line: bool = True) -> tuple[int, int]:
    """Width and height, in CSS pixels, of an iframe showing a lesson page whose video
    has this aspect; ``description`` and ``model_line``: whether the page shows them."""
    try:
        layout = LAYOUTS[aspect]
    except KeyError:
        raise ValueError(f"aspect must be one of {', '.join(LAYOUTS)}, got {aspect!r}") from None
    video = round((layout.width - PAGE_MARGIN) / layout.ratio)
    height = (
        TITLE
        + (DESCRIPTION if description else NO_DESCRIPTION)
        + (layout.model_line if model_line else 0)
        + video
        + layout.below
        + SPARE
    )
    return layout.width, height


def page_iframe_size(manifest: dict[str, Any]) -> tuple[int, int]:
    """The iframe size for the page of the lesson folder that ``manifest`` describes."""
    files = manifest.get("files") or {}
    return iframe_size(
        str((manifest.get("settings") or {}).get("aspect", "16:9")),
        description=bool(manifest.get("description")),
        model_line=bool(manifest.get("model") or files.get("input") or manifest.get("prediction")),
    )
