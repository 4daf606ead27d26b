"""A worker holds the bodies of the notes it built until their pages are written; past its
limit it lets a body the cache has go and reads it back, so a site of thousands of notes
does not sit in memory whole. The page must come out the same either way."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from notes_render.build.engine import LazyEngine, default_engine
from notes_render.build.note import BuiltNote
from notes_render.build.work import HeldBodies, build_all
from notes_render.config import Config, make_config
from notes_render.errors import BuildError
from notes_render.sources import discover_notes
from notes_render.typeset.cache import DB_NAME, Store
from notes_render.typeset.katex import find_katex

NOTES = {
    "a.md": "# A\n\nInline $x^2$ and\n\n$$\\int_0^1 f(x)\\,dx$$\n",
    "b.md": "# B\n\n$\\alpha + \\beta$, text, and $e^{i\\pi} = -1$.\n",
    "c.md": "# C\n\nNo math here, only words.\n",
}


def _built(tmp_path: Path) -> tuple[Config, LazyEngine, list[BuiltNote]]:
    src = tmp_path / "notes"
    src.mkdir()
    for name, text in NOTES.items():
        (src / name).write_text(text, encoding="utf-8")
    config = make_config(src=src, out=tmp_path / "site", cache_dir=tmp_path / "cache")
    engine = LazyEngine(config, find_katex(None), default_engine)
    built = list(build_all(discover_notes(src), config, engine))
    engine.write_cache()  # as a worker does once its notes are built, before it takes their bodies
    assert all(isinstance(b, BuiltNote) for b in built)
    return config, engine, [b for b in built if isinstance(b, BuiltNote)]


def _holding(store: Store | None, built: list[BuiltNote], limit: int) -> HeldBodies:
    held = HeldBodies(store, limit=limit)
    for note in built:
        held.keep(note)
    return held


def _lose_bodies(tmp_path: Path) -> None:
    """The cache's bodies gone behind the store's back (pruned, or the cache folder emptied)."""
    with sqlite3.connect(tmp_path / "cache" / DB_NAME) as db:
        db.execute("DELETE FROM bodies")


def test_bodies_let_go_past_the_limit_come_back_from_the_cache_whole(tmp_path: Path) -> None:
    config, engine, built = _built(tmp_path)
    held = _holding(engine.store(), built, limit=len(b"".join(built[0].body)))  # the first one fits
    for note in built:
        back = held.take(note.record.source.rel, config, engine)
        assert back.record is note.record
        assert b"".join(back.body) == b"".join(note.body)
    engine.close()


def test_a_body_the_cache_lost_meanwhile_is_built_again(tmp_path: Path) -> None:
    config, engine, built = _built(tmp_path)
    held = _holding(engine.store(), built, limit=0)
    _lose_bodies(tmp_path)
    for note in built:
        assert b"".join(held.take(note.record.source.rel, config, engine).body) == b"".join(note.body)
    engine.close()


def test_without_a_cache_every_body_is_held(tmp_path: Path) -> None:
    config, engine, built = _built(tmp_path)
    held = _holding(None, built, limit=0)
    (tmp_path / "notes" / "a.md").unlink()  # nothing is built again: the body is here
    for note in built:
        assert held.take(note.record.source.rel, config, engine).body is note.body
    engine.close()


def test_a_lost_body_of_a_note_that_went_is_a_build_error(tmp_path: Path) -> None:
    config, engine, built = _built(tmp_path)
    held = _holding(engine.store(), built, limit=0)
    _lose_bodies(tmp_path)
    (tmp_path / "notes" / "a.md").unlink()
    with pytest.raises(BuildError, match=r"a\.md: its body left the cache and it cannot be read again"):
        held.take(built[0].record.source.rel, config, engine)
    engine.close()
