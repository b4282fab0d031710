"""Encode the frames of rendered step clips with several libx264 settings.

    .venv/bin/python benchmarks/encoder_bench.py source LESSON -o DIR [-q h]
    .venv/bin/python benchmarks/encoder_bench.py encode CLIP [CLIP ...]
        [--frames N] [--rounds R] [--only NAME ...] [--quality-every K] [--per-clip]
        [--save FILE]

``source`` renders a lesson's steps as ``cnnlesson render`` does, but encodes
them losslessly (libx264rgb, qp 0, one keyframe per Manim segment): clips whose
decoded frames are exactly the pictures Manim drew. (A normally encoded clip
makes a poor source: its still holds flicker a little once decoded, so the
encoder under test would see motion that a render never gives it, and its
pictures already carry one generation of H.264 loss.) The step clips land in
DIR/<lesson>/steps/.

``encode`` decodes each clip (its first N frames) to RGBA pictures and encodes
them again with each candidate setting exactly as a step's render does: every
keyframe of the source starts a new segment (Manim encodes each animation as a
segment of its own, and each begins with a keyframe), each segment is written
by Manim's own segment encoder (RGBA array -> av.VideoFrame -> libx264 yuv420p
in MP4; a run of identical pictures is one ``write_frame(pixels, repeat=N)``
call, as a still hold is), and the segments are joined into one clip with
faststart, as the render joins them. Decoding is not timed.

Prints, per candidate and summed over the clips: encode wall seconds and CPU
seconds (all threads of this process, while encoding), frames encoded per wall
second, the clips' size, and their quality against the source pictures
converted to yuv420p (what the encoder was given): SSIM (libavfilter's ssim
filter; Y plane and all planes weighted by size) and PSNR (from the mean
squared error over all compared frames; Y plane and all planes). Candidates are
timed in turns, round after round, so a busy machine slows them alike; the
times are the medians of the rounds. Measurements, not pass/fail.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# The lossless source: RGB kept exactly, no keyframe but at each segment's start.
LOSSLESS_BOOT = """\
import scenes.render.encoding as encoding
encoding.CODEC = "libx264rgb"
encoding.PIXEL_FORMAT = "rgb24"
encoding.OPTIONS = {"qp": "0", "preset": "ultrafast", "g": "100000", "sc_threshold": "0"}
encoding.KEYFRAME_SECONDS = None
"""


@dataclass(frozen=True)
class Candidate:
    name: str
    options: dict[str, str]
    holds: str = "each"  # "each": Manim's encoder, "once": HoldOnceEncoder
    keyframe_seconds: float | None = None  # sets g from the clip's frame rate

    def resolved(self, fps: Fraction) -> dict[str, str]:
        options = dict(self.options)
        if self.keyframe_seconds is not None:
            options["g"] = str(round(fps * Fraction(self.keyframe_seconds)))
        return options

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in self.options.items()]
        if self.keyframe_seconds is not None:
            parts.append(f"g={self.keyframe_seconds:g}s")
        parts.append(f"holds={self.holds}")
        return " ".join(parts)


def _c(name: str, holds: str = "each", g: float | None = None, **options: str) -> Candidate:
    return Candidate(name, {"crf": "23", **options}, holds, g)


CANDIDATES = [
    _c("today"),  # Manim 0.22: crf 23, preset medium, threads from the cores
    _c("today-once", holds="once"),
    _c("medium-t1", threads="1"),
    _c("medium-anim", tune="animation"),
    _c("medium-still", tune="stillimage"),
    _c("faster", preset="faster"),
    _c("faster-crf21", preset="faster", crf="21"),
    _c("veryfast", preset="veryfast"),
    _c("veryfast-crf21", preset="veryfast", crf="21"),
    _c("veryfast-crf20", preset="veryfast", crf="20"),
    _c("veryfast-anim", preset="veryfast", tune="animation"),
    _c("veryfast-still", preset="veryfast", tune="stillimage"),
    _c("veryfast-t1", preset="veryfast", threads="1"),
    _c("superfast", preset="superfast"),
    _c("superfast-crf20", preset="superfast", crf="20"),
    _c("superfast-crf18", preset="superfast", crf="18"),
    _c("ultrafast", preset="ultrafast"),
    _c("ultrafast-crf18", preset="ultrafast", crf="18"),
    _c("veryfast-once", holds="once", preset="veryfast"),
    _c("veryfast-once-g2s", holds="once", g=2, preset="veryfast"),
    _c("veryfast-once-g10s", holds="once", g=10, preset="veryfast"),
    # Finalists: holds converted once, a keyframe every 2 s, crf matched to today's quality.
    _c("veryfast-crf20-once-g2s", holds="once", g=2, preset="veryfast", crf="20"),
    _c("veryfast-crf21-once-g2s", holds="once", g=2, preset="veryfast", crf="21"),
    _c("superfast-once-g2s", holds="once", g=2, preset="superfast"),
    _c("superfast-crf24-once-g2s", holds="once", g=2, preset="superfast", crf="24"),
    _c("superfast-crf25-once-g2s", holds="once", g=2, preset="superfast", crf="25"),
    _c("veryfast-crf20-once-g2s-t1", holds="once", g=2, preset="veryfast", crf="20", threads="1"),
    _c("superfast-once-g2s-t1", holds="once", g=2, preset="superfast", threads="1"),
    # The choice (scenes/render/encoding.py).
    _c("superfast-crf24-once-g2s-t1", holds="once", g=2, preset="superfast", crf="24", threads="1"),
    # For 480 lines or fewer (scenes/render/encoding.py).
    _c("ultrafast-crf26-once-g2s-t1", holds="once", g=2, preset="ultrafast", crf="26", threads="1"),
    _c("ultrafast-crf28-once-g2s-t1", holds="once", g=2, preset="ultrafast", crf="28", threads="1"),
]


@dataclass
class Run:
    """Identical pictures in a row: one ``write_frame(pixels, repeat=N)``."""

    pixels: np.ndarray
    repeat: int
    segment_start: bool


@dataclass
class Source:
    path: Path
    width: int
    height: int
    fps: Fraction
    frames: int = 0
    pictures: int = 0  # distinct pictures in a row (write_frame calls)
    segments: int = 0


def read_runs(path: Path, limit: int | None) -> Iterator[Run]:
    """The clip's first ``limit`` frames as RGBA runs of identical pictures."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1  # decode nothing ahead, while encoding is timed
        current: Run | None = None
        count = 0
        for frame in container.decode(stream):
            if limit is not None and count >= limit:
                break
            count += 1
            # Contiguous, as Manim's pictures are (a decoded row may be padded).
            pixels = np.ascontiguousarray(frame.to_ndarray(format="rgba"))
            if (
                current is not None
                and not frame.key_frame
                and np.array_equal(pixels, current.pixels)
            ):
                current.repeat += 1
                continue
            if current is not None:
                yield current
            current = Run(pixels, 1, frame.key_frame or current is None)
        if current is not None:
            yield current


