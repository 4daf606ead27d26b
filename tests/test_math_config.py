"""Macros and trust: pyproject.toml, front matter and definitions inside formulas."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FIXTURES, BuildResult, formulas, read_page

from notes_render import cli


def build_project(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> BuildResult:
    """Build tests/fixtures/NAME/notes from a copy of the project folder (its pyproject.toml)."""
    project = tmp_path / name
    shutil.copytree(FIXTURES / name, project)
    monkeypatch.chdir(project)
    code = cli.main(["--src", "notes", "--out", "out", "--no-cache"])
    captured = capsys.readouterr()
    return BuildResult(code, captured.out, captured.err, project / "out")


def problems(result: BuildResult) -> list[str]:
    return [line for line in result.stderr.splitlines() if ".md:" in line]


def test_global_front_matter_and_inline_definitions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = build_project("math-macros", tmp_path, capsys, monkeypatch)
    page = result.page("defines.html")
    tex = [t for _, t in formulas(page)]
    assert tex[:3] == ["x \\in \\R", "\\norm{v}", "\\E[x]"]  # the annotation keeps the source
    assert '<mi mathvariant="double-struck">R</mi>' in page  # \R from pyproject.toml
    assert (
        '<mo stretchy="false">∥</mo><mi>v</mi><mo stretchy="false">∥</mo>' in page
    )  # \norm with its argument
    assert '<mi mathvariant="double-struck">E</mi>' in page  # \E from front matter
    # \newcommand, \def and \gdef in one formula hold for the later formulas of the note
    assert '<mrow><mi mathvariant="bold">a</mi><mo>+</mo><mi mathvariant="bold">b</mi>' in page
    assert '<mi mathvariant="bold">c</mi>' in page
    # and \renewcommand changes the rest of the note
    assert page.split("After the renewal")[1].count('<mi mathvariant="bold">A</mi>') == 1
    assert not any("defines.md" in line for line in problems(result))


def test_definitions_stay_in_their_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = build_project("math-macros", tmp_path, capsys, monkeypatch)
    assert '<mi mathvariant="double-struck">R</mi>' in result.page("other.html")
    other = [line.split("other.md:", 1)[1] for line in problems(result) if "other.md:" in line]
    assert other == [
        "4:39: Undefined control sequence: \\va",
        "4:46: Undefined control sequence: \\vb",
        "4:53: Undefined control sequence: \\vc",
        "4:60: Undefined control sequence: \\E",
    ]


def test_trust_links_allows_http_links_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = build_project("math-trust", tmp_path, capsys, monkeypatch)
    page = result.page("links.html")
    assert '<a href="https://example.org/a">' in page
    assert '<a href="http://example.org/b">' in page
    assert [line.split("links.md:", 1)[1] for line in problems(result)] == [
        "5:17: \\href to 'javascript:alert(1)' is not allowed: only http(s) links are trusted",
        "5:53: \\includegraphics is not allowed: notes-render never trusts it",
    ]
    assert 'href="javascript' not in page and "<img" not in page


def test_without_trust_links_web_links_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "plain").mkdir()
    shutil.copytree(FIXTURES / "math-trust" / "notes", tmp_path / "plain" / "notes")
    monkeypatch.chdir(tmp_path / "plain")
    code = cli.main(["--src", "notes", "--out", "out", "--no-cache", "--strict"])
    stderr = capsys.readouterr().err
    assert code == 1
    assert (
        "links.md:3:13: \\href to 'https://example.org/a' is not allowed: links are refused unless "
        "katex.trust-links = true (http and https only)" in stderr
    )
    assert '<a href="https://example.org' not in (tmp_path / "plain" / "out" / "links.html").read_text()


def test_a_link_from_another_note_reaches_the_equation(build_notes: Callable[..., BuildResult]) -> None:
    result = build_notes(
        {
            "a.md": "# A\n\n$$\nx = 1 \\label{eq:one}\n$$\n",
            "sub/b.md": "# B\n\nAs in [the first note](../a.md#eq:one).\n",
        },
        "--strict",
        "--no-cache",
    )
    assert result.code == 0, result.stderr
    assert '<a href="../a.html#eq:one">' in result.page("sub/b.html")
    assert '<div class="math-display" id="eq:one">' in result.page("a.html")


def test_numbers_and_labels_belong_to_their_note(build_notes: Callable[..., BuildResult]) -> None:
    note = "$$ x \\label{eq:same} $$\n\n\\begin{equation}\ny\n\\end{equation}\n\nSee \\eqref{eq:same}.\n"
    result = build_notes({"a.md": note, "b.md": note}, "--strict", "--no-cache")
    assert result.code == 0, result.stderr  # the same label in two notes is no duplicate
    for page in ("a.html", "b.html"):
        reader = read_page(result.page(page))
        assert reader.tags == ["(1)", "(2)"]  # each note counts from 1
        assert reader.links == ["#eq:same (1)"]
