"""The live preview over real HTTP: pages, assets, traversal, events, rebuilds and the overlay."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pytest
import watchfiles
from conftest import FIXTURES, REPO, formulas, launch_chromium

from notes_render import cli, preview
from notes_render.config import make_config
from notes_render.errors import ConfigError

WAIT_S = 20.0
"""Longest any test waits for one answer or event; a hang fails instead of blocking CI."""


@dataclass
class Project:
    """A project folder: pyproject.toml, templates/ and notes/ (a copy of site-basic)."""

    root: Path
    out: Path

    @property
    def notes(self) -> Path:
        return self.root / "notes"

    def site(self, only: str | None) -> preview.LiveSite:
        load = partial(
            make_config,
            src=self.notes,
            out=self.out,
            project_dir=self.root,
            templates_dir=self.root / "templates",
        )
        return preview.LiveSite(
            load, project_dir=self.root, only=PurePosixPath(only) if only else None, quiet=True
        )


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    shutil.copytree(FIXTURES / "site-basic", root / "notes")
    shutil.copytree(REPO / "templates", root / "templates")
    pyproject = '[tool.notes-render]\nsite-title = "First title"\n'
    (root / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    (tmp_path / "secret.txt").write_text("outside the site", encoding="utf-8")
    return Project(root, tmp_path / "out")


@dataclass
class Live:
    """A running preview and a way to talk to it."""

    server: preview.PreviewServer
    site: preview.LiveSite

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """GET path exactly as written (no client-side normalisation of `..` or `%2e`)."""
        host, port = self.server.server_address[:2]
        connection = http.client.HTTPConnection(str(host), port, timeout=WAIT_S)
        try:
            connection.request("GET", path, headers=headers or {})
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            connection.close()

    def page(self, path: str) -> str:
        status, _, body = self.get(path)
        assert status == 200, path
        return body.decode("utf-8")

    @contextmanager
    def events(self) -> Iterator[EventStream]:
        host, port = self.server.server_address[:2]
        connection = http.client.HTTPConnection(str(host), port, timeout=WAIT_S)
        try:
            connection.request("GET", preview.EVENTS_PATH)
            response = connection.getresponse()
            assert response.status == 200
            assert response.getheader("Content-Type") == "text/event-stream"
            yield EventStream(response)
        finally:
            connection.close()


@dataclass
class EventStream:
    response: http.client.HTTPResponse

    def next(self) -> tuple[str, str]:
        """The next event as (name, data); comments (keep-alives) are skipped, for WAIT_S at most
        (keep-alives alone would never let the socket's time-out end a wait for nothing)."""
        name, data = "message", ""
        deadline = time.monotonic() + WAIT_S
        while True:
            assert time.monotonic() < deadline, f"no event within {WAIT_S} s"
            line = self.response.readline().decode("utf-8")
            assert line, "the event stream ended"
            line = line.rstrip("\n")
            if not line:
                if data:
                    return name, data
                continue
            field, _, value = line.partition(": ")
            if field == "event":
                name = value
            elif field == "data":
                data = value

    def next_reload(self) -> int:
        """Wait for the next rebuild and return its generation."""
        while True:
            name, data = self.next()
            if name == "reload":
                return int(data)


@contextmanager
def serving(site: preview.LiveSite) -> Iterator[Live]:
    with preview.running(site, port=0) as server:
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield Live(server, site)
        finally:
            server.shutdown()
            thread.join(WAIT_S)


@pytest.fixture
def live_note(project: Project) -> Iterator[Live]:
    with serving(project.site("a.md")) as live:
        yield live


def _save(path: Path, data: str | bytes) -> None:
    """Replace path's content in one step, as editors save, so no build sees half a file."""
    fd, temporary = tempfile.mkstemp()  # outside every watched folder, on the same file system
    with os.fdopen(fd, "wb") as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)
    os.replace(temporary, path)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    _save(path, text.replace(old, new))


# --- serving ------------------------------------------------------------------------------


