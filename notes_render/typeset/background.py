"""Typesetting in the background: an engine run on a thread of its own, so that V8 typesets
one note's formulas while Python parses the next.

mini-racer calls V8 through ctypes, which lets go of the GIL while V8 works; a build thus
keeps a second core busy even in one process. The engine itself is made on that thread too
(starting V8 and evaluating KaTeX take ~70 ms), so it can be started before the first
formula is known, while markdown-it is still being imported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .katex import MathEngine, MathRequest, MathResult

if TYPE_CHECKING:
    from concurrent.futures import Future


class PendingResults(Protocol):
    """A batch being typeset: its results, waited for."""

    def result(self) -> list[MathResult]:
        """The batch's results in order, once they are all there (an engine's error is raised here)."""
        ...

    def done(self) -> bool:
        """Whether result() would return at once."""
        ...


class Done:
    """A batch typeset already (by an engine that cannot work in the background)."""

    def __init__(self, results: list[MathResult]) -> None:
        self._results = results

    def result(self) -> list[MathResult]:
        return self._results

    def done(self) -> bool:
        return True


def start_batch(
    engine: MathEngine, requests: Sequence[MathRequest], macros: Mapping[str, str]
) -> PendingResults:
    """Start typesetting a batch; an engine that can work in the background returns at once,
    any other typesets it now."""
    if isinstance(engine, BatchStarter):
        return engine.start_batch(requests, macros)
    return Done(engine.render_batch(requests, macros))


ENGINE_THREAD = "notes-render-engine"
"""The name (prefix) of the thread an engine runs on."""


@runtime_checkable
class BatchStarter(Protocol):
    """An engine that starts a batch and lets the caller go on (the cache's, over a ThreadedEngine)."""

    def start_batch(self, requests: Sequence[MathRequest], macros: Mapping[str, str]) -> PendingResults: ...


class ThreadedEngine:
    """An engine made and run on one thread of its own; batches run there in the order started.

    Definitions a formula makes stay within its batch (the engine's contract), so running
    batches on another thread, one after the other, gives the same answers as running them here.
    """

    def __init__(self, make_engine: Callable[[], MathEngine], version: str) -> None:
        from concurrent.futures import ThreadPoolExecutor  # only a build that typesets needs it

        self.version = version
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=ENGINE_THREAD)
        self._engine: Future[MathEngine] = self._thread.submit(make_engine)  # starts now

    def start_batch(
        self, requests: Sequence[MathRequest], macros: Mapping[str, str]
    ) -> Future[list[MathResult]]:
        """Queue a batch behind those started before it; its Future gives the results."""
        return self._thread.submit(self._render, list(requests), dict(macros))

    def render_batch(self, requests: Sequence[MathRequest], macros: Mapping[str, str]) -> list[MathResult]:
        """Typeset a batch and wait for it (the MathEngine protocol)."""
        return self.start_batch(requests, macros).result()

    def _render(self, requests: list[MathRequest], macros: dict[str, str]) -> list[MathResult]:
        return self._engine.result().render_batch(requests, macros)

    def close(self) -> None:
        """Let the batch running finish, drop those not started, and let go of the thread.
        The engine itself stays: it may be the preview's, which serves every build (V8 is
        let go at exit, see katex.py)."""
        self._thread.shutdown(wait=True, cancel_futures=True)
