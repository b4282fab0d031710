"""How step clips are written: with the chosen encoder settings in every segment
and a keyframe every 2 s, still holds converted once giving the very same bytes,
and the clip's index first."""

from __future__ import annotations

import itertools
import re
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from manim._config.video_encoder import VideoEncoderSpec
from manim.scene.video_segment_encoder import VideoSegmentEncoder

from rendering import run_render
from scenes.render import encoding
from scenes.render.clip_writer import HoldOnceEncoder
from scenes.render.join import probe

# A title held on screen for its long narration: at draft quality (5 fps) the hold
# is one segment far longer than the keyframe interval.
HOLD_LESSON = """\
title: Encoding
steps:
  - type: title
    text: Still
    narration: >-
      This title stays on screen while a long sentence is read, so that the
      clip holds one still picture for many seconds: long enough for the
      encoder to start a new keyframe inside the hold, at the interval it was
      given, and not only where a new animation begins. Nothing moves here at
      all, and that is the point of it.
"""


def x264_settings(data: bytes) -> list[str]:
    """The settings x264 writes into every stream it starts, as text."""
    return [m.decode() for m in re.findall(rb"x264 - core [^\x00]*", data)]


def reference_settings(folder: Path, width: int, height: int, fps: Fraction) -> str:
    """What x264 writes for the chosen options when PyAV hands them to it directly."""
    with av.open(str(folder / "reference.mp4"), mode="w") as container:
        options = encoding.video_options(fps, min(width, height))
        stream = container.add_stream("libx264", rate=fps, options=options)
        stream.pix_fmt = encoding.PIXEL_FORMAT
        stream.width, stream.height = width, height
        frame = av.VideoFrame.from_ndarray(np.zeros((height, width, 4), np.uint8), format="rgba")
        data = b"".join(bytes(p) for p in [*stream.encode(frame), *stream.encode()])
    (settings,) = x264_settings(data)
    return settings


def top_level_boxes(path: Path) -> list[str]:
    names = []
    with path.open("rb") as file:
        while header := file.read(8):
            size, name = int.from_bytes(header[:4], "big"), header[4:].decode("latin-1")
            if size == 1:  # a 64-bit size follows
                size = int.from_bytes(file.read(8), "big") - 8
            names.append(name)
            if size == 0:  # to the end of the file
                break
            file.seek(size - 8, 1)
    return names


@pytest.fixture(scope="module")
def hold_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("encoding")
    lesson = folder / "hold.yaml"
    lesson.write_text(HOLD_LESSON, encoding="utf-8")
    command = [sys.executable, "-m", "scenes.cli", "render", str(lesson), "-q", "d"]
    video, manifest = run_render([*command, "-o", str(folder / "media"), "--quiet"])
    (step,) = manifest["steps"]
    return video.parent / step["clip"], step


@pytest.mark.render
def test_step_clip_starts_with_its_index(hold_clip: tuple[Path, dict]) -> None:
    clip, _ = hold_clip
    boxes = top_level_boxes(clip)
    assert boxes[0] == "ftyp"
    assert boxes.index("moov") < boxes.index("mdat")


@pytest.mark.parametrize("side", [48, 1080])  # a draft's settings, and 1080p's
def test_pictures_converted_once_from_their_own_arrays_give_manims_bytes(
    side: int, tmp_path: Path
) -> None:
    """A picture read in place and a hold's picture converted once, in the encoder's
    thread or before the frame is handed to it: the packets Manim's own encoder
    writes, byte for byte."""
    spec = VideoEncoderSpec(
        container_format="mp4",
        codec=encoding.CODEC,
        pixel_format=encoding.PIXEL_FORMAT,
        width=64,
        height=48,
        frame_rate=Fraction(15),
        options=tuple(sorted(encoding.video_options(15, side).items())),
    )
    rng = np.random.default_rng(0)
    pictures = [rng.integers(0, 256, (48, 64, 4), dtype=np.uint8) for _ in range(3)]
    streams = []
    for variant in ("manim", "arrays", "converted"):
        target = tmp_path / f"{variant}.mp4"
        kind = VideoSegmentEncoder if variant == "manim" else HoldOnceEncoder
        encoder = kind(target=target, spec=spec)
        for picture, repeat in zip(pictures, (1, 40, 3), strict=True):
            if variant == "converted":  # as the step's writer hands the frames over
                assert isinstance(encoder, HoldOnceEncoder)
                camera = picture.copy()
                frame = encoder.convert(camera, repeat)
                camera[...] = 0  # the camera draws its next frame at once
                encoder.write_frame(frame, repeat=repeat)
            else:
                encoder.write_frame(picture.copy(), repeat=repeat)
        encoder.finish()
        with av.open(str(target)) as container:
            packets = [p for p in container.demux(video=0) if p.size]
            streams.append([(p.pts, p.is_keyframe, bytes(p)) for p in packets])
    assert len(streams[0]) == 44
    assert streams[1] == streams[0]
    assert streams[2] == streams[0]


