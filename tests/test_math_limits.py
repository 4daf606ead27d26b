"""Bad formulas end as errors at the right place, each by its own limit rather than by running
out of time; a slow formula costs one time limit; the repository's notes build clean.

No assertion here reads a clock: a time limit is checked by counting the V8 calls that ran
out of time, and the deadline a batch's parts share by a fake clock."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, REPO, BuildResult

from notes_render.typeset import katex
from notes_render.typeset.katex import MathRequest, MiniRacerEngine, TimeLimits, find_katex


def test_five_bad_formulas_point_at_line_and_column_each_by_its_own_limit(
    run_cli: Callable[..., BuildResult], tmp_path: Path
) -> None:
    src = tmp_path / "notes"
    src.mkdir()
    shutil.copy(FIXTURES / "bad_formulas.md", src / "bad.md")
    result = run_cli("--src", src, "--out", tmp_path / "out", "--strict", "--no-cache", out=tmp_path / "out")
    assert result.code == 1
    reported = [re.sub(r"^.*bad\.md:", "", line) for line in result.stderr.splitlines() if "bad.md:" in line]
    # The end of the TeX, the unknown command, the \end, the reference, the formula's start
    # (KaTeX gives no position for too many expansions).
    assert [r.split(": ", 1)[0] for r in reported] == ["3:35", "7:7", "12:32", "14:40", "18:17"]
    assert reported[0].endswith("Unexpected end of input in a macro argument, expected '}'")
    assert reported[1].endswith("Undefined control sequence: \\undefinedmacro")
    assert reported[2].endswith("Mismatch: \\begin{matrix} matched by \\end{pmatrix}")
    assert reported[3].endswith("undefined label 'eq:nowhere' in \\eqref")
    assert "Too many expansions" in reported[4]  # KaTeX's maxExpand stopped it, not the time limit
    assert "longer than" not in result.stderr


def test_deeply_nested_formula_is_an_error_not_a_crash(build_notes: Callable[..., BuildResult]) -> None:
    depth = 3000
    tex = "\\frac{" * depth + "x" + "}{y}" * depth
    result = build_notes({"n.md": f"Deep: ${tex}$ and fine: $z$.\n"}, "--strict", "--no-cache")
    assert result.code == 1
    assert "longer than" not in result.stderr  # V8's stack ended it, not the time limit
    assert "n.md:1:8: formula nested too deeply for KaTeX" in result.stderr
    assert '<annotation encoding="application/x-tex">z</annotation>' in result.page("n.html")


@pytest.fixture
def engine_with(request: pytest.FixtureRequest) -> Iterator[Callable[..., MiniRacerEngine]]:
    """Makes engines with limits or a clock of the test's own, and closes them afterwards."""
    made: list[MiniRacerEngine] = []

    def make(**options: Any) -> MiniRacerEngine:
        made.append(MiniRacerEngine(find_katex(None), **options))
        return made[-1]

    yield make
    for engine in made:
        engine.close()


def test_a_slow_formula_costs_one_time_limit_and_spares_the_others(
    engine_with: Callable[..., MiniRacerEngine],
) -> None:
    # Limits far below what the big formula needs (about 2 s), so it times out for real.
    engine = engine_with(limits=TimeLimits(formula_s=0.3, batch_base_s=0.3))
    big = " + ".join(f"\\sqrt{{x_{{{i}}}^{{{i}}}}}" for i in range(6000))
    requests = [
        MathRequest("\\newcommand{\\vecv}{\\mathbf{v}}", False),
        MathRequest(big, True),
        *[MathRequest(f"\\vecv_{i}", False) for i in range(20)],
    ]
    results = engine.render_batch(requests, {})
    assert (
        results[1].html is None and results[1].error == "formula took longer than 0.3 s to render; giving up"
    )
    assert all(r.html is not None for i, r in enumerate(results) if i != 1)
    assert b'<mi mathvariant="bold">v</mi>' in (results[2].html or b"")  # the definition was replayed
    # The batch, then the slow formula alone; never again for the twenty after it.
    assert engine.timeouts == 2


def test_the_parts_of_a_batch_share_one_deadline(engine_with: Callable[..., MiniRacerEngine]) -> None:
    # A clock that has run past the batch's limit by the time its second part starts: that
    # part gets no time, so its formulas are retried one by one, each with a limit of its own.
    now = iter([0.0, 0.0, 1e6])
    engine = engine_with(clock=lambda: next(now, 1e6))
    requests = [MathRequest(f"x_{{{i}}}", False) for i in range(2 * katex.PART_SIZE)]
    results = engine.render_batch(requests, {})
    assert engine.timeouts == 1  # the second part, given the 0.001 s left for its 500 formulas
    assert [r.error for r in results] == [None] * len(requests)
    assert f"<mi>x</mi><mn>{2 * katex.PART_SIZE - 1}</mn>".encode() in (results[-1].html or b"")


def test_repository_notes_build_strict_with_every_eqref_a_working_link(
    run_cli: Callable[..., BuildResult], tmp_path: Path
) -> None:
    result = run_cli(
        "--src", REPO / "notes", "--out", tmp_path / "out", "--strict", "--no-cache", out=tmp_path / "out"
    )
    assert result.code == 0, result.stderr
    for name in ("n0", "n1"):
        source = (REPO / "notes" / f"{name}.md").read_text(encoding="utf-8")
        page = result.page(f"{name}.html")
        labels = re.findall(r"\\label\{([^}]*)\}", source)
        ids = set(re.findall(r'id="([^"]+)"', page))
        assert set(labels) <= ids
        links = re.findall(r'<a class="eqref" href="#([^"]+)">\((\d+)\)</a>', page)
        assert len(links) == len(re.findall(r"\\eqref\{", source)) > 5
        number = {label: str(index + 1) for index, label in enumerate(labels)}
        for label, shown in links:
            assert number[label] == shown, label


def test_a_formula_that_typesets_a_nul_comes_back_whole_beside_the_others(
    katex_engine: MiniRacerEngine,
) -> None:
    # The engine hands formulas back separated by NULs; `\char0` typesets a NUL itself.
    tex = ["x", "a\\char0 b", "\\frac{", "y"]
    results = katex_engine.render_batch([MathRequest(t, False) for t in tex], {})
    html = [(r.html or b"").decode("utf-8") for r in results]
    assert "\0" in html[1] and html[1].count('class="katex"') == 1 and "<mi>b</mi>" in html[1]
    assert [message for message, _ in results[1].warnings] == [
        "No character metrics for '\x00' in style 'Main-Regular' and mode 'math'"
    ]
    assert results[2].html is None and (results[2].error or "").startswith("Unexpected end of input")
    assert "<mi>x</mi>" in html[0] and "<mi>y</mi>" in html[3]


def test_processes_that_still_hold_an_engine_exit() -> None:
    # Left to interpreter shutdown, mini-racer's teardown could wait forever on a thread that
    # was gone: most runs hung when a few such processes ended at once.
    script = (
        "from notes_render.typeset.katex import MiniRacerEngine, MathRequest, find_katex\n"
        "engine = MiniRacerEngine(find_katex(None))\n"
        "assert engine.render_batch([MathRequest('x', False)], {})[0].html\n"
    )
    for _ in range(2):
        running = [subprocess.Popen([sys.executable, "-c", script], cwd=REPO) for _ in range(4)]
        try:
            assert [process.wait(timeout=20) for process in running] == [0] * 4
        finally:
            for process in running:
                process.kill()
