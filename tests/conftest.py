"""Shared test helpers: build a folder of notes in-process and read what came out."""

from __future__ import annotations

import gzip
import html
import http.server
import io
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from notes_render import cli
from notes_render.typeset.katex import MiniRacerEngine, find_katex

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent

_ANNOTATION = re.compile(
    r'<math xmlns="http://www.w3.org/1998/Math/MathML"( display="block")?>.*?'
    r'<annotation encoding="application/x-tex">(.*?)</annotation>',
    re.S,
)


@dataclass
class BuildResult:
    """What one run of the command line produced."""

    code: int
    stdout: str
    stderr: str
    out: Path

    def page(self, rel: str) -> str:
        return (self.out / rel).read_text(encoding="utf-8")


def formulas(page_html: str) -> list[tuple[str, str]]:
    """(kind, TeX) of every typeset formula, from KaTeX's MathML annotation."""
    return [
        ("display" if block else "inline", html.unescape(tex))
        for block, tex in _ANNOTATION.findall(page_html)
    ]


class _PageReader(HTMLParser):
    """Collects equation tags, anchors and equation links from a built page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.anchors: list[str] = []
        self.links: list[str] = []
        self._stack: list[tuple[str, set[str]]] = []
        self._link: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        classes = set((values.get("class") or "").split())
        if tag not in _VOID:
            self._stack.append((tag, classes))
        if any("xref-previews" in c for _, c in self._stack):
            return  # hidden copies of what the note refers to, not more formulas
        if tag == "span" and "katex-display" in classes:
            self.tags.append("")
        if tag in ("div", "span") and values.get("id"):
            self.anchors.append(str(values["id"]))
        in_formula = any("katex" in c for _, c in self._stack)
        if tag == "a" and ("eqref" in classes or in_formula):
            self._link = [str(values["href"]), " "]

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            name, _ = self._stack.pop()
            if name == tag:
                break
        if tag == "a" and self._link is not None:
            self.links.append("".join(self._link))
            self._link = None

    def handle_data(self, data: str) -> None:
        if any("xref-previews" in c for _, c in self._stack):
            return
        if any("katex-tag" in classes for _, classes in self._stack) and self.tags:
            self.tags[-1] += data.replace("\u200b", "")
        if self._link is not None and not any("katex-mathml" in c for _, c in self._stack):
            self._link.append(data)


_VOID = {"br", "img", "hr", "input", "meta", "link", "col", "wbr"}


def read_page(page_html: str) -> _PageReader:
    """Equation tags (one string per display formula), ids of spans/divs, equation links."""
    reader = _PageReader()
    reader.feed(page_html)
    return reader


@pytest.fixture(scope="session", autouse=True)
def separate_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Builds in tests (in-process or subprocess) share one fresh cache of their own, never
    the project's .notes-render-cache/: a developer's cache cannot make a test pass or fail."""
    from notes_render.config import CACHE_DIR_VARIABLE

    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_DIR_VARIABLE, str(folder))
        yield folder


@pytest.fixture(scope="session")
def katex_engine() -> MiniRacerEngine:
    """One KaTeX engine for the tests that call the engine directly."""
    return MiniRacerEngine(find_katex(None))


@pytest.fixture
def run_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., BuildResult]:
    """Run `notes-render ARGS` in-process from the repository root."""
    monkeypatch.chdir(REPO)

    def run(*args: str | Path, out: Path | None = None) -> BuildResult:
        code = cli.main([str(a) for a in args])
        captured = capsys.readouterr()
        return BuildResult(code, captured.out, captured.err, out or REPO / "site")

    return run


@pytest.fixture
def build_notes(tmp_path: Path, run_cli: Callable[..., BuildResult]) -> Callable[..., BuildResult]:
    """Write {relative path: text} as notes into a temporary folder and build it."""

    def build(notes: dict[str, str | bytes], *args: str) -> BuildResult:
        src = tmp_path / "src"
        if src.exists():
            shutil.rmtree(src)
        for rel, text in notes.items():
            path = src / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(text, bytes):
                path.write_bytes(text)
            else:
                path.write_text(text, encoding="utf-8")
        out = tmp_path / "out"
        return run_cli("--src", src, "--out", out, *args, out=out)

    return build


def _find_chromium() -> Path:
    """$CHROMIUM, else Debian's Chromium (installed by .ci/run), else a Chromium or Chrome on
    PATH (GitHub's Ubuntu runners ship Chrome); Playwright's own download is never used."""
    named = os.environ.get("CHROMIUM")
    if named:
        return Path(named)
    debian = Path("/usr/bin/chromium")
    if debian.exists():
        return debian
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return Path(found)
    return debian


COMPRESSIBLE = {".html", ".css", ".js", ".svg", ".json"}
"""What a static host gzips."""


class GzipHandler(http.server.SimpleHTTPRequestHandler):
    """Static files, gzipped for text when the browser asks, like GitHub Pages or nginx."""

    def send_head(self) -> Any:
        path = Path(self.translate_path(self.path))
        if path.suffix not in COMPRESSIBLE or "gzip" not in self.headers.get("Accept-Encoding", ""):
            return super().send_head()
        try:
            body = gzip.compress(path.read_bytes(), mtime=0)
        except OSError:
            return super().send_head()
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


CHROMIUM = _find_chromium()
"""The browser the browser tests drive."""
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@contextmanager
def launch_chromium() -> Iterator[Any]:
    """Headless Chromium through Playwright. Outside CI a missing Chromium skips the test;
    in CI (CI=true) it fails it, since .ci/run installs Chromium."""
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing; .ci/run installs it, and CI must run browser tests")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
