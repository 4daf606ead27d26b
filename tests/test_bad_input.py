"""Bad input: one clear message naming the file (and line), the right exit code, nothing lost."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO, BuildResult

from notes_render import sources
from notes_render.build.pipeline import build_site, default_engine
from notes_render.config import Config
from notes_render.errors import ConfigError
from notes_render.site import writer
from notes_render.typeset.katex import MathEngine

BAD = FIXTURES / "bad-input"

# Each note of tests/fixtures/bad-input that cannot become a page, and what is said about it.
BAD_NOTES = {
    "not-utf8.md": "not-utf8.md:3:12: not valid UTF-8 (byte 0xe9)",
    "bad-yaml.md": "bad-yaml.md:2:8: invalid YAML front matter: while scanning a quoted scalar, "
    "found unexpected end of stream",
    "bad-date.md": "bad-date.md:3:1: invalid date in YAML front matter: day is out of range for month",
    "wrong-type.md": "wrong-type.md:3:1: front matter key 'description' must be str, not list",
    "empty.md": "empty.md: note is empty",
    "blank.md": "blank.md: note is empty",
}


def _only(name: str, tmp_path: Path) -> Path:
    """A source folder with one bad note of the fixtures beside the good one."""
    src = tmp_path / "src"
    src.mkdir()
    for keep in (name, "good.md"):
        shutil.copy(BAD / keep, src / keep)
    return src


@pytest.mark.parametrize("name", sorted(BAD_NOTES))
def test_a_note_that_cannot_be_read_is_named_and_fails_strict(
    name: str, run_cli: Callable[..., BuildResult], tmp_path: Path
) -> None:
    src = _only(name, tmp_path)
    out = tmp_path / "out"
    strict = run_cli("--src", src, "--out", out, "--strict", out=out)
    assert strict.code == 1
    reported = [line for line in strict.stderr.splitlines() if str(src) in line or name in line]
    assert len(reported) == 1 and reported[0].endswith(BAD_NOTES[name]), strict.stderr
    # The good note is still built; the bad one has no page, and nothing else is lost.
    assert (out / "good.html").is_file()
    assert not (out / name).with_suffix(".html").exists()
    assert sorted(p.name for p in src.iterdir()) == sorted([name, "good.md"])
    lenient = run_cli("--src", src, "--out", out, out=out)
    assert lenient.code == 0 and BAD_NOTES[name] in lenient.stderr


def test_a_note_gone_before_it_is_built_is_named_and_fails_strict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "good.md").write_text("# Good\n\n$x$\n", encoding="utf-8")
    (src / "later.md").write_text("# Soon gone\n", encoding="utf-8")
    read = sources.read_fingerprinted

    def read_and_remove(path: Path) -> tuple[bytes, sources.Stat, str]:
        if path.name == "good.md":
            (src / "later.md").unlink()  # after the build found it, before it reads it
        return read(path)

    monkeypatch.setattr(sources, "read_fingerprinted", read_and_remove)
    out = tmp_path / "out"
    report = build_site(Config(src=src, out=out, strict=True))
    assert [d.message for d in report.errors] == ["cannot be read: No such file or directory"]
    assert report.errors[0].position.path.name == "later.md"
    assert (out / "good.html").is_file() and not (out / "later.html").exists()


def test_every_bad_note_is_reported_in_one_build(run_cli: Callable[..., BuildResult], tmp_path: Path) -> None:
    result = run_cli("--src", BAD, "--out", tmp_path / "out", "--strict", out=tmp_path / "out")
    assert result.code == 1
    for message in BAD_NOTES.values():
        assert message in result.stderr
    assert f"{len(BAD_NOTES)} errors" in result.stderr


@pytest.mark.parametrize(
    ("notes", "message"),
    [
        (
            {"a.md": "# A\n", "a/index.md": "# Index of a\n"},
            "a.md: its page a.html and the page a/index.html of {src}/a/index.md are both the URL 'a/'; "
            "rename one of the notes",
        ),
        (
            {"Notes.md": "# N\n", "notes.md": "# n\n"},
            "notes.md: its page notes.html and the page Notes.html of {src}/Notes.md differ only in case, "
            "so they are one file on macOS and Windows; rename one of the notes",
        ),
        (
            {"index.md": "# Home\n", "assets/x.md": "# X\n"},
            "assets/x.md: assets/ holds the site's own stylesheets and fonts; move the note out of it",
        ),
        (
            {"a.md": "# A\n\n[style](assets/style.css)\n", "assets/style.css": "body {}\n"},
            "assets/style.css: the notes link to this file, but the site already has assets/style.css; "
            "rename or move the file",
        ),
        (
            {"a.md": '# A\n\n<a href="index.html">home</a>\n', "index.html": "<p>mine</p>\n"},
            "index.html: the notes link to this file, but the site already has index.html; "
            "rename or move the file",
        ),
        (
            {"a.md": "# A\n\n[raw](b.html)\n", "b.md": "# B\n", "b.html": "<p>mine</p>\n"},
            "b.html: the notes link to this file, but the site already has b.html; rename or move the file",
        ),
        (
            {"index.md": "# Home\n", "INDEX.md": "# Shouting\n"},
            "index.md: its page index.html and the page INDEX.html of {src}/INDEX.md differ only in case, "
            "so they are one file on macOS and Windows; rename one of the notes",
        ),
        (
            {"INDEX.md": "# Shouting\n", "a.md": "# A\n"},
            "INDEX.md: its page INDEX.html and the generated home page index.html differ only in case, "
            "so they are one file on macOS and Windows; rename the note",
        ),
        (
            {"a.md": "# A\n\n[raw](b.HTML)\n", "b.md": "# B\n", "b.HTML": "<p>mine</p>\n"},
            "b.HTML: the notes link to this file, but the site already has b.html; rename or move the file",
        ),
        (
            {"index.md": "# Home\n", "Assets/x.md": "# X\n"},
            "Assets/x.md: assets/ holds the site's own stylesheets and fonts; move the note out of it",
        ),
        (
            {"a.md": "# A\n\n[one](x.txt) and [two](X.TXT)\n", "x.txt": "one\n", "X.TXT": "two\n"},
            "x.txt: the notes link to this file, but the site already has X.TXT; rename or move the file",
        ),
    ],
    ids=[
        "file-and-folder-index",
        "case",
        "note-in-assets",
        "file-over-asset",
        "file-over-home",
        "file-over-page",
        "case-index",
        "case-generated-home",
        "case-linked-page",
        "case-assets",
        "case-linked-files",
    ],
)
def test_colliding_outputs_stop_the_build_with_exit_1(
    notes: dict[str, str], message: str, build_notes: Callable[..., BuildResult], tmp_path: Path
) -> None:
    result = build_notes(notes)  # fatal even without --strict: a page would be lost
    assert result.code == 1
    src = tmp_path / "src"  # outside the working folder, so messages name it in full
    assert result.stderr.startswith("notes-render: error: ")
    assert result.stderr.rstrip("\n").endswith(message.format(src=src)), result.stderr
    assert result.stderr.count("\n") == 1
    style = result.out / "assets" / "style.css"
    if style.exists():  # the site's own stylesheet was not replaced by the note's file
        assert style.read_bytes() == (REPO / "templates" / "assets" / "style.css").read_bytes()
    home = result.out / "index.html"
    assert not home.exists() or "<p>mine</p>" not in home.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("src", "out", "message"),
    [
        ("notes", "notes", "--out {out} is the source folder; choose another output folder"),
        ("notes", "notes/site", "--out {out} is inside the source folder {src}"),
        ("notes", ".", "--out {out} contains the source folder {src}"),
        ("notes", "..", "--out {out} contains the source folder {src}"),
        ("missing", "site", "source folder {src} does not exist or is not a folder"),
        ("file.md", "site", "source folder {src} does not exist or is not a folder"),
        ("notes", "file.md", "--out {out} exists and is not a folder"),
    ],
    ids=[
        "out-is-src",
        "out-in-src",
        "out-is-project",
        "out-above-project",
        "src-missing",
        "src-is-file",
        "out-is-file",
    ],
)
def test_dangerous_or_missing_paths_are_usage_errors(
    src: str,
    out: str,
    message: str,
    run_cli: Callable[..., BuildResult],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = tmp_path / "project"
    (project / "notes").mkdir(parents=True)
    (project / "notes" / "a.md").write_text("# A\n", encoding="utf-8")
    (project / "file.md").write_text("# F\n", encoding="utf-8")
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    monkeypatch.chdir(project)  # after run_cli's own chdir, so the project here is the root
    result = run_cli("--src", src, "--out", out)
    assert result.code == 2
    assert result.stderr == f"notes-render: error: {message.format(src=src, out=out)}\n"
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before


def test_a_templates_setting_that_is_no_folder_name_is_a_usage_error(
    run_cli: Callable[..., BuildResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.md").write_text("# A\n", encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text("[tool.notes-render]\ntemplates = 3\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # after run_cli's own chdir, so this pyproject.toml is read
    result = run_cli("--src", "notes", "--out", "site")
    assert result.code == 2
    pyproject = tmp_path.resolve() / "pyproject.toml"
    assert result.stderr == f"notes-render: error: {pyproject}: templates must be a string (a folder)\n"
    assert not (tmp_path / "site").exists()


def test_a_tampered_manifest_never_deletes_outside_the_output_folder(
    build_notes: Callable[..., BuildResult], tmp_path: Path
) -> None:
    first = build_notes({"a.md": "# A\n"})
    assert first.code == 0
    outside = tmp_path / "outside"
    (outside / "folder").mkdir(parents=True)
    victims = [outside / "victim.html", outside / "folder" / "x.html", outside / "linked.html"]
    for victim in victims:
        victim.write_text("precious", encoding="utf-8")
    out = first.out
    (out / "link").symlink_to(outside / "folder", target_is_directory=True)
    (out / "sym.html").symlink_to(outside / "linked.html")
    listed = [str(outside / "victim.html"), "../outside/victim.html", "link/x.html", "sym.html", "a.html"]
    (out / writer.MANIFEST_NAME).write_text(json.dumps({"files": listed}), encoding="utf-8")
    second = build_notes({"b.md": "# B\n"})
    assert second.code == 0, second.stderr
    for victim in victims:
        assert victim.read_text(encoding="utf-8") == "precious"
    assert (out / "link").is_symlink() and (out / "sym.html").is_symlink()
    assert not (out / "a.html").exists()  # what the build did write is still cleaned up


@pytest.fixture
def fail_on_write(monkeypatch: pytest.MonkeyPatch) -> Callable[[int, BaseException], None]:
    """Make the n-th rename of a finished temporary file into place raise, as a crash or Ctrl-C would."""

    def arm(n: int, error: BaseException) -> None:
        calls = 0
        real = os.replace

        def replace(source: str | Path, target: str | Path) -> None:
            nonlocal calls
            calls += 1
            if calls == n:
                raise error
            real(source, target)

        monkeypatch.setattr(os, "replace", replace)  # the system call every write ends with

    return arm


def _pages_complete(out: Path) -> Iterator[Path]:
    for page in out.rglob("*.html"):
        assert page.read_text(encoding="utf-8").rstrip().endswith("</html>"), page
        yield page


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (KeyboardInterrupt(), 130, "notes-render: interrupted; pages already written are complete"),
        (
            OSError(28, "No space left on device"),
            2,
            "notes-render: error: [Errno 28] No space left on device",
        ),
    ],
    ids=["ctrl-c", "disk-full"],
)
def test_an_interrupted_build_leaves_no_half_written_or_temporary_file(
    error: BaseException,
    code: int,
    message: str,
    build_notes: Callable[..., BuildResult],
    fail_on_write: Callable[[int, BaseException], None],
) -> None:
    notes = {f"n{i}.md": f"# Note {i}\n\n$x^{i}$\n" for i in range(4)}
    first = build_notes(notes)
    assert first.code == 0
    before = {p: p.read_bytes() for p in first.out.rglob("*.html")}
    fail_on_write(3, error)
    second = build_notes({name: text + "\nChanged.\n" for name, text in notes.items()})
    assert second.code == code
    assert second.stderr.startswith(message)
    out = second.out
    assert [p for p in out.rglob("*") if p.name.endswith(".tmp")] == []
    pages = sorted(_pages_complete(out))
    assert pages == sorted(before)
    changed = [p for p in pages if p.read_bytes() != before[p]]
    assert 0 < len(changed) < len(pages)  # it stopped in the middle, and each page is whole


def test_an_interrupted_first_build_leaves_only_whole_pages(
    build_notes: Callable[..., BuildResult], fail_on_write: Callable[[int, BaseException], None]
) -> None:
    fail_on_write(3, KeyboardInterrupt())  # the first rename is the manifest, listing the pages to come
    result = build_notes({f"n{i}.md": f"# Note {i}\n" for i in range(3)})
    assert result.code == 130
    assert [p for p in result.out.rglob("*") if p.name.endswith(".tmp")] == []
    assert len(list(_pages_complete(result.out))) == 1


_PAUSED_BUILD = """\
import os, sys
from notes_render import cli

