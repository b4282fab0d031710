"""Manim's file writer as a step's scene uses it (only there: a plain Manim scene
keeps Manim's own).

Two changes to Manim 0.22's writer, both measured in benchmarks/README.md:

- A still hold (``scene.wait`` with nothing moving) reaches the encoder as one
  picture repeated N times; Manim converts that RGBA picture to the clip's pixel
  format N times, :class:`HoldOnceEncoder` converts it once and encodes the same
  converted frame N times (the encoder copies each frame it is given, so the
  bytes written are the same).
- The clip is joined from Manim's segments by :func:`.join.concat`, which writes
  the index (``moov``) before the data, so a browser can start playing a step's
  clip before it has all of it ("faststart"); Manim's own join does not.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from manim.scene.scene_file_writer import SceneFileWriter
from manim.scene.video_segment_encoder import VideoSegmentEncoder

from .join import concat


class HoldOnceEncoder(VideoSegmentEncoder):
    """Manim's segment encoder, converting a repeated picture once, not once a frame."""

    def write_frame(self, pixels: Any, *, repeat: int = 1) -> None:
        if repeat == 1:
            super().write_frame(pixels, repeat=1)
            return
        self._validate_frame(pixels, repeat)
        time_base = Fraction(self.spec.frame_rate.denominator, self.spec.frame_rate.numerator)
        stream: Any = self._stream
        try:
            frame = av.VideoFrame.from_ndarray(pixels, format="rgba")
            # What the stream would do to each copy (PyAV's encode reformats a frame
            # of another pixel format with these same arguments).
            frame = frame.reformat(
                self.spec.width,
                self.spec.height,
                self.spec.pixel_format,
                threads=stream.codec_context.thread_count,
            )
            for _ in range(repeat):
                frame.pts = self._next_pts
                frame.time_base = time_base
                self._next_pts += 1
                for packet in stream.encode(frame):
                    self._container.mux(packet)
        except BaseException as error:
            raise self._operation_error("encode", error) from error


class StepFileWriter(SceneFileWriter):
    """Manim's writer with :class:`HoldOnceEncoder` segments, joined with faststart."""

    def _create_segment_encoder(self, target: Path) -> VideoSegmentEncoder:
        if self.video_encoder is None:
            raise RuntimeError("Video segment encoding requires resolved settings.")
        return HoldOnceEncoder(target=target, spec=self.video_encoder)

    def combine_files(
        self,
        input_files: list[str],
        output_file: Path,
        create_gif: bool = False,
        includes_sound: bool = False,
    ) -> None:
        if create_gif or includes_sound:  # not a step's clip: Manim's own join
            super().combine_files(input_files, output_file, create_gif, includes_sound)
            return
        output_file.parent.mkdir(parents=True, exist_ok=True)
        concat([Path(name) for name in input_files], output_file)
