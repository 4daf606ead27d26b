"""Worker processes for a big build, and the typed messages between them and the build.

A worker builds the notes it is sent one at a time, keeps each body (the bulk of a page:
typeset formulas) and sends back the record; once every note is built, and so every title
known, it renders and writes the pages of its own notes. Bodies thus never cross between
processes, and the pages are rendered in parallel too. (This is why the pool is our own
and not concurrent.futures': a page must be written by the worker that holds its body.)

Each worker makes its own engine, lazily, on its first formula the cache does not know:
V8 cannot be shared across processes nor survive a fork.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from ..config import Config, usable_cpus
from ..errors import BuildError, Diagnostic
from ..sources import NoteSource, Stat
from ..typeset import katex
from ..typeset.background import ENGINE_THREAD
from ..typeset.forked import fork_is_sound
from .engine import EngineFactory, LazyEngine
from .note import StartedNote, start_note
from .record import NoteRecord, Site
from .work import AHEAD, HeldBodies, PreparedTemplates, finish_and_keep, write_home, write_page

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

IN_FLIGHT = 2
"""Notes sent ahead to each worker beyond those it starts before finishing one (its
`ahead`), so it never waits for the next one: one being built, one more on its way."""

STOP_WAIT_S = 1.0
"""How long a stopping worker may take to finish what it does before it is killed."""

PARENT_CHECK_S = 0.5
"""How often an idle worker makes sure the build that started it is still there."""


# --- the messages: each request gets one reply, except Stop -----------------------------


@dataclass(frozen=True, slots=True)
class BuildNote:
    """Build this note and keep its body; reply NoteBuilt."""

    index: int
    """Its place in the build's list, sent back with the reply."""
    note: NoteSource


@dataclass(frozen=True, slots=True)
class WritePages:
    """Write the pages of these notes, built earlier by this worker; reply PagesWritten."""

    site: Site
    """What every page shows of the others."""
    notes: tuple[PurePosixPath, ...]
    """The notes, by path relative to the source folder."""
    home: bool
    """Write the home page too."""


@dataclass(frozen=True, slots=True)
class Stop:
    """Stop now; no reply."""


@dataclass(frozen=True, slots=True)
class NoteBuilt:
    """A note built: its record (the worker keeps the body), or why it could not be read."""

    index: int
    built: NoteRecord | Diagnostic
    trouble: Diagnostic | None
    """Why the worker stopped using the cache, if it did."""


@dataclass(frozen=True, slots=True)
class PagesWritten:
    """The pages asked for are written: each one's stat, by note."""

    stats: dict[PurePosixPath, Stat | None]
    trouble: Diagnostic | None
    """Why the worker stopped using the cache, if it did (by the last of its notes' entries)."""


@dataclass(frozen=True, slots=True)
class Failed:
    """The request failed with this error, and the worker stopped."""

    error: BaseException


Request = BuildNote | WritePages | Stop
Reply = NoteBuilt | PagesWritten | Failed


def start_method(platform: str = sys.platform) -> str:
    """How workers start on this system (or another `platform`): "fork" starts one in
    milliseconds, but only where fork is sound (typeset/forked.fork_is_sound: not Windows
    or macOS, no V8 in this process)."""
    # An engine thread may be loading V8 without having imported it yet (typeset/background.py).
    engine_thread = any(t.name.startswith(ENGINE_THREAD) for t in threading.enumerate())
    return "fork" if fork_is_sound(platform) and not engine_thread else "spawn"


