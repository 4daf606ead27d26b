"""Live preview: build into a temporary folder, serve it, rebuild on every save, reload the page.

A `Watcher` thread (watchfiles) turns saves into change sets; a `Rebuilder` thread runs one
build at a time through `LiveSite`, which calls `pipeline.build_site` and publishes the
outcome on a `LatestBuild`; a `PreviewServer` (a thread per request) serves the output
folder, streams "reload" events and adds the reload script and the error overlay to the
HTML it sends. The files on disk stay exactly what `build` writes.
"""

from __future__ import annotations

import errno
import html
import io
import ipaddress
import mimetypes
import os
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

import watchfiles

from ..build import pipeline
from ..config import Config
from ..errors import ConfigError, NotesRenderError
from ..sources import discover_notes
from ..typeset.katex import MathEngine

DEFAULT_PORT = 8000
"""Tried first when no --port is given; a free port is taken if it is busy."""

EVENTS_PATH = "/__notes_render/events"
"""The server-sent events stream the reload script listens to."""

KEEPALIVE_S = 15.0
"""Seconds between comments on an idle event stream, so dead clients are noticed."""

WATCH_STEP_MS = 20
"""watchfiles yields once no new change arrived for this long: a burst of saves is one rebuild."""

_RELOAD_SCRIPT = """<script>/* notes-render preview only: reload when the site is rebuilt */
(function () {{
  var built = {generation};
  var events = new EventSource("{events}");
  function check(event) {{
    if (Number(event.data) !== built) {{ events.close(); location.reload(); }}
  }}
  events.addEventListener("hello", check);
  events.addEventListener("reload", check);
}})();
</script>
"""

_OVERLAY = (
    '<div id="notes-render-overlay" role="alert" style="position:fixed;left:0;right:0;bottom:0;'
    "z-index:2147483647;max-height:60vh;overflow:auto;margin:0;padding:.75em 1em;"
    "background:#fff4f4;color:#7a0000;border-top:3px solid #c00;font:14px/1.45 ui-monospace,monospace;"
    'text-align:left">'
    '<button type="button" onclick="this.parentNode.remove()" aria-label="close" '
    'style="float:right;font:inherit;cursor:pointer">×</button>'
    "<strong>notes-render: {count} {noun} in the last build</strong>"
    '<pre style="white-space:pre-wrap;margin:.5em 0 0">{text}</pre></div>\n'
)

_NOT_FOUND_PAGE = (
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Not found</title></head>\n'
    "<body><h1>Not found</h1><p>{path} is not part of the preview.</p>\n</body></html>\n"
)

CHUNK_BYTES = 64 * 1024
"""A file is sent in pieces of this size, so serving it costs no more memory than this."""

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
"""Names a browser on this machine reaches the server by, whatever address it is bound to."""

_REFUSED = (
    "notes-render preview: this request names another site ({what}), so it is refused: "
    "a page elsewhere must not read the preview. Open {url}, or start the preview with "
    "--host NAME to be reached as NAME.\n"
)

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".svg": "image/svg+xml",
    ".js": "text/javascript",
}


# --- what the last build found ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PageError:
    """An error of the last build, shown in the overlay."""

    page: PurePosixPath | None
    """The page it concerns (relative to the output folder); None: every page."""
    text: str
    """`file:line:col: message` with the excerpt, as the build prints it."""