def test_the_note_is_served_with_the_reload_script_but_built_without_it(
    live_note: Live, project: Project
) -> None:
    status, headers, _ = live_note.get("/")
    assert status == 302 and headers["location"] == "/a.html"
    page = live_note.page("/a.html")
    assert "<title>Front Title · First title</title>" in page
    assert f'new EventSource("{preview.EVENTS_PATH}")' in page
    assert "notes-render-overlay" not in page  # the note has no errors
    # Only this note is built, and the built file is what `build` writes: the reload
    # script is added to the response alone.
    assert not (project.out / "sub" / "b.html").exists()
    built = (project.out / "a.html").read_text(encoding="utf-8")
    assert preview.EVENTS_PATH not in built
    assert page == preview.inject(built, live_note.site.latest.generation, ())


def test_assets_the_page_links_to_are_served(live_note: Live, project: Project) -> None:
    page = live_note.page("/a.html")
    links = re.findall(r'<(?:link|img)\b[^>]*?(?:href|src)="([^"#]+)"', page)
    assert "assets/katex/katex.min.css" in links and "img/fig.png" in links
    for link in links:
        status, headers, body = live_note.get("/" + link)
        assert status == 200, link
        assert body == (project.out / link).read_bytes()
    status, headers, css = live_note.get("/assets/katex/katex.min.css")
    assert headers["content-type"].startswith("text/css")
    fonts = sorted(set(re.findall(rb"url\((fonts/[^)]+\.woff2)\)", css)))
    assert len(fonts) > 10
    for font in fonts:
        status, headers, body = live_note.get("/assets/katex/" + font.decode())
        assert (status, headers["content-type"]) == (200, "font/woff2")
        assert body[:4] == b"wOF2"


def test_paths_outside_the_output_folder_are_not_found(live_note: Live, project: Project) -> None:
    (project.out / "escape").symlink_to(project.out.parent / "secret.txt")
    (project.out / "escape-dir").symlink_to(project.out.parent, target_is_directory=True)
    for path in (
        "/../secret.txt",
        "/assets/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/assets/%2E%2E%2F%2E%2E%2Fsecret.txt",
        "/..%5csecret.txt",
        "/escape",
        "/escape-dir/secret.txt",
        "/.notes-render-manifest.json",
        "/no-such-page.html",
        "/a.md",
        "/__notes_render/other",
    ):
        status, _, body = live_note.get(path)
        assert status == 404, path
        assert b"outside the site" not in body


def test_resolve_request_refuses_every_escape(tmp_path: Path) -> None:
    root = tmp_path / "site"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "p.html").write_text("p", encoding="utf-8")
    (tmp_path / "secret").write_text("s", encoding="utf-8")
    assert preview.resolve_request(root, "/sub/p.html?x=1") == (root / "sub" / "p.html").resolve()
    assert preview.resolve_request(root, "/sub/%70.html") == (root / "sub" / "p.html").resolve()
    for path in (
        "/../secret",
        "/sub/../../secret",
        "/%2e%2e%2fsecret",
        "/sub/%2e%2e/%2e%2e/secret",
        "/%00",
        "/sub",
        "/",
    ):
        assert preview.resolve_request(root, path) is None, path


def _raw(live: Live, head: str) -> tuple[int, bytes]:
    """Send a request exactly as written (request line and headers) and read the answer."""
    host, port = live.server.server_address[:2]
    with socket.create_connection((str(host), port), timeout=WAIT_S) as connection:
        connection.sendall(head.replace("PORT", str(port)).encode("latin-1") + b"\r\n\r\n")
        response = http.client.HTTPResponse(connection)
        response.begin()
        return response.status, response.read()


