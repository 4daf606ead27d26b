"""The output folder belongs to the user: the build replaces only what it wrote, never
writes through a symbolic link, and a build that fails or is killed at any point leaves
nothing a later build does not clean up. Its own state file is checked, never trusted."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO, BuildResult

from notes_render.build.pipeline import build_site
from notes_render.config import Config
from notes_render.site import writer

KILLS = 20
"""Builds the fault-injection test kills, each at a seeded random step of its writes."""


def _files(folder: Path) -> dict[str, bytes]:
    """Every file below folder (symbolic links not followed), by relative path."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


def _temporaries(*folders: Path) -> list[Path]:
    return [p for folder in folders for p in folder.rglob("*") if p.name.endswith(".tmp")]


def _write_notes(src: Path, notes: dict[str, str]) -> None:
    if src.exists():
        shutil.rmtree(src)
    for rel, text in notes.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text, encoding="utf-8")


# --- finding 2: files the build did not write ------------------------------------------


def test_an_output_folder_holding_the_users_own_files_is_refused_and_left_alone(
    build_notes: Callable[..., BuildResult], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    (out / "assets").mkdir(parents=True)
    (out / "index.html").write_text("<p>my own home page</p>\n", encoding="utf-8")
    (out / "assets" / "style.css").write_text("body { color: red }\n", encoding="utf-8")
    mine = _files(out)
    result = build_notes({"a.md": "# A\n"})
    assert result.code == 2
    assert result.stderr == (
        f"notes-render: error: --out {out} holds files this build did not write, and it will not "
        f"replace them: {out}/assets/style.css, {out}/index.html; move them away or choose another "
        "output folder\n"
    )
    assert _files(out) == {**mine, writer.LOCK_NAME: b""}  # nothing written, nothing listed
    (out / "index.html").unlink()
    (out / "assets" / "style.css").unlink()
    notes = {"a.md": "# A\n\n[data](data.txt)\n", "data.txt": "data\n"}
    assert build_notes(notes).code == 0
    built = _files(out)
    # With its manifest lost, the build still knows its own files: pages as the last build
    # (its state) left them, copies byte for byte their source.
    (out / writer.MANIFEST_NAME).unlink()
    again = build_notes(notes)
    assert again.code == 0, again.stderr
    assert _files(out) == built


@pytest.mark.parametrize(
    ("out", "templates", "message"),
    [
        ("templates", None, "--out templates is the templates folder; choose another output folder"),
        ("templates/site", None, "--out templates/site is inside the templates folder templates"),
        ("web", "web/layout", "--out web contains the templates folder web/layout"),
    ],
    ids=["is-templates", "inside-templates", "contains-templates"],
)
def test_an_output_folder_that_holds_the_templates_is_refused(
    out: str,
    templates: str | None,
    message: str,
    run_cli: Callable[..., BuildResult],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shutil.copytree(REPO / "templates", tmp_path / (templates or "templates"))
    _write_notes(tmp_path / "notes", {"a.md": "# A\n"})
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.notes-render]\ntemplates = "{templates or "templates"}"\n', encoding="utf-8"
    )
    before = _files(tmp_path)
    monkeypatch.chdir(tmp_path)  # after run_cli's own chdir, so this pyproject.toml is read
    result = run_cli("--src", "notes", "--out", out)
    assert result.code == 2
    assert result.stderr == f"notes-render: error: {message}\n"
    assert _files(tmp_path) == before


# --- finding 5: a build that stops half-way ---------------------------------------------


def test_a_build_that_fails_late_leaves_nothing_a_later_build_does_not_clean_up(
    build_notes: Callable[..., BuildResult], tmp_path: Path, run_cli: Callable[..., BuildResult]
) -> None:
    failing = {f"n{i}.md": f"# Note {i}\n\n$x^{i}$\n" for i in range(4)}
    failing["n3.md"] += "\n[style](assets/style.css)\n"  # found to collide with the site's own
    failing["assets/style.css"] = "body {}\n"
    assert build_notes(failing).code == 1
    fixed = {"n0.md": failing["n0.md"]}
    assert build_notes(fixed).code == 0
    clean = tmp_path / "clean"
    _write_notes(tmp_path / "clean-src", fixed)
    assert run_cli("--src", tmp_path / "clean-src", "--out", clean, "--no-cache").code == 0
    assert _files(tmp_path / "out") == _files(clean)


