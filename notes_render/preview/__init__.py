"""Live preview: build into a temporary folder, serve it, rebuild on every save, reload the page.

A `Watcher` thread (watcher.py, watchfiles) turns saves into change sets; a `Rebuilder`
thread runs one build at a time through `LiveSite` (live.py), which builds the site and
publishes the outcome on a `LatestBuild`; a `PreviewServer` (server.py, a thread per
request) serves the output folder, streams "reload" events and adds the reload script and
the error overlay to the HTML it sends. The files on disk stay exactly what `build` writes.
This module puts them together: `running` for a test or the command line, and
`serve_until_stopped` for the `preview` and `serve` commands.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from ..config import Config
from ..errors import ConfigError
from .live import LatestBuild, LiveSite, PageError, Rebuilder
from .server import EVENTS_PATH, PreviewServer, inject, locate, resolve_request
from .watcher import Watcher

__all__ = [
    "DEFAULT_PORT",
    "EVENTS_PATH",
    "LatestBuild",
    "LiveSite",
    "PageError",
    "PreviewServer",
    "Rebuilder",
    "Watcher",
    "bind",
    "host_warning",
    "inject",
    "is_loopback",
    "locate",
    "resolve_request",
    "running",
    "serve_until_stopped",
]

DEFAULT_PORT = 8000
"""Tried first when no --port is given; a free port is taken if it is busy."""


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach a server bound to host."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_warning(host: str) -> str | None:
    """What to tell the user before serving on host, if other machines could connect."""
    if is_loopback(host):
        return None
    return (
        f"listening on {host}: other machines can read this preview; "
        "use --host 127.0.0.1 to keep it on this machine"
    )


def bind(site: LiveSite, host: str, port: int | None) -> PreviewServer:
    """A server on host:port; without a port, DEFAULT_PORT or else any free one."""
    tried = DEFAULT_PORT if port is None else port
    try:
        return PreviewServer((host, tried), site)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise ConfigError(f"cannot serve on {host}:{tried}: {exc.strerror}") from exc
        if port is not None:
            raise ConfigError(
                f"port {port} on {host} is in use; choose another with --port, or --port 0 for any free one"
            ) from exc
    return PreviewServer((host, 0), site)


@contextmanager
def running(site: LiveSite, *, host: str = "127.0.0.1", port: int | None = None) -> Iterator[PreviewServer]:
    """Build once, then serve, watch and rebuild until the block ends; then stop everything.

    The server's serve_forever() is left to the caller (the CLI runs it in the main thread,
    so Ctrl-C reaches it; tests run it in a thread).
    """
    server = bind(site, host, port)
    rebuilder = Rebuilder(site.build)
    watcher = Watcher(site, rebuilder.request)
    try:
        rebuilder.start()
        watcher.start()
        rebuilder.request()
        site.latest.wait_newer(0, timeout=None)  # the first build, before anyone is told the URL
        watcher.wait_ready(timeout=10)
        yield server
    finally:
        site.latest.close()
        watcher.stop(timeout=5)
        rebuilder.stop(timeout=30)
        server.server_close()


def serve_until_stopped(
    load: Callable[[Path], Config],
    *,
    shown: Path,
    only: PurePosixPath | None,
    host: str,
    port: int | None,
    open_browser: bool = False,
    quiet: bool = False,
) -> None:
    """Build into a temporary folder (`load(out)` gives the config), serve it on host:port
    and rebuild on every save until Ctrl-C; the temporary folder is removed on the way out.
    shown: what is served, as the address line names it."""
    import tempfile
    import webbrowser

    warning = host_warning(host)
    if warning:
        print(f"notes-render: warning: {warning}", file=sys.stderr)
    # Hidden, so that a notes folder holding the system's temporary folder (`preview
    # /tmp/n.md`) never finds the preview's own output among its notes.
    with tempfile.TemporaryDirectory(prefix=".notes-render-preview-", ignore_cleanup_errors=True) as tmp:
        site = LiveSite(lambda: load(Path(tmp)), project_dir=Path.cwd(), only=only, quiet=quiet)
        with running(site, host=host, port=port) as server:
            print(f"serving {shown} at {server.url}", flush=True)
            if open_browser:
                webbrowser.open(server.url)
            if not quiet:
                print(
                    f"building into {tmp}; watching for changes, press Ctrl-C to stop",
                    file=sys.stderr,
                    flush=True,
                )
            with contextlib.suppress(KeyboardInterrupt), _terminate_as_interrupt():
                server.serve_forever()  # until Ctrl-C (or SIGTERM), the way a preview ends
    if not quiet:
        print("notes-render: preview stopped", file=sys.stderr)


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Let SIGTERM (a process manager), SIGHUP (a closed terminal) and, on Windows, SIGBREAK
    (Ctrl-Break) stop a preview as cleanly as Ctrl-C: temporary folder removed, port freed.
    Each is caught where the system has it; Windows has no SIGHUP."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signals = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGBREAK") if hasattr(signal, name)]
    previous = [signal.signal(number, interrupt) for number in signals]
    try:
        yield
    finally:
        for number, handler in zip(signals, previous, strict=True):
            signal.signal(number, handler)
