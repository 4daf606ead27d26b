"""One error model: a content problem is exit 1, an environment problem exit 2, and each
message says where it is (a template's file and line, the file an operation failed on)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO, BuildResult

from notes_render.build.pipeline import build_site
from notes_render.config import Config
from notes_render.errors import ContentError, FatalContentError, NotesRenderError


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    """A copy of the project's templates to break."""
    folder = tmp_path / "templates"
    shutil.copytree(REPO / "templates", folder)
    return folder


def test_a_template_runtime_error_names_its_template_and_line(
    build_notes: Callable[..., BuildResult], templates: Path
) -> None:
    (templates / "note.html").write_text(
        "{% extends 'base.html' %}\n{% block main %}\n<p>{{ nothing_like_this }}</p>\n{% endblock %}\n",
        encoding="utf-8",
    )
    result = build_notes({"a.md": "# A\n"}, "--templates", str(templates))
    assert result.code == 2
    note = templates / "note.html"
    assert (
        result.stderr == f"notes-render: error: {note}:3: template error: 'nothing_like_this' is undefined\n"
    )


def test_a_runtime_error_in_a_parent_template_names_the_parent(
    build_notes: Callable[..., BuildResult], templates: Path
) -> None:
    base = templates / "base.html"
    lines = base.read_text(encoding="utf-8").splitlines(keepends=True)
    lines.insert(2, "<!-- {{ no_such_name }} -->\n")
    base.write_text("".join(lines), encoding="utf-8")
    result = build_notes({"a.md": "# A\n"}, "--templates", str(templates))
    assert result.code == 2
    assert result.stderr == f"notes-render: error: {base}:3: template error: 'no_such_name' is undefined\n"


def test_a_template_that_is_not_utf8_is_named_with_its_first_bad_byte(
    build_notes: Callable[..., BuildResult], templates: Path
) -> None:
    # Jinja's UnicodeDecodeError names no file; the one a page uses is found and named.
    base = templates / "base.html"
    base.write_bytes(base.read_bytes().replace(b"<head>", b"<head>\n<!-- caf\xe9 -->", 1))
    line = base.read_bytes().split(b"\xe9")[0].count(b"\n") + 1
    result = build_notes({"a.md": "# A\n\nSee $x$.\n"}, "--templates", str(templates))
    assert result.code == 2
    assert result.stderr == f"notes-render: error: {base}:{line}:9: template is not valid UTF-8 (byte 0xe9)\n"


def test_a_broken_template_that_is_never_rendered_does_not_stop_the_build(
    build_notes: Callable[..., BuildResult], templates: Path
) -> None:
    (templates / "latin.html").write_bytes(b"<p>caf\xe9</p>\n")
    index = templates / "index.html"
    before, after = index.read_text(encoding="utf-8").rsplit("{% endblock %}", 1)
    unused = '{% if false %}{% include "latin.html" %}{% include "missing.html" %}{% endif %}'
    index.write_text(f"{before}{unused}{{% endblock %}}{after}", encoding="utf-8")
    result = build_notes({"a.md": "# A\n\nSee $x$.\n", "b.md": "# B\n"}, "--templates", str(templates), "-q")
    assert (result.code, result.stderr) == (0, "")


def test_a_file_of_the_notes_that_cannot_be_read_is_a_content_problem(
    build_notes: Callable[..., BuildResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    copy = shutil.copyfile

    def copyfile(source: str | Path, target: str | Path) -> object:
        # What a file without read permission gives (the tests may run as root, who reads all).
        if Path(source).is_relative_to(src):
            raise PermissionError(13, "Permission denied", str(source))
        return copy(source, target)

    monkeypatch.setattr(shutil, "copyfile", copyfile)
    result = build_notes({"a.md": "# A\n\n[data](data.txt)\n", "data.txt": "1 2 3\n"})
    assert result.code == 1
    assert result.stderr == f"notes-render: error: {src / 'data.txt'}: cannot be read: Permission denied\n"


@pytest.mark.skipif(sys.platform == "win32", reason="Windows has no read permission bit to take away")
def test_a_linked_file_without_read_permission_is_a_content_problem(
    run_cli: Callable[..., BuildResult], tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.md").write_text("# A\n\n[data](data.txt)\n", encoding="utf-8")
    (src / "data.txt").write_text("1 2 3\n", encoding="utf-8")
    (src / "data.txt").chmod(0)
    if os.access(src / "data.txt", os.R_OK):
        pytest.skip("this user reads files without read permission (root)")
    result = run_cli("--src", src, "--out", tmp_path / "out", "--no-cache")
    assert result.code == 1
    assert result.stderr == f"notes-render: error: {src / 'data.txt'}: cannot be read: Permission denied\n"


@pytest.mark.skipif(sys.platform == "win32", reason="Windows says another thing of a path through a file")
def test_an_output_folder_that_cannot_be_made_is_a_usage_error_naming_it(
    build_notes: Callable[..., BuildResult], tmp_path: Path
) -> None:
    (tmp_path / "file.txt").write_text("mine\n", encoding="utf-8")
    out = tmp_path / "file.txt" / "site"
    result = build_notes({"a.md": "# A\n"}, "--out", str(out))
    assert result.code == 2
    assert result.stderr == f"notes-render: error: {out}: Not a directory\n"
    assert (tmp_path / "file.txt").read_text(encoding="utf-8") == "mine\n"


def test_colliding_pages_stop_the_build_as_a_content_problem(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    (src / "a.md").write_text("# A\n", encoding="utf-8")
    (src / "a" / "index.md").write_text("# Index of a\n", encoding="utf-8")
    with pytest.raises(FatalContentError) as raised:
        build_site(Config(src=src, out=tmp_path / "out"))
    assert (raised.value.exit_code, raised.value.message) == (
        1,
        f"its page a.html and the page a/index.html of {src / 'a' / 'index.md'} are both the URL 'a/'; "
        "rename one of the notes",
    )
    assert not (tmp_path / "out").exists()


def test_a_note_that_cannot_be_read_never_stops_a_build(tmp_path: Path) -> None:
    out = tmp_path / "out"
    src = tmp_path / "src"
    shutil.copytree(FIXTURES / "site-basic", src)
    (src / "broken.md").write_bytes(b"# Caf\xe9\n")
    report = build_site(Config(src=src, out=out))
    assert [d.format() for d in report.errors] == [f"{src / 'broken.md'}:1:6: not valid UTF-8 (byte 0xe9)"]
    assert (out / "index.html").is_file() and not (out / "broken.html").exists()
    assert not issubclass(ContentError, NotesRenderError)  # it has no exit code to give