real_replace = os.replace


def replace(*args, **kwargs):
    print("writing", flush=True)
    sys.stdin.readline()  # until the test lets it go on, or kills it
    return real_replace(*args, **kwargs)


os.replace = replace  # a build's first write is its manifest, under the lock
sys.exit(cli.main(sys.argv[1:]))
"""


def _paused_build(src: Path, out: Path) -> subprocess.Popen[str]:
    """A build in another process, stopped at its first write while it holds out's lock."""
    build = subprocess.Popen(
        [sys.executable, "-c", _PAUSED_BUILD, "--src", str(src), "--out", str(out), "--no-cache", "-q"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert build.stdout is not None
    assert build.stdout.readline() == "writing\n", build.communicate(timeout=60)
    return build


def test_a_second_build_fails_at_once_while_the_first_still_builds_its_notes(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    (src / "a.md").write_text("# A\n\n$x$\n", encoding="utf-8")
    second = []

    def engine(dist: Path, config: Config) -> MathEngine:  # the first build typesets a.md
        with pytest.raises(ConfigError) as raised:
            build_site(Config(src=src, out=out))
        second.append(str(raised.value))
        return default_engine(dist, config)

    build_site(Config(src=src, out=out), engine)
    assert second == [
        f"another build is writing to {out} (it holds {out / writer.LOCK_NAME}); "
        "wait for it to finish, or choose another --out"
    ]


def test_a_second_build_into_the_same_folder_fails_at_once_and_a_killed_one_lets_go(
    build_notes: Callable[..., BuildResult], tmp_path: Path
) -> None:
    out, src = tmp_path / "out", tmp_path / "notes"
    src.mkdir()
    (src / "a.md").write_text("# A\n", encoding="utf-8")
    first = _paused_build(src, out)
    try:
        result = build_notes({"a.md": "# A\n"})
        assert result.code == 2
        assert result.stderr == (
            f"notes-render: error: another build is writing to {out} (it holds {out / writer.LOCK_NAME}); "
            "wait for it to finish, or choose another --out\n"
        )
        assert not (out / "a.html").exists()
    finally:
        first.kill()  # no clean-up runs in it, on any system
        first.communicate(timeout=60)
    after = build_notes({"a.md": "# A\n"})  # the system let go of the dead build's lock
    assert after.code == 0, after.stderr
    assert (out / "a.html").is_file()