class LatestBuild:
    """The generation and problems of the latest build; event streams wait on it."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.generation = 0
        """How many builds have finished; pages carry the number they were served with."""
        self.problems: tuple[PageError, ...] = ()
        """Errors of the latest build."""
        self.closed = False
        """Set when the server stops, so waiting event streams end."""

    def publish(self, problems: Collection[PageError]) -> None:
        """Record a finished build and wake every event stream."""
        with self._changed:
            self.generation += 1
            self.problems = tuple(problems)
            self._changed.notify_all()

    def snapshot(self) -> tuple[int, tuple[PageError, ...]]:
        """Generation and problems, read together."""
        with self._changed:
            return self.generation, self.problems

    def wait_newer(self, generation: int, timeout: float | None) -> int:
        """The generation once it differs from `generation`, or the same one after timeout."""
        with self._changed:
            self._changed.wait_for(lambda: self.generation != generation or self.closed, timeout)
            return self.generation

    def close(self) -> None:
        """End every event stream."""
        with self._changed:
            self.closed = True
            self._changed.notify_all()


# --- building ---------------------------------------------------------------------------


class _EngineCache:
    """Keeps KaTeX running between rebuilds: starting it costs more than typesetting a note."""

    def __init__(self) -> None:
        self._key: tuple[Path, bool] | None = None
        self._engine: MathEngine | None = None

    def __call__(self, dist: Path, config: Config) -> MathEngine:
        key = (dist, config.trust_links)
        if self._engine is None or key != self._key:
            self._key, self._engine = key, pipeline.default_engine(dist, config)
        return self._engine


class LiveSite:
    """The previewed notes, built on request into the output folder of the config."""

    def __init__(
        self,
        load_config: Callable[[], Config],
        *,
        project_dir: Path,
        only: PurePosixPath | None = None,
        quiet: bool = False,
    ) -> None:
        self._load_config = load_config
        self._only = only
        self._quiet = quiet
        self._engines = _EngineCache()
        self._config: Config | None = None
        self._templates = Path()
        self._preamble: Path | None = None
        self._bibliography: Path | None = None
        self._own: tuple[Path, ...] = ()
        config = self._load()
        self.src = config.src.resolve()
        """The notes folder (it comes from the command line, so it never changes)."""
        self.out = config.out.resolve()
        """The folder the site is built into and served from."""
        self.pyproject = project_dir.resolve() / "pyproject.toml"
        """The configuration file; a change to it reloads the config."""
        self.latest = LatestBuild()
        """The outcome of the latest build, read by the server."""
        self.inputs: frozenset[Path] = frozenset()
        """For a one-note preview: the note and every path it points at, there or not, as
        the last build saw them."""
        self.read: frozenset[Path] = frozenset()
        """Files other than notes the last build's pages were made from (a .bib), resolved."""

    def _load(self) -> Config:
        """Read the config again (pyproject.toml may have changed)."""
        config = self._config = self._load_config()
        self._templates = config.templates_dir.resolve()
        self._preamble = config.preamble.resolve() if config.preamble is not None else None
        self._bibliography = config.bibliography.resolve() if config.bibliography is not None else None
        # What the build itself writes: were these inside the notes, every build would
        # cause the next one.
        self._own = tuple(folder.resolve() for folder in (config.out, config.cache_dir) if folder is not None)
        return config

    @property
    def entry(self) -> PurePosixPath | None:
        """The page `/` leads to: the previewed note's, or None for the whole site."""
        return None if self._only is None else self._only.with_suffix(".html")

    def watch_roots(self) -> tuple[Path, ...]:
        """Folders watched recursively: the notes and the templates (with their assets), and the
        folders of the preamble and the bibliography unless it is the project's (watched on its
        own, not recursively)."""
        folders = [self.src, self._templates]
        for file in (self._preamble, self._bibliography):
            if file is not None and file.parent != self.pyproject.parent:
                folders.append(file.parent)
        return _outermost(folders)

    def wants(self, change: watchfiles.Change, path: str) -> bool:
        """Whether a change to path can alter the preview."""
        changed = Path(path)
        if any(changed.is_relative_to(folder) for folder in self._own):
            return False
        if changed in (self.pyproject, self._preamble, self._bibliography) or changed in self.read:
            return True  # settings, and the .bib a one-note preview's note cites
        if changed.is_relative_to(self._templates):
            return True
        if not changed.is_relative_to(self.src):
            return False
        # One note: only what it names counts (an image it names may appear later); the
        # rest of its folder, however busy (`preview /tmp/n.md`), does not.
        return self._only is None or changed in self.inputs

    def build(self, changed: Collection[Path] = ()) -> None:
        """Rebuild and publish the outcome; bad content or settings never raise."""
        started = time.perf_counter()
        problems: list[PageError]
        try:
            settings = {self.pyproject, self._preamble}  # the preamble's macros are in the config
            config = (
                self._load() if self._config is None or not settings.isdisjoint(changed) else self._config
            )
            only = None if self._only is None else [self._only]
            report = pipeline.build_site(config, self._engines, only=only)
            problems = self._report(config, report, time.perf_counter() - started)
            self.read = frozenset(path.resolve() for path in report.read)
            if self._only is not None:
                self.inputs = frozenset({self.src / self._only, *(self.src / t for t in report.targets)})
        except NotesRenderError as exc:
            if isinstance(exc, ConfigError):
                self._config = None  # load it again next time: the problem may be in pyproject.toml
            self._log(f"notes-render: error: {exc}")
            problems = [PageError(None, str(exc))]
        except Exception as exc:  # a bug must not take the server down; say where it is
            traceback.print_exc()
            problems = [PageError(None, f"internal error: {exc!r} (see the terminal)")]
        self.latest.publish(problems)

    def _report(self, config: Config, report: pipeline.BuildReport, seconds: float) -> list[PageError]:
        """Print the build's diagnostics; return its errors, each tied to its page."""
        for diagnostic in report.diagnostics:
            self._log(diagnostic.format())
        errors = report.errors
        if not self._quiet:
            self._log(
                f"built {len(report.pages)} pages in {seconds * 1000:.0f} ms; "
                f"{len(errors)} errors, {len(report.diagnostics) - len(errors)} warnings"
            )
        if self._only is not None:
            return [PageError(None, d.format()) for d in errors]  # all about the one page there is
        if not errors:
            return []  # no need to walk the notes folder to find whose errors they are
        # In the whole site, each page shows its own errors.
        pages = {str(note.display_path): note.output for note in discover_notes(config.src)}
        return [PageError(pages.get(str(d.position.path)), d.format()) for d in errors]

    def _log(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)