def test_temporary_files_a_killed_build_left_are_removed_by_the_next(
    build_notes: Callable[..., BuildResult], tmp_path: Path
) -> None:
    notes = {"a.md": "# A\n", "sub/b.md": "# B\n"}
    assert build_notes(notes).code == 0
    out = tmp_path / "out"
    left = [
        out / ".notes-render-0123abcd-0123456789abcdef.tmp",
        out / "sub" / ".notes-render-89abcdef-fedcba9876543210.tmp",
    ]
    for path in left:
        path.write_bytes(b"<html>half a pa")
    mine = out / "sub" / ".notes-render-mine.tmp"  # not a name the build makes: not its own
    mine.write_bytes(b"kept")
    assert build_notes(notes).code == 0
    assert _temporaries(out) == [mine]


# --- finding 9: long names -------------------------------------------------------------


def test_a_note_name_near_the_file_name_limit_builds(build_notes: Callable[..., BuildResult]) -> None:
    name = "記" * 80  # 240 bytes in UTF-8; its page's name is 245 bytes, under the limit of 255
    result = build_notes({f"{name}.md": "# Long\n\n$x$\n", "a.md": "# A\n"})
    assert result.code == 0, result.stderr
    assert "<h1" in result.page(f"{name}.html")
    assert ">Long</a>" in result.page("index.html")
    assert _temporaries(result.out) == []


def test_a_note_whose_page_name_is_over_the_limit_is_an_error_at_the_note_and_the_rest_builds(
    build_notes: Callable[..., BuildResult], tmp_path: Path
) -> None:
    name = "記" * 84  # 252 bytes: the note's name fits in 255, its page's (257 bytes) does not
    result = build_notes({f"{name}.md": "# Long\n", "a.md": "# A\n"})
    assert result.code == 0, result.stderr  # a content problem: exit 1 only under --strict
    assert result.stderr.splitlines()[0] == (
        f"{tmp_path / 'src' / (name + '.md')}: its page's name {name}.html is 257 bytes, "
        "over the 255 a file name may have; shorten the note's name"
    )
    assert "<h1" in result.page("a.html") and ">A</a>" in result.page("index.html")
    assert _temporaries(result.out) == []


def test_a_note_whose_name_is_not_utf8_is_an_error_at_the_note_and_the_rest_builds(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _write_notes(src, {"a.md": "# A\n"})
    try:  # Linux takes any bytes in a name; macOS and Windows take only Unicode names
        with open(os.fsencode(src) + b"/caf\xe9.md", "wb") as handle:
            handle.write(b"# Cafe\n")
    except (OSError, UnicodeError):
        pytest.skip("this file system takes only Unicode names")
    report = build_site(Config(src=src, out=tmp_path / "out", cache_dir=tmp_path / "cache"))
    assert [d.format().splitlines()[0] for d in report.diagnostics] == [
        f"{src}/caf\udce9.md: its name is not valid UTF-8 (byte 0xe9); rename the note"
    ]
    assert [str(page) for page in report.pages] == ["a.html"]
    assert ">A</a>" in (tmp_path / "out" / "index.html").read_text(encoding="utf-8")


# --- finding 10: symbolic links in the output folder -----------------------------------


@pytest.mark.parametrize("link", ["sub", "sub/b.html"], ids=["folder", "page"])
def test_a_write_never_follows_a_symbolic_link_in_the_output_folder(
    link: str, build_notes: Callable[..., BuildResult], tmp_path: Path
) -> None:
    assert build_notes({"a.md": "# A\n"}).code == 0
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "b.html").write_text("precious", encoding="utf-8")
    out = tmp_path / "out"
    if link == "sub":
        (out / "sub").symlink_to(victim, target_is_directory=True)
    else:
        (out / "sub").mkdir()
        (out / "sub" / "b.html").symlink_to(victim / "b.html")
    result = build_notes({"a.md": "# A\n", "sub/b.md": "# B\n"})
    assert result.code == 2
    assert result.stderr == (
        f"notes-render: error: --out {out} holds files this build did not write, and it will not "
        f"replace them: {out / link} (a symbolic link); move them away or choose another output folder\n"
    )
    assert _files(victim) == {"b.html": b"precious"}
    assert (out / link).is_symlink()


