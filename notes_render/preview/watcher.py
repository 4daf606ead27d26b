"""Turns saves under the watched folders into build requests (watchfiles)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import watchfiles

from .live import LiveSite

WATCH_STEP_MS = 20
"""watchfiles yields once no new change arrived for this long: a burst of saves is one rebuild."""


class Watcher:
    """Turns saves under the watched folders into build requests, via watchfiles."""

    def __init__(self, site: LiveSite, on_change: Callable[[set[Path]], None]) -> None:
        self._site = site
        self._on_change = on_change
        self._stop = threading.Event()
        self._default_filter = watchfiles.DefaultFilter()  # editor swap and backup files
        self._ready = [threading.Event(), threading.Event()]
        self._threads = [
            threading.Thread(target=self._watch_folders, name="notes-render-watch", daemon=True),
            threading.Thread(target=self._watch_config, name="notes-render-watch-config", daemon=True),
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def wait_ready(self, timeout: float) -> bool:
        """Wait until saves are noticed: both watches have set up their inotify watches."""
        deadline = time.monotonic() + timeout
        return all(ready.wait(max(0.0, deadline - time.monotonic())) for ready in self._ready)

    def stop(self, timeout: float) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout)

    def _accept(self, change: watchfiles.Change, path: str) -> bool:
        return self._default_filter(change, path) and self._site.wants(change, path)

    def _watch_folders(self) -> None:
        """The notes and templates, recursively; restarted when the config moves the templates."""
        while not self._stop.is_set():
            self._watch(self._site.watch_roots(), recursive=True, ready=self._ready[0], follow_config=True)

    def _watch_config(self) -> None:
        """The project folder alone, not recursively: it holds node_modules and the like."""
        self._watch(
            (self._site.pyproject.parent,), recursive=False, ready=self._ready[1], follow_config=False
        )

    def _watch(
        self, roots: tuple[Path, ...], *, recursive: bool, ready: threading.Event, follow_config: bool
    ) -> None:
        """Forward changes under roots until stopped (or, following the config, until the roots move)."""
        until = _Until(self._stop, ready, lambda: follow_config and self._site.watch_roots() != roots)
        for batch in watchfiles.watch(
            *roots,
            watch_filter=self._accept,
            stop_event=until,
            step=WATCH_STEP_MS,
            recursive=recursive,
            raise_interrupt=False,
        ):
            self._on_change({Path(path) for _, path in batch})


class _Until:
    """The stop event handed to watchfiles, which asks it every step once it is watching."""

    def __init__(self, stop: threading.Event, ready: threading.Event, moved: Callable[[], bool]) -> None:
        self._stop = stop
        self._ready = ready
        self._moved = moved

    def is_set(self) -> bool:
        self._ready.set()  # watchfiles asks only after its watches are in place
        return self._stop.is_set() or self._moved()
