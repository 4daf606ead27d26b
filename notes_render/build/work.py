"""The work a build repeats, wherever it runs (this process or a worker): build a note and
keep its body in the cache, and write a note's page or the home page.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from ..config import Config
from ..errors import BuildError, Diagnostic
from ..site import writer
from ..sources import HOME, NoteSource, Stat, file_stat
from ..typeset.bodies import load_bodies
from ..typeset.cache import BODIES, Store, body_key
from .engine import LazyEngine
from .note import BuiltNote, StartedNote, build_note, finish_note, start_note
from .record import NoteRecord

if TYPE_CHECKING:
    from ..site.templates import CompiledTemplates, PageRenderer


AHEAD = 1
"""Notes started (parsed, their formulas sent to the engine's thread) before the oldest one
started is finished: V8 typesets one note while Python parses the next."""


class PreparedTemplates:
    """The page templates of one build, compiled while V8 typesets (at most once), until
    the build's page renderer takes them."""

    def __init__(self, templates_dir: Path) -> None:
        self._templates_dir = templates_dir
        self._compiled: CompiledTemplates | None = None
        self._tried = False

    def prepare(self) -> None:
        """Compile them now, if not tried yet."""
        if not self._tried:
            self._tried = True
            from ..site import templates  # Jinja: imported now, as it is needed soon

            self._compiled = templates.prepared_environment(self._templates_dir)

    def take(self) -> CompiledTemplates | None:
        """The templates compiled, if they were; let go here."""
        compiled, self._compiled = self._compiled, None
        return compiled


def build_all(
    notes: Iterable[NoteSource],
    config: Config,
    get_engine: LazyEngine,
    templates: PreparedTemplates | None = None,
    idle: Sequence[Callable[[], object]] = (),
) -> Iterator[BuiltNote | Diagnostic]:
    """Build notes in order, each started AHEAD notes before it is finished, so that V8
    typesets one note's formulas while the next is parsed; `idle` as finish_and_keep's."""
    started: deque[StartedNote | Diagnostic] = deque()
    for note in notes:
        started.append(start_note(note, config, get_engine))
        if len(started) > AHEAD:
            yield finish_and_keep(started.popleft(), config, get_engine, templates, idle)
    while started:
        yield finish_and_keep(started.popleft(), config, get_engine, templates, idle)


def finish_and_keep(
    started: StartedNote | Diagnostic,
    config: Config,
    get_engine: LazyEngine,
    templates: PreparedTemplates | None = None,
    idle: Sequence[Callable[[], object]] = (),
) -> BuiltNote | Diagnostic:
    """Finish a started note and keep its body in the cache, where it was built (so in
    parallel); its formulas, code and body go to the cache in one transaction. While V8 is
    still at work on it, `templates` are compiled, then the `idle` tasks are done (for
    each note: a task is the caller's to make cheap once done)."""
    if isinstance(started, Diagnostic):
        return started
    idle = [templates.prepare, *idle] if templates is not None else list(idle)
    if config.cache_dir is None:
        return finish_note(started, idle=idle)
    store = get_engine.store()
    with store.batch():
        built = finish_note(started, store, idle)
        assert built.recipe is not None  # made with a store
        kept = built.recipe.encode()  # without the formulas the cache holds (typeset/bodies.py)
        built.record.body_key = body_key(kept)
        store.put_many(BODIES, [(built.record.body_key, kept)])
    return BuiltNote(built.record, built.body)  # the recipe let go, and the formulas it held


def write_page(config: Config, renderer: PageRenderer, record: NoteRecord, body: list[bytes]) -> Stat | None:
    """Render one note's page and write it; the stat of the file written."""
    path = config.out / record.source.output
    writer.write_atomic(path, renderer.note(record, body))
    return file_stat(path)


def write_home(config: Config, renderer: PageRenderer) -> None:
    """Render the home page listing every note and write it."""
    writer.write_atomic(config.out / HOME, renderer.home())


HELD_BODY_BYTES = 64 * 2**20
"""How much of its notes' bodies a worker holds in memory for their pages. Past it, a body
the cache has is let go and read back when its page is written: a site of 2,000 notes has
600 MB of bodies, which two workers would otherwise hold to the end."""


class HeldBodies:
    """The notes a worker built, each with its body or, past `limit`, the body's key in the
    cache, until their pages are written."""

    def __init__(self, store: Store | None, limit: int = HELD_BODY_BYTES) -> None:
        self._store = store
        self._limit = limit
        self._held: dict[PurePosixPath, tuple[NoteRecord, list[bytes] | None]] = {}
        self._bytes = 0

    def keep(self, built: BuiltNote) -> None:
        """Hold a note just built (finish_and_keep has put its body in the cache, if any)."""
        size = sum(map(len, built.body))
        in_cache = self._store is not None and self._store.trouble is None and bool(built.record.body_key)
        if in_cache and self._bytes + size > self._limit:
            self._held[built.record.source.rel] = (built.record, None)
        else:
            self._held[built.record.source.rel] = (built.record, built.body)
            self._bytes += size

    def take(self, rel: PurePosixPath, config: Config, get_engine: LazyEngine) -> BuiltNote:
        """A held note with its body, let go here; one the cache lost meanwhile (it gave up
        after the body was put) is built again, from the cache's formulas where it can."""
        record, body = self._held.pop(rel)
        if body is not None:
            self._bytes -= sum(map(len, body))
            return BuiltNote(record, body)
        found = load_bodies(self._store, [record.body_key]) if self._store is not None else {}
        if record.body_key in found:
            return BuiltNote(record, [found[record.body_key]])
        again = build_note(record.source, config, get_engine)
        if isinstance(again, Diagnostic):
            raise BuildError(
                f"{record.source.display_path}: its body left the cache and it cannot be read again"
            )
        return BuiltNote(record, again.body)
