"""Choosing a math dialect: pyproject.toml, --dialect, a note's front matter, and the cache.

The rules of each dialect are fixtures (tests/fixtures/math_dialects.txt, run by
test_math_syntax.py); these tests are about where the choice comes from.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import BuildResult, formulas

from notes_render.markdown.dialects import DIALECTS

KNOWN = "known dialects: pandoc, typora, kramdown, github, obsidian"
NOTE = "Text $$a_1$$ more.\n"


def _project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pyproject: str, note: str = NOTE) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "note.md").write_text(note, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # after run_cli's own chdir, so this pyproject.toml is read


def test_the_dialects_are_the_ones_the_readme_names() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Math dialects", 1)[1]
    header = next(line for line in section.split("\n") if line.startswith("| rule |"))
    assert [cell.strip(" `") for cell in header.strip("|").split("|")][1:-1] == list(DIALECTS)


def test_pyproject_selects_the_dialect_and_the_command_line_overrides_it(
    run_cli: Callable[..., BuildResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(tmp_path, monkeypatch, '[tool.notes-render]\ndialect = "kramdown"\n')
    result = run_cli("--src", "notes", "--out", "site", "--no-cache", out=tmp_path / "site")
    assert result.code == 0, result.stderr
    assert formulas(result.page("note.html")) == [("inline", "a_1")]
    result = run_cli(
        "--src", "notes", "--out", "site", "--no-cache", "--dialect", "pandoc", out=tmp_path / "site"
    )
    assert formulas(result.page("note.html")) == [("display", "a_1")]


def test_an_unknown_dialect_in_pyproject_is_an_error_at_its_line(
    run_cli: Callable[..., BuildResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pyproject = '[project]\nname = "x"\n\n[tool.notes-render]\nsite-title = "T"\ndialect = "mathjax"\n'
    _project(tmp_path, monkeypatch, pyproject)
    result = run_cli("--src", "notes", "--out", "site")
    assert result.code == 2
    path = tmp_path.resolve() / "pyproject.toml"
    assert (
        result.stderr
        == f"notes-render: error: {path}:6:1: dialect: unknown math dialect 'mathjax'; {KNOWN}\n"
    )
    assert not (tmp_path / "site").exists()


def test_an_unknown_dialect_on_the_command_line_is_an_error(
    run_cli: Callable[..., BuildResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(tmp_path, monkeypatch, "")
    result = run_cli("--src", "notes", "--out", "site", "--dialect", "Typora")
    assert result.code == 2
    assert result.stderr == f"notes-render: error: --dialect: unknown math dialect 'Typora'; {KNOWN}\n"


def test_an_unknown_dialect_in_front_matter_is_an_error_at_its_line(
    build_notes: Callable[..., BuildResult],
) -> None:
    result = build_notes({"note.md": "---\ntitle: T\ndialect: mathjax\n---\nText.\n"}, "--strict")
    assert result.code == 1
    assert (
        f"note.md:3:1: front matter key 'dialect': unknown math dialect 'mathjax'; {KNOWN}" in result.stderr
    )


def test_a_rebuild_with_another_dialect_does_not_reuse_the_cached_note(
    build_notes: Callable[..., BuildResult],
) -> None:
    assert formulas(build_notes({"note.md": NOTE}).page("note.html")) == [("display", "a_1")]
    result = build_notes({"note.md": NOTE}, "--dialect", "kramdown")
    assert formulas(result.page("note.html")) == [("inline", "a_1")]
