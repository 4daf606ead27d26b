"""The preview's HTTP server: the output folder, the reload event stream, and the reload
script and error overlay added to the HTML it sends; only to requests addressed to it."""

from __future__ import annotations

import html
import io
import ipaddress
import mimetypes
import os
import socket
from collections.abc import Collection
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from ..errors import ConfigError
from .live import LiveSite, PageError

EVENTS_PATH = "/__notes_render/events"
"""The server-sent events stream the reload script listens to."""

KEEPALIVE_S = 15.0
"""Seconds between comments on an idle event stream, so dead clients are noticed."""

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