def test_the_lock_is_never_taken_through_a_symbolic_link(
    build_notes: Callable[..., BuildResult], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / writer.LOCK_NAME).symlink_to(tmp_path / "created-outside")
    result = build_notes({"a.md": "# A\n"})
    assert result.code == 2
    assert result.stderr == (
        f"notes-render: error: --out {out} holds a symbolic link where the build keeps its lock: "
        f"{out / writer.LOCK_NAME}; remove it or choose another output folder\n"
    )
    assert not (tmp_path / "created-outside").exists()
    assert [p.name for p in out.iterdir()] == [writer.LOCK_NAME]


# --- finding 11: a linked file that becomes a folder, or back --------------------------


def test_a_linked_file_that_turns_into_a_folder_or_back_is_noticed(
    build_notes: Callable[..., BuildResult], run_cli: Callable[..., BuildResult], tmp_path: Path
) -> None:
    note = {"a.md": "# A\n\nSee [the data](data).\n"}
    shapes = [{"data": "one file\n"}, {"data/x.txt": "inside a folder\n"}, {"data": "a file again\n"}]
    for shape in shapes:
        cached = build_notes({**note, **shape})  # the cache's state from the build before
        assert cached.code == 0, cached.stderr
        _write_notes(tmp_path / "fresh-src", {**note, **shape})
        fresh = run_cli("--src", tmp_path / "fresh-src", "--out", tmp_path / "fresh", "--no-cache")
        assert cached.stderr.split("\n")[:-2] == fresh.stderr.split("\n")[:-2]  # same problems
        assert _files(tmp_path / "out") == _files(tmp_path / "fresh")
        shutil.rmtree(tmp_path / "fresh")


# --- finding 12: the state file is checked ---------------------------------------------


def _state_file(cache: Path) -> Path:
    (found,) = (cache / "builds").glob("*.json")
    return found


@pytest.mark.parametrize(
    "tamper",
    [
        lambda note, state: note.update(files=["../secret.txt"]),
        lambda note, state: note.update(title=["not", "text"]),
        lambda note, state: note.update(outline="no outline"),
        lambda note, state: note["outline"]["toc"].append([2, "b", "B", [[3, "c", "C", [], "more"]]]),
        lambda note, state: note.update(date={"year": 2026}),
    ],
    ids=[
        "file-outside",
        "title-list",
        "outline-text",
        "toc-entry-too-long",
        "date-mapping",
    ],
)
def test_an_edited_state_file_is_ignored_never_obeyed(
    tamper: Callable[[dict[str, object], dict[str, object]], None],
    run_cli: Callable[..., BuildResult],
    tmp_path: Path,
) -> None:
    src, out, cache = tmp_path / "src", tmp_path / "deep" / "out", tmp_path / "cache"
    _write_notes(src, {"a.md": "# A\n\n$x$ and [data](data.txt)\n", "data.txt": "data\n"})
    (tmp_path / "secret.txt").write_text("secret\n", encoding="utf-8")
    assert run_cli("--src", src, "--out", out, "--cache-dir", cache).code == 0
    state = json.loads(_state_file(cache).read_text(encoding="utf-8"))
    tamper(state["notes"]["a.md"], state)
    _state_file(cache).write_text(json.dumps(state), encoding="utf-8")
    (out / "a.html").unlink()  # so the page is rendered again, from what the state says
    result = run_cli("--src", src, "--out", out, "--cache-dir", cache)
    assert result.code == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in (tmp_path / "deep").iterdir()) == ["out"]  # nothing written beside
    assert run_cli("--src", src, "--out", tmp_path / "clean", "--no-cache").code == 0
    assert _files(out) == _files(tmp_path / "clean")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_state_file_naming_a_pipe_as_what_a_note_depends_on_never_blocks_the_build(
    run_cli: Callable[..., BuildResult], tmp_path: Path
) -> None:
    src, out, cache, pipe = tmp_path / "src", tmp_path / "out", tmp_path / "cache", tmp_path / "pipe"
    _write_notes(src, {"a.md": "# A\n"})
    assert run_cli("--src", src, "--out", out, "--cache-dir", cache).code == 0
    os.mkfifo(pipe)  # reading it waits for a writer that never comes
    state = json.loads(_state_file(cache).read_text(encoding="utf-8"))
    state["notes"]["a.md"]["depends"] = {str(pipe): [[1, 1], "0" * 64]}
    _state_file(cache).write_text(json.dumps(state), encoding="utf-8")
    command = [sys.executable, "build.py", "--src", src, "--out", out, "--cache-dir", cache]
    rebuilt = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "(1 notes built" in rebuilt.stderr  # what it depends on is no file: built again


