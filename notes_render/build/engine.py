"""The engine of one process: made on its first uncached formula, behind the formula cache.

Each worker makes its own (V8 can be neither shared across processes nor survive a fork),
from an `EngineFactory` it is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..config import Config
from ..errors import Diagnostic
from ..typeset import forked
from ..typeset.background import ThreadedEngine
from ..typeset.cache import Store
from ..typeset.cached import CachedEngine
from ..typeset.katex import MathEngine, MiniRacerEngine, engine_id, katex_version

EngineFactory = Callable[[Path, Config], MathEngine]
"""Makes the engine of one process: called in each worker, on its first uncached formula."""


def default_engine(dist: Path, config: Config) -> MathEngine:
    """One embedded KaTeX per process: the one started in a child by the command line, or
    by a rebuild it permitted to (see typeset/forked.py), else one in this process."""
    early = forked.take()
    opened = None if early is None else early.open(dist, trust_links=config.trust_links)
    return opened or MiniRacerEngine(dist, trust_links=config.trust_links)


class LazyEngine:
    """Makes the engine on first use, behind the formula cache if there is one. The real
    engine runs on a thread of its own (typeset/background.py), and `prestart` starts it
    before it is needed."""

    def __init__(
        self, config: Config, dist: Path, engine_factory: EngineFactory, store: Store | None = None
    ) -> None:
        self._config = config
        self._dist = dist
        self._factory = engine_factory
        self._engine: MathEngine | None = None
        self._threaded: ThreadedEngine | None = None
        self._store = store

    def __call__(self) -> MathEngine:
        """The engine, made now if this is its first use."""
        if self._engine is None:
            config, dist = self._config, self._dist
            if config.cache_dir is None:
                self._engine = self._real()
            else:
                version = katex_version(dist)
                self._engine = CachedEngine(
                    self.store(),
                    self._real,
                    version=version,
                    engine_id=engine_id(version, trust_links=config.trust_links),
                )
        return self._engine

    def prestart(self) -> None:
        """Start the real engine now, in the background, for a build that will need it."""
        self._fork_if_permitted()  # before mini-racer is imported here, which forbids a fork
        if self._factory is default_engine and self._threaded is None and not forked.waiting():
            # mini-racer's import (asyncio with it: ~35 ms of Python) is done on this thread
            # first: on the engine's, it shared the GIL with markdown-it's import here, and
            # V8's start, which lets go of the GIL, waited behind it (2-note cold build -7 %).
            import py_mini_racer  # noqa: F401
        self._real()

    def _real(self) -> ThreadedEngine:
        if self._threaded is None:
            # First use: a formula the cache does not know, whose V8 start a child overlaps
            # with the rest of the build where the command line permits it.
            self._fork_if_permitted()
            dist, config, factory = self._dist, self._config, self._factory
            self._threaded = ThreadedEngine(lambda: factory(dist, config), katex_version(dist))
        return self._threaded

    def _fork_if_permitted(self) -> None:
        """Fork KaTeX's child now if the command line permitted it (a rebuild: see
        typeset/forked.py) and this engine is not made yet; default_engine takes it on the
        engine's thread. Another factory (a test's) never gets a child."""
        if self._factory is default_engine and self._threaded is None:
            forked.start_if_permitted(self._dist, trust_links=self._config.trust_links)

    def store(self) -> Store:
        """The cache's store, opened on first use (config.cache_dir must be set)."""
        if self._store is None:
            assert self._config.cache_dir is not None
            self._store = Store(self._config.cache_dir)
        return self._store

    def write_cache(self) -> None:
        """Write what the cache holds for later (see Store.batch), if there is a cache."""
        if self._store is not None:
            self._store.flush()

    def trouble(self) -> Diagnostic | None:
        """Why the store stopped using the cache, if it did."""
        return None if self._store is None else self._store.trouble

    def close(self) -> None:
        """Let go of the engine's thread and the cache's database."""
        try:
            if self._threaded is not None:
                self._threaded.close()
        finally:
            if self._store is not None:
                self._store.close()