def survey(path: Path, limit: int | None) -> Source:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or Fraction(60)
        source = Source(path, stream.codec_context.width, stream.codec_context.height, rate)
    for run in read_runs(path, limit):
        source.frames += run.repeat
        source.pictures += 1
        source.segments += run.segment_start
    return source


@dataclass
class Clock:
    """Wall and CPU seconds (every thread of this process) inside ``with`` blocks."""

    wall: float = 0.0
    cpu: float = 0.0
    _started: tuple[float, float] = field(default=(0.0, 0.0), repr=False)

    def __enter__(self) -> Clock:
        self._started = (time.perf_counter(), _cpu())
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._started[0]
        self.cpu += _cpu() - self._started[1]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def encode_clip(
    source: Source, candidate: Candidate, out: Path, limit: int | None, clock: Clock
) -> None:
    """Encode the source's runs as the render does: a segment per source keyframe,
    joined with faststart into ``out``."""
    from manim._config.video_encoder import VideoEncoderSpec
    from manim.scene.video_segment_encoder import VideoSegmentEncoder

    from scenes.render.clip_writer import HoldOnceEncoder
    from scenes.render.join import concat

    kind = HoldOnceEncoder if candidate.holds == "once" else VideoSegmentEncoder
    spec = VideoEncoderSpec(
        container_format="mp4",
        codec="libx264",
        pixel_format="yuv420p",
        width=source.width,
        height=source.height,
        frame_rate=source.fps,
        options=tuple(sorted(candidate.resolved(source.fps).items())),
    )
    folder = out.parent / f"{out.stem}-segments"
    folder.mkdir(exist_ok=True)
    segments: list[Path] = []
    encoder: Any = None
    for run in read_runs(source.path, limit):
        with clock:
            if run.segment_start:
                if encoder is not None:
                    encoder.finish()
                segments.append(folder / f"{len(segments):05d}.mp4")
                encoder = kind(target=segments[-1], spec=spec)
            encoder.write_frame(run.pixels, repeat=run.repeat)
    with clock:
        if encoder is not None:
            encoder.finish()
        concat(segments, out)
    for segment in segments:
        segment.unlink()
    folder.rmdir()