def test_requests_that_name_another_site_are_refused(live_note: Live) -> None:
    """DNS rebinding: evil.example resolves to 127.0.0.1, yet its pages say `Host: evil.example`."""
    for path in ("/a.html", preview.EVENTS_PATH, "/assets/style.css", "/"):
        for host in ("evil.example", "evil.example:PORT", "127.0.0.1:1", "localhost.evil.example:PORT"):
            status, body = _raw(live_note, f"GET {path} HTTP/1.1\r\nHost: {host}")
            assert status == 403, (path, host)
            assert b"names another site" in body and b"Front Title" not in body
        status, _ = _raw(live_note, f"GET {path} HTTP/1.0")  # no Host at all
        assert status == 403, path
        # Two Hosts (RFC 9112: a request to refuse), or a request target naming another site,
        # whose authority counts instead of Host's (RFC 9112, 3.2.2).
        for head in (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nHost: evil.example",
            f"GET {path} HTTP/1.1\r\nHost: evil.example\r\nHost: 127.0.0.1:PORT",
            f"GET http://evil.example{path} HTTP/1.1\r\nHost: 127.0.0.1:PORT",
        ):
            status, body = _raw(live_note, head)
            assert status == 403 and b"Front Title" not in body, head
    # A page of another site opening the event stream sends its Origin.
    for origin in ("http://evil.example", "null", "https://127.0.0.1:PORT"):
        status, body = _raw(
            live_note, f"GET {preview.EVENTS_PATH} HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nOrigin: {origin}"
        )
        assert status == 403 and b"names another site" in body, origin
    # The server's own names, with its port, are served.
    for host in ("127.0.0.1:PORT", "localhost:PORT", "LOCALHOST:PORT", "[::1]:PORT"):
        status, body = _raw(live_note, f"GET /a.html HTTP/1.1\r\nHost: {host}\r\nConnection: close")
        assert status == 200 and b"Front Title" in body, host
    status, _ = _raw(
        live_note,
        "GET /a.html HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nOrigin: http://localhost:PORT\r\nConnection: close",
    )
    assert status == 200
    status, _ = _raw(live_note, "GET http://localhost:PORT/a.html HTTP/1.1\r\nHost: localhost:PORT")
    assert status == 200


def test_the_names_given_with_host_are_served(project: Project) -> None:
    site = project.site("a.md")
    with preview.bind(site, "localhost", 0) as named, preview.bind(site, "0.0.0.0", 0) as everywhere:
        port = named.server_address[1]
        assert named.accepts_host(f"localhost:{port}") and named.accepts_host(f"127.0.0.1:{port}")
        assert not named.accepts_host(f"192.168.1.2:{port}")
        # On every interface, other machines use one of this one's addresses: any address, no name.
        port = everywhere.server_address[1]
        assert everywhere.accepts_host(f"192.168.1.2:{port}") and everywhere.accepts_host(f"0.0.0.0:{port}")
        assert not everywhere.accepts_host(f"evil.example:{port}")
        assert not everywhere.accepts_host(f"192.168.1.2:{port + 1}")


def test_odd_paths_get_404_whatever_exists_on_the_machine(
    live_note: Live, project: Project, capfd: pytest.CaptureFixture[str]
) -> None:
    (project.out / "sub").mkdir(exist_ok=True)
    capfd.readouterr()
    # `..` above the output folder answers the same whether the folder named there exists.
    depth = "/sub" + "/.." * len(project.out.parts)
    for path in (f"{depth}/tmp", f"{depth}/no-such-folder-here", "/sub/../../secret.txt"):
        status, headers, body = live_note.get(path)
        assert status == 404, path
        assert "location" not in headers
    # A name longer than any file system takes (255 bytes) is simply not there.
    for path in ("/" + "a" * 300 + ".html", "/sub/" + "b" * 300, "/" + "%C3%A9" * 200):
        status, _, body = live_note.get(path)
        assert status == 404, path
        assert b"Not found" in body
    assert "Traceback" not in capfd.readouterr().err
    # A folder inside the site is still redirected to its slash, never to another host.
    for path in ("/sub", "//sub"):
        status, headers, _ = live_note.get(path)
        assert status == 302 and headers["location"] == "/sub/", path


def test_a_big_file_is_sent_in_chunks(live_note: Live, project: Project) -> None:
    size = 24 * 1024 * 1024
    with open(project.out / "big.bin", "wb") as handle:
        handle.truncate(size)  # sparse: costs no disk
    host, port = live_note.server.server_address[:2]
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        connection = http.client.HTTPConnection(str(host), port, timeout=WAIT_S)
        connection.request("GET", "/big.bin")
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("Content-Length") == str(size)
        received = 0
        while chunk := response.read(65536):
            received += len(chunk)
        connection.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received == size
    # Read whole, the file alone would be 24 MB in memory; in chunks, the server holds one.
    assert peak < 4 * 1024 * 1024, peak


