"""Hostile inputs for ``cnnlesson``, one function each, grouped by the class of defect.

Each case builds its files in a sandbox folder (FIFOs, symbolic-link loops and
device nodes are made at run time) and returns the command to run there and
what must come of it. The sandbox holds bait that must survive every case: a
``media/index.html`` and ``media/manifest.json`` beside the output folder
``media/out``, a victim file, and files outside the lesson's folder whose text
(``TOPSECRET``) must never appear in any message.
"""

from __future__ import annotations

import io
import json
import os
import stat
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = ROOT / "cnn_model" / "weights" / "default.safetensors"
CARD = ROOT / "cnn_model" / "weights" / "default.json"
SECRET = "TOPSECRET-7f3a"
OUT = "media/out"

BASE = "title: Hostile\nsteps:\n  - type: title\n    text: Hello\n"
WITH_MODEL = "title: Hostile\n{header}steps:\n  - type: classify\n"


@dataclass
class Expect:
    """What a case must give, beyond the checks every case gets."""

    args: list[str]
    exit: tuple[int, ...] = (2,)
    contains: tuple[str, ...] = ()  # in the combined output (fragments of the message)
    absent: tuple[str, ...] = ()
    timeout: float = 60.0
    env: dict[str, str] = field(default_factory=dict)
    check: Callable[[Path, str], None] | None = None  # (sandbox, output)


@dataclass(frozen=True)
class Case:
    name: str
    group: str
    make: Callable[[Path], Expect]


CASES: list[Case] = []


def case(group: str) -> Callable[[Callable[[Path], Expect]], Callable[[Path], Expect]]:
    def register(make: Callable[[Path], Expect]) -> Callable[[Path], Expect]:
        CASES.append(Case(make.__name__, group, make))
        return make

    return register


# --- helpers ----------------------------------------------------------------


def bait(sandbox: Path) -> None:
    """What must survive every command: files beside -o, a victim, secrets elsewhere."""
    (sandbox / "media").mkdir(parents=True, exist_ok=True)
    (sandbox / "media" / "index.html").write_text("<p>someone else's page</p>")
    (sandbox / "media" / "manifest.json").write_text(json.dumps({"files": {"page": "index.html"}}))
    (sandbox / "victim.txt").write_text("keep me")
    outside = sandbox / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret.yaml").write_text(
        f"title: {SECRET}\nsteps:\n  - type: nope\n    password: {SECRET}\n"
    )
    (outside / "secret.txt").write_text(f"root:{SECRET}:0:0\n")


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def loop(path: Path) -> Path:
    """A symbolic link that points at itself through a second one."""
    other = path.with_name(path.name + ".other")
    os.symlink(other.name, path)
    os.symlink(path.name, other)
    return path