class WorkerPool:
    """Worker processes fed one note at a time, biggest first, so they finish together."""

    def __init__(
        self, config: Config, dist: Path, engine_factory: EngineFactory, jobs: int, *, prestart: bool = False
    ) -> None:
        """`jobs` workers; with `prestart`, each starts its engine at once (see Executor.build)."""
        import multiprocessing  # not needed (nor imported, ~0.01 s) by a build in one process

        fork = start_method() == "fork"
        context = multiprocessing.get_context("fork") if fork else multiprocessing.get_context("spawn")
        self._processes: list[BaseProcess] = []
        self._connections: list[Connection] = []
        self._owner: dict[PurePosixPath, int] = {}
        """Which worker keeps the body of each note built."""
        self.cache_trouble: Diagnostic | None = None
        """Why a worker stopped using the cache, if one did (the first to say)."""
        # Two threads a worker (Python, V8) pay only where each has a core: on two cores, two
        # workers that each finish a note before starting the next were 5 % faster than two
        # that overlap them (corpus200), which only add thread switches to busy cores. For
        # the same reason V8 then keeps its work on its own thread (katex.use_busy_cores).
        busy = 2 * jobs > usable_cpus()
        self._ahead = 0 if busy else AHEAD
        setup = WorkerSetup(config, dist, engine_factory, os.getpid(), prestart, self._ahead, busy)
        try:
            for _ in range(jobs):
                ours, theirs = context.Pipe()
                process = context.Process(target=_serve, args=(theirs, setup), daemon=True)
                process.start()
                theirs.close()
                self._processes.append(process)
                self._connections.append(ours)
        except BaseException:
            self.close()
            raise

    @property
    def size(self) -> int:
        """How many worker processes it started."""
        return len(self._processes)

    def holds(self, rel: PurePosixPath) -> bool:
        """Whether a worker keeps the body of this note, to write its page."""
        return rel in self._owner

    def build(self, notes: Sequence[NoteSource], sizes: Sequence[int]) -> list[NoteRecord | Diagnostic]:
        """Build notes (of these sizes) on the workers; each keeps the bodies of its notes."""
        order = iter(sorted(range(len(notes)), key=lambda i: -sizes[i]))
        built: dict[int, NoteRecord | Diagnostic] = {}

        def send_next(worker: int) -> None:
            index = next(order, None)
            if index is not None:
                self._connections[worker].send(BuildNote(index, notes[index]))

        for worker in range(len(self._connections)):
            for _ in range(IN_FLIGHT + self._ahead):
                send_next(worker)
        while len(built) < len(notes):
            for worker, reply in self._replies(range(len(self._connections))):
                assert isinstance(reply, NoteBuilt)
                built[reply.index] = reply.built
                self.cache_trouble = self.cache_trouble or reply.trouble
                if isinstance(reply.built, NoteRecord):
                    self._owner[reply.built.source.rel] = worker
                send_next(worker)
        return [built[index] for index in range(len(notes))]

    def send_writes(self, site: Site, notes: Sequence[PurePosixPath], *, home: bool) -> set[int]:
        """Ask each worker to write the pages of the notes it built; with `home`, the one with
        the fewest writes the home page too. Returns the workers asked."""
        by_worker: dict[int, list[PurePosixPath]] = {}
        for rel in notes:
            by_worker.setdefault(self._owner.pop(rel), []).append(rel)
        home_writer = min(by_worker, key=lambda worker: len(by_worker[worker])) if home else None
        for worker, rels in by_worker.items():
            self._connections[worker].send(WritePages(site, tuple(rels), worker == home_writer))
        return set(by_worker)

    def collect_writes(self, writing: set[int]) -> dict[PurePosixPath, Stat | None]:
        """The stats of the pages these workers were asked to write, once they all have."""
        stats: dict[PurePosixPath, Stat | None] = {}
        while writing:
            for worker, reply in self._replies(sorted(writing)):
                assert isinstance(reply, PagesWritten)
                stats.update(reply.stats)
                self.cache_trouble = self.cache_trouble or reply.trouble
                writing.discard(worker)
        return stats

    def _replies(self, workers: Sequence[int]) -> list[tuple[int, NoteBuilt | PagesWritten]]:
        """The next replies of some workers, as they come. A worker's failure is raised
        here; one that died is a BuildError."""
        from multiprocessing.connection import wait

        ready = wait([self._connections[worker] for worker in workers])
        replies: list[tuple[int, NoteBuilt | PagesWritten]] = []
        for worker in workers:
            if self._connections[worker] not in ready:
                continue
            try:
                reply: Reply = self._connections[worker].recv()
            except (EOFError, OSError):  # gone: a reset socket when it left messages unread
                process = self._processes[worker]
                process.join(1)
                raise BuildError(
                    f"a build worker stopped unexpectedly (exit code {process.exitcode}); "
                    "try again with --jobs 1 to see what it was building"
                ) from None
            if isinstance(reply, Failed):
                raise reply.error
            replies.append((worker, reply))
        return replies

    def close(self) -> None:
        """Stop every worker: ask, and kill any that is still busy (after an error or Ctrl-C,
        when it may be in the middle of a note) a moment later."""
        for connection in self._connections:
            with contextlib.suppress(OSError):
                connection.send(Stop())
            connection.close()
        for process in self._processes:
            process.join(STOP_WAIT_S)
            if process.is_alive():
                process.kill()
                process.join()
        self._connections = []