@pytest.mark.render
def test_step_clip_is_h264_yuv420p_with_a_keyframe_every_two_seconds(
    hold_clip: tuple[Path, dict],
) -> None:
    clip, step = hold_clip
    fps = 5  # draft quality
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        keys = [
            i
            for i, packet in enumerate(container.demux(stream))
            if packet.size and packet.is_keyframe
        ]
    assert step["frames"] > 4 * fps * encoding.KEYFRAME_SECONDS  # the hold spans several
    # A keyframe starts the clip and at least every 2 s after, inside the long hold too.
    gaps = np.diff([*keys, step["frames"]])
    assert keys[0] == 0 and gaps.max() <= fps * encoding.KEYFRAME_SECONDS
    assert len(keys) >= step["frames"] / (fps * encoding.KEYFRAME_SECONDS)


@pytest.mark.render
def test_every_segment_of_a_step_clip_is_encoded_with_the_chosen_options(
    hold_clip: tuple[Path, dict], tmp_path: Path
) -> None:
    clip, step = hold_clip
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        fps = stream.average_rate
        size = stream.codec_context.width, stream.codec_context.height
        frames = sum(1 for packet in container.demux(stream) if packet.size)
    assert fps == 5
    assert frames == step["frames"] == probe(clip)["frames"]
    assert step["duration"] == pytest.approx(frames / fps)
    # x264 writes its settings into every stream it starts: one per Manim segment.
    settings = x264_settings(clip.read_bytes())
    assert len(settings) >= 2
    assert set(settings) == {reference_settings(tmp_path, *size, fps)}


def test_clips_with_b_frames_join_in_order_whatever_their_length(tmp_path: Path) -> None:
    """Each clip with B-frames starts decoding before its first picture; joined,
    the decode times must still rise (the muxer refuses them otherwise) and every
    picture must come out once, in order."""
    from scenes.render.join import concat

    fps = 15
    clips = []
    for index, count in enumerate([1, 7, 2, 30, 1, 5]):
        path = tmp_path / f"clip{index}.mp4"
        with av.open(str(path), "w") as container:
            # The settings of 1080p: they make B-frames (a draft's make none).
            options = encoding.video_options(fps, 1080)
            stream = container.add_stream("libx264", rate=fps, options=options)
            stream.pix_fmt, stream.width, stream.height = "yuv420p", 64, 48
            for n in range(count):
                shade = (index * 40 + n * 7) % 250
                picture = np.full((48, 64, 3), shade, dtype=np.uint8)
                for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        clips.append((path, [(index * 40 + n * 7) % 250 for n in range(count)]))
    joined = tmp_path / "joined.mp4"
    concat([path for path, _ in clips], joined)
    with av.open(str(joined)) as container:
        stream = container.streams.video[0]
        decode_times = [p.dts for p in container.demux(stream) if p.dts is not None and p.size]
    assert all(b > a for a, b in itertools.pairwise(decode_times))
    with av.open(str(joined)) as container:
        shades = [round(f.to_ndarray(format="gray").mean()) for f in container.decode(video=0)]
    expected = [shade for _, shown in clips for shade in shown]
    assert len(shades) == len(expected)
    assert max(abs(a - b) for a, b in zip(shades, expected, strict=True)) <= 2


@pytest.mark.parametrize(
    "quality,aspect,chosen",
    [("l", "16:9", "small"), ("d", "9:16", "small"), ("m", "16:9", "full"), ("h", "9:16", "full")],
)
def test_drafts_are_encoded_for_speed_and_the_rest_for_size(
    quality: str, aspect: str, chosen: str, tmp_path: Path
) -> None:
    """The encoder's settings follow the frame's short side (a tall frame's width)."""
    from manim import config

    from dry_run import step_job
    from scenes.lesson.spec import QUALITY_FLAGS
    from scenes.render.settings import read_preset
    from scenes.render.worker import configure_manim

    job = step_job({"type": "title", "text": "Sizes"}, tmp_path, aspect=aspect)
    preset = read_preset(QUALITY_FLAGS[quality])
    height, fps = int(preset["pixel_height"]), int(preset["fps"])
    job = job.model_copy(
        update={"picture": job.picture.model_copy(update={"pixel_height": height, "fps": fps})}
    )
    configure_manim(job, tmp_path / "media")
    options = encoding.SMALL_OPTIONS if chosen == "small" else encoding.OPTIONS
    assert config.video_encoder_options == {**options, "g": str(round(fps * 2))}
    assert min(config.pixel_width, config.pixel_height) == height