def device(path: Path, minor: int) -> Path:
    """A character device node like /dev/zero (minor 5) or /dev/full (minor 7); a link
    to the real one where this process may not make device nodes."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, minor))
    except PermissionError:
        os.symlink({5: "/dev/zero", 7: "/dev/full"}[minor], path)
    return path


def png(path: Path, width: int, height: int) -> Path:
    Image.new("RGB", (width, height), (200, 30, 30)).save(path)
    return path


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width`` x ``height`` but holds almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
    return write(path, data + chunk(b"IEND", b""))


def weights_with(path: Path, value: float) -> Path:
    """The default weights with one value of conv_1_1 replaced (NaN, infinity), and its card."""
    data = bytearray(WEIGHTS.read_bytes())
    header_len = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + header_len])
    start = 8 + header_len + header["conv_1_1.weight"]["data_offsets"][0]
    data[start + 12 : start + 16] = struct.pack("<f", value)
    write(path, bytes(data))
    write(path.with_suffix(".json"), CARD.read_text())
    return path


def model_with_classes(path: Path, classes: list[object] | str) -> Path:
    """The default weights beside a card whose class list is ``classes`` (raw JSON if text)."""
    write(path, WEIGHTS.read_bytes())
    card = json.loads(CARD.read_text())
    text = (
        json.dumps({**card, "classes": "@"}).replace('"@"', classes)
        if isinstance(classes, str)
        else json.dumps({**card, "classes": classes})
    )
    write(path.with_suffix(".json"), text)
    return path


def validate(lesson: str, *extra: str) -> list[str]:
    return ["validate", lesson, *extra]


def render(lesson: str, *extra: str) -> list[str]:
    return ["render", lesson, "-q", "d", "-o", OUT, "--quiet", *extra]


def lesson_with(sandbox: Path, body: str, name: str = "lesson.yaml") -> str:
    write(sandbox / name, body)
    return name


def untouched(*paths: str) -> Callable[[Path, str], None]:
    """A check that each path is still what the bait made it."""

    def check(sandbox: Path, output: str) -> None:
        for rel in paths:
            assert (sandbox / rel).exists(), rel

    return check


# --- names: no escape from -o ------------------------------------------------


def _named(sandbox: Path, file_name: str, folder: str) -> Expect:
    write(sandbox / file_name, BASE)

    def check(sb: Path, output: str) -> None:
        made = sb / OUT / folder
        assert made.is_dir(), sorted(p.name for p in (sb / OUT).iterdir())
        assert (made / f"{folder}.mp4").is_file()

    return Expect(render("./" + file_name), exit=(0,), timeout=120, check=check)


@case("names")
def name_three_dots(sandbox: Path) -> Expect:
    return _named(sandbox, "...yaml", "lesson")


@case("names")
def name_two_dots(sandbox: Path) -> Expect:
    return _named(sandbox, "..yaml", "lesson")


@case("names")
def name_of_the_cache(sandbox: Path) -> Expect:
    return _named(sandbox, ".cache.yaml", "cache")


@case("names")
def name_hidden(sandbox: Path) -> Expect:
    return _named(sandbox, ".index.yaml", "index")


@case("names")
def name_of_255_characters(sandbox: Path) -> Expect:
    expect = _named(sandbox, "a" * 250 + ".yaml", "a" * 100)
    return expect


@case("names")
def name_with_terminal_escapes(sandbox: Path) -> Expect:
    expect = _named(sandbox, "\x1b[2J\x1b]0;owned\x07x.yaml", "2J-0-owned-x")
    return expect


@case("names")
def name_with_a_line_break_and_spaces(sandbox: Path) -> Expect:
    return _named(sandbox, "two\nlines and spaces.yaml", "two-lines-and-spaces")


@case("names")
def lesson_folder_is_a_link_outside(sandbox: Path) -> Expect:
    write(sandbox / "hostile.yaml", BASE)
    (sandbox / "elsewhere").mkdir()
    (sandbox / OUT).mkdir(parents=True)
    os.symlink(sandbox / "elsewhere", sandbox / OUT / "hostile")
    return Expect(
        render("hostile.yaml"),
        contains=("is not a folder",),
        check=lambda sb, _: (not any((sb / "elsewhere").iterdir())) or _fail("wrote elsewhere"),
    )


@case("names")
def cache_is_a_link_outside(sandbox: Path) -> Expect:
    write(sandbox / "hostile.yaml", BASE)
    (sandbox / "elsewhere").mkdir()
    (sandbox / OUT).mkdir(parents=True)
    os.symlink(sandbox / "elsewhere", sandbox / OUT / ".cache")
    return Expect(
        render("hostile.yaml"),
        contains=("outside the output folder",),
        check=lambda sb, _: (not any((sb / "elsewhere").iterdir())) or _fail("wrote elsewhere"),
    )


@case("names")
def previous_manifest_lists_files_outside(sandbox: Path) -> Expect:
    write(sandbox / "hostile.yaml", BASE)
    folder = sandbox / OUT / "hostile"
    manifest = {
        "video": "../../../victim.txt",
        "files": {"formats": {"webm": "../../index.html", "gif": str(sandbox / "victim.txt")}},
        "steps": [{"clip": "../../manifest.json"}],
    }
    write(folder / "manifest.json", json.dumps(manifest))
    return Expect(render("hostile.yaml"), exit=(0,), timeout=120)


@case("names")
def lock_file_is_a_link_to_a_victim(sandbox: Path) -> Expect:
    write(sandbox / "hostile.yaml", BASE)
    (sandbox / OUT / ".cache").mkdir(parents=True)
    os.symlink(sandbox / "victim.txt", sandbox / OUT / ".cache" / "hostile.lock")
    return Expect(render("hostile.yaml"), contains=("hostile.lock",), timeout=120)


@case("names")
def output_root_is_a_file(sandbox: Path) -> Expect:
    write(sandbox / "hostile.yaml", BASE)
    write(sandbox / OUT, "not a folder")
    return Expect(render("hostile.yaml"), contains=("not a folder",))


# --- course entries: only lessons of the course's own tree ------------------


def _course(sandbox: Path, entries: list[str]) -> list[str]:
    lines = "".join(f"  - {json.dumps(e)}\n" for e in entries)
    write(sandbox / "course.yaml", f"title: Course\nlessons:\n{lines}")
    return validate("course.yaml")


@case("course")
def course_lists_etc_passwd(sandbox: Path) -> Expect:
    return Expect(
        _course(sandbox, ["/etc/passwd"]),
        contains=("outside the course's folder",),
        absent=("root:",),
    )


@case("course")
def course_climbs_to_etc_shadow(sandbox: Path) -> Expect:
    return Expect(
        _course(sandbox, ["../../../../../../etc/shadow"]),
        contains=("outside the course's folder",),
        absent=("root:",),
    )


@case("course")
def course_lists_a_lesson_outside_its_folder(sandbox: Path) -> Expect:
    (sandbox / "course").mkdir()
    write(sandbox / "course" / "course.yaml", "title: C\nlessons:\n  - ../outside/secret.yaml\n")
    return Expect(validate("course/course.yaml"), contains=("outside the course's folder",))


@case("course")
def course_entry_links_outside(sandbox: Path) -> Expect:
    (sandbox / "course").mkdir()
    os.symlink(sandbox / "outside" / "secret.yaml", sandbox / "course" / "link.yaml")
    write(sandbox / "course" / "course.yaml", "title: C\nlessons:\n  - link.yaml\n")
    return Expect(validate("course/course.yaml"), contains=("outside the course's folder",))


@case("course")
def course_lists_a_text_file(sandbox: Path) -> Expect:
    write(sandbox / "notes.txt", f"password: {SECRET}\n")
    return Expect(_course(sandbox, ["notes.txt"]), contains=("is not a lesson file",))


@case("course")
def course_lists_a_yaml_config(sandbox: Path) -> Expect:
    write(sandbox / "config.yaml", f"database:\n  password: {SECRET}\n  port: 5432\n")
    return Expect(_course(sandbox, ["config.yaml"]), contains=("is not a lesson",))


@case("course")
def course_lists_a_yaml_list(sandbox: Path) -> Expect:
    write(sandbox / "list.yaml", f"- {SECRET}\n- more\n")
    return Expect(_course(sandbox, ["list.yaml"]), contains=("is not a lesson",))


@case("course")
def course_lists_a_yaml_scalar(sandbox: Path) -> Expect:
    write(sandbox / "token.yaml", f"{SECRET}\n")
    return Expect(_course(sandbox, ["token.yaml"]), contains=("is not a lesson",))


@case("course")
def course_lists_a_fifo(sandbox: Path) -> Expect:
    fifo(sandbox / "pipe.yaml")
    return Expect(_course(sandbox, ["pipe.yaml"]), contains=("named pipe (FIFO)",), timeout=20)


@case("course")
def course_lists_a_link_loop(sandbox: Path) -> Expect:
    loop(sandbox / "loop.yaml")
    return Expect(_course(sandbox, ["loop.yaml"]), contains=("loop of symbolic links",))


@case("course")
def course_lists_a_folder(sandbox: Path) -> Expect:
    (sandbox / "folder.yaml").mkdir()
    return Expect(_course(sandbox, ["folder.yaml"]), contains=("a folder, not a file",))


@case("course")
def course_lists_itself(sandbox: Path) -> Expect:
    return Expect(_course(sandbox, ["course.yaml"]), contains=("is itself a course",))


@case("course")
def course_lists_a_device(sandbox: Path) -> Expect:
    device(sandbox / "zero.yaml", 5)
    return Expect(_course(sandbox, ["zero.yaml"]), contains=("character device",), timeout=20)


@case("course")
def course_repeats_a_long_lesson_2000_times(sandbox: Path) -> Expect:
    steps = "".join("  - type: title\n    text: T\n" for _ in range(3900))
    write(sandbox / "long.yaml", f"title: Long\nsteps:\n{steps}")
    return Expect(_course(sandbox, ["long.yaml"] * 2000), contains=("at most 100",), timeout=30)


@case("course")
def course_repeats_a_299_step_lesson(sandbox: Path) -> Expect:
    steps = "".join("  - type: title\n    text: T\n" for _ in range(299))
    write(sandbox / "long.yaml", f"title: Long\nsteps:\n{steps}")
    return Expect(
        _course(sandbox, ["long.yaml"] * 100), contains=("more than 300 steps",), timeout=30
    )


@case("course")
def course_lists_binary_bytes(sandbox: Path) -> Expect:
    write(sandbox / "bin.yaml", b"title: x\n" + bytes(range(128, 256)))
    return Expect(
        _course(sandbox, ["bin.yaml"]), contains=("bin.yaml does not read as a lesson (line 2",)
    )


@case("course")
def course_lists_101_lessons(sandbox: Path) -> Expect:
    write(sandbox / "one.yaml", BASE)
    return Expect(_course(sandbox, ["one.yaml"] * 101), contains=("at most 100",))


# --- special files: regular files only, never blocking ----------------------


@case("special")
def lesson_is_a_fifo(sandbox: Path) -> Expect:
    fifo(sandbox / "pipe.yaml")
    return Expect(validate("pipe.yaml"), contains=("named pipe (FIFO)",), timeout=20)


@case("special")
def render_of_a_fifo(sandbox: Path) -> Expect:
    fifo(sandbox / "pipe.yaml")
    return Expect(render("pipe.yaml"), contains=("named pipe (FIFO)",), timeout=20)


@case("special")
def lesson_links_to_dev_zero(sandbox: Path) -> Expect:
    os.symlink("/dev/zero", sandbox / "zero.yaml")
    return Expect(validate("zero.yaml"), contains=("character device",), timeout=20)


@case("special")
def lesson_is_a_device_node(sandbox: Path) -> Expect:
    device(sandbox / "zero.yaml", 5)
    return Expect(validate("zero.yaml"), contains=("character device",), timeout=20)


@case("special")
def lesson_is_a_folder(sandbox: Path) -> Expect:
    (sandbox / "folder.yaml").mkdir()
    return Expect(validate("folder.yaml"), contains=("a folder, not a file",))


@case("special")
def lesson_is_a_link_loop(sandbox: Path) -> Expect:
    loop(sandbox / "loop.yaml")
    return Expect(validate("loop.yaml"), contains=("loop of symbolic links",))


@case("special")
def lesson_larger_than_a_megabyte(sandbox: Path) -> Expect:
    write(sandbox / "big.yaml", BASE + "# " + "x" * 1_100_000 + "\n")
    return Expect(validate("big.yaml"), contains=("larger than 1,000,000 bytes",))


@case("special")
def model_is_a_fifo(sandbox: Path) -> Expect:
    fifo(sandbox / "m.safetensors")
    lesson = lesson_with(sandbox, WITH_MODEL.format(header="model: ./m.safetensors\n"))
    return Expect(validate(lesson), contains=("named pipe (FIFO)",), timeout=20)


@case("special")
def model_option_is_a_fifo(sandbox: Path) -> Expect:
    fifo(sandbox / "m.safetensors")
    lesson = lesson_with(sandbox, WITH_MODEL.format(header=""))
    return Expect(
        validate(lesson, "--model", "m.safetensors"), contains=("named pipe (FIFO)",), timeout=20
    )


@case("special")
def model_is_dev_zero(sandbox: Path) -> Expect:
    lesson = lesson_with(sandbox, WITH_MODEL.format(header="model: /dev/zero\n"))
    return Expect(validate(lesson), contains=("character device",), timeout=20)


@case("special")
def model_card_is_a_fifo(sandbox: Path) -> Expect:
    write(sandbox / "m.safetensors", WEIGHTS.read_bytes())
    fifo(sandbox / "m.json")
    lesson = lesson_with(sandbox, WITH_MODEL.format(header="model: ./m.safetensors\n"))
    return Expect(validate(lesson), contains=("named pipe (FIFO)",), timeout=20)


@case("special")
def classify_with_a_fifo_model(sandbox: Path) -> Expect:
    fifo(sandbox / "m.safetensors")
    png(sandbox / "i.png", 64, 64)
    return Expect(
        ["classify", "i.png", "--model", "./m.safetensors"], contains=("named pipe",), timeout=20
    )


@case("special")
def image_is_a_fifo(sandbox: Path) -> Expect:
    fifo(sandbox / "i.png")
    lesson = lesson_with(sandbox, WITH_MODEL.format(header="image: i.png\n"))
    return Expect(
        validate(lesson), contains=("named pipe (FIFO)",), absent=("no such",), timeout=20
    )


@case("special")
def image_is_dev_zero(sandbox: Path) -> Expect:
    lesson = lesson_with(sandbox, WITH_MODEL.format(header="image: /dev/zero\n"))
    return Expect(validate(lesson), contains=("character device",), absent=("no such",), timeout=20)


@case("special")
def image_is_a_link_loop(sandbox: Path) -> Expect:
    loop(sandbox / "loop.png")
    lesson = lesson_with(sandbox, WITH_MODEL.format(header="image: loop.png\n"))
    return Expect(validate(lesson), contains=("loop of symbolic links",))


@case("special")
def image_option_is_a_link_loop(sandbox: Path) -> Expect:
    loop(sandbox / "loop.png")
    lesson = lesson_with(sandbox, WITH_MODEL.format(header=""))
    return Expect(validate(lesson, "--image", "loop.png"), contains=("loop of symbolic links",))


@case("special")
def classify_a_fifo(sandbox: Path) -> Expect:
    fifo(sandbox / "pipe.png")
    return Expect(["classify", "pipe.png"], contains=("named pipe (FIFO)",), timeout=20)


@case("special")
def classify_a_link_loop(sandbox: Path) -> Expect:
    loop(sandbox / "loop.png")
    return Expect(["classify", "loop.png"], contains=("loop of symbolic links",))


@case("special")
def preview_output_is_dev_full(sandbox: Path) -> Expect:
    write(sandbox / "hostile.yaml", BASE)
    device(sandbox / "full", 7)
    before = os.lstat(sandbox / "full").st_mode

    def check(sb: Path, output: str) -> None:
        assert os.lstat(sb / "full").st_mode == before

    return Expect(
        ["preview", "hostile.yaml", "--step", "1", "-q", "d", "-o", OUT, "--output", "full"],
        contains=("give a regular file or a new path",),
        check=check,
    )


@case("special")
def preview_output_is_a_link(sandbox: Path) -> Expect:
    write(sandbox / "hostile.yaml", BASE)
    os.symlink(sandbox / "victim.txt", sandbox / "out.png")
    return Expect(
        ["preview", "hostile.yaml", "--step", "1", "-q", "d", "-o", OUT, "--output", "out.png"],
        contains=("symbolic link",),
    )


@case("special")
def preview_output_is_a_folder(sandbox: Path) -> Expect:
    write(sandbox / "hostile.yaml", BASE)
    (sandbox / "shots").mkdir()
    return Expect(
        ["preview", "hostile.yaml", "--step", "1", "-q", "d", "-o", OUT, "--output", "shots"],
        contains=("a folder",),
    )


@case("special")
def schema_output_is_dev_full(sandbox: Path) -> Expect:
    device(sandbox / "full", 7)
    return Expect(["schema", "-o", "full"], contains=("give a regular file or a new path",))


@case("special")
def train_out_is_a_fifo(sandbox: Path) -> Expect:
    fifo(sandbox / "m.safetensors")
    return Expect(
        ["model", "train", "--quiet", "--out", "m.safetensors"],
        contains=("named pipe",),
        absent=("epoch",),
        timeout=20,
    )


def _explainer_copy(sandbox: Path) -> Path:
    copy = sandbox / "copy"
    fifo(copy / "model.json")
    write(copy / "group1-shard1of1.bin", b"\0" * 16)
    return copy


@case("special")
def fetch_from_a_folder_with_a_fifo(sandbox: Path) -> Expect:
    _explainer_copy(sandbox)
    return Expect(
        ["model", "fetch", "cnn-explainer", "--from", "copy", "--quiet"],
        contains=("named pipe",),
        timeout=30,
    )


@case("special")
def fetch_from_a_file_url_with_a_fifo(sandbox: Path) -> Expect:
    copy = _explainer_copy(sandbox)
    return Expect(
        ["model", "fetch", "cnn-explainer", "--from", copy.as_uri() + "/", "--quiet"],
        contains=("named pipe",),
        timeout=30,
    )


@case("special")
def train_data_holds_a_fifo(sandbox: Path) -> Expect:
    for cls in ("a", "b"):
        for i in range(2):
            png(write(sandbox / "data" / cls / f"{i}.png", b""), 64, 64)
    fifo(sandbox / "data" / "a" / "pipe.png")
    os.symlink("/dev/zero", sandbox / "data" / "b" / "zero.png")
    return Expect(
        ["model", "train", "--data", "data", "--epochs", "1", "--out", f"{OUT}/m.safetensors"],
        exit=(0,),
        timeout=90,
    )


# --- work bounded by what an author could mean -------------------------------


def _narrated(sandbox: Path, narration: str, header: str = "") -> list[str]:
    body = (
        f"title: Bounds\n{header}steps:\n  - type: title\n    text: T\n    narration: {narration}\n"
    )
    return validate(lesson_with(sandbox, body))


@case("bounds")
def placeholder_width_of_2e9(sandbox: Path) -> Expect:
    return Expect(_narrated(sandbox, "'{prediction:>2000000000}'"), contains=("too large",))


@case("bounds")
def placeholder_width_of_8e9(sandbox: Path) -> Expect:
    return Expect(_narrated(sandbox, "'{prediction:>8000000000}'"), contains=("too large",))


@case("bounds")
def placeholder_precision_huge(sandbox: Path) -> Expect:
    return Expect(_narrated(sandbox, "'{probability:.99999999999}'"), contains=("too large",))


@case("bounds")
def placeholder_width_of_5000_digits(sandbox: Path) -> Expect:
    return Expect(_narrated(sandbox, "'{prediction:>" + "9" * 5000 + "}'"), contains=("digits",))


@case("bounds")
def placeholder_nested(sandbox: Path) -> Expect:
    return Expect(
        _narrated(sandbox, "'{prediction:{probability}}'"), contains=("another placeholder",)
    )


@case("bounds")
def placeholder_attribute(sandbox: Path) -> Expect:
    return Expect(
        _narrated(sandbox, "'{prediction.__class__.__mro__}'"), contains=("unknown placeholder",)
    )


@case("bounds")
def narration_of_5000_characters(sandbox: Path) -> Expect:
    return Expect(_narrated(sandbox, "w" * 5000), contains=("at most 4000 characters",))


@case("bounds")
def narration_read_slowly_for_an_hour(sandbox: Path) -> Expect:
    words = " ".join(["word"] * 700)
    return Expect(
        _narrated(sandbox, words, header="words_per_minute: 60\n"),
        contains=("a step may take at most 10 minutes",),
    )


@case("bounds")
def lesson_narration_of_three_hours(sandbox: Path) -> Expect:
    words = " ".join(["word"] * 580)
    steps = "".join(f"  - type: title\n    text: T\n    narration: {words}\n" for _ in range(20))
    body = f"title: Long\nwords_per_minute: 60\nsteps:\n{steps}"
    return Expect(validate(lesson_with(sandbox, body)), contains=("at most 2 hours",))


@case("bounds")
def title_card_of_100000_characters(sandbox: Path) -> Expect:
    body = f"title: Long\nsteps:\n  - type: title\n    text: {'x' * 100_000}\n"
    return Expect(validate(lesson_with(sandbox, body)), contains=("at most 200 characters",))


@case("bounds")
def lesson_of_3900_steps(sandbox: Path) -> Expect:
    steps = "".join("  - type: title\n    text: T\n" for _ in range(3900))
    body = f"title: Long\nsteps:\n{steps}"
    return Expect(validate(lesson_with(sandbox, body)), contains=("at most 300 steps",), timeout=30)


@case("bounds")
def nesting_a_thousand_levels(sandbox: Path) -> Expect:
    body = "title: Deep\nsteps: " + "[" * 1000 + "]" * 1000 + "\n"
    return Expect(validate(lesson_with(sandbox, body)), contains=("nest",))


@case("bounds")
def billion_laughs(sandbox: Path) -> Expect:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    body = "\n".join(lines) + "\ntitle: x\nsteps: *a9\n"
    return Expect(validate(lesson_with(sandbox, body)), contains=("values",), timeout=30)


@case("bounds")
def image_of_one_by_a_million(sandbox: Path) -> Expect:
    png(sandbox / "tall.png", 1, 1_000_000)
    lesson = lesson_with(sandbox, WITH_MODEL.format(header="image: tall.png\n"))
    return Expect(validate(lesson), contains=("1x1000000", "differ at most 16 times"))


@case("bounds")
def classify_an_image_of_a_million_by_one(sandbox: Path) -> Expect:
    png(sandbox / "wide.png", 1_000_000, 1)
    return Expect(["classify", "wide.png"], contains=("differ at most 16 times",))


@case("bounds")
def render_an_image_of_one_by_a_million(sandbox: Path) -> Expect:
    png(sandbox / "tall.png", 1, 1_000_000)
    lesson = lesson_with(sandbox, WITH_MODEL.format(header="image: tall.png\n"))
    return Expect(render(lesson), contains=("differ at most 16 times",))


@case("bounds")
def train_on_an_image_of_a_million_by_one(sandbox: Path) -> Expect:
    for cls in ("a", "b"):
        png(write(sandbox / "data" / cls / "0.png", b""), 64, 64)
    png(sandbox / "data" / "a" / "wide.png", 1_000_000, 1)
    return Expect(
        ["model", "train", "--data", "data", "--epochs", "1", "--out", f"{OUT}/m.safetensors"],
        contains=("differ at most 16 times",),
        timeout=60,
    )


@case("bounds")
def image_header_claims_fifty_thousand_squared(sandbox: Path) -> Expect:
    png_header_only(sandbox / "bomb.png", 50_000, 50_000)
    lesson = lesson_with(sandbox, WITH_MODEL.format(header="image: bomb.png\n"))
    return Expect(validate(lesson), contains=("pixels",))


@case("bounds")
def generated_training_set_of_a_trillion(sandbox: Path) -> Expect:
    return Expect(
        ["model", "train", "--train-count", "1000000000000", "--out", f"{OUT}/m.safetensors"],
        contains=("expected at most",),
    )


# --- values checked where they enter -----------------------------------------


def _step_value(sandbox: Path, field_line: str, step: str = "convolution") -> list[str]:
    body = f"title: Values\nsteps:\n  - type: {step}\n    {field_line}\n"
    return validate(lesson_with(sandbox, body))


@case("values")
def hex_integer_of_5000_digits(sandbox: Path) -> Expect:
    return Expect(_step_value(sandbox, "neuron: 0x" + "f" * 5000), contains=("far too large",))


@case("values")
def base_60_integer_of_3000_places(sandbox: Path) -> Expect:
    return Expect(
        _step_value(sandbox, "neuron: 1:" + ":".join(["59"] * 3000)), contains=("far too large",)
    )


@case("values")
def octal_integer_of_9000_digits(sandbox: Path) -> Expect:
    return Expect(_step_value(sandbox, "neuron: 0" + "7" * 9000), contains=("far too large",))


@case("values")
def decimal_integer_of_5000_digits(sandbox: Path) -> Expect:
    return Expect(_step_value(sandbox, "neuron: " + "9" * 5000), contains=("cannot read",))


@case("values")
def huge_integer_as_a_title(sandbox: Path) -> Expect:
    body = "title: 0x" + "f" * 5000 + "\nsteps:\n  - type: title\n    text: T\n"
    return Expect(validate(lesson_with(sandbox, body)), contains=("far too large",))


@case("values")
def timestamp_that_is_not_a_date(sandbox: Path) -> Expect:
    body = "title: !!timestamp not-a-date\nsteps:\n  - type: title\n    text: T\n"
    return Expect(validate(lesson_with(sandbox, body)), contains=("lesson.yaml:1:8",))


@case("values")
def bool_that_is_maybe(sandbox: Path) -> Expect:
    return Expect(
        _step_value(sandbox, "allow_invalid: !!bool maybe", "hyperparameters"),
        contains=("cannot read this value as bool",),
    )


@case("values")
def int_tag_on_letters(sandbox: Path) -> Expect:
    return Expect(_step_value(sandbox, "neuron: !!int abc"), contains=("cannot read",))


@case("values")
def float_tag_on_letters(sandbox: Path) -> Expect:
    return Expect(_step_value(sandbox, "sweep_seconds: !!float abc"), contains=("cannot read",))


@case("values")
def float_infinity(sandbox: Path) -> Expect:
    return Expect(
        _step_value(sandbox, "sweep_seconds: .inf"), contains=("from 1.0 to 30.0, got inf",)
    )


@case("values")
def float_nan(sandbox: Path) -> Expect:
    return Expect(
        _step_value(sandbox, "sweep_seconds: .nan"), contains=("from 1.0 to 30.0, got nan",)
    )


@case("values")
def float_beyond_double(sandbox: Path) -> Expect:
    return Expect(_step_value(sandbox, "sweep_seconds: 1.0e+999"), contains=("got inf",))


@case("values")
def matrix_entry_of_infinity(sandbox: Path) -> Expect:
    body = (
        "title: Values\nsteps:\n  - type: custom_convolution\n"
        "    input: [[1, 2, 3], [4, 5, 6], [7, 8, 9]]\n    kernel: [[-.inf]]\n"
    )
    return Expect(validate(lesson_with(sandbox, body)), contains=("finite number within",))


@case("values")
def lone_surrogate_in_narration(sandbox: Path) -> Expect:
    return Expect(
        _step_value(sandbox, 'narration: "a \\ud800 b"', "title"), contains=("lone surrogate",)
    )


@case("values")
def nul_in_a_title(sandbox: Path) -> Expect:
    body = 'title: "a\\0b"\nsteps:\n  - type: title\n    text: T\n'
    return Expect(validate(lesson_with(sandbox, body)), contains=("NUL",))


@case("values")
def terminal_escape_in_a_key(sandbox: Path) -> Expect:
    body = 'title: x\n"\\e[2J\\e[31mevil": 1\nsteps:\n  - type: title\n    text: T\n'
    return Expect(validate(lesson_with(sandbox, body)), contains=("control character",))


@case("values")
def c1_control_in_a_key(sandbox: Path) -> Expect:
    body = 'title: x\nsteps:\n  - type: title\n    text: T\n    "\\x9b31m": 1\n'
    return Expect(validate(lesson_with(sandbox, body)), contains=("control character",))


@case("values")
def bidi_override_in_a_key(sandbox: Path) -> Expect:
    body = "title: x\nsteps:\n  - type: title\n    text: T\n    \u202eevil: 1\n"
    return Expect(validate(lesson_with(sandbox, body)), contains=("invisible character (U+202E)",))


@case("values")
def terminal_escape_in_an_unknown_step_type(sandbox: Path) -> Expect:
    body = 'title: x\nsteps:\n  - type: "conv\\e]0;owned\\a"\n'
    return Expect(validate(lesson_with(sandbox, body)), contains=("control character",))


@case("values")
def escape_in_the_image_option(sandbox: Path) -> Expect:
    lesson = lesson_with(sandbox, WITH_MODEL.format(header=""))
    return Expect(validate(lesson, "--image", "\x1b[2Jx.png"), contains=("--image",))


@case("values")
def undecodable_bytes_in_the_image_option(sandbox: Path) -> Expect:
    lesson = lesson_with(sandbox, WITH_MODEL.format(header=""))
    return Expect(validate(lesson, "--image", os.fsdecode(b"\xff\xfe.png")), contains=("--image",))


@case("values")
def weights_holding_nan(sandbox: Path) -> Expect:
    weights_with(sandbox / "nan.safetensors", float("nan"))
    lesson = lesson_with(sandbox, WITH_MODEL.format(header="model: ./nan.safetensors\n"))
    return Expect(validate(lesson), contains=("not a finite number",))


@case("values")
def classify_with_infinite_weights(sandbox: Path) -> Expect:
    weights_with(sandbox / "inf.safetensors", float("inf"))
    png(sandbox / "i.png", 64, 64)
    return Expect(
        ["classify", "i.png", "--model", "./inf.safetensors"],
        contains=("not a finite number",),
        absent=("nan",),
    )


@case("values")
def class_name_with_a_control_character(sandbox: Path) -> Expect:
    model_with_classes(sandbox / "m.safetensors", ["a\u0007"] + [f"c{i}" for i in range(9)])
    lesson = lesson_with(sandbox, WITH_MODEL.format(header="model: ./m.safetensors\n"))
    return Expect(validate(lesson), contains=("control or unprintable",))


@case("values")
def class_name_with_a_lone_surrogate(sandbox: Path) -> Expect:
    names = json.dumps([f"c{i}" for i in range(9)])[1:-1]
    model_with_classes(sandbox / "m.safetensors", '["\\udc80", ' + names + "]")
    lesson = lesson_with(sandbox, WITH_MODEL.format(header="model: ./m.safetensors\n"))
    return Expect(validate(lesson), contains=("class 0",))


@case("values")
def class_names_repeat(sandbox: Path) -> Expect:
    model_with_classes(sandbox / "m.safetensors", ["same"] * 10)
    png(sandbox / "i.png", 64, 64)
    return Expect(["classify", "i.png", "--model", "./m.safetensors"], contains=("repeat",))


@case("values")
def class_names_are_numbers(sandbox: Path) -> Expect:
    model_with_classes(sandbox / "m.safetensors", list(range(10)))
    lesson = lesson_with(sandbox, WITH_MODEL.format(header="model: ./m.safetensors\n"))
    return Expect(validate(lesson), contains=("not text",))


@case("values")
def class_folder_with_undecodable_name(sandbox: Path) -> Expect:
    for cls in (os.fsdecode(b"\xff\xfe"), "b"):
        png(write(sandbox / "data" / cls / "0.png", b""), 64, 64)
    return Expect(
        ["model", "train", "--data", "data", "--epochs", "1", "--out", f"{OUT}/m.safetensors"],
        contains=("class folders",),
        absent=("epoch",),
    )


@case("values")
def seed_beyond_64_bits(sandbox: Path) -> Expect:
    return Expect(
        ["model", "train", "--seed", str(2**64), "--out", f"{OUT}/m.safetensors"],
        contains=("expected at most",),
    )


@case("values")
def seed_of_5000_digits(sandbox: Path) -> Expect:
    return Expect(
        ["model", "train", "--seed", "1" + "0" * 5000, "--out", f"{OUT}/m.safetensors"],
        contains=("expected a whole number",),
    )


@case("values")
def python_object_tag(sandbox: Path) -> Expect:
    body = 'title: !!python/object/apply:os.system ["touch pwned"]\nsteps: []\n'

    def check(sb: Path, output: str) -> None:
        assert not (sb / "pwned").exists()

    return Expect(validate(lesson_with(sandbox, body)), contains=("not allowed",), check=check)


@case("values")
def binary_tag(sandbox: Path) -> Expect:
    body = "title: !!binary aGVsbG8=\nsteps:\n  - type: title\n    text: T\n"
    return Expect(validate(lesson_with(sandbox, body)), contains=("not allowed",))


# --- messages that say what and where ----------------------------------------


@case("messages")
def bad_byte_on_line_5(sandbox: Path) -> Expect:
    body = b"title: x\nsteps:\n  - type: title\n    text: T\n    narration: caf\xe9\n"
    write(sandbox / "lesson.yaml", body)
    return Expect(validate("lesson.yaml"), contains=("lesson.yaml:5:19", "not UTF-8"))


@case("messages")
def control_byte_on_line_3(sandbox: Path) -> Expect:
    body = "title: x\nsteps:\n  - type: title\x07\n"
    return Expect(validate(lesson_with(sandbox, body)), contains=("lesson.yaml:3:16", "U+0007"))


@case("messages")
def merge_key(sandbox: Path) -> Expect:
    body = "base: &base\n  type: title\n  text: T\ntitle: x\nsteps:\n  - <<: *base\n    title: Hi\n"
    return Expect(
        validate(lesson_with(sandbox, body)), contains=("merge keys",), absent=("missing 'type'",)
    )


@case("messages")
def key_with_a_line_break_cannot_fake_an_error_line(sandbox: Path) -> Expect:
    body = (
        'title: x\nsteps:\n  - type: title\n    text: T\n    "a\\nlesson.yaml:1:1: ok\\u2028b": 1\n'
    )

    def one_line(sandbox: Path, output: str) -> None:
        errors = [line for line in output.splitlines() if line.startswith("lesson.yaml:")]
        assert len(errors) == 1 and "a\\nlesson.yaml" in errors[0], output

    return Expect(validate(lesson_with(sandbox, body)), contains=("1 error",), check=one_line)


@case("special")
def postscript_named_as_a_png_is_not_run(sandbox: Path) -> Expect:
    # Pillow reads EPS through Ghostscript, an outside program: never for an input.
    write(sandbox / "eps.png", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\nshowpage\n")
    lesson = lesson_with(sandbox, WITH_MODEL.format(header="image: eps.png\n"))
    return Expect(validate(lesson), contains=("eps.png", "not an image in a format read here"))


@case("values")
def previous_manifest_nested_too_deeply(sandbox: Path) -> Expect:
    write(sandbox / "hostile.yaml", BASE)
    write(sandbox / OUT / "hostile" / "manifest.json", "[" * 200_000 + "]" * 200_000)
    return Expect(render("hostile.yaml"), exit=(0,), timeout=120)


@case("messages")
def fifo_image_is_named_as_a_fifo(sandbox: Path) -> Expect:
    fifo(sandbox / "pipe.png")
    return Expect(
        ["classify", "pipe.png"], contains=("named pipe",), absent=("no such",), timeout=20
    )


@case("messages")
def dev_zero_image_is_named_as_a_device(sandbox: Path) -> Expect:
    os.symlink("/dev/zero", sandbox / "zero.png")
    return Expect(
        ["classify", "zero.png"], contains=("character device",), absent=("no such",), timeout=20
    )


@case("messages")
def title_with_blank_lines_keeps_chapters_valid(sandbox: Path) -> Expect:
    body = (
        "title: x\nsteps:\n  - type: title\n    text: T\n"
        '    title: "First\\n\\n\\nsecond --> third"\n'
        "  - type: title\n    text: U\n"
    )
    lesson_with(sandbox, body, "chapters.yaml")

    def check(sb: Path, output: str) -> None:
        import webvtt

        chapters = list(webvtt.read(str(sb / OUT / "chapters" / "chapters.vtt")))
        assert len(chapters) == 2, [c.text for c in chapters]
        assert chapters[0].text == "First second → third"

    return Expect(render("chapters.yaml"), exit=(0,), timeout=120, check=check)


@case("messages")
def iframe_src_is_url_encoded(sandbox: Path) -> Expect:
    write(sandbox / "über alles.yaml", BASE)
    return Expect(
        ["render", "über alles.yaml", "-q", "d", "-o", OUT],
        exit=(0,),
        contains=('src="%C3%BCber-alles/index.html"',),
        timeout=120,
    )


@case("messages")
def duplicate_key_is_located(sandbox: Path) -> Expect:
    body = "title: x\ntitle: y\nsteps:\n  - type: title\n    text: T\n"
    return Expect(validate(lesson_with(sandbox, body)), contains=("lesson.yaml:2:1", "duplicate"))


def _fail(message: str) -> bool:
    raise AssertionError(message)


# --- found by a second adversarial review ---------------------------------------


@case("values")
def narration_with_a_lone_brace(sandbox: Path) -> Expect:
    body = 'title: x\nsteps:\n  - type: title\n    text: T\n    narration: "costs } {5"\n'
    return Expect(validate(lesson_with(sandbox, body)), contains=("lesson.yaml:5", "narration"))


@case("names")
def lesson_folder_of_the_authors_without_a_manifest(sandbox: Path) -> Expect:
    write(sandbox / "hostile.yaml", BASE)
    write(sandbox / OUT / "hostile" / "notes.txt", "my notes")

    def kept(sandbox: Path, output: str) -> None:
        assert (sandbox / OUT / "hostile" / "notes.txt").read_text() == "my notes"
        assert (sandbox / OUT / "hostile" / "hostile.mp4").is_file()

    return Expect(render("hostile.yaml"), exit=(0,), timeout=120, check=kept)


@case("names")
def authors_folder_named_like_a_file_of_the_render(sandbox: Path) -> Expect:
    write(sandbox / "hostile.yaml", BASE)
    write(sandbox / OUT / "hostile" / "manifest.json", "{}")
    write(sandbox / OUT / "hostile" / "poster.png" / "note.txt", "mine")

    def kept(sandbox: Path, output: str) -> None:
        assert (sandbox / OUT / "hostile" / "poster.png" / "note.txt").read_text() == "mine"

    return Expect(render("hostile.yaml"), contains=("poster.png", "move it"), check=kept)


@case("names")
def preview_output_inside_a_file(sandbox: Path) -> Expect:
    write(sandbox / "hostile.yaml", BASE)
    args = ["preview", "hostile.yaml", "--step", "1", "-q", "d", "-o", OUT]
    return Expect([*args, "--output", "victim.txt/x.png"], contains=("inside a file",), timeout=90)


@case("values")
def weights_whose_shapes_are_floats(sandbox: Path) -> Expect:
    data = WEIGHTS.read_bytes()
    header_len = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + header_len])
    for name, entry in header.items():
        if name != "__metadata__":
            entry["shape"] = [float(size) for size in entry["shape"]]
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    write(
        sandbox / "m" / "float.safetensors",
        len(text).to_bytes(8, "little") + text + data[8 + header_len :],
    )
    write(sandbox / "m" / "float.json", CARD.read_text())
    png(sandbox / "i.png", 64, 64)
    return Expect(
        ["classify", "i.png", "--model", "m/float.safetensors"], contains=("float.safetensors",)
    )


@case("values")
def card_accuracy_that_is_not_a_number(sandbox: Path) -> Expect:
    write(sandbox / "m" / "a.safetensors", WEIGHTS.read_bytes())
    write(
        sandbox / "m" / "a.json", json.dumps({**json.loads(CARD.read_text()), "accuracy": "high"})
    )
    return Expect(["model", "info", "--model", "m/a.safetensors"], contains=("'accuracy'",))


@case("bounds")
def base_sixty_number_of_300000_places(sandbox: Path) -> Expect:
    body = "title: x\nsteps:\n  - type: title\n    text: 1" + ":59" * 300_000 + "\n"
    return Expect(
        validate(lesson_with(sandbox, body)), contains=("more than 100 characters",), timeout=30
    )


@case("bounds")
def course_of_four_flow_lists_of_a_megabyte(sandbox: Path) -> Expect:
    for i in range(4):
        write(sandbox / f"l{i}.yaml", "title: x\nsteps: [" + "a," * 450_000 + "a]\n")
    write(sandbox / "course.yaml", "title: C\nlessons: [l0.yaml, l1.yaml, l2.yaml, l3.yaml]\n")
    return Expect(validate("course.yaml"), contains=("more than 20,000 values",), timeout=40)


@case("bounds")
def sixteen_bit_image_of_forty_megapixels(sandbox: Path) -> Expect:
    side = 6324
    ramp = (np.indices((side, side)).sum(0) % 65536).astype(np.uint16)
    Image.fromarray(ramp).save(sandbox / "g16.png")
    return Expect(["classify", "g16.png"], exit=(0,), timeout=60)


@case("bounds")
def transparent_image_of_forty_megapixels_in_a_render(sandbox: Path) -> Expect:
    side = 6324
    rgba = np.zeros((side, side, 4), np.uint8)
    rgba[..., 0] = np.arange(side) % 256
    rgba[..., 3] = 128
    Image.fromarray(rgba, "RGBA").save(sandbox / "rgba.png")
    body = "title: Big\nimage: rgba.png\nsteps:\n  - type: input\n"
    return Expect(render(lesson_with(sandbox, body)), exit=(0,), timeout=180)


@case("bounds")
def image_file_of_twenty_megabytes_renders(sandbox: Path) -> Expect:
    noise = np.random.default_rng(0).integers(0, 256, (2700, 2700, 3), dtype=np.uint8)
    Image.fromarray(noise).save(sandbox / "noise.png", compress_level=0)
    assert (sandbox / "noise.png").stat().st_size > 20_000_000
    body = "title: Noise\nimage: noise.png\nsteps:\n  - type: classify\n"
    return Expect(render(lesson_with(sandbox, body)), exit=(0,), timeout=180)


@case("messages")
def sample_name_too_long_for_the_file_system(sandbox: Path) -> Expect:
    body = f"title: x\nimage: {'a' * 300}\nsteps:\n  - type: classify\n"
    return Expect(validate(lesson_with(sandbox, body)), contains=("lesson.yaml:2:8", "no sample"))


@case("messages")
def escapes_in_a_model_path_shown_by_model_info(sandbox: Path) -> Expect:
    name = "m/\x1b[31mred\x1b]0;title\x07.safetensors"
    write(sandbox / name, WEIGHTS.read_bytes())
    write(sandbox / name.replace(".safetensors", ".json"), CARD.read_text())
    return Expect(["model", "info", "--model", name], exit=(0,), contains=("\\x1b[31mred",))


@case("messages")
def escapes_in_an_unknown_argument(sandbox: Path) -> Expect:
    return Expect(["validate", "x.yaml", "--\x1b]0;owned\x07"], contains=("unrecognized",))


@case("messages")
def line_break_in_an_image_path_is_one_error_line(sandbox: Path) -> Expect:
    def one_line(sandbox: Path, output: str) -> None:
        assert [line.startswith("error:") for line in output.splitlines()] == [True], output

    return Expect(
        ["classify", "nope\nerror: forged.png"], contains=("\\nerror: forged",), check=one_line
    )


# --- found by a third adversarial review ------------------------------------------


@case("names")
def another_lesson_whose_name_gives_the_same_folder(sandbox: Path) -> Expect:
    write(sandbox / "a-b.yaml", BASE)
    # What rendering "a b.yaml" left: its manifest names another source file.
    write(sandbox / OUT / "a-b" / "manifest.json", json.dumps({"source_name": "a b"}))
    write(sandbox / OUT / "a-b" / "a-b.mp4", "the other lesson's video")

    def kept(sandbox: Path, output: str) -> None:
        assert (sandbox / OUT / "a-b" / "a-b.mp4").read_text() == "the other lesson's video"

    return Expect(render("a-b.yaml"), contains=("same folder name",), check=kept, timeout=120)


@case("names")
def authors_file_named_like_a_file_of_the_render(sandbox: Path) -> Expect:
    write(sandbox / "hostile.yaml", BASE)
    write(sandbox / OUT / "hostile" / "index.html", "MY PAGE")

    def kept(sandbox: Path, output: str) -> None:
        assert (sandbox / OUT / "hostile" / "index.html").read_text() == "MY PAGE"

    return Expect(
        render("hostile.yaml"), contains=("index.html", "move it"), check=kept, timeout=120
    )


@case("names")
def authors_empty_folder_named_like_a_file_of_the_render(sandbox: Path) -> Expect:
    write(sandbox / "hostile.yaml", BASE)
    write(sandbox / OUT / "hostile" / "manifest.json", "{}")
    (sandbox / OUT / "hostile" / "poster.png").mkdir()
    return Expect(render("hostile.yaml"), contains=("poster.png", "move it"), timeout=120)


@case("names")
def authors_files_that_look_like_temporary_names_are_kept(sandbox: Path) -> Expect:
    write(sandbox / "hostile.yaml", BASE)
    mine = [
        f"{OUT}/.notes.1234567.part",
        f"{OUT}/.render-1234567-backup/a",
        f"{OUT}/hostile/cafe.2.job.notes",
        f"{OUT}/hostile/.draft.1234567.part.txt",
        f"{OUT}/hostile/.render-1-mine/x",
        f"{OUT}/hostile/sub/.y.1.part",
        f"{OUT}/.x.99999999999999999999999.part",
        f"{OUT}/.cache/jobs/ab.99999999999999999999.job.json",
    ]
    for rel in mine:
        write(sandbox / rel, "mine")

    def kept(sandbox: Path, output: str) -> None:
        for rel in mine:
            assert (sandbox / rel).read_text() == "mine", rel

    return Expect(render("hostile.yaml"), exit=(0,), check=kept, timeout=120)


@case("names")
def output_folder_with_a_quote_and_a_line_break(sandbox: Path) -> Expect:
    write(sandbox / "hostile.yaml", BASE + "  - type: title\n    text: Two\n")
    out = f"{OUT}/Bob's\ncourse"

    def rendered(sandbox: Path, output: str) -> None:
        video = sandbox / out / "hostile" / "hostile.mp4"
        manifest = json.loads((video.parent / "manifest.json").read_text())
        assert manifest["frames"] > 0 and len(manifest["steps"]) == 2

    args = ["render", "hostile.yaml", "-q", "d", "-o", out, "--quiet"]
    return Expect(args, exit=(0,), check=rendered, timeout=120)


@case("names")
def schema_output_ending_in_a_slash(sandbox: Path) -> Expect:
    def no_file(sandbox: Path, output: str) -> None:
        assert not (sandbox / OUT / "new").exists()

    return Expect(["schema", "-o", f"{OUT}/new/"], contains=("names a folder",), check=no_file)


@case("names")
def schema_output_in_a_missing_folder_names_the_file(sandbox: Path) -> Expect:
    return Expect(
        ["schema", "-o", f"{OUT}/nodir/x.json"], contains=("nodir/x.json",), absent=(".part",)
    )


def weights_rewritten(path: Path, edit: Callable[[dict], None], tail: bytes = b"") -> Path:
    """The default weights with their header changed by ``edit`` (and ``tail`` after the
    tensors), beside the default card."""
    data = WEIGHTS.read_bytes()
    header_len = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + header_len])
    edit(header)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    write(path, len(text).to_bytes(8, "little") + text + data[8 + header_len :] + tail)
    write(path.with_suffix(".json"), CARD.read_text())
    return path


def _classify_with(sandbox: Path, weights: Path, *contains: str) -> Expect:
    png(sandbox / "i.png", 64, 64)
    return Expect(
        ["classify", "i.png", "--model", str(weights.relative_to(sandbox))], contains=contains
    )


@case("values")
def weights_so_large_that_the_logits_overflow(sandbox: Path) -> Expect:
    data = bytearray(WEIGHTS.read_bytes())
    header_len = int.from_bytes(data[:8], "little")
    start, stop = json.loads(data[8 : 8 + header_len])["output.weight"]["data_offsets"]
    base = 8 + header_len
    data[base + start : base + stop] = np.full((stop - start) // 4, 3e38, "<f4").tobytes()
    write(sandbox / "m" / "huge.safetensors", bytes(data))
    write(sandbox / "m" / "huge.json", CARD.read_text())
    return _classify_with(sandbox, sandbox / "m" / "huge.safetensors", "as large as 3e+38")


@case("values")
def lesson_on_weights_so_large_that_the_logits_overflow_is_invalid(sandbox: Path) -> Expect:
    weights_with(sandbox / "m" / "big.safetensors", 1e30)
    png(sandbox / "i.png", 64, 64)
    body = "title: x\nmodel: m/big.safetensors\nimage: i.png\nsteps:\n  - type: softmax\n"
    return Expect(validate(lesson_with(sandbox, body)), contains=("lesson.yaml:2:8", "as large as"))


@case("values")
def weights_header_with_an_entry_that_is_a_number(sandbox: Path) -> Expect:
    path = weights_rewritten(sandbox / "m" / "x.safetensors", lambda h: h.update(junk=5))
    return _classify_with(sandbox, path, "tensors that differ: junk")


@case("values")
def weights_header_with_a_tensor_without_shape(sandbox: Path) -> Expect:
    def edit(header: dict) -> None:
        header["extra"] = {"dtype": "F32", "shape": None, "data_offsets": [0, 4]}

    path = weights_rewritten(sandbox / "m" / "x.safetensors", edit)
    return _classify_with(sandbox, path, "tensors that differ: extra")


@case("values")
def weights_with_bytes_after_the_tensors(sandbox: Path) -> Expect:
    path = weights_rewritten(sandbox / "m" / "x.safetensors", lambda h: None, tail=b"\0" * 8)
    return _classify_with(sandbox, path, "8 bytes follow the last tensor")


@case("values")
def weights_whose_tensors_overlap(sandbox: Path) -> Expect:
    def edit(header: dict) -> None:
        header["conv_1_2.bias"]["data_offsets"] = header["conv_1_1.bias"]["data_offsets"]

    path = weights_rewritten(sandbox / "m" / "x.safetensors", edit)
    return _classify_with(sandbox, path, "overlap or leave gaps")


@case("values")
def weights_metadata_holding_a_number(sandbox: Path) -> Expect:
    path = weights_rewritten(
        sandbox / "m" / "x.safetensors", lambda h: h["__metadata__"].update(n=5)
    )
    return _classify_with(sandbox, path, "metadata is not a map of texts")


@case("values")
def class_names_in_hebrew_render(sandbox: Path) -> Expect:
    write(sandbox / "m" / "he.safetensors", WEIGHTS.read_bytes())
    card = json.loads(CARD.read_text())
    card["classes"][0] = "\u05d0"
    write(sandbox / "m" / "he.json", json.dumps(card))
    png(sandbox / "i.png", 64, 64)
    body = "title: x\nmodel: m/he.safetensors\nimage: i.png\nsteps:\n  - type: softmax\n"
    return Expect(render(lesson_with(sandbox, body)), exit=(0,), timeout=150)


@case("messages")
def card_fields_with_line_breaks_print_one_line_each(sandbox: Path) -> Expect:
    write(sandbox / "m" / "c.safetensors", WEIGHTS.read_bytes())
    card = json.loads(CARD.read_text())
    card["licence"] = "MIT\nsha256: 0000forged"
    card["source"] = {"repository": "r\nclasses: forged", "commit": "abc"}
    write(sandbox / "m" / "c.json", json.dumps(card))

    def one_each(sandbox: Path, output: str) -> None:
        assert not any(
            line.startswith(("sha256: 0000", "classes: forged")) for line in output.splitlines()
        )

    return Expect(
        ["model", "info", "--model", "m/c.safetensors"],
        exit=(0,),
        contains=("MIT\\nsha256",),
        check=one_each,
    )


@case("values")
def card_source_holding_a_nested_value(sandbox: Path) -> Expect:
    write(sandbox / "m" / "c.safetensors", WEIGHTS.read_bytes())
    card = {**json.loads(CARD.read_text()), "source": {"repository": "r", "commit": [1, {}]}}
    write(sandbox / "m" / "c.json", json.dumps(card))
    return Expect(["model", "info", "--model", "m/c.safetensors"], contains=("source.commit",))


@case("values")
def float_image_holding_nan(sandbox: Path) -> Expect:
    Image.fromarray(np.full((64, 64), np.nan, np.float32), "F").save(sandbox / "nan.tif")
    body = "title: x\nimage: nan.tif\nsteps:\n  - type: classify\n"
    return Expect(validate(lesson_with(sandbox, body)), contains=("lesson.yaml:2:8", "not numbers"))


@case("course")
def bare_model_name_is_read_from_the_lesson_folder_not_the_working_one(sandbox: Path) -> Expect:
    write(sandbox / "mm" / "model.safetensors", b"not read")
    write(sandbox / "lessons" / "l.yaml", "title: x\nmodel: mm\nsteps:\n  - type: classify\n")
    return Expect(validate("lessons/l.yaml"), contains=("l.yaml:2:8", "unknown model 'mm'"))


@case("values")
def class_names_that_look_the_same(sandbox: Path) -> Expect:
    classes = json.loads(CARD.read_text())["classes"]
    classes[0], classes[1] = "caf\u00e9", "cafe\u0301"
    model_with_classes(sandbox / "m" / "x.safetensors", classes)
    return Expect(["model", "info", "--model", "m/x.safetensors"], contains=("repeat",))


@case("course")
def course_entry_whose_yaml_names_a_secret_alias(sandbox: Path) -> Expect:
    write(sandbox / "c" / "one.yaml", BASE)
    write(sandbox / "c" / "secrets.yaml", f"password: *{SECRET}\n")
    write(sandbox / "c" / "tagged.yaml", f"!!int {SECRET}\n")
    write(
        sandbox / "c" / "course.yaml", "title: C\nlessons: [one.yaml, secrets.yaml, tagged.yaml]\n"
    )
    return Expect(validate("c/course.yaml"), contains=("secrets.yaml does not read as a lesson",))


@case("course")
def course_entry_behind_a_chain_of_1500_links(sandbox: Path) -> Expect:
    folder = sandbox / "chain"
    write(folder / "target.yaml", BASE)
    previous = "target.yaml"
    for i in range(1, 1501):
        os.symlink(previous, folder / f"s{i}.yaml")
        previous = f"s{i}.yaml"
    write(folder / "course.yaml", "title: C\nlessons: [s1500.yaml]\n")
    return Expect(validate("chain/course.yaml"), contains=("symbolic links",))


def _progressive_jpeg(path: Path, extra_scans: int = 0, markers: int = 0) -> Path:
    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), (120, 30, 200)).save(buffer, "JPEG", progressive=True)
    data = buffer.getvalue()
    last_scan = data[data.rindex(b"\xff\xda") : -2]
    data = (
        data[:2]
        + b"\xff\xef\x00\x02" * markers
        + data[2:-2]
        + last_scan * extra_scans
        + b"\xff\xd9"
    )
    return write(path, data)


@case("bounds")
def jpeg_of_ten_thousand_scans(sandbox: Path) -> Expect:
    _progressive_jpeg(sandbox / "scans.jpg", extra_scans=10_000)
    return Expect(["classify", "scans.jpg"], contains=("scans",), timeout=30)


@case("bounds")
def jpeg_of_a_million_empty_markers(sandbox: Path) -> Expect:
    _progressive_jpeg(sandbox / "markers.jpg", markers=1_000_000)
    body = "title: x\nimage: markers.jpg\nsteps:\n  - type: classify\n"
    return Expect(validate(lesson_with(sandbox, body)), contains=("markers",), timeout=30)


@case("bounds")
def png_of_a_million_empty_chunks(sandbox: Path) -> Expect:
    data = (sandbox / png(sandbox / "plain.png", 8, 8).name).read_bytes()
    chunk = struct.pack(">I", 0) + b"aaAa" + struct.pack(">I", zlib.crc32(b"aaAa"))
    write(sandbox / "chunks.png", data[:33] + chunk * 1_000_000 + data[33:])
    return Expect(["classify", "chunks.png"], contains=("chunks",), timeout=30)


@case("bounds")
def gif_with_a_comment_of_eight_megabytes(sandbox: Path) -> Expect:
    header = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    comment = b"\x21\xfe" + (b"\xff" + b"c" * 255) * (8 * 1024 * 1024 // 255) + b"\0"
    image = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    write(sandbox / "comment.gif", header + comment + image + b"\x3b")
    return Expect(["classify", "comment.gif"], contains=("comments",), timeout=30)


@case("bounds")
def narration_whose_placeholders_fill_to_hours(sandbox: Path) -> Expect:
    # One word when validated; 880 once filled in ("99,4 %": German spaces the sign).
    narration = "{percent}" * 440
    steps = f"  - type: title\n    text: T\n    narration: &n '{narration}'\n" + "".join(
        f"  - type: title\n    text: T{i}\n    narration: *n\n" for i in range(299)
    )
    body = f"title: x\nlanguage: de\nwords_per_minute: 100\nsteps:\n{steps}"
    return Expect(render(lesson_with(sandbox, body)), contains=("hours",), timeout=60)


@case("bounds")
def three_hundred_steps_that_each_compare_seven_slow_settings(sandbox: Path) -> Expect:
    setting = "{input_size: 16, kernel_size: 1, padding: 4}"
    step = (
        "  - type: hyperparameters\n    input_size: 16\n    kernel_size: 1\n    padding: 4\n"
        f"    seconds_per_setting: 30\n    compare: [{', '.join([setting] * 6)}]\n"
    )
    body = "title: x\nsteps:\n" + step * 300
    return Expect(validate(lesson_with(sandbox, body)), contains=("hours",), timeout=30)


@case("messages")
def image_whose_header_would_be_quoted_by_the_decoder(sandbox: Path) -> Expect:
    write(sandbox / "p.ppm", f"P6\n{SECRET}xyz 12\n".encode())
    body = "title: x\nimage: p.ppm\nsteps:\n  - type: classify\n"
    return Expect(validate(lesson_with(sandbox, body)), contains=("damaged",))


@case("special")
def fetch_from_a_fifo(sandbox: Path) -> Expect:
    fifo(sandbox / "ff")
    return Expect(
        ["model", "fetch", "cnn-explainer", "--from", "ff", "--quiet"],
        contains=("named pipe",),
        timeout=30,
    )
