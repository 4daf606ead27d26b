"""Bad formulas end as errors at the right place, quickly; the repository's notes build clean."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO, BuildResult

from notes_render import katex
from notes_render.katex import MathRequest, MiniRacerEngine


def test_five_bad_formulas_point_at_line_and_column_and_build_fast(
    run_cli: Callable[..., BuildResult], tmp_path: Path
) -> None:
    src = tmp_path / "notes"
    src.mkdir()
    shutil.copy(FIXTURES / "bad_formulas.md", src / "bad.md")
    started = time.perf_counter()
    result = run_cli("--src", src, "--out", tmp_path / "out", "--strict", "--no-cache", out=tmp_path / "out")
    elapsed = time.perf_counter() - started
    assert result.code == 1
    reported = [re.sub(r"^.*bad\.md:", "", line) for line in result.stderr.splitlines() if "bad.md:" in line]
    # The end of the TeX, the unknown command, the \end, the reference, the formula's start
    # (KaTeX gives no position for too many expansions).
    assert [r.split(": ", 1)[0] for r in reported] == ["3:35", "7:7", "12:32", "14:40", "18:17"]
    assert reported[0].endswith("Unexpected end of input in a macro argument, expected '}'")
    assert reported[1].endswith("Undefined control sequence: \\undefinedmacro")
    assert reported[2].endswith("Mismatch: \\begin{matrix} matched by \\end{pmatrix}")
    assert reported[3].endswith("undefined label 'eq:nowhere' in \\eqref")
    assert "Too many expansions" in reported[4]
    assert elapsed < 5 * 0.5  # well under a second per bad formula, V8 start-up included


def test_deeply_nested_formula_is_an_error_not_a_crash(build_notes: Callable[..., BuildResult]) -> None:
    depth = 3000
    tex = "\\frac{" * depth + "x" + "}{y}" * depth
    started = time.perf_counter()
    result = build_notes({"n.md": f"Deep: ${tex}$ and fine: $z$.\n"}, "--strict", "--no-cache")
    assert time.perf_counter() - started < 5
    assert result.code == 1
    assert "n.md:1:8: formula nested too deeply for KaTeX" in result.stderr
    assert '<annotation encoding="application/x-tex">z</annotation>' in result.page("n.html")


def test_a_slow_formula_costs_one_time_limit_and_spares_the_others(
    katex_engine: MiniRacerEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Limits far below what the big formula needs (about 2 s), so it times out for real.
    monkeypatch.setattr(katex, "BATCH_TIME_BASE_S", 0.3)
    monkeypatch.setattr(katex, "FORMULA_TIME_LIMIT_S", 0.3)
    big = " + ".join(f"\\sqrt{{x_{{{i}}}^{{{i}}}}}" for i in range(6000))
    requests = [
        MathRequest("\\newcommand{\\vecv}{\\mathbf{v}}", False),
        MathRequest(big, True),
        *[MathRequest(f"\\vecv_{i}", False) for i in range(20)],
    ]
    started = time.perf_counter()
    results = katex_engine.render_batch(requests, {})
    elapsed = time.perf_counter() - started
    assert results[1].html is None and "longer than" in (results[1].error or "")
    assert all(r.html is not None for i, r in enumerate(results) if i != 1)
    assert '<mi mathvariant="bold">v</mi>' in (results[2].html or "")  # the definition was replayed
    assert elapsed < 1.8  # the batch, the slow formula alone, the rest: less than typesetting it once


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
    html = [r.html or "" for r in results]
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
        "from notes_render.katex import MiniRacerEngine, MathRequest, find_katex\n"
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
