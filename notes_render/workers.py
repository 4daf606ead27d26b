"""Building many notes: in this process, or spread over worker processes for a big build.

Each worker makes its own engine, lazily, on its first formula the cache does not know:
V8 cannot be shared across processes nor survive a fork. A small build, or one whose
notes are mostly cached, stays in this process and pays no worker start-up.
"""

from __future__ import annotations

import contextlib
import pickle
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .cache import BODIES, CachedEngine, Store, body_key
from .config import Config
from .errors import Diagnostic
from .katex import MathEngine, engine_id, katex_version
from .page import Page, build_page, detach
from .sources import NoteSource

if TYPE_CHECKING:
    from .pipeline import EngineFactory

POOL_MIN_BYTES = 256 * 1024
"""Below this much Markdown to build, workers cost more start-up than they save."""


def build_notes(
    notes: Sequence[NoteSource], config: Config, dist: Path, engine_factory: EngineFactory
) -> list[Page | Diagnostic]:
    """Build notes, in their order; each gives its Page, or a Diagnostic if unreadable."""
    jobs = min(config.jobs, len(notes))
    if jobs > 1 and _markdown_bytes(notes) >= POOL_MIN_BYTES and _can_send(engine_factory):
        return _build_in_pool(notes, config, dist, engine_factory, jobs)
    get_engine = LazyEngine(config, dist, engine_factory)
    try:
        return [_build_and_keep(note, config, get_engine) for note in notes]
    finally:
        get_engine.close()


def _build_and_keep(note: NoteSource, config: Config, get_engine: LazyEngine) -> Page | Diagnostic:
    """Build one note and keep its body in the cache, where it was built (so in parallel);
    its formulas, code and body go to the cache in one transaction."""
    if config.cache_dir is None:
        return build_page(note, config, get_engine)
    store = get_engine.store()
    with store.batch():
        built = build_page(note, config, get_engine, store)
        if isinstance(built, Page):
            built.body_key = body_key(built.body)
            store.put_many(BODIES, [(built.body_key, built.body.encode("utf-8"))])
    return built


class LazyEngine:
    """Makes the engine on first use, behind the formula cache if there is one."""

    def __init__(self, config: Config, dist: Path, engine_factory: EngineFactory) -> None:
        self._config = config
        self._dist = dist
        self._factory = engine_factory
        self._engine: MathEngine | None = None
        self._store: Store | None = None

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


def _markdown_bytes(notes: Sequence[NoteSource]) -> int:
    total = 0
    for note in notes:
        with contextlib.suppress(OSError):  # a note removed meanwhile is reported later
            total += note.path.stat().st_size
    return total


def _build_in_pool(
    notes: Sequence[NoteSource], config: Config, dist: Path, engine_factory: EngineFactory, jobs: int
) -> list[Page | Diagnostic]:
    import multiprocessing  # not needed (nor imported, ~0.01 s) by a build in one process
    from concurrent.futures import ProcessPoolExecutor

    # fork starts a worker in milliseconds, but only from a process without V8 in it.
    method = "spawn" if "py_mini_racer" in sys.modules else "fork"
    chunk = max(1, len(notes) // (jobs * 4))
    with ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context(method),
        initializer=_start_worker,
        initargs=(config, dist, engine_factory),
    ) as pool:
        return list(pool.map(_build_in_worker, notes, chunksize=chunk))


_worker_config: Config | None = None
_worker_engine: LazyEngine | None = None


def _start_worker(config: Config, dist: Path, engine_factory: EngineFactory) -> None:
    global _worker_config, _worker_engine
    _worker_config = config
    _worker_engine = LazyEngine(config, dist, engine_factory)


def _build_in_worker(note: NoteSource) -> Page | Diagnostic:
    assert _worker_config is not None and _worker_engine is not None
    built = _build_and_keep(note, _worker_config, _worker_engine)
    return detach(built) if isinstance(built, Page) else built
