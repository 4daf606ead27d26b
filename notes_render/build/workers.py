"""Building many notes: in this process, or spread over worker processes for a big build.

A worker builds the notes it is given one at a time, keeps each body (the bulk of a page:
typeset formulas) and sends back the rest; once every note is built, and so every title
known, it renders and writes the pages of its own notes. Bodies thus never cross between
processes, and the pages are rendered in parallel too.

Each worker makes its own engine, lazily, on its first formula the cache does not know:
V8 cannot be shared across processes nor survive a fork. A small build, or one whose
notes are mostly cached, stays in this process and pays no worker start-up.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import signal
import sys
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ..config import Config
from ..errors import BuildError, Diagnostic
from ..site import writer
from ..sources import HOME, NoteSource, file_stat
from ..typeset.cache import BODIES, CachedEngine, Store, body_key
from ..typeset.katex import MathEngine, engine_id, katex_version
from .page import Page, Site, build_page, detach

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    from ..site.templates import PageRenderer
    from ..sources import Stat
    from .pipeline import EngineFactory

POOL_MIN_BYTES = 256 * 1024
"""Below this much Markdown to build, workers cost more start-up than they save."""

IN_FLIGHT = 2
"""Notes sent ahead to each worker, so it never waits for the next one."""

STOP_WAIT_S = 1.0
"""How long a stopping worker may take to finish what it does before it is killed."""

PARENT_CHECK_S = 0.5
"""How often an idle worker makes sure the build that started it is still there."""


class NoteBuilder:
    """Builds notes and writes their pages, in this process or in worker processes.

    The workers are started by the first call big enough to need them and serve every later
    call, until close().
    """

    def __init__(
        self, config: Config, dist: Path, engine_factory: EngineFactory, store: Store | None = None
    ) -> None:
        self._config = config
        self._dist = dist
        self._factory = engine_factory
        self._engine = LazyEngine(config, dist, engine_factory, store)
        self._pool: _Pool | None = None
        self._own_renderer: PageRenderer | None = None
        self._worker_trouble: Diagnostic | None = None

    def build(self, notes: Sequence[NoteSource]) -> list[Page | Diagnostic]:
        """Build notes, in their order; each gives its Page, or a Diagnostic if unreadable.

        A page built by a worker comes back with body None: the worker keeps it.
        """
        sizes = [_size(note) for note in notes]  # decide on workers, and feed them biggest first
        if self._pool is None and self._wants_pool(sizes):
            self._pool = _Pool(self._config, self._dist, self._factory, min(self._config.jobs, len(notes)))
        if self._pool is not None:
            built = self._pool.build(notes, sizes)
            self._worker_trouble = self._worker_trouble or self._pool.cache_trouble
            return built
        return [_build_and_keep(note, self._config, self._engine) for note in notes]

    def write_pages(
        self, site: Site, pages: Sequence[Page], *, home: bool
    ) -> dict[PurePosixPath, Stat | None]:
        """Render and write the pages of notes, each where its body is, and with `home` the
        home page listing them; returns the stat of each note's page, by note."""
        held = [page for page in pages if page.body is None]
        if held:  # the workers write theirs, and the home page, while this process writes its own
            assert self._pool is not None
            self._pool.send_writes(site, held, home=home)
        stats: dict[PurePosixPath, Stat | None] = {}
        for page in pages:
            if page.body is not None:
                stats[page.source.rel] = write_page(self._config, self._renderer(site), page, page.body)
        if home and not held:
            write_home(self._config, self._renderer(site))
        if held:
            assert self._pool is not None
            stats.update(self._pool.collect_writes())
        return stats

    def _renderer(self, site: Site) -> PageRenderer:
        """This process's renderer; Jinja is loaded when the first page is rendered here."""
        if self._own_renderer is None:
            from ..site.templates import PageRenderer

            self._own_renderer = PageRenderer(site)
        return self._own_renderer

    def cache_trouble(self) -> Diagnostic | None:
        """Why this process or a worker stopped using the cache, if one did (the first)."""
        return self._engine.trouble() or self._worker_trouble

    def close(self) -> None:
        """Stop the workers and let go of the engine and the cache."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        self._engine.close()

    def _wants_pool(self, sizes: Sequence[int]) -> bool:
        return (
            min(self._config.jobs, len(sizes)) > 1
            and sum(sizes) >= POOL_MIN_BYTES
            and _can_send(self._factory)
        )


def write_home(config: Config, renderer: PageRenderer) -> None:
    """Render the home page listing every note and write it."""
    writer.write_atomic(config.out / HOME, renderer.home())


def write_page(config: Config, renderer: PageRenderer, page: Page, body: list[bytes]) -> Stat | None:
    """Render one note's page and write it; the stat of the file written."""
    path = config.out / page.source.output
    writer.write_atomic(path, renderer.note(page, body))
    return file_stat(path)


