"""The command line: options, exit codes, error reports with positions."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO, BuildResult


def test_strict_reports_every_bad_formula_with_its_position(build_notes: Callable[..., BuildResult]) -> None:
    result = build_notes({"errors.md": (FIXTURES / "errors.md").read_bytes()}, "--strict")
    assert result.code == 1
    lines = [
        line.split(": ", 1)[0].rsplit("/", 1)[-1] for line in result.stderr.splitlines() if ".md:" in line
    ]
    assert lines == ["errors.md:3:50", "errors.md:6:26", "errors.md:11:6", "errors.md:15:31"]
    assert "Undefined control sequence: \\undefinedmacro" in result.stderr
    # The excerpt and the caret point at the column.
    assert "    whose second line holds $\\undefinedmacro{x}$ here.\n" + " " * 29 + "^" in result.stderr


def test_without_strict_bad_formulas_are_reported_but_the_build_succeeds(
    build_notes: Callable[..., BuildResult],
) -> None:
    result = build_notes({"errors.md": (FIXTURES / "errors.md").read_bytes()})
    assert result.code == 0
    assert "errors.md:3:50:" in result.stderr
    page = result.page("errors.html")
    # The page shows KaTeX's red error text with the source TeX, and the good formulas.
    assert '<span class="katex-error" title="' in page and "\\frac{a}{b</span>" in page
    assert page.count('class="katex"') == 1


def test_missing_source_folder_is_a_usage_error(run_cli: Callable[..., BuildResult], tmp_path: Path) -> None:
    result = run_cli("--src", tmp_path / "nope", "--out", tmp_path / "out")
    assert result.code == 2
    assert "does not exist" in result.stderr


def test_output_equal_to_or_inside_source_is_refused(
    run_cli: Callable[..., BuildResult], tmp_path: Path
) -> None:
    src = tmp_path / "notes"
    src.mkdir()
    (src / "a.md").write_text("# A\n", encoding="utf-8")
    for out in (src, src / "site", tmp_path, REPO):
        result = run_cli("--src", src, "--out", out)
        assert result.code == 2, out
        assert "--out" in result.stderr
    assert sorted(p.name for p in src.iterdir()) == ["a.md"]


def test_unknown_option_is_a_usage_error(run_cli: Callable[..., BuildResult]) -> None:
    try:
        code = run_cli("--no-such-option").code
    except SystemExit as exc:  # argparse exits on its own
        code = int(exc.code or 0)
    assert code == 2


def test_help_documents_every_option() -> None:
    result = subprocess.run(
        [sys.executable, "build.py", "build", "--help"], cwd=REPO, capture_output=True, text=True, check=True
    )
    options = ("--src", "--out", "--strict", "--katex-dir", "--templates", "--cache-dir", "--no-cache")
    for option in (*options, "--jobs", "--quiet"):
        assert option in result.stdout, option


def test_help_imports_none_of_the_build_machinery() -> None:
    heavy = ["jinja2", "markdown_it", "pygments", "py_mini_racer", "watchfiles", "yaml"]
    probe = (
        "import sys\nfrom notes_render.cli import main\n"
        "for argv in (['--help'], ['build', '--help'], ['check', '--help'], ['serve', '--help']):\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        f"print([name for name in {heavy!r} if name in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.splitlines()[-1] == "[]"


def test_a_rebuild_with_nothing_changed_imports_none_of_the_build_machinery(tmp_path: Path) -> None:
    heavy = ["jinja2", "markdown_it", "pygments", "py_mini_racer", "yaml", "multiprocessing"]
    argv = [
        "--src",
        str(FIXTURES / "site-basic"),
        "--out",
        str(tmp_path / "out"),
        "--cache-dir",
        str(tmp_path / "c"),
    ]
    probe = (
        # What the build imports, not what the interpreter had (coverage loads multiprocessing).
        "import sys\nbefore = set(sys.modules)\nfrom notes_render.cli import main\n"
        f"code = main({argv!r})\n"
        f"print(code, [name for name in {heavy!r} if name in sys.modules and name not in before])"
    )
    outputs = [
        subprocess.run(
            [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True, timeout=60
        ).stdout.splitlines()[-1]
        for _ in range(2)
    ]
    assert outputs[0] != "0 []"  # the first build needed them: the probe sees what is loaded
    assert outputs[1] == "0 []"


def test_three_entry_points_build_the_same_site(tmp_path: Path) -> None:
    src = FIXTURES / "site-basic"
    script = Path(sys.executable).with_name("notes-render")
    commands = {
        "build.py": [sys.executable, "build.py"],
        "module": [sys.executable, "-m", "notes_render"],
        "script": [str(script)],
    }
    pages = {}
    for name, command in commands.items():
        out = tmp_path / name
        done = subprocess.run(
            [*command, "--src", str(src), "--out", str(out), "--strict"],
            cwd=REPO,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
        assert done.returncode == 0, done.stderr
        pages[name] = (out / "a.html").read_bytes()
    assert len(set(pages.values())) == 1


def test_missing_katex_says_to_run_npm_ci(build_notes: Callable[..., BuildResult], tmp_path: Path) -> None:
    result = build_notes({"a.md": "# A\n"}, "--katex-dir", str(tmp_path / "none"))
    assert result.code == 2
    assert "KaTeX not found" in result.stderr and "npm ci" in result.stderr


def test_a_build_whose_notes_cite_nothing_loads_no_bibtex_reader(tmp_path: Path) -> None:
    # A small site's start: the BibTeX reader (and pybtex behind it) is loaded only for a
    # note that cites; a build of notes that do proves the probe sees it.
    heavy = ["notes_render.passes.bibtex", "pybtex"]
    loaded = {}
    for name, src in (("plain", FIXTURES / "site-basic"), ("citing", FIXTURES / "citations")):
        argv = ["--src", str(src), "--out", str(tmp_path / name), "--no-cache", "-q"]
        probe = (
            "import sys\nfrom notes_render.cli import main\n"
            f"code = main({argv!r})\n"
            f"print([name for name in {heavy!r} if name in sys.modules])"
        )
        done = subprocess.run(
            [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True, timeout=120
        )
        loaded[name] = done.stdout.splitlines()[-1]
    assert loaded == {"plain": "[]", "citing": str(heavy)}


def _run_probe(tmp_path: Path, before_run: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the command line as build.py does (cli.run), after `before_run`, building a small
    site into tmp_path/out with the given options."""
    argv = ["build.py", "--src", str(FIXTURES / "site-basic"), "--out", str(tmp_path / "out"), *args]
    probe = f"import sys\n{before_run}\nsys.argv = {argv!r}\nfrom notes_render.cli import run\nrun()\n"
    buffered = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    return subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, env=buffered, capture_output=True, text=True, timeout=60
    )


