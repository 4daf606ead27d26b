"""Runs a build's work: builds notes and writes their pages, in this process or in worker
processes for a big build. It decides nothing about what to build (the planner does).

A small build, or one whose notes are mostly cached, stays in this process and pays no
worker start-up. Each body stays where its note was built, or where the cache gave it, until
its page is written there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from ..config import Config
from ..errors import Diagnostic
from ..sources import NoteSource, Stat
from ..typeset.cache import Store
from .engine import EngineFactory, LazyEngine
from .record import NoteRecord, Site

if TYPE_CHECKING:
    from ..site.templates import PageRenderer
    from .work import PreparedTemplates
    from .workers import WorkerPool

# The work itself (.work, and through it .note) is imported where it is first run: a
# rebuild with nothing to build never compiles nor loads it.

POOL_MIN_BYTES = 256 * 1024
"""Below this much Markdown to build, workers cost more start-up than they save."""


class Executor:
    """Builds notes and writes their pages, in this process or in worker processes.

    The workers are started by the first call big enough to need them (config.jobs of
    them, at most one a note) and serve every later call, until close().
    """

    def __init__(
        self,
        config: Config,
        dist: Path,
        engine_factory: EngineFactory,
        store: Store | None = None,
        *,
        pool_min_bytes: int = POOL_MIN_BYTES,
    ) -> None:
        self._config = config
        self._dist = dist
        self._factory = engine_factory
        self._pool_min_bytes = pool_min_bytes
        self._engine = LazyEngine(config, dist, engine_factory, store)
        self._pool: WorkerPool | None = None
        self._bodies: dict[PurePosixPath, list[bytes]] = {}
        """The bodies of notes whose page this process writes."""
        self._own_renderer: PageRenderer | None = None
        self._templates: PreparedTemplates | None = None
        """The page templates, compiled while V8 typesets the notes built here."""

    @property
    def workers(self) -> int:
        """How many worker processes this build started (0: it ran in this process)."""
        return 0 if self._pool is None else self._pool.size

    def build(
        self,
        notes: Sequence[NoteSource],
        *,
        prestart: bool = False,
        idle: Sequence[Callable[[], object]] = (),
    ) -> list[NoteRecord | Diagnostic]:
        """Build notes, in their order; each gives its record, or a Diagnostic if unreadable.
        Each body stays where the note was built, to write its page. With `prestart` (a note
        the cache is unlikely to know), the engine starts at once, while the first note is
        still being parsed, rather than on the first formula the cache does not know. The
        `idle` tasks are done here while V8 typesets (not in workers, whose parent waits)."""
        sizes = [_size(note) for note in notes]  # decide on workers, and feed them biggest first
        if self._pool is None and self._wants_pool(sizes):
            from ..typeset import forked
            from .workers import WorkerPool

            forked.discard()  # each worker makes its own V8

            jobs = min(self._config.jobs, len(notes))
            self._pool = WorkerPool(self._config, self._dist, self._factory, jobs, prestart=prestart)
        if self._pool is not None:
            return self._pool.build(notes, sizes)
        if prestart:
            self._engine.prestart()
        from .work import PreparedTemplates, build_all

        if self._templates is None:
            self._templates = PreparedTemplates(self._config.templates_dir)
        records: list[NoteRecord | Diagnostic] = []
        for built in build_all(notes, self._config, self._engine, self._templates, idle):
            if isinstance(built, Diagnostic):
                records.append(built)
            else:
                self._bodies[built.record.source.rel] = built.body
                records.append(built.record)
        return records

    def hold(self, rel: PurePosixPath, body: list[bytes]) -> None:
        """Keep a note's body from the cache, to write its page here."""
        self._bodies[rel] = body

    def write_pages(
        self, site: Site, records: Sequence[NoteRecord], *, home: bool, meanwhile: Callable[[], None]
    ) -> dict[PurePosixPath, Stat | None]:
        """Render and write the pages of notes, each where its body is, and with `home` the
        home page listing them; returns the stat of each note's page, by note. `meanwhile`
        is done here while the workers write theirs (the site's other files)."""
        from .work import write_home, write_page

        self._engine.write_cache()  # every note is built: the state saved next may name their bodies
        here = [r for r in records if r.source.rel in self._bodies]
        there = [r.source.rel for r in records if r.source.rel not in self._bodies]
        writing: set[int] = set()
        if there:  # the workers write theirs, and the home page, while this process writes its own
            assert self._pool is not None and all(self._pool.holds(rel) for rel in there)
            writing = self._pool.send_writes(site, there, home=home)
            meanwhile()
        stats: dict[PurePosixPath, Stat | None] = {}
        for record in here:
            body = self._bodies.pop(record.source.rel)
            stats[record.source.rel] = write_page(self._config, self._renderer(site), record, body)
        if home and not there:
            write_home(self._config, self._renderer(site))
        if not there:
            meanwhile()
        if writing:
            assert self._pool is not None
            stats.update(self._pool.collect_writes(writing))
        return stats

    def _renderer(self, site: Site) -> PageRenderer:
        """This process's renderer; Jinja is loaded when the first page is rendered here."""
        if self._own_renderer is None:
            from ..site.templates import PageRenderer

            self._own_renderer = PageRenderer(site, self._templates.take() if self._templates else None)
        return self._own_renderer

    def cache_trouble(self) -> Diagnostic | None:
        """Why this process or a worker stopped using the cache, if one did (the first)."""
        return self._engine.trouble() or (self._pool.cache_trouble if self._pool is not None else None)

    def close(self) -> None:
        """Stop the workers and let go of the engine and the cache (each even if another
        fails: a second Ctrl-C while the first waits for V8)."""
        try:
            if self._pool is not None:
                self._pool.close()
        finally:
            self._engine.close()

    def _wants_pool(self, sizes: Sequence[int]) -> bool:
        return (
            min(self._config.jobs, len(sizes)) > 1
            and sum(sizes) >= self._pool_min_bytes
            and _can_send(self._factory)
        )


def _can_send(engine_factory: EngineFactory) -> bool:
    """Whether a worker can receive the factory; one that holds a live engine (the preview's)
    cannot, and its build stays in this process."""
    import pickle  # only a build with notes to build asks

    try:
        pickle.dumps(engine_factory)
    except (pickle.PicklingError, TypeError, AttributeError):
        return False
    return True


def _size(note: NoteSource) -> int:
    with contextlib.suppress(OSError):  # a note removed meanwhile is reported when it is built
        return note.path.stat().st_size
    return 0
