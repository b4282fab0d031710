"""Manim's file writer as a step's scene uses it (only there: a plain Manim scene
keeps Manim's own).

Three changes to Manim 0.22's writer, all measured in benchmarks/README.md:

- A still hold (``scene.wait`` with nothing moving) reaches the encoder as one
  picture repeated N times; Manim converts that RGBA picture to the clip's pixel
  format N times, :class:`HoldOnceEncoder` converts it once and encodes the same
  converted frame N times (the encoder copies each frame it is given, so the
  bytes written are the same).
- Manim copies each RGBA picture twice on its way to the encoder: the renderer
  copies the camera's frame (the encoder thread takes it later, while the next
  frame is drawn), and the encoder copies it into a new frame to convert it. At
  1080p each copy costs about as much as the conversion (a fresh 8 MB buffer a
  frame, its pages faulted in anew). Here the picture is converted as soon as
  it is written, straight from the camera's own array, with one converter kept
  for the segment (as the stream keeps its own): the encoder thread is handed
  the converted frame, and no copy is made.
- The clip is joined from Manim's segments by :func:`.join.concat`, which writes
  the index (``moov``) before the data, so a browser can start playing a step's
  clip before it has all of it ("faststart"); Manim's own join does not.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.video.reformatter import VideoReformatter
from manim.scene.scene_file_writer import SceneFileWriter
from manim.scene.video_segment_encoder import VideoSegmentEncoder

from .join import concat


class HoldOnceEncoder(VideoSegmentEncoder):
    """Manim's segment encoder, converting each picture once, from its own array.

    :meth:`write_frame` takes a picture (an RGBA array) or a frame that
    :meth:`convert` made of one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._converter = VideoReformatter()

    def convert(self, pixels: Any, repeat: int = 1) -> av.VideoFrame:
        """The picture in the clip's pixel format, read in place from its array (which
        may change as soon as this returns)."""
        self._validate_frame(pixels, repeat)
        stream: Any = self._stream
        try:
            picture = av.VideoFrame.from_numpy_buffer(pixels, format="rgba")
            # What the stream would do to it (PyAV's encode converts a frame of another
            # pixel format with these same arguments).
            return self._converter.reformat(
                picture,
                self.spec.width,
                self.spec.height,
                self.spec.pixel_format,
                # (0, automatic, until the first frame opens the encoder)
                threads=stream.codec_context.thread_count or 1,
            )
        except BaseException as error:
            raise self._operation_error("encode", error) from error

    def write_frame(self, pixels: Any, *, repeat: int = 1) -> None:
        if isinstance(pixels, av.VideoFrame):
            frame = pixels
        else:
            frame = self.convert(pixels, repeat)
        time_base = Fraction(self.spec.frame_rate.denominator, self.spec.frame_rate.numerator)
        stream: Any = self._stream
        try:
            for _ in range(repeat):
                frame.pts = self._next_pts
                frame.time_base = time_base
                self._next_pts += 1
                for packet in stream.encode(frame):
                    self._container.mux(packet)
        except BaseException as error:
            raise self._operation_error("encode", error) from error


class StepFileWriter(SceneFileWriter):
    """Manim's writer with :class:`HoldOnceEncoder` segments, joined with faststart.

    :meth:`write_frame` keeps no hold of the array it is given: a video's picture
    is converted before it returns, so the renderer need not copy its frame."""

    def write_frame(self, pixels: Any, *, repeat: int = 1) -> None:
        job = self._current_encode_job
        if (
            self.output_spec.is_video
            and not self.output_spec.is_image_sequence
            and job is not None
            and not job.failed
            and isinstance(job.encoder, HoldOnceEncoder)
        ):
            pixels = job.encoder.convert(pixels, repeat)
        super().write_frame(pixels, repeat=repeat)

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
