"""Lesson-folder pieces that need no render: captions, the page's data, publishing."""

from __future__ import annotations

import html.parser
import json
import os
from pathlib import Path

import pytest
import webvtt

from scenes.export import captions, publish
from scenes.export.page import render_page

HOSTILE = 'A <b>bold</b> claim & x < 0 --> "<!--<script>" </script> end'


def manifest(**extra: object) -> dict:
    steps = [
        {
            "index": i,
            "type": "title",
            "label": f"Step {i + 1}",
            "title": None,
            "narration": HOSTILE,
            "cues": [{"text": HOSTILE, "start": 2.0 * i, "end": 2.0 * i + 1.9, "phase": "title"}],
            "start": 2.0 * i,
            "duration": 2.0,
            "frames": 30,
            "clip": f"steps/{i + 1:02d}-title.mp4",
        }
        for i in range(2)
    ]
    data = {
        "lesson": "a#b c",
        "title": HOSTILE,
        "fps": 15,
        "steps": steps,
        "chapters": [
            {"title": HOSTILE, "start": 2.0 * i, "end": 2.0 * i + 2, "first_step": i, "steps": 1}
            for i in range(2)
        ],
        "files": {
            "video": "a#b c.mp4",
            "poster": "poster.png",
            "captions_vtt": "captions.vtt",
            "captions_srt": "captions.srt",
            "chapters": "chapters.vtt",
            "thumbnails": ["thumbnails/01.png", "thumbnails/02.png"],
            "formats": {"webm": "a#b c.webm"},
        },
    }
    data.update(extra)
    return data