def test_whole_site_is_served_by_serve(project: Project) -> None:
    with serving(project.site(None)) as live:
        index = live.page("/")
        assert 'href="sub/b.html"' in index
        assert "B heading" in live.page("/sub/b.html")
        status, headers, _ = live.get("/sub")
        assert status == 302 and headers["location"] == "/sub/"

        # A renamed heading reaches its page and the home page's listing; a new note appears.
        with live.events() as events:
            events.next()
            _edit(project.notes / "sub" / "b.md", "# B heading", "# Renamed heading")
            events.next_reload()
            assert "Renamed heading" in live.page("/sub/b.html")
            assert "Renamed heading" in live.page("/")
            _save(project.notes / "c.md", "# A new note\n")
            events.next_reload()
            assert "A new note" in live.page("/c.html")
            assert 'href="c.html"' in live.page("/")


# --- rebuilding -----------------------------------------------------------------------------


def test_event_stream_announces_a_rebuild_after_the_note_changes(live_note: Live, project: Project) -> None:
    with live_note.events() as events:
        name, data = events.next()
        assert name == "hello"
        _edit(project.notes / "a.md", "Some ~~struck~~ text", "Freshly written text")
        assert events.next_reload() == int(data) + 1
    page = live_note.page("/a.html")
    assert "Freshly written text" in page
    assert f"var built = {int(data) + 1};" in page


def test_templates_stylesheet_and_config_are_watched(live_note: Live, project: Project) -> None:
    with live_note.events() as events:
        events.next()
        template = project.root / "templates" / "note.html"
        _edit(template, '<article class="note">', '<article class="note edited">')
        events.next_reload()
        assert '<article class="note edited">' in live_note.page("/a.html")

        css = project.root / "templates" / "assets" / "style.css"
        _save(css, css.read_text(encoding="utf-8") + "\n.edited { color: teal; }\n")
        events.next_reload()
        assert live_note.get("/assets/style.css")[2].endswith(b".edited { color: teal; }\n")

        _edit(project.root / "pyproject.toml", "First title", "Second title")
        events.next_reload()
        assert "<title>Front Title · Second title</title>" in live_note.page("/a.html")


@pytest.mark.parametrize("folder", ["", "tex/"])
def test_an_edited_preamble_is_read_again(project: Project, folder: str) -> None:
    (project.root / "tex").mkdir()
    preamble = project.root / folder / "preamble.sty"
    preamble.write_text("\\newcommand{\\vect}[1]{\\mathbf{#1}}\n", encoding="utf-8")
    _save(project.root / "pyproject.toml", f'[tool.notes-render.katex]\npreamble = "{folder}preamble.sty"\n')
    _edit(project.notes / "a.md", "Some ~~struck~~ text", "Some $\\vect{v}$ text")
    with serving(project.site("a.md")) as live, live.events() as events:
        assert '<mi mathvariant="bold">v</mi>' in live.page("/a.html")
        events.next()
        _save(preamble, "\\newcommand{\\vect}[1]{\\vec{#1}}\n")
        events.next_reload()
        assert '<mi mathvariant="bold">v</mi>' not in live.page("/a.html")
        assert "<mo>⃗</mo>" in live.page("/a.html")


def test_a_changed_stylesheet_is_never_answered_not_modified(live_note: Live, project: Project) -> None:
    _, headers, _ = live_note.get("/assets/style.css")
    tag = {"If-None-Match": headers["etag"]}
    assert live_note.get("/assets/style.css", tag)[0] == 304
    with live_note.events() as events:
        events.next()
        css = project.root / "templates" / "assets" / "style.css"
        # Within the same second as the first version, as a quick second save is.
        _save(css, css.read_text(encoding="utf-8") + "\n.same-second { color: teal; }\n")
        events.next_reload()
        status, _, body = live_note.get("/assets/style.css", tag)
        assert status == 200 and body.endswith(b".same-second { color: teal; }\n")