def _build_and_keep(note: NoteSource, config: Config, get_engine: LazyEngine) -> Page | Diagnostic:
    """Build one note and keep its body in the cache, where it was built (so in parallel);
    its formulas, code and body go to the cache in one transaction."""
    if config.cache_dir is None:
        return build_page(note, config, get_engine)
    store = get_engine.store()
    with store.batch():
        built = build_page(note, config, get_engine, store)
        if isinstance(built, Page) and built.body is not None:
            whole = b"".join(built.body)  # the cache keeps it as one value
            built.body_key = body_key(whole)
            store.put_many(BODIES, [(built.body_key, whole)])
    return built


class LazyEngine:
    """Makes the engine on first use, behind the formula cache if there is one."""

    def __init__(
        self, config: Config, dist: Path, engine_factory: EngineFactory, store: Store | None = None
    ) -> None:
        self._config = config
        self._dist = dist
        self._factory = engine_factory
        self._engine: MathEngine | None = None
        self._store = store

    def __call__(self) -> MathEngine:
        """The engine, made now if this is its first use."""
        if self._engine is None:
            config, dist, factory = self._config, self._dist, self._factory
            if config.cache_dir is None:
                self._engine = factory(dist, config)
            else:
                version = katex_version(dist)
                self._engine = CachedEngine(
                    self.store(),
                    lambda: factory(dist, config),
                    version=version,
                    engine_id=engine_id(version, trust_links=config.trust_links),
                )
        return self._engine

    def store(self) -> Store:
        """The cache's store, opened on first use (config.cache_dir must be set)."""
        if self._store is None:
            assert self._config.cache_dir is not None
            self._store = Store(self._config.cache_dir)
        return self._store

    def trouble(self) -> Diagnostic | None:
        """Why the store stopped using the cache, if it did."""
        return None if self._store is None else self._store.trouble

    def close(self) -> None:
        """Let go of the cache's database."""
        if self._store is not None:
            self._store.close()


def _can_send(engine_factory: EngineFactory) -> bool:
    """Whether a worker can receive the factory; one that holds a live engine (the preview's)
    cannot, and its build stays in this process."""
    try:
        pickle.dumps(engine_factory)
    except (pickle.PicklingError, TypeError, AttributeError):
        return False
    return True


def _size(note: NoteSource) -> int:
    with contextlib.suppress(OSError):  # a note removed meanwhile is reported when it is built
        return note.path.stat().st_size
    return 0


# --- the pool -------------------------------------------------------------------------
# A worker answers each message with one reply: ("built", index, Page | Diagnostic, its cache
# trouble or None),
# ("written", {note: stat}), or ("failed", exception) after which it stops.


def start_method(platform: str = sys.platform) -> str:
    """How workers start on this system (or another `platform`): "fork" starts one in
    milliseconds, but only from a process without V8 in it, and only where fork is sound:
    Windows has none, and on macOS the system's own libraries may break a forked child
    (Python itself starts workers by "spawn" there)."""
    forks = platform not in ("win32", "cygwin", "darwin")
    return "fork" if forks and "py_mini_racer" not in sys.modules else "spawn"