def test_the_program_ends_with_its_exit_handlers_run_and_its_output_whole(tmp_path: Path) -> None:
    handler = tmp_path / "handler-ran"
    done = _run_probe(
        tmp_path,
        f"import atexit, pathlib\natexit.register(pathlib.Path({str(handler)!r}).write_text, 'yes')\n"
        "print('written before the build')",
        "--no-cache",
    )
    assert done.returncode == 0, done.stderr
    assert handler.read_text() == "yes"  # coverage saves a process's data this way
    # stdout is a pipe, so block-buffered: the line is there only if it was flushed at the end.
    assert done.stdout == "written before the build\n"
    assert done.stderr.startswith("built ") and done.stderr.endswith("pages rendered)\n")


def test_the_program_exit_code_is_the_builds(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "bad.md").write_text("# Bad\n\n$\\undefinedmacro$\n", encoding="utf-8")
    argv = ["build.py", "--src", str(src), "--out", str(tmp_path / "out"), "--strict", "--no-cache"]
    probe = f"import sys\nsys.argv = {argv!r}\nfrom notes_render.cli import run\nrun()\n"
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "bad.md:3:2: Undefined control sequence" in done.stderr


def test_the_program_waits_for_a_thread_still_working(tmp_path: Path) -> None:
    """A thread that is not a daemon still runs when the build is done: the process ends
    the way Python ends one, after it."""
    mark = tmp_path / "thread-done"
    thread = (
        "import threading, time, pathlib\n"
        f"finish = lambda: (time.sleep(0.5), pathlib.Path({str(mark)!r}).write_text('done'))\n"
        "threading.Thread(target=finish).start()"
    )
    done = _run_probe(tmp_path, thread, "--no-cache", "-q")
    assert done.returncode == 0, done.stderr
    assert mark.read_text() == "done"


def test_the_program_profiled_lets_the_profiler_write_its_figures(tmp_path: Path) -> None:
    figures = tmp_path / "build.prof"
    argv = ["--src", str(FIXTURES / "site-basic"), "--out", str(tmp_path / "out"), "--no-cache", "-q"]
    command = [sys.executable, "-m", "cProfile", "-o", str(figures), "build.py", *argv]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert figures.stat().st_size > 0


def test_the_program_ends_with_the_builds_code_when_it_has_no_output_streams(tmp_path: Path) -> None:
    """As under pythonw on Windows, or started with stdout and stderr closed."""
    done = _run_probe(tmp_path, "sys.stdout = sys.stderr = None", "--no-cache", "-q")
    assert done.returncode == 0


def test_a_monitoring_tool_counts_as_watching(monkeypatch: pytest.MonkeyPatch) -> None:
    """From Python 3.12 cProfile watches through sys.monitoring, not sys.setprofile."""
    from notes_render import cli

    class Monitoring:
        @staticmethod
        def get_tool(tool: int) -> str | None:
            return "cProfile" if tool == 2 else None

    monkeypatch.setattr(sys, "getprofile", lambda: None)  # as when no profiler nor coverage runs
    monkeypatch.setattr(sys, "gettrace", lambda: None)
    monkeypatch.delattr(sys, "monitoring", raising=False)
    assert not cli._watched()
    monkeypatch.setattr(sys, "monitoring", Monitoring, raising=False)
    assert cli._watched()