@dataclass(frozen=True, slots=True)
class WorkerSetup:
    """What a worker is started with."""

    config: Config
    dist: Path
    engine_factory: EngineFactory
    parent: int
    """The build's process id (taken there: it may be gone before the worker starts)."""
    prestart: bool
    """Start the engine at once (see Executor.build)."""
    ahead: int
    """Notes started before the oldest started one is finished (see _serve)."""
    busy_cores: bool
    """The workers' threads keep every core busy: V8 compiles and collects on its own
    thread rather than on helpers (katex.use_busy_cores)."""


def _serve(connection: Connection, setup: WorkerSetup) -> None:
    """A worker's life: build the notes it is sent, then write their pages when asked.

    A note is started (parsed, its formulas handed to the engine's thread) as soon as it
    arrives, and finished (its body rendered, its record sent back) once `setup.ahead` notes
    wait behind it or none is there to start: V8 typesets one note while Python parses the next."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops us
    config, parent = setup.config, setup.parent
    if setup.busy_cores:
        katex.use_busy_cores()
    engine = LazyEngine(config, setup.dist, setup.engine_factory)
    if setup.prestart:
        engine.prestart()
    kept = HeldBodies(engine.store() if config.cache_dir is not None else None)
    templates = PreparedTemplates(config.templates_dir)
    started: deque[tuple[int, StartedNote | Diagnostic]] = deque()
    try:
        while True:
            try:
                if started and (len(started) > setup.ahead or not _ready(connection)):
                    index, note = started.popleft()
                    connection.send(_finished(index, note, config, engine, kept, templates))
                    continue
                message = _receive(connection, parent)
                if message is None or isinstance(message, Stop):
                    return
                if isinstance(message, BuildNote):
                    started.append((message.index, start_note(message.note, config, engine)))
                else:
                    connection.send(_write_pages(message, config, engine, kept, templates))
            except BaseException as exc:  # noqa: BLE001 - every failure goes to the parent
                with contextlib.suppress(OSError):
                    connection.send(Failed(_sendable(exc)))
                return
    finally:
        engine.close()


def _ready(connection: Connection) -> bool:
    """Whether a message is waiting (a broken pipe counts: reading it says the parent is gone)."""
    try:
        return connection.poll(0)
    except OSError:
        return True


def _receive(connection: Connection, parent: int) -> Request | None:
    """The next message, waited for; None when the build is gone."""
    while True:
        # A forked sibling holds a copy of the parent's end of this pipe, so a parent that
        # was killed does not always close it: look for the parent itself now and then.
        try:
            if connection.poll(PARENT_CHECK_S):
                message: Request = connection.recv()
                return message
        except (EOFError, OSError):  # a broken pipe (Windows says so at poll): the parent is gone
            return None
        if os.getppid() != parent:
            return None  # the build is gone (killed): so are we


def _finished(
    index: int,
    started: StartedNote | Diagnostic,
    config: Config,
    engine: LazyEngine,
    kept: HeldBodies,
    templates: PreparedTemplates,
) -> NoteBuilt:
    """The reply for a started note, finished now; its body is kept for writing its page."""
    built = finish_and_keep(started, config, engine, templates)
    if isinstance(built, Diagnostic):
        return NoteBuilt(index, built, engine.trouble())
    kept.keep(built)
    return NoteBuilt(index, built.record, engine.trouble())


def _write_pages(
    message: WritePages, config: Config, engine: LazyEngine, kept: HeldBodies, templates: PreparedTemplates
) -> PagesWritten:
    """Write the pages asked for, of notes this worker built, once the cache has the last
    of their entries: every note of the build is built by now."""
    from ..site.templates import PageRenderer

    engine.write_cache()
    renderer = PageRenderer(message.site, templates.take())
    stats = {}
    for rel in message.notes:
        done = kept.take(rel, config, engine)
        stats[rel] = write_page(config, renderer, done.record, done.body)
    if message.home:
        write_home(config, renderer)
    return PagesWritten(stats, engine.trouble())


def _sendable(exc: BaseException) -> BaseException:
    """exc if it survives pickling, else a BuildError that tells what it was."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - any failure to pickle means: describe it instead
        return BuildError(f"a build worker failed: {type(exc).__name__}: {exc}")
    return exc