@dataclass
class Quality:
    frames: int = 0
    ssim_y: float = 0.0
    ssim_all: float = 0.0
    squared_y: float = 0.0  # sums of squared errors
    squared_all: float = 0.0
    samples_y: int = 0
    samples_all: int = 0

    def add(self, other: Quality) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @staticmethod
    def _psnr(squared: float, samples: int) -> float:
        if samples == 0 or squared == 0:
            return math.inf
        return 10 * math.log10(255**2 / (squared / samples))

    def summary(self) -> tuple[float, float, float, float]:
        n = max(self.frames, 1)
        return (
            self.ssim_y / n,
            self.ssim_all / n,
            self._psnr(self.squared_y, self.samples_y),
            self._psnr(self.squared_all, self.samples_all),
        )


def measure_quality(source: Source, encoded: Path, limit: int | None, every: int) -> Quality:
    """Compare every ``every``-th frame of ``encoded`` with the source's pictures as
    the encoder received them (converted to yuv420p)."""
    quality = Quality()
    graph = av.filter.Graph()
    buffers = [
        graph.add_buffer(
            width=source.width,
            height=source.height,
            format=av.VideoFormat("yuv420p"),
            time_base=Fraction(1, 60),
        )
        for _ in range(2)
    ]
    ssim = graph.add("ssim")
    sink = graph.add("buffersink")
    buffers[0].link_to(ssim, 0, 0)
    buffers[1].link_to(ssim, 0, 1)
    ssim.link_to(sink)
    graph.configure()
    height = source.height
    with av.open(str(encoded)) as container:
        decoded = container.decode(video=0)
        index = 0
        for run in read_runs(source.path, limit):
            reference = av.VideoFrame.from_ndarray(run.pixels, format="rgba").reformat(
                format="yuv420p"
            )
            planes = reference.to_ndarray().astype(np.int32)
            for _ in range(run.repeat):
                frame = next(decoded)
                index += 1
                if (index - 1) % every:
                    continue
                got = frame.to_ndarray().astype(np.int32)
                errors = (got - planes) ** 2
                quality.frames += 1
                quality.squared_y += float(errors[:height].sum())
                quality.squared_all += float(errors.sum())
                quality.samples_y += errors[:height].size
                quality.samples_all += errors.size
                # Fresh frames of the filter graph's own: no decoder's frame is kept.
                pair = [
                    av.VideoFrame.from_ndarray(a.astype(np.uint8), format="yuv420p")
                    for a in (got, planes)
                ]
                for buffer, picture in zip(buffers, pair, strict=True):
                    picture.pts = index
                    buffer.push(picture)
                values = sink.pull().metadata
                quality.ssim_y += float(values["lavfi.ssim.Y"])
                quality.ssim_all += float(values["lavfi.ssim.All"])
        left = sum(1 for _ in decoded)
    if left:
        raise RuntimeError(f"{encoded} has {left} frames more than its source")
    return quality