def _outermost(folders: list[Path]) -> tuple[Path, ...]:
    """The folders without those inside another (watching those twice is pointless)."""
    return tuple(
        f
        for f in dict.fromkeys(folders)
        if not any(f != other and f.is_relative_to(other) for other in folders)
    )


class Rebuilder:
    """Runs builds one at a time on its own thread.

    Changes that arrive while a build runs are merged into a single follow-up build, so
    builds never interleave and a burst of saves never queues a build per save.
    """

    def __init__(self, build: Callable[[frozenset[Path]], None]) -> None:
        self._build = build
        self._wake = threading.Condition()
        self._pending: set[Path] | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="notes-render-rebuild", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def request(self, changed: Collection[Path] = ()) -> None:
        """Ask for a build that sees these changes; merged with any build not yet started."""
        with self._wake:
            self._pending = (self._pending or set()) | set(changed)
            self._wake.notify()

    def stop(self, timeout: float) -> None:
        """Let a running build finish (up to timeout seconds) and start no other."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._pending is not None or self._stopping)
                if self._stopping:
                    return
                changed, self._pending = frozenset(self._pending or ()), None
            self._build(changed)


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


# --- serving ----------------------------------------------------------------------------


def locate(root: Path, url_path: str) -> Path | None:
    """The file or folder under root that a request path names, resolved, or None (not
    there, outside root, or a name no file system takes).

    The path is percent-decoded before it is checked, so `%2e%2e%2f` is `../`; hidden
    names (the manifest) are not served, and a symlink counts by where it points. Whether
    something exists outside root never shows: `/sub/../../tmp` is None like any path out.
    """
    path = unquote(urlsplit(url_path).path)
    parts = [part for part in path.split("/") if part]
    if "\0" in path or any(part.startswith(".") for part in parts):
        return None
    return _inside(root, root.joinpath(*parts))


def resolve_request(root: Path, url_path: str) -> Path | None:
    """The file under root that a request path names (a folder's index.html), or None."""
    found = locate(root, url_path)
    if found is not None and found.is_dir():
        found = _inside(root, found / "index.html")
    return found if found is not None and found.is_file() else None


def _inside(root: Path, candidate: Path) -> Path | None:
    """candidate resolved, if it exists and is under root."""
    try:
        real = candidate.resolve(strict=True)
    except (OSError, RuntimeError):  # missing, a loop, a name too long (ENAMETOOLONG)
        return None
    return real if real.is_relative_to(root.resolve()) else None


def inject(page: str, generation: int, problems: Collection[PageError]) -> str:
    """The page with the reload script and, if the build found errors, the overlay."""
    extra = _RELOAD_SCRIPT.format(generation=generation, events=EVENTS_PATH)
    if problems:
        count = len(problems)
        text = "\n".join(html.escape(problem.text) for problem in problems)
        extra = _OVERLAY.format(count=count, noun="error" if count == 1 else "errors", text=text) + extra
    at = page.lower().rfind("</body>")
    return page + extra if at < 0 else page[:at] + extra + page[at:]


class PreviewServer(ThreadingHTTPServer):
    """Serves one output folder and the event stream of a LiveSite, to requests addressed
    to it by one of its own names (see `accepts_host`)."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], site: LiveSite) -> None:
        self.address_family = _family(address[0])
        self.site = site
        super().__init__(address, _Handler)
        bound = str(self.server_address[0])
        self.host_names = LOOPBACK_NAMES | {bound, address[0].lower()}
        """The names a request's Host may give: loopback, the bound address, --host."""
        self.any_address = _is_unspecified(bound)
        """Bound to every interface: other machines reach it by one of this one's addresses."""

    @property
    def url(self) -> str:
        """The address to open, e.g. `http://127.0.0.1:8000/`."""
        host, port = str(self.server_address[0]), self.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    def accepts_host(self, value: str | None) -> bool:
        """Whether a Host header (`name[:port]`) addresses this server.

        Against DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1
        still sends `Host: evil.example`, so only the server's own names pass (and, bound to
        every interface, any IP address: a rebinding needs a name, an address is no name).
        """
        if not value or "@" in value:
            return False
        try:
            parts = urlsplit("//" + value.strip())
            port = parts.port or 80
        except ValueError:
            return False
        name = parts.hostname or ""
        if port != self.server_address[1]:
            return False
        return name in self.host_names or (self.any_address and _is_address(name))

    def accepts_origin(self, value: str | None) -> bool:
        """Whether an Origin header is absent (same-origin reads send none) or this server."""
        if value is None:
            return True
        scheme, _, host = value.strip().partition("://")
        return scheme.lower() == "http" and "/" not in host and self.accepts_host(host)


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _is_unspecified(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_unspecified
    except ValueError:
        return False


def _family(host: str) -> socket.AddressFamily:
    try:
        return socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as exc:
        raise ConfigError(f"--host {host}: {exc.strerror}") from exc


class _Handler(BaseHTTPRequestHandler):
    """GET and HEAD for files of the output folder, plus the event stream."""

    server: PreviewServer
    timeout = 30  # a connection that sends nothing does not hold a thread forever

    def do_GET(self) -> None:
        self._respond(body=True)

    def do_HEAD(self) -> None:
        self._respond(body=False)

    def log_message(self, format: str, *args: object) -> None:
        """Requests are not logged: the terminal is for build problems."""

    def _respond(self, *, body: bool) -> None:
        site = self.server.site
        host, origin = self._host(), self.headers.get("Origin")
        if not (self.server.accepts_host(host) and self.server.accepts_origin(origin)):
            what = f"Origin {origin}" if self.server.accepts_host(host) else f"Host {host or '(none)'}"
            self._send_text(HTTPStatus.FORBIDDEN, _REFUSED.format(what=what, url=self.server.url), body)
            return
        path = urlsplit(self.path).path
        if path == EVENTS_PATH:
            self._stream_events()
            return
        # Read the generation before the file: a page labelled older than its content only
        # reloads once more, while one labelled newer would miss the rebuild it lacks.
        generation, problems = site.latest.snapshot()
        root = site.out
        target = resolve_request(root, path)
        folder = None if target is not None or path.endswith("/") else locate(root, path)
        if target is None and path == "/" and site.entry is not None:
            self._redirect("/" + str(site.entry))
        elif folder is not None and folder.is_dir():
            # So the folder's index.html resolves its relative links; one leading slash, so
            # the address is never read as another host's (`//host/`).
            self._redirect("/" + path.lstrip("/") + "/")
        elif target is None:
            page = _NOT_FOUND_PAGE.format(path=html.escape(path))
            self._send_html(HTTPStatus.NOT_FOUND, inject(page, generation, problems), body)
        elif target.suffix == ".html":
            served = PurePosixPath(target.relative_to(root).as_posix())
            own = [problem for problem in problems if problem.page in (None, served)]
            try:
                page = target.read_text(encoding="utf-8")
            except FileNotFoundError:  # a rebuild removed it just now
                self.send_error(HTTPStatus.NOT_FOUND)
                return
            self._send_html(HTTPStatus.OK, inject(page, generation, own), body)
        else:
            self._send_file(target, body)

    def _host(self) -> str | None:
        """The site the request names: the authority of an absolute request target, else its
        one Host header (RFC 9112); None for a request with none or several."""
        hosts = self.headers.get_all("Host") or []
        target = urlsplit(self.path)
        if len(hosts) != 1:
            return None
        return target.netloc if target.scheme else hosts[0]

    def _send_html(self, status: HTTPStatus, page: str, body: bool) -> None:
        data = page.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _send_file(self, target: Path, body: bool) -> None:
        """A file as it is on disk, sent in chunks: a big one is never held in memory whole."""
        try:
            handle = target.open("rb")
        except OSError:  # a rebuild removed it just now
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        with handle:
            stat = os.fstat(handle.fileno())  # the size of the very file sent
            # Nanosecond time and size, not Last-Modified: two saves within a second must differ.
            tag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
            if self.headers.get("If-None-Match") == tag:
                self.send_response(HTTPStatus.NOT_MODIFIED)
                self.send_header("ETag", tag)
                self.end_headers()
                return
            content_type = _TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0]
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", content_type or "application/octet-stream")
            self.send_header("Content-Length", str(stat.st_size))
            self.send_header("ETag", tag)
            self.send_header("Cache-Control", "no-cache")  # revalidate: a stylesheet may have changed
            self.end_headers()
            if body:
                _copy(handle, self.wfile, stat.st_size)

    def _send_text(self, status: HTTPStatus, text: str, body: bool) -> None:
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if body:
            self.wfile.write(data)

    def _redirect(self, location: str) -> None:
        self.send_response(HTTPStatus.FOUND)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _stream_events(self) -> None:
        """`hello` with the current generation, then `reload` after every build."""
        latest = self.server.site.latest
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        generation = latest.generation
        try:
            self._event(f"retry: 1000\nevent: hello\ndata: {generation}\n\n")
            while not latest.closed:
                newer = latest.wait_newer(generation, KEEPALIVE_S)
                if latest.closed:
                    return
                if newer == generation:
                    self._event(": keep-alive\n\n")
                else:
                    generation = newer
                    self._event(f"event: reload\ndata: {generation}\n\n")
        except OSError:
            return  # the page went away (reloaded or closed)

    def _event(self, text: str) -> None:
        self.wfile.write(text.encode("utf-8"))
        self.wfile.flush()


def _copy(source: BinaryIO, target: io.BufferedIOBase, size: int) -> None:
    """Send size bytes of source, CHUNK_BYTES at a time."""
    while size > 0:
        chunk = source.read(min(CHUNK_BYTES, size))
        if not chunk:
            return  # the file shrank meanwhile: the client sees a short answer, not a hang
        target.write(chunk)
        size -= len(chunk)


# --- putting it together ----------------------------------------------------------------


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