def test_an_image_the_note_uses_is_watched(live_note: Live, project: Project) -> None:
    with live_note.events() as events:
        events.next()
        _save(project.notes / "img" / "fig.png", b"\x89PNG new picture")
        events.next_reload()
        assert live_note.get("/img/fig.png")[2] == b"\x89PNG new picture"


def test_a_broken_formula_shows_an_overlay_until_it_is_fixed(live_note: Live, project: Project) -> None:
    note = project.notes / "a.md"
    with live_note.events() as events:
        events.next()
        _edit(note, "Some ~~struck~~ text", r"Some $\frac{1}{\nosuchmacro}$ text")
        events.next_reload()
        page = live_note.page("/a.html")
        overlay = re.search(r'<div id="notes-render-overlay".*?</div>', page, re.S)
        assert overlay is not None
        assert re.search(r"a\.md:8:16: Undefined control sequence: \\nosuchmacro", overlay.group(0))
        # The build itself stays as `build` writes it: KaTeX's error span, no overlay, no script.
        built = (project.out / "a.html").read_text(encoding="utf-8")
        assert "katex-error" in built and "notes-render-overlay" not in built

        _edit(note, r"\nosuchmacro", r"\pi")
        events.next_reload()
        page = live_note.page("/a.html")
        assert "notes-render-overlay" not in page
        assert ("inline", r"\frac{1}{\pi}") in formulas(page)


def test_broken_front_matter_shows_an_overlay_and_the_server_keeps_going(
    live_note: Live, project: Project
) -> None:
    note = project.notes / "a.md"
    with live_note.events() as events:
        events.next()
        _edit(note, 'title: "Front Title"', "title: [unclosed")
        events.next_reload()
        page = live_note.page("/a.html")
        assert "notes-render-overlay" in page
        assert re.search(r"a\.md:\d+:\d+: invalid YAML front matter", page)

        _edit(note, "title: [unclosed", 'title: "Mended Title"')
        events.next_reload()
        page = live_note.page("/a.html")
        assert "notes-render-overlay" not in page and "<title>Mended Title" in page


