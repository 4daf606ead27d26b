"""The site checker: `build --strict` and `check` report broken links, anchors and outside loads."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

from conftest import FIXTURES, REPO, BuildResult

BROKEN = FIXTURES / "site-broken"

# Every problem planted in tests/fixtures/site-broken, where it is written in the Markdown.
EXPECTED = [
    "index.md:6:35: '#no-such-heading' points to a missing anchor: this page has no id 'no-such-heading'",
    "index.md:7:38: 'other.md#nowhere' points to a missing anchor: other.html has no id 'nowhere'",
    "index.md:8:30: 'missing.md' does not exist",
    "index.md:10:39: '#eq:missing' points to a missing anchor: this page has no id 'eq:missing'",
    "index.md:11:24: 'img/none.png' does not exist",
    "index.md:12:22: <img src> loads 'https://example.org/a.png' from outside the site; "
    "keep a copy in the site instead",
    "index.md:13:25: <iframe src> loads '//example.org/embed' from outside the site; "
    "keep a copy in the site instead",
    "index.md:15:38: '/other.html' is an absolute path, which breaks when the site is opened from disk "
    "or served from a sub-folder; use a relative link",
    "index.md:17:35: '#über-nichts' points to a missing anchor: this page has no id 'über-nichts'",
    "index.md:18:42: 'img/' is a folder without an index.html in the site",
    "index.md:19:85: 'other.html#nowhere' points to a missing anchor: other.html has no id 'nowhere'",
    "other.md:3:65: 'index.md#gone' points to a missing anchor: index.html has no id 'gone'",
]


def problems(stderr: str, folder: Path) -> list[str]:
    """The `file:line:col: message` lines of a run, with file relative to folder, sorted."""
    prefix = str(folder.relative_to(REPO) if folder.is_relative_to(REPO) else folder) + "/"
    return sorted(
        line.removeprefix(prefix) for line in stderr.splitlines() if re.match(r"^\S+:\d+:\d+: ", line)
    )


def test_strict_build_reports_each_broken_reference_once_at_its_markdown_line(
    run_cli: Callable[..., BuildResult], tmp_path: Path
) -> None:
    result = run_cli("--src", BROKEN, "--out", tmp_path / "out", "--strict", out=tmp_path / "out")
    assert result.code == 1
    assert problems(result.stderr, BROKEN) == sorted(EXPECTED)
    assert f"{len(EXPECTED)} errors" in result.stderr
    # The excerpt and caret point at the reference in the note.
    assert "    - broken anchor on this page: [x](#no-such-heading)\n" + " " * 38 + "^" in result.stderr


def test_without_strict_the_checker_does_not_run(run_cli: Callable[..., BuildResult], tmp_path: Path) -> None:
    result = run_cli("--src", BROKEN, "--out", tmp_path / "out", out=tmp_path / "out")
    assert result.code == 0
    assert "missing anchor" not in result.stderr
    assert "'missing.md' does not exist" in result.stderr  # the build's own report stays


def test_check_command_reports_the_same_at_markdown_lines(
    run_cli: Callable[..., BuildResult], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert run_cli("--src", BROKEN, "--out", out, "-q").code == 0
    result = run_cli("check", "--out", out, "--src", BROKEN)
    assert result.code == 1
    assert problems(result.stderr, BROKEN) == sorted(EXPECTED)


def test_check_without_the_notes_reports_lines_of_the_built_pages(
    run_cli: Callable[..., BuildResult], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert run_cli("--src", BROKEN, "--out", out, "-q").code == 0
    result = run_cli("check", "--out", out, "--src", tmp_path / "no-notes")
    assert result.code == 1
    found = problems(result.stderr, out)
    assert len(found) == len(EXPECTED)
    # Positions in the built HTML, wherever the templates put the note's content.
    line, column = _position(out / "index.html", '<a href="#no-such-heading">')
    assert (
        f"index.html:{line}:{column + 1}: '#no-such-heading' points to a missing anchor: "
        "this page has no id 'no-such-heading'" in found
    )
    line, column = _position(out / "other.html", '<a href="index.html#gone">')
    assert (
        f"other.html:{line}:{column + 1}: 'index.html#gone' points to a missing anchor: "
        "index.html has no id 'gone'" in found
    )


def _position(page: Path, text: str) -> tuple[int, int]:
    """1-based line and 0-based column of the only occurrence of text in page."""
    lines = page.read_text(encoding="utf-8").split("\n")
    hits = [(number + 1, line.index(text)) for number, line in enumerate(lines) if text in line]
    assert len(hits) == 1, hits
    return hits[0]


def test_clean_sites_pass_the_checker(run_cli: Callable[..., BuildResult], tmp_path: Path) -> None:
    for src in (FIXTURES / "site-basic", REPO / "notes"):
        out = tmp_path / src.name
        assert run_cli("--src", src, "--out", out, "-q").code == 0
        result = run_cli("check", "--out", out, "--src", src)
        assert result.code == 0, result.stderr
        assert "0 errors" in result.stderr


def test_templates_and_stylesheets_that_load_from_outside_are_reported(
    run_cli: Callable[..., BuildResult], tmp_path: Path
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    base = templates / "base.html"
    base.write_text(
        base.read_text(encoding="utf-8").replace(
            "{% block head %}",
            '<link rel="stylesheet" href="https://cdn.example.org/x.css">\n'
            '<link rel="canonical" href="https://example.org/">\n{% block head %}',
        ),
        encoding="utf-8",
    )
    (templates / "assets" / "style.css").write_text(
        '@import "https://fonts.example.org/f.css";\nbody { background: url(//example.org/bg.png); }\n'
        "h1 { background: url('missing.png'); }\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = run_cli(
        "--src", FIXTURES / "site-basic", "--out", out, "--templates", templates, "--strict", out=out
    )
    assert result.code == 1
    found = problems(result.stderr, out)
    stylesheet = [p for p in found if p.startswith("assets/style.css:")]
    assert stylesheet == [
        "assets/style.css:1:1: url() loads 'https://fonts.example.org/f.css' from outside the site; "
        "keep a copy in the site instead",
        "assets/style.css:2:20: url() loads '//example.org/bg.png' from outside the site; "
        "keep a copy in the site instead",
        "assets/style.css:3:18: 'missing.png' does not exist",
    ]
    pages = [p for p in found if not p.startswith("assets/")]
    # One per page: the external stylesheet; the canonical link is not loaded, so it is fine.
    assert len(pages) == 4
    assert all("<link href> loads 'https://cdn.example.org/x.css'" in p for p in pages)


def test_check_needs_a_built_site(run_cli: Callable[..., BuildResult], tmp_path: Path) -> None:
    missing = run_cli("check", "--out", tmp_path / "nope")
    assert missing.code == 2 and "is not a folder" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = run_cli("check", "--out", tmp_path / "empty")
    assert empty.code == 2 and "no HTML pages" in empty.stderr


def test_a_link_the_build_found_broken_is_not_checked_again(
    build_notes: Callable[..., BuildResult], tmp_path: Path
) -> None:
    # The checker, placing a problem it found in the built page, would find the URL's first
    # mention in the note (in code, on line 1): a second check reported the link twice.
    note = "The file `missing.png` is named here first.\n\n![plot](missing.png)\n"
    cache = tmp_path / "cache"
    built = build_notes({"note.md": note}, "--strict", "--cache-dir", cache)
    assert problems(built.stderr, tmp_path / "src") == ["note.md:3:9: 'missing.png' does not exist"]
    # From the build state, the verdict comes back with the note's diagnostics.
    again = build_notes({"note.md": note}, "--strict", "--cache-dir", cache)
    assert "(0 notes built" in again.stderr
    assert problems(again.stderr, tmp_path / "src") == ["note.md:3:9: 'missing.png' does not exist"]