class _Pool:
    """Worker processes fed one note at a time, biggest first, so they finish together."""

    def __init__(self, config: Config, dist: Path, engine_factory: EngineFactory, jobs: int) -> None:
        import multiprocessing  # not needed (nor imported, ~0.01 s) by a build in one process

        fork = start_method() == "fork"
        context = multiprocessing.get_context("fork") if fork else multiprocessing.get_context("spawn")
        self._processes: list[BaseProcess] = []
        self._connections: list[Connection] = []
        self._owner: dict[PurePosixPath, int] = {}
        """Which worker keeps the body of each note built."""
        self._writing: set[int] = set()
        """The workers asked to write pages that have not answered yet."""
        self.cache_trouble: Diagnostic | None = None
        """Why a worker stopped using the cache, if one did (the first to say)."""
        try:
            for _ in range(jobs):
                ours, theirs = context.Pipe()
                process = context.Process(
                    target=_serve, args=(theirs, config, dist, engine_factory, os.getpid()), daemon=True
                )
                process.start()
                theirs.close()
                self._processes.append(process)
                self._connections.append(ours)
        except BaseException:
            self.close()
            raise

    def build(self, notes: Sequence[NoteSource], sizes: Sequence[int]) -> list[Page | Diagnostic]:
        """Build notes (of these sizes) on the workers; each Page comes back without its body."""
        order = iter(sorted(range(len(notes)), key=lambda i: -sizes[i]))
        built: dict[int, Page | Diagnostic] = {}

        def send_next(worker: int) -> None:
            index = next(order, None)
            if index is not None:
                self._connections[worker].send(("build", index, notes[index]))

        for worker in range(len(self._connections)):
            for _ in range(IN_FLIGHT):
                send_next(worker)
        while len(built) < len(notes):
            for worker, (_, index, result, trouble) in self._replies(range(len(self._connections))):
                built[index] = result
                self.cache_trouble = self.cache_trouble or trouble
                if isinstance(result, Page):
                    self._owner[result.source.rel] = worker
                send_next(worker)
        return [built[index] for index in range(len(notes))]

    def send_writes(self, site: Site, pages: Sequence[Page], *, home: bool) -> None:
        """Ask each worker to write the pages of the notes it built; with `home`, the one with
        the fewest writes the home page too."""
        by_worker: dict[int, list[PurePosixPath]] = {}
        for page in pages:
            by_worker.setdefault(self._owner[page.source.rel], []).append(page.source.rel)
        home_writer = min(by_worker, key=lambda worker: len(by_worker[worker])) if home else None
        for worker, rels in by_worker.items():
            self._connections[worker].send(("write", site, rels, worker == home_writer))
        self._writing = set(by_worker)

    def collect_writes(self) -> dict[PurePosixPath, Stat | None]:
        """The stats of the pages the workers were asked to write, once they all have."""
        stats: dict[PurePosixPath, Stat | None] = {}
        while self._writing:
            for worker, (_, written) in self._replies(sorted(self._writing)):
                stats.update(written)
                self._writing.discard(worker)
        return stats

    def _replies(self, workers: Sequence[int]) -> list[tuple[int, tuple[Any, ...]]]:
        """The next replies of some workers, as they come. A worker's failure is raised
        here; one that died is a BuildError."""
        from multiprocessing.connection import wait

        ready = wait([self._connections[worker] for worker in workers])
        replies = []
        for worker in workers:
            if self._connections[worker] not in ready:
                continue
            try:
                reply: tuple[Any, ...] = self._connections[worker].recv()
            except (EOFError, OSError):  # gone: a reset socket when it left messages unread
                process = self._processes[worker]
                process.join(1)
                raise BuildError(
                    f"a build worker stopped unexpectedly (exit code {process.exitcode}); "
                    "try again with --jobs 1 to see what it was building"
                ) from None
            if reply[0] == "failed":
                failure: BaseException = reply[1]
                raise failure
            replies.append((worker, reply))
        return replies

    def close(self) -> None:
        """Stop every worker: ask, and kill any that is still busy (after an error or Ctrl-C,
        when it may be in the middle of a note) a moment later."""
        for connection in self._connections:
            with contextlib.suppress(OSError):
                connection.send(("stop",))
            connection.close()
        for process in self._processes:
            process.join(STOP_WAIT_S)
            if process.is_alive():
                process.kill()
                process.join()
        self._processes, self._connections = [], []


def _serve(
    connection: Connection, config: Config, dist: Path, engine_factory: EngineFactory, parent: int
) -> None:
    """A worker's life: build the notes it is sent, then write their pages when asked.
    `parent` is the build's process id (taken there: it may be gone before we start)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops us
    engine = LazyEngine(config, dist, engine_factory)
    kept: dict[PurePosixPath, Page] = {}
    try:
        while True:
            # A forked sibling holds a copy of the parent's end of this pipe, so a parent that
            # was killed does not always close it: look for the parent itself now and then.
            try:
                idle = not connection.poll(PARENT_CHECK_S)
            except OSError:  # a broken pipe (Windows says so here): the parent is gone
                return
            if idle:
                if os.getppid() != parent:
                    return  # the build is gone (killed): so are we
                continue
            try:
                message = connection.recv()
            except (EOFError, OSError):
                return  # the parent is gone
            if message[0] == "stop":
                return
            try:
                connection.send(_answer(message, config, engine, kept))
            except BaseException as exc:  # noqa: BLE001 - every failure goes to the parent
                connection.send(("failed", _sendable(exc)))
                return
    finally:
        engine.close()


def _answer(
    message: tuple[Any, ...], config: Config, engine: LazyEngine, kept: dict[PurePosixPath, Page]
) -> tuple[Any, ...]:
    """The reply to a build or write message; a built note's page is kept for writing."""
    if message[0] == "build":
        _, index, note = message
        built = _build_and_keep(note, config, engine)
        if isinstance(built, Diagnostic):
            return ("built", index, built, engine.trouble())
        page = kept[note.rel] = detach(built)
        return ("built", index, dataclasses.replace(page, body=None), engine.trouble())
    _, site, rels, home = message
    from ..site.templates import PageRenderer

    renderer = PageRenderer(site)
    stats = {}
    for rel in rels:
        page = kept.pop(rel)
        assert page.body is not None
        stats[rel] = write_page(config, renderer, page, page.body)
    if home:
        write_home(config, renderer)
    return ("written", stats)


def _sendable(exc: BaseException) -> BaseException:
    """exc if it survives pickling, else a BuildError that tells what it was."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - any failure to pickle means: describe it instead
        return BuildError(f"a build worker failed: {type(exc).__name__}: {exc}")
    return exc