# --- the fault-injection test ----------------------------------------------------------

_KILLED_BUILD = """\
import os, signal, sys
from notes_render import cli

step, limit = 0, int(sys.argv[1])


def counted(name):
    real = getattr(os, name)

    def call(*args, **kwargs):
        global step
        step += 1
        if step == limit:
            os.kill(os.getpid(), signal.SIGKILL)  # no clean-up of any kind runs
        return real(*args, **kwargs)

    setattr(os, name, call)


for name in ("open", "chmod", "utime", "replace", "unlink", "mkdir", "rmdir"):
    counted(name)  # each step of the build's writes
sys.exit(cli.main(sys.argv[2:]))
"""

_VARIANTS = [
    {f"n{i}.md": f"# Note {i}\n\n$x^{i}$, see [next](n{(i + 1) % 4}.md).\n" for i in range(4)},
    {
        "index.md": "# Home\n\nThe notes, with $e^{i\\pi}$.\n",
        "n1.md": "# Note one, renamed\n\n$$\\int_0^1 x\\,dx$$\n\n[data](data.txt)\n",
        "sub/n4.md": "# Four\n\n```python\nx = 4\n```\n",
        "data.txt": "some data\n",
    },
    {
        "n0.md": "# Note 0\n\n$x^0$, see [next](n1.md).\n",
        "n1.md": "# Note 1\n\n$y$ [broken](missing.md)\n",
        "sub/deeper/n5.md": "# Five\n\n$\\alpha$\n\n![figure](fig.svg)\n",
        "sub/deeper/fig.svg": '<svg xmlns="http://www.w3.org/2000/svg"/>\n',
    },
]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL of a process is POSIX")
def test_builds_killed_at_random_steps_leave_the_next_build_equal_to_a_clean_one(
    run_cli: Callable[..., BuildResult], tmp_path: Path
) -> None:
    references = []
    for number, variant in enumerate(_VARIANTS):
        _write_notes(tmp_path / f"ref-src-{number}", variant)
        reference = tmp_path / f"ref-{number}"
        run_cli("--src", tmp_path / f"ref-src-{number}", "--out", reference, "--no-cache", "-q")
        references.append(_files(reference))
    src, out, cache = tmp_path / "src", tmp_path / "out", tmp_path / "cache"
    options = ["--src", str(src), "--out", str(out), "--cache-dir", str(cache), "-q"]
    rng = random.Random(20261201)
    kills, number = 0, 0
    for _ in range(2 * KILLS):
        if kills == KILLS:
            break
        # Each build changes the site, so it has some 35 steps to write, where it is killed.
        number = rng.choice([n for n in range(len(_VARIANTS)) if n != number])
        _write_notes(src, _VARIANTS[number])
        killed = subprocess.run(
            [sys.executable, "-c", _KILLED_BUILD, str(rng.randint(1, 40)), *options],
            cwd=REPO,
            capture_output=True,
            timeout=120,
        )
        kills += killed.returncode == -9
        following = run_cli(*options)
        assert following.code == 0, following.stderr
        assert _files(out) == references[number], f"after kill {kills}"
        assert _temporaries(out, cache) == []
    assert kills == KILLS