def keyframes(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for p in container.demux(video=0) if p.size and p.is_keyframe)


def _load_results(path: Path | None, setup: dict[str, Any]) -> dict[str, Any]:
    """What an earlier run with the same clips and options saved (``--save``)."""
    if path is None or not path.exists():
        return {"setup": setup, "candidates": {}}
    saved = json.loads(path.read_text(encoding="utf-8"))
    if saved["setup"] != setup:
        sys.exit(f"{path} holds results of other clips or options: {saved['setup']}")
    return saved


def _save_results(path: Path | None, results: dict[str, Any]) -> None:
    if path is not None:
        staged = path.with_name(path.name + ".part")
        staged.write_text(json.dumps(results, indent=1), encoding="utf-8")
        staged.replace(path)


def run_encode(args: argparse.Namespace) -> None:
    candidates = [c for c in CANDIDATES if not args.only or c.name in args.only]
    unknown = set(args.only or ()) - {c.name for c in CANDIDATES}
    if unknown:
        sys.exit(f"unknown candidates: {sorted(unknown)}; known: {[c.name for c in CANDIDATES]}")
    if args.only:  # in the order given: the first is the base of the size column
        candidates.sort(key=lambda c: args.only.index(c.name))
    sources = [survey(path, args.frames) for path in args.clips]
    print(
        f"date: {time.strftime('%Y-%m-%d')}  cpus: {os.cpu_count()}  "
        f"libavcodec {'.'.join(map(str, av.library_versions['libavcodec']))}"
    )
    for s in sources:
        print(
            f"source {s.path.name}: {s.width}x{s.height} at {float(s.fps):g} fps, "
            f"{s.frames} frames, {s.pictures} write_frame calls, {s.segments} segments"
        )
    setup = {
        "clips": [str(s.path.resolve()) for s in sources],
        "frames": args.frames,
        "quality_every": args.quality_every,
    }
    results = _load_results(args.save, setup)
    done = results["candidates"]
    with tempfile.TemporaryDirectory(prefix="encoder-bench-") as tmp:
        for round_ in range(args.rounds):
            # In turns, the order reversed every other round.
            order = candidates if round_ % 2 == 0 else candidates[::-1]
            for candidate in order:
                entry = done.setdefault(candidate.name, {"times": [], "clips": []})
                if len(entry["times"]) > round_:
                    continue  # measured by an earlier run (--save)
                times = []
                for i, source in enumerate(sources):
                    clock = Clock()
                    out = Path(tmp) / f"{candidate.name}-{i}.mp4"
                    encode_clip(source, candidate, out, args.frames, clock)
                    times.append([clock.wall, clock.cpu])
                    if len(entry["clips"]) <= i:  # quality once: the encoder is deterministic
                        q = measure_quality(source, out, args.frames, args.quality_every)
                        entry["clips"].append(
                            {"bytes": out.stat().st_size, "keys": keyframes(out), **vars(q)}
                        )
                    out.unlink()
                entry["times"].append(times)
                _save_results(args.save, results)
                wall = sum(t[0] for t in times)
                print(
                    f"  round {round_ + 1}: {candidate.name:<26} {wall:7.2f} s",
                    file=sys.stderr,
                    flush=True,
                )
    print_table(candidates, sources, done, args)


