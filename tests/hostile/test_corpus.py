"""Every hostile input of the corpus, run as a user would run it, under a memory cap.

Each command must exit 0 or 2 (as its case says), print no traceback and no
raw control character, finish within its time, quote no secret, and change
nothing in the sandbox outside the output folder ``media/out``.

The commands are independent, each in a sandbox of its own: the selected
cases run two at a time (the machines have two cores), and each test then
checks its own case's outcome.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from corpus import CASES, OUT, SECRET, Case, Expect, bait
from harness import Run, changes, run_capped, snapshot

GROUPS = ("names", "course", "special", "bounds", "values", "messages")
AT_ONCE = 2


def test_the_corpus_covers_every_class_with_many_inputs() -> None:
    counts = Counter(c.group for c in CASES)
    assert set(counts) == set(GROUPS), counts
    assert all(n >= 7 for n in counts.values()), counts
    assert len(CASES) >= 60
    assert len({c.name for c in CASES}) == len(CASES)


@dataclass
class Outcome:
    sandbox: Path
    expect: Expect
    run: Run
    changed: list[str]


def _run_case(case: Case, root: Path) -> Outcome:
    sandbox = root / case.name / "sandbox"
    sandbox.mkdir(parents=True)
    bait(sandbox)
    expect = case.make(sandbox)
    before = snapshot(sandbox, skip=(sandbox / OUT,))
    run = run_capped(expect.args, cwd=sandbox, env=expect.env, timeout=expect.timeout)
    changed = changes(before, snapshot(sandbox, skip=(sandbox / OUT,)))
    return Outcome(sandbox, expect, run, changed)


@pytest.fixture(scope="module")
def outcomes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Outcome]:
    """The outcome of every selected case, run ``AT_ONCE`` at a time."""
    selected = {
        item.callspec.params["case"].name
        for item in request.session.items
        if item.originalname == "test_hostile_input"
    }
    cases = [c for c in CASES if c.name in selected]
    root = tmp_path_factory.mktemp("corpus")
    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        done = pool.map(lambda c: _run_case(c, root), cases)
        return {case.name: outcome for case, outcome in zip(cases, done, strict=True)}


@pytest.mark.parametrize("case", CASES, ids=[f"{c.group}-{c.name}" for c in CASES])
def test_hostile_input(case: Case, outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes[case.name]
    sandbox, expect, run = outcome.sandbox, outcome.expect, outcome.run
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
    assert not outcome.changed, f"changed outside {OUT}: {outcome.changed}\n{shown}"
    assert (sandbox / "media" / "index.html").read_text() == "<p>someone else's page</p>"
    assert (sandbox / "victim.txt").read_text() == "keep me"
    if expect.check is not None:
        expect.check(sandbox, run.output)
