"""Hypothesis writes lesson YAML with odd tags, huge numbers, odd Unicode and deep nesting.

``cnnlesson validate`` must answer every one with exit 0 or 2, no traceback,
no raw control character, within seconds and under a memory cap. Each example
runs in a forked child (the engine is imported once, in the parent), capped
with ``RLIMIT_AS`` a fixed amount above what the child starts with.
"""

from __future__ import annotations

import io
import json
import os
import resource
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scenes import cli
from scenes.steps import registry

HEADROOM = 1024 * 1024 * 1024  # bytes of address space a child may add
TIMEOUT = 20.0
CRASHED = 99

STEP_TYPES = registry.names()
KEYS = [
    "title", "steps", "type", "narration", "neuron", "layer", "channel", "positions",
    "lessons", "model", "image", "theme", "aspect", "voice", "text", "bullets", "kernel",
    "input", "filters", "compare", "stride", "padding", "class_name", "top", "poster",
    "words_per_minute", "sweep_seconds", "<<", "? complex", "",
]  # fmt: skip


def _vm_size() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def run_forked(argv: list[str]) -> tuple[int | None, str]:
    """``cnnlesson ARGV`` in a forked child under a memory cap; (exit status, output)."""
    with tempfile.TemporaryFile() as captured:
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = CRASHED
            try:
                limit = _vm_size() + HEADROOM
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
                stream = io.TextIOWrapper(os.fdopen(os.dup(captured.fileno()), "wb"), "utf-8")
                sys.stdout = sys.stderr = stream
                code = cli.main(argv)
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                os._exit(code)
        deadline = time.monotonic() + TIMEOUT
        status: int | None = None
        while time.monotonic() < deadline:
            done, raw = os.waitpid(pid, os.WNOHANG)
            if done:
                status = os.waitstatus_to_exitcode(raw)
                break
            time.sleep(0.01)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        captured.seek(0)
        return status, captured.read().decode("utf-8", "replace")


# --- YAML pieces -----------------------------------------------------------

huge_digits = st.integers(min_value=4000, max_value=9000)
scalars = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    huge_digits.map(lambda n: "9" * n),
    huge_digits.map(lambda n: "0x" + "f" * n),
    huge_digits.map(lambda n: "0" + "7" * n),
    st.integers(min_value=2, max_value=3000).map(lambda n: "1:" + ":".join(["59"] * n)),
    st.sampled_from([".inf", "-.inf", ".nan", "1.0e+999", "-0.0", "0b101", "1_000", "~", "null"]),
    st.sampled_from(["yes", "no", "on", "off", "2024-13-45", "2001-12-14t21:59:43.10-05:00"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=60).map(json.dumps),  # double-quoted: escapes, surrogates, NUL
    st.text(st.characters(codec="utf-8", exclude_characters="\n\r"), min_size=1, max_size=30).map(
        lambda t: json.dumps(t, ensure_ascii=False)
    ),
    st.sampled_from(STEP_TYPES),
    st.sampled_from(["conv_1_1", "relu_1_1", "max_pool_2", "output", "star_1", "default"]),
    st.sampled_from(
        ["'{prediction:>2000000000}'", "'{probability:.99999}'", "'{prediction:{x}}'", "'{'"]
    ),
)
tags = st.sampled_from(
    [
        "", "", "", "!!str ", "!!int ", "!!float ", "!!bool ", "!!null ", "!!timestamp ",
        "!!binary ", "!!python/object:os.system ", "!!python/name:os.system ", "!foo ",
        "!!merge ", "!!set ", "!!omap ", "!!pairs ", "!<tag:x> ",
    ]
)  # fmt: skip
# The title carries the anchor &a; a value may be the alias *a.
tagged = st.one_of(st.builds(lambda tag, value: f"{tag}{value}", tags, scalars), st.just("*a"))


def _mapping(items: list[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{json.dumps(k)}: {v}" if k else f"? {v}" for k, v in items) + "}"


nodes = st.recursive(
    tagged,
    lambda children: st.one_of(
        st.lists(children, max_size=5).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.lists(st.tuples(st.sampled_from(KEYS), children), max_size=5).map(_mapping),
    ),
    max_leaves=25,
)
deep = st.integers(min_value=40, max_value=3000).map(lambda n: "[" * n + "]" * n)


@st.composite
def lessons(draw: st.DrawFn) -> bytes:
    steps = draw(
        st.lists(
            st.lists(st.tuples(st.sampled_from(KEYS), st.one_of(nodes, tagged)), max_size=6).map(
                lambda items: _mapping([("type", draw(st.sampled_from(STEP_TYPES))), *items])
            ),
            max_size=4,
        )
    )
    value = st.one_of(nodes, nodes, nodes, deep)
    header = draw(st.lists(st.tuples(st.sampled_from(KEYS), value), max_size=4))
    title = "&a " + draw(st.one_of(st.text(max_size=40).map(json.dumps), scalars))
    body = _mapping([("title", title), *header, ("steps", "[" + ", ".join(steps) + "]")])
    text = draw(st.sampled_from([body] * 8 + [draw(nodes)]))
    raw = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(1, 12)) == 12:  # damage a few bytes
        for _ in range(draw(st.integers(1, 3))):
            at = draw(st.integers(0, max(0, len(raw) - 1)))
            raw = raw[:at] + bytes([draw(st.integers(0, 255)) ^ 0x80]) + raw[at + 1 :]
    return raw


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(document=lessons())
def test_validate_answers_every_generated_lesson_cleanly(document: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        path.write_bytes(document)
        status, output = run_forked(["validate", str(path)])
    assert status is not None, f"validate still ran after {TIMEOUT} s on {document[:300]!r}"
    assert status in (0, 2), (status, output[-2000:], document[:500])
    assert "Traceback" not in output, (output[-2000:], document[:500])
    assert "\x1b" not in output and "\x00" not in output, output[-500:]


def test_the_fork_runner_tells_a_defect_from_a_refusal(monkeypatch) -> None:
    """A crash inside the child is not passed off as a refusal (so the fuzz test can fail)."""
    status, output = run_forked(["validate", "/no/such/lesson.yaml"])
    assert status == 2 and "no such lesson file" in output

    def broken(*args: object, **kwargs: object) -> list[object]:
        raise RuntimeError("a defect")

    monkeypatch.setattr("scenes.lesson.load.load_lesson", broken)
    status, output = run_forked(["validate", "/no/such/lesson.yaml"])
    assert status == cli.INTERNAL_ERROR and "unexpected RuntimeError: a defect" in output
    assert "Traceback" not in output