def print_table(
    candidates: list[Candidate],
    sources: list[Source],
    done: dict[str, Any],
    args: argparse.Namespace,
) -> None:
    rounds = min(len(done[c.name]["times"]) for c in candidates)
    print(f"frames per candidate: {sum(s.frames for s in sources)}; rounds: {rounds}; ", end="")
    print("times are medians")
    print(
        "SSIM: mean over frames (Y; all planes); PSNR dB from the pooled mean squared "
        f"error (Y; all planes); every {args.quality_every} frame(s) compared"
    )
    header = (
        f"{'candidate':<26} {'wall s':>7} {'cpu s':>7} {'fps':>6} {'KB':>7} {'size':>6} "
        f"{'keys':>5} {'SSIM Y':>8} {'SSIM':>8} {'PSNR Y':>7} {'PSNR':>7}  options"
    )
    clips = list(range(len(sources)))
    tables: list[tuple[str, list[int]]] = [("all clips", clips)]
    if args.per_clip:
        tables += [(sources[i].path.name, [i]) for i in clips]

    def totals(name: str, chosen: list[int]) -> tuple[float, float, int, int, Quality]:
        entry = done[name]
        walls = [sum(times[i][0] for i in chosen) for times in entry["times"]]
        cpus = [sum(times[i][1] for i in chosen) for times in entry["times"]]
        quality = Quality()
        size = keys = 0
        for i in chosen:
            clip = dict(entry["clips"][i])
            size += clip.pop("bytes")
            keys += clip.pop("keys")
            quality.add(Quality(**clip))
        return statistics.median(walls), statistics.median(cpus), size, keys, quality

    for title, chosen in tables:
        print(f"\n{title}\n{header}")
        frames = sum(sources[i].frames for i in chosen)
        base_size = totals(candidates[0].name, chosen)[2]
        for candidate in candidates:
            wall, cpu, size, keys, q = totals(candidate.name, chosen)
            ssim_y, ssim_all, psnr_y, psnr_all = q.summary()
            print(
                f"{candidate.name:<26} {wall:7.2f} {cpu:7.2f} {frames / wall:6.1f} "
                f"{size / 1024:7.0f} {size / base_size:6.0%} {keys:5d} {ssim_y:8.5f} "
                f"{ssim_all:8.5f} {psnr_y:7.2f} {psnr_all:7.2f}  {candidate.describe()}"
            )


def run_source(args: argparse.Namespace) -> None:
    """Render the lesson with the lossless settings swapped in for every worker."""
    with tempfile.TemporaryDirectory(prefix="encoder-bench-boot-") as boot:
        # Every Python process of the render (the workers too) runs sitecustomize.
        Path(boot, "sitecustomize.py").write_text(LOSSLESS_BOOT, encoding="utf-8")
        paths = [boot, str(ROOT), os.environ.get("PYTHONPATH", "")]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
        command = [sys.executable, "-m", "scenes.cli", "render", str(args.lesson)]
        command += ["-q", args.quality, "-o", str(args.out), "--quiet"]
        subprocess.run(command, cwd=ROOT, env=env, check=True)
    steps = sorted((args.out / args.lesson.stem / "steps").glob("*.mp4"))
    for clip in steps:
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            print(f"{clip}: {stream.codec_context.name} {stream.codec_context.pix_fmt}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    source = commands.add_parser("source", help="render a lesson's steps losslessly")
    source.add_argument("lesson", type=Path)
    source.add_argument("-o", "--out", type=Path, required=True)
    source.add_argument("-q", "--quality", default="h")
    encode = commands.add_parser("encode", help="encode clips with each candidate")
    encode.add_argument("clips", nargs="+", type=Path)
    encode.add_argument("--frames", type=int, default=None, help="first N frames of each clip")
    encode.add_argument("--rounds", type=int, default=2)
    encode.add_argument("--only", nargs="+", help="these candidates (the first is the base)")
    encode.add_argument("--quality-every", type=int, default=1, metavar="K")
    encode.add_argument("--per-clip", action="store_true", help="also a table per clip")
    encode.add_argument(
        "--save",
        type=Path,
        help="keep the results in this JSON file after each candidate; a run given the "
        "same file goes on where it stopped",
    )
    args = parser.parse_args()
    if args.command == "source":
        run_source(args)
    else:
        run_encode(args)


if __name__ == "__main__":
    main()
