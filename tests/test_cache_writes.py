"""When the cache's entries reach the file: a note's entries are held and written with those
of the next notes, in one transaction once GROUP_BYTES have gathered, and every one of them
is in the file by the end of the build, whether it ran in one process or in workers."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from notes_render.build.pipeline import build_site
from notes_render.config import make_config
from notes_render.typeset import cache
from notes_render.typeset.cache import BODIES, DB_NAME, FORMULAS, Store


class _Full(sqlite3.Connection):
    """A connection to a cache on a disk that fills up: it reads, and no entry fits."""

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        raise sqlite3.OperationalError("database or disk is full")


def _in_file(folder: Path, table: str) -> dict[str, bytes]:
    """What another process reading the cache file finds in a table."""
    path = folder / DB_NAME
    if not path.exists():
        return {}
    with sqlite3.connect(path) as db:
        return dict(db.execute(f"SELECT key, value FROM {table}").fetchall())


def test_a_notes_entries_wait_for_the_next_notes_and_are_found_meanwhile(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with store.batch():
        store.put_many(FORMULAS, [("x", b"Hx"), ("y", b"Hy")])
    with store.batch():
        store.put_many(BODIES, [("b", b"body")])
    assert _in_file(tmp_path, FORMULAS) == {}
    assert store.get_many(FORMULAS, ["y", "z", "x"]) == {"x": b"Hx", "y": b"Hy"}
    assert store.get_many(BODIES, ["b"]) == {"b": b"body"}
    store.flush()
    assert _in_file(tmp_path, FORMULAS) == {"x": b"Hx", "y": b"Hy"}
    assert _in_file(tmp_path, BODIES) == {"b": b"body"}
    store.close()


def test_entries_are_written_once_group_bytes_have_gathered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache, "GROUP_BYTES", 10)
    store = Store(tmp_path)
    with store.batch():
        store.put_many(FORMULAS, [("a", b"12345")])
    assert _in_file(tmp_path, FORMULAS) == {}
    with store.batch():
        store.put_many(FORMULAS, [("b", b"67890")])
    assert _in_file(tmp_path, FORMULAS) == {"a": b"12345", "b": b"67890"}
    store.close()


def test_a_put_outside_a_batch_and_the_entries_held_at_close_are_written(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.put_many(FORMULAS, [("now", b"1")])
    assert _in_file(tmp_path, FORMULAS) == {"now": b"1"}
    with store.batch():
        store.put_many(FORMULAS, [("later", b"2")])
    store.close()
    assert _in_file(tmp_path, FORMULAS) == {"now": b"1", "later": b"2"}


@pytest.mark.parametrize("jobs", [1, 2])
def test_every_entry_of_a_cold_build_is_in_the_file_when_it_ends(tmp_path: Path, jobs: int) -> None:
    src = tmp_path / "notes"
    src.mkdir()
    for index in range(4):
        (src / f"n{index}.md").write_text(
            f"# Note {index}\n\nSay $x_{index} + y$ and\n\n$$\\sum_{{k={index}}}^n k^2$$\n", encoding="utf-8"
        )
    config = make_config(src=src, out=tmp_path / "site", cache_dir=tmp_path / "cache", jobs=jobs)
    report = build_site(config, pool_min_bytes=0)
    assert report.workers == (0 if jobs == 1 else 2)
    assert len(_in_file(tmp_path / "cache", FORMULAS)) == report.formulas == 8
    assert len(_in_file(tmp_path / "cache", BODIES)) == 4


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_bodies_a_state_names_are_in_the_file_before_it_is_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    # A build stopped right after saving its state (killed, a power cut) must not leave a
    # state naming bodies the cache never got: a later build that renders those pages
    # again (a template changed) would have to build their notes anew.
    from notes_render.build import pipeline

    src = tmp_path / "notes"
    src.mkdir()
    for index in range(4):
        (src / f"n{index}.md").write_text(f"# Note {index}\n\nSay $x_{index} + y$.\n", encoding="utf-8")
    seen: list[int] = []
    save_state = pipeline._save_state

    def saving(*args: Any) -> None:
        seen.append(len(_in_file(tmp_path / "cache", BODIES)))
        save_state(*args)

    monkeypatch.setattr(pipeline, "_save_state", saving)
    config = make_config(src=src, out=tmp_path / "site", cache_dir=tmp_path / "cache", jobs=jobs)
    report = build_site(config, pool_min_bytes=0)
    assert report.workers == (0 if jobs == 1 else 2)
    assert seen == [4]


def test_a_worker_that_cannot_write_its_notes_entries_says_so_once(tmp_path: Path) -> None:
    # Its lookups work, and its first write is the one before its pages: a disk full by then
    # must still be a warning, not a cache silently short of the notes' entries. A process
    # of its own, without V8, so that the workers are forked with the full disk in them.
    src = tmp_path / "notes"
    src.mkdir()
    config = make_config(src=src, out=tmp_path / "site", cache_dir=tmp_path / "cache", jobs=2)
    for index in range(4):
        (src / f"n{index}.md").write_text(f"# N{index}\n\n$x_{index} + a$\n", encoding="utf-8")
    build_site(config, pool_min_bytes=0)
    for index in range(4):
        (src / f"n{index}.md").write_text(f"# N{index}\n\n$x_{index} + b$\n", encoding="utf-8")
    script = f"""
import sqlite3, sys
from pathlib import Path
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_cache_writes import _Full
from notes_render.build.pipeline import build_site
from notes_render.config import make_config

connect = sqlite3.connect
sqlite3.connect = lambda database, **options: connect(database, factory=_Full, **options)
config = make_config(
    src=Path({str(src)!r}), out=Path({str(config.out)!r}), cache_dir=Path({str(config.cache_dir)!r}), jobs=2
)
report = build_site(config, pool_min_bytes=0)
print(report.workers, len(report.built))
for diagnostic in report.diagnostics:
    print(diagnostic.format())
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "2 4",
        f"{tmp_path / 'cache' / DB_NAME}: warning: cannot use the cache (database or disk is full); "
        "this build goes on without it",
    ]
    assert len(_in_file(tmp_path / "cache", FORMULAS)) == 4  # the first build's only
