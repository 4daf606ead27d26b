"""A cache is an optimisation: one that is locked, cannot be written or is no folder costs one
warning, never the build, and `cache prune` removes only what the build wrote.

Failures are injected through public seams: `sqlite3.connect` (a real read-only or full
database), `writer.write_atomic` (the state file), or made for real (a file where the cache
folder should be; another process holding the write lock).
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import BuildResult

from notes_render import cli
from notes_render.build import state
from notes_render.build.pipeline import build_site
from notes_render.config import Config
from notes_render.site import writer

NOTES = {f"n{i}.md": f"# Note {i}\n\nSome $x_{i}$ and $y^{i}$.\n" for i in range(3)}
CHANGED = {rel: text.replace("y^", "z^") for rel, text in NOTES.items()}

Build = Callable[..., BuildResult]


@pytest.fixture
def build(tmp_path: Path, run_cli: Build) -> Build:
    """Build {rel: text} into tmp_path/OUT with the options given; returns the CLI's result."""

    def run(notes: dict[str, str], out: str, *options: str | Path) -> BuildResult:
        src = tmp_path / "src"
        src.mkdir(exist_ok=True)
        for rel, text in notes.items():
            (src / rel).write_text(text, encoding="utf-8")
        return run_cli("--src", src, "--out", tmp_path / out, *options, out=tmp_path / out)

    return run


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "warning:" in line]


class _Counting(sqlite3.Connection):
    """A connection that counts the statements SQLite refused because another held the lock."""

    busy = 0

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode == sqlite3.SQLITE_BUSY:
                type(self).busy += 1
            raise