def test_a_file_of_the_notes_that_cannot_be_read_is_shown_as_build_says_it(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = shutil.copyfile

    def copyfile(source: str | Path, target: str | Path) -> object:
        # What a file without read permission gives (the tests may run as root, who reads all).
        if Path(source).is_relative_to(project.notes):
            raise PermissionError(13, "Permission denied", str(source))
        return copy(source, target)

    monkeypatch.setattr(shutil, "copyfile", copyfile)
    site = project.site(None)
    site.build()
    data = project.notes / "files" / "data.csv"
    assert [problem.text for problem in site.latest.snapshot()[1]] == [
        f"{data}: cannot be read: Permission denied"
    ]


def test_a_broken_config_or_template_is_shown_and_mended(live_note: Live, project: Project) -> None:
    with live_note.events() as events:
        events.next()
        _edit(project.root / "pyproject.toml", '"First title"', "[not a string")
        events.next_reload()
        assert "invalid TOML" in live_note.page("/a.html")
        _edit(project.root / "pyproject.toml", "[not a string", '"Third title"')
        events.next_reload()
        page = live_note.page("/a.html")
        assert "notes-render-overlay" not in page and "Third title" in page

        _edit(project.root / "templates" / "note.html", "{% endblock %}", "{% endblok %}")
        events.next_reload()
        assert "template error" in live_note.page("/a.html")
        _edit(project.root / "templates" / "note.html", "{% endblok %}", "{% endblock %}")
        events.next_reload()
        assert "notes-render-overlay" not in live_note.page("/a.html")


def test_the_overlay_of_a_page_names_only_its_own_errors(project: Project) -> None:
    _edit(project.notes / "sub" / "b.md", "# B heading", "# B heading\n\n$\\broken$")
    with serving(project.site(None)) as live:
        assert "b.md:3:2: Undefined control sequence: \\broken" in live.page("/sub/b.html")
        assert "notes-render-overlay" not in live.page("/a.html")


def test_what_the_build_writes_never_starts_a_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Notes at the top of the project: the default formula cache is inside the notes folder.
    monkeypatch.delenv("NOTES_RENDER_CACHE_DIR")
    project = tmp_path / "project"
    project.mkdir()
    (project / "a.md").write_text("# A\n", encoding="utf-8")
    load = partial(make_config, src=project, out=tmp_path / "out", project_dir=project)
    site = preview.LiveSite(load, project_dir=project)
    modified = watchfiles.Change.modified
    assert site.wants(modified, str(project / "a.md"))
    assert site.wants(modified, str(project / "pyproject.toml"))
    assert not site.wants(modified, str(project / ".notes-render-cache" / "formulas.sqlite-wal"))


def test_builds_never_interleave_and_requests_during_one_make_one_more() -> None:
    started, release = threading.Event(), threading.Event()
    builds: list[frozenset[Path]] = []
    done = threading.Semaphore(0)

    def build(changed: frozenset[Path]) -> None:
        builds.append(changed)
        started.set()
        assert release.wait(WAIT_S)
        done.release()

    rebuilder = preview.Rebuilder(build)
    rebuilder.start()
    try:
        rebuilder.request({Path("first")})
        assert started.wait(WAIT_S)
        for name in ("a", "b", "a", "c"):  # a burst while the first build runs
            rebuilder.request({Path(name)})
        release.set()
        assert done.acquire(timeout=WAIT_S) and done.acquire(timeout=WAIT_S)
    finally:
        rebuilder.stop(WAIT_S)
    assert builds == [frozenset({Path("first")}), frozenset({Path("a"), Path("b"), Path("c")})]


# --- options --------------------------------------------------------------------------------


def test_a_taken_port_falls_back_only_when_none_was_asked_for(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = project.site("a.md")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"port {port} on 127.0.0.1 is in use"):
            preview.bind(site, "127.0.0.1", port)
        monkeypatch.setattr(preview, "DEFAULT_PORT", port)
        with preview.bind(site, "127.0.0.1", None) as server:
            assert server.server_address[1] not in (port, 0)


def test_an_address_that_cannot_be_bound_names_the_port_tried(project: Project) -> None:
    # 192.0.2.1 is reserved for documentation (RFC 5737): no machine has it.
    with pytest.raises(ConfigError, match=f"cannot serve on 192.0.2.1:{preview.DEFAULT_PORT}: "):
        preview.bind(project.site("a.md"), "192.0.2.1", None)


def test_only_loopback_hosts_count_as_private() -> None:
    assert all(preview.is_loopback(h) for h in ("127.0.0.1", "127.8.0.1", "::1", "localhost"))
    assert not any(preview.is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.2", "example.org"))
    assert preview.host_warning("127.0.0.1") is None
    assert "other machines can read this preview" in (preview.host_warning("0.0.0.0") or "")


def test_help_documents_every_preview_and_serve_option() -> None:
    for command, options in {
        "preview": ("--src", "--host", "--port", "--open", "--katex-dir", "--templates", "--quiet", "note"),
        "serve": ("--src", "--host", "--port", "--open", "--katex-dir", "--templates", "--quiet"),
    }.items():
        result = subprocess.run(
            [sys.executable, "build.py", command, "--help"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
            timeout=WAIT_S,
        )
        for option in options:
            assert option in result.stdout, (command, option)


def _start_cli(
    args: list[str], tmp_path: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    """Run `build.py preview ...` with a stand-in browser; return it and the URL it printed."""
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {tmp_path / "opened"}\n', encoding="utf-8")
    browser.chmod(0o755)
    process = subprocess.Popen(
        [sys.executable, "build.py", *args],
        cwd=REPO,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "BROWSER": str(browser), "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    timer = threading.Timer(WAIT_S, process.kill)  # a hung start-up fails the test, never CI
    timer.start()
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
    finally:
        timer.cancel()
    match = re.search(r"at (http://127\.0\.0\.1:\d+/)$", line.strip())
    assert match, line
    return process, match.group(1)


def _get_then_stop(
    process: subprocess.Popen[str], url: str, path: str, stop: signal.Signals
) -> tuple[bytes, str]:
    """GET path (it must answer 200), then stop the preview with a signal; (body, stderr)."""
    try:
        parts = urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=WAIT_S)
        connection.request("GET", path)
        response = connection.getresponse()
        assert response.status == 200, path
        body = response.read()
        connection.close()
        process.send_signal(stop)
        _, stderr = process.communicate(timeout=WAIT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return body, stderr


signals_to_another_process = pytest.mark.skipif(
    sys.platform == "win32", reason="Windows cannot send a signal to another process, only end it"
)


@signals_to_another_process
@pytest.mark.parametrize(
    ("open_browser", "stop"),
    [
        (True, signal.SIGINT),
        (False, signal.SIGINT),
        (False, signal.SIGTERM),
        (False, getattr(signal, "SIGHUP", signal.SIGTERM)),  # the test is skipped where it is missing
    ],
    ids=["open-ctrl-c", "ctrl-c", "terminate", "hang-up"],
)
def test_cli_serves_opens_only_when_asked_and_stops_cleanly(
    project: Project, tmp_path: Path, open_browser: bool, stop: signal.Signals
) -> None:
    args = ["preview", str(project.notes / "a.md"), "--port", "0", *(["--open"] if open_browser else [])]
    process, url = _start_cli(args, tmp_path)
    parts = urlsplit(url)
    page, stderr = _get_then_stop(process, url, "/a.html", stop)
    assert b"Front Title" in page
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "preview stopped" in stderr
    folder = re.search(r"building into (\S+);", stderr)
    assert folder and not Path(folder.group(1)).exists()
    opened = tmp_path / "opened"
    # The process has ended, so a browser it asked for has run (webbrowser waits for it).
    urls = opened.read_text(encoding="utf-8").split() if opened.exists() else []
    assert urls == ([url] if open_browser else [])
    with socket.socket() as again:  # nothing listens there any more: a new preview can take the port
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as http.server does
        again.bind(("127.0.0.1", parts.port or 0))
        again.listen()


@signals_to_another_process
def test_cli_previews_a_note_in_a_folder_that_holds_the_temporary_folder(tmp_path: Path) -> None:
    """`preview /tmp/n.md`: the note's folder is the notes folder, and it holds the temporary
    folder the preview builds into, an --out nobody gave."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    (folder / "n.md").write_text("# Loose note\n\nSome $x^2$.\n", encoding="utf-8")
    process, url = _start_cli(
        ["preview", str(folder / "n.md"), "--port", "0"], tmp_path, {"TMPDIR": str(folder)}
    )
    page, stderr = _get_then_stop(process, url, "/n.html", signal.SIGINT)
    assert b"Loose note" in page
    assert process.returncode == 0, stderr
    assert "--out" not in stderr and "error:" not in stderr
    built = re.search(r"building into (\S+);", stderr)
    assert built and Path(built.group(1)).parent == folder and not Path(built.group(1)).exists()


def test_a_one_note_preview_rebuilds_only_for_what_the_note_names(tmp_path: Path) -> None:
    notes = tmp_path / "busy"
    notes.mkdir()
    (notes / "n.md").write_text("# N\n\n![late](img/late.png) and [data](data.csv)\n", encoding="utf-8")
    (notes / "data.csv").write_text("1,2\n", encoding="utf-8")
    load = partial(make_config, src=notes, out=tmp_path / "out", project_dir=tmp_path, use_cache=False)
    site = preview.LiveSite(load, project_dir=tmp_path, only=PurePosixPath("n.md"), quiet=True)
    site.build()
    added, modified = watchfiles.Change.added, watchfiles.Change.modified
    assert site.wants(modified, str(notes.resolve() / "n.md"))
    assert site.wants(modified, str(notes.resolve() / "data.csv"))
    assert site.wants(added, str(notes.resolve() / "img" / "late.png"))  # named, missing so far
    # Anything else appearing in the folder (another program's files in /tmp) is not the note's.
    assert not site.wants(added, str(notes.resolve() / "unrelated.png"))
    assert not site.wants(added, str(notes.resolve() / "img" / "other.png"))


def test_a_preview_rebuilds_when_the_bib_the_notes_cite_changes(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "n.md").write_text("As shown [@roe2001].\n", encoding="utf-8")
    (notes / "references.bib").write_text("@book{roe2001, author = {Roe, Ann}, title = {T}, year = 2001}\n")
    load = partial(make_config, src=notes, out=tmp_path / "out", project_dir=tmp_path, use_cache=False)
    modified = watchfiles.Change.modified
    site = preview.LiveSite(load, project_dir=tmp_path, only=PurePosixPath("n.md"), quiet=True)
    assert not site.wants(modified, str(notes.resolve() / "references.bib"))  # not named by the note yet
    site.build()
    assert site.wants(modified, str(notes.resolve() / "references.bib"))  # the note cites from it
    assert not site.wants(modified, str(notes.resolve() / "other.bib"))
    # A configured .bib outside the notes: its folder is watched, and a change to it counts.
    (tmp_path / "refs").mkdir()
    (notes / "references.bib").rename(tmp_path / "refs" / "works.bib")
    (tmp_path / "pyproject.toml").write_text('[tool.notes-render]\nbibliography = "refs/works.bib"\n')
    site = preview.LiveSite(load, project_dir=tmp_path, only=None, quiet=True)
    site.build()
    assert (tmp_path / "refs").resolve() in site.watch_roots()
    assert site.wants(modified, str(tmp_path.resolve() / "refs" / "works.bib"))
    assert not site.wants(modified, str(tmp_path.resolve() / "refs" / "other.bib"))


def test_cli_refuses_a_port_that_is_no_port(capsys: pytest.CaptureFixture[str]) -> None:
    for port in ("70000", "-1", "http"):
        with pytest.raises(SystemExit) as exit_:
            cli.main(["serve", "--port", port])
        assert exit_.value.code == 2
        assert "is not a port number" in capsys.readouterr().err


def test_cli_refuses_a_note_that_is_not_there(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "build.py", "preview", str(tmp_path / "nope.md")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )
    assert result.returncode == 2
    assert "nope.md is not a Markdown note" in result.stderr


# --- in a real browser ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with launch_chromium() as chromium:
        yield chromium


def test_the_open_page_follows_the_note_in_a_browser(browser: object, project: Project) -> None:
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    note = project.notes / "live.md"

    def save(text: str, tex: str) -> None:
        note.write_text(f"# Live note\n\n{text}\n\n$$\n{tex}\n$$\n", encoding="utf-8")

    save("First version of the text.", "E = mc^2")
    tex_of_formulas = "() => [...document.querySelectorAll('annotation')].map(a => a.textContent.trim())"
    with serving(project.site("live.md")) as live:
        page = browser.new_page()
        page.set_default_timeout(WAIT_S * 1000)
        try:
            page.goto(live.server.url)  # `/` leads to the note
            assert page.url.endswith("/live.html")
            assert "First version of the text." in page.inner_text("article")
            assert page.evaluate(tex_of_formulas) == ["E = mc^2"]

            # Save new text and a new formula: the page reloads by itself.
            save("Second version, rewritten.", r"\int_0^1 x\,dx = \tfrac12")
            page.wait_for_function("() => document.body.innerText.includes('Second version, rewritten.')")
            assert page.evaluate(tex_of_formulas) == [r"\int_0^1 x\,dx = \tfrac12"]
            assert "First version" not in page.inner_text("article")

            # Break the formula on line 6: the overlay names the place and KaTeX's message.
            save("Second version, rewritten.", r"\int_0^1 \brokenmacro")
            overlay = page.wait_for_selector("#notes-render-overlay")
            assert overlay is not None
            message = overlay.inner_text()
            assert re.search(r"live\.md:6:10: Undefined control sequence: \\brokenmacro", message)

            # Mend it: the overlay goes away on the next save.
            save("Third version.", r"\int_0^1 \pi")
            page.wait_for_selector("#notes-render-overlay", state="detached")
            # A save is a truncation then a write: a rebuild may catch the note between the two
            # and show its heading alone, and the next rebuild shows the whole text.
            page.wait_for_function("() => document.body.innerText.includes('Third version.')")
            assert page.evaluate(tex_of_formulas) == [r"\int_0^1 \pi"]
        finally:
            page.close()
