"""Every hostile input of the corpus, run as a user would run it, under a memory cap.

Each command must exit 0 or 2 (as its case says), print no traceback and no
raw control character, finish within its time, quote no secret, and change
nothing in the sandbox outside the output folder ``media/out``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from corpus import CASES, OUT, SECRET, Case, bait
from harness import changes, run_capped, snapshot

GROUPS = ("names", "course", "special", "bounds", "values", "messages")


def test_the_corpus_covers_every_class_with_many_inputs() -> None:
    counts = Counter(c.group for c in CASES)
    assert set(counts) == set(GROUPS), counts
    assert all(n >= 7 for n in counts.values()), counts
    assert len(CASES) >= 60
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.group}-{c.name}" for c in CASES])
def test_hostile_input(case: Case, tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    bait(sandbox)
    expect = case.make(sandbox)
    before = snapshot(sandbox, skip=(sandbox / OUT,))
    run = run_capped(expect.args, cwd=sandbox, env=expect.env, timeout=expect.timeout)
    shown = f"{case.name}: exit {run.returncode} after {run.seconds:.1f} s\n{run.output[-3000:]}"
    assert run.returncode is not None, f"still running after {expect.timeout} s: {shown}"
    assert run.returncode in expect.exit, shown
    assert "Traceback" not in run.output, shown
    assert "\x1b" not in run.output and "\x9b" not in run.output and "\x07" not in run.output
    assert SECRET not in run.output, shown
    for fragment in expect.contains:
        assert fragment in run.output, f"{fragment!r} not in: {shown}"
    for fragment in expect.absent:
        assert fragment not in run.output, f"{fragment!r} in: {shown}"
    if run.returncode == 2:
        assert run.stderr.strip(), "a refusal says why"
    changed = changes(before, snapshot(sandbox, skip=(sandbox / OUT,)))
    assert not changed, f"changed outside {OUT}: {changed}\n{shown}"
    assert (sandbox / "media" / "index.html").read_text() == "<p>someone else's page</p>"
    assert (sandbox / "victim.txt").read_text() == "keep me"
    if expect.check is not None:
        expect.check(sandbox, run.output)