@contextmanager
def _write_lock_held(database: Path) -> Iterator[None]:
    """Another process holds the cache's write lock until the block ends (then it exits)."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            f"db = sqlite3.connect({str(database)!r}, isolation_level=None)\n"
            "db.execute('BEGIN IMMEDIATE')\n"
            "print('held', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        yield
    finally:
        holder.communicate(timeout=30)  # stdin closed: it ends, and the lock with it


def test_a_busy_cache_costs_one_short_wait_and_one_warning(
    build: Build, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    assert build(NOTES, "out", "--cache-dir", cache).code == 0
    timeouts: list[float] = []
    connect = sqlite3.connect
    _Counting.busy = 0

    def counting_connect(database: Any, timeout: float = 5.0, **options: Any) -> sqlite3.Connection:
        timeouts.append(timeout)
        # The wait itself is cut short here, so that this test never waits long on any code.
        return connect(database, timeout=min(timeout, 0.2), factory=_Counting, **options)

    monkeypatch.setattr(sqlite3, "connect", counting_connect)
    with _write_lock_held(cache / "cache.sqlite3"):
        result = build(CHANGED, "out", "--cache-dir", cache)
    assert result.code == 0, result.stderr
    assert _warnings(result.stderr) == [
        f"{cache / 'cache.sqlite3'}: warning: the cache is locked by another process (waited 5 s); "
        "this build goes on without it"
    ]
    assert _Counting.busy == 1  # it gave up on the cache at once, not once per note
    assert timeouts and all(timeout <= 5 for timeout in timeouts)
    scratch = build(CHANGED, "scratch", "--no-cache")
    assert _files(result.out) == _files(scratch.out)


def test_workers_that_find_the_cache_busy_make_one_warning_too(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for rel, text in NOTES.items():
        (src / rel).write_text(text, encoding="utf-8")
    config = Config(src=src, out=tmp_path / "out", cache_dir=tmp_path / "cache", jobs=2)
    build_site(config)
    for rel, text in CHANGED.items():
        (src / rel).write_text(text, encoding="utf-8")
    with _write_lock_held(tmp_path / "cache" / "cache.sqlite3"):
        report = build_site(config, pool_min_bytes=0)  # two workers, each with its own connection
    assert report.workers == 2
    assert [d.format() for d in report.diagnostics] == [
        f"{tmp_path / 'cache' / 'cache.sqlite3'}: warning: the cache is locked by another process "
        "(waited 5 s); this build goes on without it"
    ]
    assert sorted(map(str, report.built)) == sorted(CHANGED)


def test_a_new_cache_another_build_is_creating_is_waited_for(build: Build, tmp_path: Path) -> None:
    # Another connection is writing the new file, not yet in WAL mode, for a moment. SQLite
    # refuses the switch to WAL at once then, without waiting: two workers opening a new
    # cache together met this, and one of them went on without the cache.
    cache = tmp_path / "cache"
    cache.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, time\n"
            f"db = sqlite3.connect({str(cache / 'cache.sqlite3')!r}, isolation_level=None)\n"
            "db.execute('BEGIN IMMEDIATE')\n"
            "print('held', flush=True)\n"
            "time.sleep(0.5)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        result = build(NOTES, "out", "--cache-dir", cache)
    finally:
        holder.communicate(timeout=30)
    assert result.code == 0, result.stderr
    assert _warnings(result.stderr) == []
    db = sqlite3.connect(cache / "cache.sqlite3")
    try:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("SELECT count(*) FROM formulas").fetchone() == (6,)
    finally:
        db.close()


def _read_only(connect: Callable[..., sqlite3.Connection]) -> Callable[..., sqlite3.Connection]:
    def read_only(database: Any, **options: Any) -> sqlite3.Connection:
        return connect(f"file:{database}?mode=ro", uri=True, **options)

    return read_only


def _full(connect: Callable[..., sqlite3.Connection]) -> Callable[..., sqlite3.Connection]:
    def full(database: Any, **options: Any) -> sqlite3.Connection:
        db = connect(database, **options)
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {max(pages, 1)}")  # the file cannot grow: SQLITE_FULL
        return db

    return full


@pytest.mark.parametrize(
    ("case", "failing_write", "database", "warning"),
    [
        (
            "read-only folder",
            errno.EACCES,
            _read_only,
            r"cache\.sqlite3: warning: cannot use the cache \(.+\)",
        ),
        (
            "full disk",
            errno.ENOSPC,
            _full,
            r"cache\.sqlite3: warning: cannot use the cache \(database or disk is full\)",
        ),
        (
            "full disk, state only",
            errno.ENOSPC,
            None,
            r"builds/\w+\.json: warning: cannot write the cache \(No space left on device\)",
        ),
        ("folder is a file", None, None, r"cache: warning: the cache folder exists and is not a folder"),
        ("builds is a file", None, None, r"cache[/\\]builds: warning: a file where the cache needs a folder"),
        (
            "state is a folder",
            None,
            None,
            r"builds[/\\]\w+\.json: warning: cannot write the cache \(.+\)",
        ),
    ],
)
def test_a_cache_that_cannot_be_written_costs_one_warning_and_the_site_is_complete(
    build: Build,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    failing_write: int | None,
    database: Callable[..., Callable[..., sqlite3.Connection]] | None,
    warning: str,
) -> None:
    cache = tmp_path / "cache"
    if case == "folder is a file":
        cache.write_text("not a folder\n", encoding="utf-8")
    if case == "builds is a file":
        (cache / "builds").parent.mkdir()
        (cache / "builds").write_text("not a folder\n", encoding="utf-8")
    if case == "state is a folder":
        assert build(NOTES, "out", "--cache-dir", cache).code == 0
        state_file = next((cache / "builds").glob("*.json"))
        state_file.unlink()
        state_file.mkdir()
    if database is not None:
        monkeypatch.setattr(sqlite3, "connect", database(sqlite3.connect))
    if failing_write is not None:
        write_atomic = writer.write_atomic

        def failing(path: Path, data: bytes) -> bool:
            if path.is_relative_to(cache):
                raise OSError(failing_write, os.strerror(failing_write), str(path))
            return write_atomic(path, data)

        monkeypatch.setattr(writer, "write_atomic", failing)
    result = build(CHANGED, "out", "--cache-dir", cache)
    assert result.code == 0, result.stderr
    (line,) = _warnings(result.stderr)
    assert line.startswith(str(tmp_path)), line
    assert re.search(warning + "; this build goes on without it$", line), line
    assert "Errno" not in result.stderr
    scratch = build(CHANGED, "scratch", "--no-cache")
    assert _files(result.out) == _files(scratch.out)


# --- cache prune ------------------------------------------------------------------------


def test_prune_removes_only_state_files_the_build_wrote(tmp_path: Path, build: Build) -> None:
    cache = tmp_path / "cache"
    assert build(NOTES, "gone", "--cache-dir", cache, "-q").code == 0
    (ours,) = (cache / "builds").glob("*.json")
    # The user's own files in the same folder, with `src` and `out` keys naming folders
    # that do not exist: not the build's, so never deleted.
    foreign = {"src": str(tmp_path / "nowhere"), "out": str(tmp_path / "nowhere-either")}
    theirs = {
        "mine.json": json.dumps(foreign),
        "versioned.json": json.dumps({**foreign, "version": state.STATE_VERSION}),
        # A copy of a real state under another name is not the state of that pair.
        "copied.json": ours.read_text(encoding="utf-8"),
    }
    for name, text in theirs.items():
        (cache / "builds" / name).write_text(text, encoding="utf-8")
    shutil.rmtree(tmp_path / "gone")
    assert cli.main(["cache", "prune", "--cache-dir", str(cache)]) == 0
    assert not ours.exists()  # its folders are gone, and it is the build's own
    assert sorted(p.name for p in (cache / "builds").iterdir()) == sorted(theirs)


def test_prune_refuses_a_folder_that_holds_no_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "cache.sqlite3").write_bytes(b"")  # a name, not a cache
    assert cli.main(["cache", "prune", "--cache-dir", str(folder)]) == 2
    assert "is not a notes-render cache" in capsys.readouterr().err
    assert (folder / "cache.sqlite3").read_bytes() == b""
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["cache", "prune", "--cache-dir", str(empty)]) == 2
    assert f"no cache at {empty}" in capsys.readouterr().err
    assert list(empty.iterdir()) == []  # nothing made there
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x", encoding="utf-8")
    assert cli.main(["cache", "prune", "--cache-dir", str(not_a_folder)]) == 2
    assert f"no cache at {not_a_folder}" in capsys.readouterr().err