class _Scripts(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inside: str | None = None
        self.scripts: dict[str, str] = {}
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            self.inside = found.get("id") or "main"
            self.scripts[self.inside] = ""
        for name in ("src", "href", "poster"):
            if found.get(name):
                self.sources.append(str(found[name]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self.inside = None

    def handle_data(self, data: str) -> None:
        if self.inside:
            self.scripts[self.inside] += data


class _Texts(html.parser.HTMLParser):
    """The text, attribute values and tags of a page, as a browser reads them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.attributes: list[str] = []
        self.tags: list[str] = []
        self.inside: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.inside = tag
        self.attributes.extend(v for _, v in attrs if v is not None)

    def handle_data(self, data: str) -> None:
        if self.inside not in ("script", "style"):
            self.texts.append(data)


def test_lesson_text_cannot_break_out_of_the_page_data() -> None:
    page = render_page(manifest(), [{"start": 0.0, "end": 1.0, "text": HOSTILE}])
    parsed = _Scripts()
    parsed.feed(page)
    assert set(parsed.scripts) == {"lesson-data", "main"}  # no script element was injected
    data = json.loads(parsed.scripts["lesson-data"])
    assert data["title"] == HOSTILE and data["cues"][0]["text"] == HOSTILE
    assert "(function ()" in parsed.scripts["main"]
    assert "<b>bold</b>" not in page.split("<script", 1)[0]  # escaped in the HTML too
    # File names are addresses: "#" and spaces are encoded, not read as a fragment.
    assert "a%23b%20c.mp4" in parsed.sources and "a%23b%20c.webm" in parsed.sources


def test_lesson_text_is_escaped_wherever_the_page_shows_it() -> None:
    page = render_page(manifest(description=HOSTILE), [])
    parsed = _Texts()
    parsed.feed(page)
    # Read back as HTML, every place shows the text exactly as written, as text.
    assert parsed.texts.count(HOSTILE) >= 5  # title, heading, description, narrations
    assert parsed.attributes.count(HOSTILE) == 2  # the chapters' data-title
    assert parsed.tags.count("b") == 0 and parsed.tags.count("script") == 2


def test_the_page_takes_its_colours_from_the_theme_readable_and_safe() -> None:
    from scenes.export.page import contrast, page_colours

    dark = {"background": "#111111", "text": "#ececec", "muted": "#a8a8a8", "accent": "#ffb347"}
    page = render_page(manifest(theme=dark), [])
    assert "color-scheme: dark; --bg: #111111; --fg: #ececec;" in page
    assert "--muted: #a8a8a8; --accent: #ffb347;" in page
    # Too faint on its background, a colour is darkened until it can be read.
    faint = page_colours({"background": "#ffffff", "muted": "#dddddd", "accent": "#ffee00"})
    assert contrast(faint["muted"], "#ffffff") >= 4.5 and faint["muted"] != "#dddddd"
    assert contrast(faint["accent"], "#ffffff") >= 3.0
    assert page_colours({"background": "#ffffff"})["scheme"] == "light"
    # A manifest's theme cannot write into the style: a colour must be #rrggbb, and the
    # font is a CSS string with every other character escaped.
    hostile = {"background": "red;}</style><script>x()</script>", "font": 'A"}</style><b>'}
    page = render_page(manifest(theme=hostile), [])
    style = page.split("<style>", 1)[1].split("</style>", 1)[0]
    assert "--bg: #ffffff;" in style and "<" not in style and "red" not in style
    assert '--font: "A\\000022\\00007d\\00003c\\00002fstyle\\00003e\\00003cb\\00003e";' in style
    parsed = _Scripts()
    parsed.feed(page)
    assert set(parsed.scripts) == {"lesson-data", "main"}


def test_burned_captions_are_not_shown_twice_on_the_page() -> None:
    plain = render_page(manifest(captions={"burned_in": False}), [])
    burned = render_page(manifest(captions={"burned_in": True}), [])
    assert 'label="English" default>' in plain
    assert 'label="English">' in burned and '"burned": true' in burned


def test_caption_text_is_escaped_for_webvtt(tmp_path: Path) -> None:
    cues = captions.lesson_cues(manifest()["steps"])
    path = tmp_path / "captions.vtt"
    path.write_text(captions.captions_vtt(cues))
    read = webvtt.read(str(path))
    assert len(read) == len(cues)
    text = " ".join(html.unescape(c.text).replace("\n", " ") for c in read if c.start < "00:00:02")
    assert text == HOSTILE  # every character is there, as written ("-->" too)
    assert "<b>" not in path.read_text()


def test_captions_are_the_cues_at_their_times() -> None:
    steps = manifest()["steps"]
    steps[1]["cues"] = [
        {"text": "The first sentence.", "start": 2.3, "end": 3.6, "phase": "title"},
        {"text": "The second one.", "start": 3.9, "end": 5.2, "phase": "title"},
    ]
    voiced = [c for c in captions.lesson_cues(steps) if c.step == 1]
    assert [(c.start, c.end, c.text) for c in voiced] == [
        (2.3, 3.6, "The first sentence."),
        (3.9, 5.2, "The second one."),
    ]


def test_stills_are_chosen_by_frame_number() -> None:
    steps = [
        {"index": i, "type": t, "frames": n}
        for i, (t, n) in enumerate([("title", 31), ("convolution", 47), ("softmax", 20)])
    ]
    assert publish.first_frames(steps) == [0, 31, 78, 98]
    options = publish.ExportOptions()
    assert publish.poster_frame(steps, options) == 77  # the convolution's last frame
    options = publish.ExportOptions(poster_step=3, poster_at=0.5)
    assert publish.poster_frame(steps, options) == 78 + 10 - 1
    options = publish.ExportOptions(poster_step=1, poster_at=0.0)
    assert publish.poster_frame(steps, options) == 0


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "rename-aside"])
def test_publishing_replaces_the_render_and_keeps_the_authors_files(
    tmp_path: Path, exchange: bool
) -> None:
    from scenes.atomic import publish_folder

    folder, staging = tmp_path / "lesson", tmp_path / ".cnnlesson-1-x"
    old = manifest()
    for name in publish.listed_files(old):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("old")
    (folder / "manifest.json").write_text(json.dumps(old))
    (folder / "notes.txt").write_text("the author's own file")
    (folder / "steps" / "my-cut.mp4").write_text("the author's clip")
    (folder / "link").symlink_to(tmp_path / "elsewhere")
    new = manifest(steps=old["steps"][:1])
    new["files"]["formats"] = {}
    new["files"]["thumbnails"] = ["thumbnails/01.png"]
    for name in publish.listed_files(new):
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        (staging / name).write_text("new")
    (staging / "manifest.json").write_text(json.dumps(new))
    carried = publish.carry_over(folder, staging)
    assert sorted(carried) == ["link", "notes.txt", "steps/my-cut.mp4"]
    publish_folder(staging, folder, allow_exchange=exchange)
    left = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert left == publish.listed_files(new) | {"notes.txt", "steps/my-cut.mp4"}
    assert all(
        (folder / n).read_text() == "new" for n in publish.listed_files(new) - {"manifest.json"}
    )
    assert (folder / "link").is_symlink()
    assert os.readlink(folder / "link") == str(tmp_path / "elsewhere")
    assert (folder / "notes.txt").read_text() == "the author's own file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lesson"]  # no staging, nothing aside


def test_a_manifest_that_names_files_outside_its_folder_removes_nothing(tmp_path: Path) -> None:
    from scenes.atomic import publish_folder

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    folder, staging = tmp_path / "out" / "lesson", tmp_path / "out" / ".cnnlesson-1-x"
    folder.mkdir(parents=True)
    hostile = manifest()
    hostile["files"]["formats"] = {"webm": "../../victim.txt", "gif": "/etc/hostname"}
    (folder / "manifest.json").write_text(json.dumps(hostile))
    staging.mkdir()
    (staging / "manifest.json").write_text(json.dumps(manifest()))
    publish.carry_over(folder, staging)
    publish_folder(staging, folder)
    assert victim.read_text() == "keep me"
    assert Path("/etc/hostname").exists()


def test_gif_settings_slow_down_then_shrink_to_fit() -> None:
    from scenes.export.formats import GIF_BYTES_PER_PIXEL, gif_settings

    def expected(width: int, height: int, fps: float, seconds: float) -> float:
        return GIF_BYTES_PER_PIXEL * width * height * fps * seconds

    assert gif_settings(854, 480, 15, 60) == (640, 360, 10)  # a minute fits as it is
    assert gif_settings(240, 426, 5, 20) == (240, 426, 5)  # never larger than the video
    width, height, fps = gif_settings(854, 480, 15, 300)  # five minutes: the rate goes first
    assert fps == 5 and 320 < width < 640 and height == round(width * 480 / 854 / 2) * 2
    assert 0.9 * 8_000_000 < expected(width, height, fps, 300) <= 8_000_000
    width, height, fps = gif_settings(854, 480, 15, 1800)  # half an hour
    assert width == 320 and 2.0 <= fps < 5.0
    assert expected(width, height, fps, 1800) <= 8_000_000
    assert gif_settings(854, 480, 15, 10 * 3600) == (160, 90, 1.0)  # the floor
    # A measured rate of bytes per pixel changes the settings accordingly.
    assert gif_settings(854, 480, 15, 300, bytes_per_pixel=0.01)[0] == 640


def _clip(path: Path, noisy: bool, seconds: int = 6, fps: int = 10) -> None:
    """A clip that compresses badly as a GIF (coloured blocks changing at random) or
    very well (a small square moving on a flat background)."""
    import av
    import numpy as np

    rng = np.random.default_rng(7)
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        for i in range(seconds * fps):
            if noisy:
                blocks = rng.integers(0, 255, (18, 32, 3), dtype=np.uint8)
            else:
                blocks = np.full((18, 32, 3), 240, dtype=np.uint8)
                blocks[9, i % 32] = (200, 80, 0)
            picture = np.kron(blocks, np.ones((10, 10, 1), dtype=np.uint8))
            out.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        out.mux(stream.encode(None))


def test_gif_uses_the_budget_and_keeps_under_the_cap(tmp_path: Path) -> None:
    from scenes.export.formats import gif_settings, to_gif

    clip = tmp_path / "clip.mp4"
    _clip(clip, noisy=True)
    top = gif_settings(320, 180, 10, 6, max_bytes=2**62)
    cap = 300_000  # far below what the clip takes at full size and rate
    info = to_gif(clip, tmp_path / "clip.gif", max_bytes=cap)
    size = (tmp_path / "clip.gif").stat().st_size
    assert size == info["bytes"] <= cap
    assert (info["width"], info["height"], info["fps"]) != top
    # The largest try that fits is kept: more than half the budget is used.
    assert size > cap / 2
    # No try is left behind beside the GIF.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.gif", "clip.mp4"]
    # A cap the clip fits at once leaves it at full size and rate.
    roomy = to_gif(clip, tmp_path / "roomy.gif", max_bytes=50_000_000)
    assert (roomy["width"], roomy["height"], roomy["fps"]) == top


def test_gif_grows_when_the_first_guess_left_room(tmp_path: Path) -> None:
    from scenes.export.formats import GIF_BYTES_PER_PIXEL, gif_settings, to_gif

    clip = tmp_path / "calm.mp4"
    _clip(clip, noisy=False)
    top = gif_settings(320, 180, 10, 6, max_bytes=2**62)
    cap = 100_000
    # The typical rate guesses that the full size and rate would not fit ...
    assert GIF_BYTES_PER_PIXEL * 320 * 180 * 10 * 6 > cap
    first = gif_settings(320, 180, 10, 6, max_bytes=int(cap * 0.9))
    assert first != top
    # ... but this clip compresses far better: the GIF is made again, whole.
    info = to_gif(clip, tmp_path / "calm.gif", max_bytes=cap)
    assert (info["width"], info["height"], info["fps"]) == top
    assert info["bytes"] <= cap
