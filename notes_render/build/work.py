"""The work a build repeats, wherever it runs (this process or a worker): build a note and
keep its body in the cache, and write a note's page or the home page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..config import Config
from ..errors import Diagnostic
from ..site import writer
from ..sources import HOME, NoteSource, Stat, file_stat
from ..typeset.cache import BODIES, body_key
from .engine import LazyEngine
from .note import BuiltNote, build_note
from .record import NoteRecord

if TYPE_CHECKING:
    from ..site.templates import PageRenderer


def build_and_keep(note: NoteSource, config: Config, get_engine: LazyEngine) -> BuiltNote | Diagnostic:
    """Build one note and keep its body in the cache, where it was built (so in parallel);
    its formulas, code and body go to the cache in one transaction."""
    if config.cache_dir is None:
        return build_note(note, config, get_engine)
    store = get_engine.store()
    with store.batch():
        built = build_note(note, config, get_engine, store)
        if isinstance(built, BuiltNote):
            whole = b"".join(built.body)  # the cache keeps it as one value
            built.record.body_key = body_key(whole)
            store.put_many(BODIES, [(built.record.body_key, whole)])
    return built


def write_page(config: Config, renderer: PageRenderer, record: NoteRecord, body: list[bytes]) -> Stat | None:
    """Render one note's page and write it; the stat of the file written."""
    path = config.out / record.source.output
    writer.write_atomic(path, renderer.note(record, body))
    return file_stat(path)


def write_home(config: Config, renderer: PageRenderer) -> None:
    """Render the home page listing every note and write it."""
    writer.write_atomic(config.out / HOME, renderer.home())
