"""The site checker: reads built HTML and CSS like a linter and reports what a reader would hit.

It finds internal links and `#anchors` that do not resolve (ids are read from the built
pages, so heading ids, footnotes and equation labels all count), files a page or stylesheet
references that are missing, and anything a page would load from outside the site. Problems
are reported at the Markdown source line when the page came from a note and the reference
can be found there, else at the line of the built file.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from ..errors import Diagnostic, SourcePosition
from ..sources import NoteSource, discover_notes
from .writer import read_manifest

Problem = Callable[[str], str]
"""Says what is wrong with a reference, given the URL as the message should show it."""

CHECKED_SUFFIXES = (".html", ".htm", ".css")
"""The built files the checker reads."""

_RESOURCE_ATTRS: dict[str, tuple[str, ...]] = {
    "img": ("src", "srcset"),
    "script": ("src",),
    "iframe": ("src",),
    "source": ("src", "srcset"),
    "video": ("src", "poster"),
    "audio": ("src",),
    "track": ("src",),
    "embed": ("src",),
    "object": ("data",),
}
"""Attributes whose URL the browser loads as soon as the page is shown."""

_LOADED_LINK_RELS = {
    "stylesheet",
    "icon",
    "preload",
    "modulepreload",
    "prefetch",
    "manifest",
    "apple-touch-icon",
    "mask-icon",
}
"""`<link rel=...>` kinds whose href is fetched with the page."""

_CSS_URL = re.compile(
    r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)"""  # url(x), url("x"), url('x')
    r"""|@import\s+(?:"([^"]*)"|'([^']*)')"""  # @import "x"
)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


@dataclass(frozen=True, slots=True)
class Reference:
    """One URL in a built file, where the file holds it."""

    url: str
    """The URL as the browser sees it (entities decoded)."""
    loaded: bool
    """True when the browser fetches it with the page (img src, stylesheet); False for links."""
    where: str
    """The tag and attribute it came from, e.g. `<img src>`, for messages."""
    line: int
    """1-based line in the built file."""
    column: int
    """1-based column of the tag in the built file."""


@dataclass(slots=True)
class _Scan:
    """What one built file holds: the ids it defines and the URLs it references."""

    ids: set[str]
    references: list[Reference]


class _PageParser(HTMLParser):
    """Collects ids, `<a name>` targets and every URL in one HTML page, with positions."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scan = _Scan(set(), [])
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value for name, value in attrs if value is not None}
        line, offset = self.getpos()
        if "id" in values:
            self.scan.ids.add(values["id"])
        if tag == "a" and "name" in values:
            self.scan.ids.add(values["name"])
        if tag in ("a", "area") and "href" in values:
            self._add(values["href"], False, f"<{tag} href>", line, offset)
        if tag == "link" and "href" in values:
            rels = set(values.get("rel", "").lower().split())
            self._add(values["href"], bool(rels & _LOADED_LINK_RELS), "<link href>", line, offset)
        for attr in _RESOURCE_ATTRS.get(tag, ()):
            if attr not in values:
                continue
            urls = _srcset_urls(values[attr]) if attr == "srcset" else [values[attr]]
            for url in urls:
                self._add(url, True, f"<{tag} {attr}>", line, offset)
        if "style" in values:
            for url, _ in _css_urls(values["style"]):
                self._add(url, True, f"<{tag} style>", line, offset)
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            line, offset = self.getpos()
            for url, at in _css_urls(data):
                self._add(url, True, "<style>", line + data.count("\n", 0, at), offset + 1)

    def _add(self, url: str, loaded: bool, where: str, line: int, offset: int) -> None:
        self.scan.references.append(Reference(url.strip(), loaded, where, line, offset + 1))


def _srcset_urls(srcset: str) -> list[str]:
    """The URLs of a srcset, as HTML splits it: a URL runs to white space (so a data: URL may
    hold commas), then descriptors run to the next comma."""
    urls = []
    for match in re.finditer(r"[\s,]*([^\s,][^\s]*)([^,]*)", srcset):
        url = match.group(1)
        if url.endswith(",") and not match.group(2).strip():
            url = url.rstrip(",")
        urls.append(url)
    return urls


def _css_urls(css: str) -> Iterable[tuple[str, int]]:
    """Every url(...) and @import target of a stylesheet, with its offset."""
    for match in _CSS_URL.finditer(css):
        yield next((group for group in match.groups() if group is not None), ""), match.start()


def _scan_css(css: str) -> _Scan:
    references = []
    for url, at in _css_urls(css):
        line = css.count("\n", 0, at) + 1
        column = at - (css.rfind("\n", 0, at) + 1) + 1
        references.append(Reference(url.strip(), True, "url()", line, column))
    return _Scan(set(), references)


def _scan(out: Path, rel: PurePosixPath) -> _Scan:
    text = (out / rel).read_text(encoding="utf-8", errors="replace")
    if rel.suffix == ".css":
        return _scan_css(text)
    parser = _PageParser()
    parser.feed(text)
    parser.close()
    return parser.scan


def site_files(out: Path) -> list[PurePosixPath]:
    """Every HTML page and stylesheet under out, skipping hidden files and folders."""
    files = []
    for path in sorted(out.rglob("*")):
        rel = PurePosixPath(path.relative_to(out).as_posix())
        if (
            rel.suffix in CHECKED_SUFFIXES
            and path.is_file()
            and not any(part.startswith(".") for part in rel.parts)
        ):
            files.append(rel)
    return files


def note_sources(src: Path | None) -> dict[PurePosixPath, NoteSource]:
    """The note each page came from, by output path (empty when src is not a folder)."""
    if src is None or not src.is_dir():
        return {}
    return {note.output: note for note in discover_notes(src)}


def written_files(out: Path) -> list[PurePosixPath]:
    """The HTML pages and stylesheets the last build wrote into out, from its manifest."""
    return sorted(rel for rel in read_manifest(out) if rel.suffix in CHECKED_SUFFIXES)


def check_site(
    out: Path,
    files: Collection[PurePosixPath],
    sources: Mapping[PurePosixPath, NoteSource],
    judged: Collection[Diagnostic] = (),
) -> list[Diagnostic]:
    """Check the given built files (HTML and CSS, relative to out); one diagnostic per problem.

    `sources` maps a page to its note so problems are reported at the Markdown line.
    `judged` are the build's own diagnostics: a link it reported broken in a note (its
    Diagnostic.link) is not checked again in that note's page.
    """
    checker = _Checker(out)
    broken: dict[Path, set[str]] = {}
    for diagnostic in judged:
        if diagnostic.link is not None:
            broken.setdefault(diagnostic.position.path, set()).add(diagnostic.link)
    diagnostics: list[Diagnostic] = []
    for rel in files:
        note = sources.get(rel)
        skip = broken.get(note.display_path, set()) if note is not None else set()
        diagnostics += checker.check_file(rel, note, skip)
    return diagnostics


class _Checker:
    """Resolves references against the output folder, reading each target page's ids once."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self._scans: dict[PurePosixPath, _Scan] = {}

    def _scan_of(self, rel: PurePosixPath) -> _Scan:
        if rel not in self._scans:
            self._scans[rel] = _scan(self.out, rel)
        return self._scans[rel]

    def check_file(
        self, rel: PurePosixPath, note: NoteSource | None, judged: Collection[str] = ()
    ) -> list[Diagnostic]:
        """The problems of one built file, except with the references whose URL is in judged."""
        diagnostics = []
        locator: _Locator | None = None  # made at the first problem: a clean page reads nothing more
        for reference in self._scan_of(rel).references:
            if reference.url in judged:
                continue
            problem = self._problem(rel, reference)
            if problem is not None:
                locator = locator or _Locator(self.out / rel, note)
                diagnostics.append(locator.diagnostic(reference, *problem))
        return diagnostics

    def _problem(self, page: PurePosixPath, ref: Reference) -> tuple[Problem, str] | None:
        """What is wrong with a reference and the anchor it misses (or ""), or None if nothing."""
        url = ref.url
        parts = urlsplit(url)
        if parts.scheme or parts.netloc or url.startswith("//"):
            if ref.loaded and (parts.netloc or url.startswith("//") or parts.scheme in ("http", "https")):
                where = ref.where
                return (
                    lambda u: f"{where} loads '{u}' from outside the site; keep a copy in the site instead"
                ), ""
            return None
        if _SCHEME.match(url) or not url:
            return None
        if parts.path.startswith("/"):
            return (
                lambda u: (
                    f"'{u}' is an absolute path, which breaks when the site is opened from "
                    "disk or served from a sub-folder; use a relative link"
                )
            ), ""
        target = page
        if parts.path:
            joined = posixpath.normpath(posixpath.join(str(page.parent), unquote(parts.path)))
            if joined == ".." or joined.startswith("../"):
                return (lambda u: f"'{u}' points outside the site"), ""
            target = PurePosixPath(joined)
            if (self.out / target).is_dir() or parts.path.endswith("/"):
                target = target / "index.html"
                if not (self.out / target).is_file():
                    return (lambda u: f"'{u}' is a folder without an index.html in the site"), ""
            if not (self.out / target).is_file():
                return (lambda u: f"'{u}' does not exist"), ""
        fragment = unquote(parts.fragment)
        if not fragment or fragment.lower() == "top" or target.suffix not in (".html", ".htm"):
            return None
        if fragment in self._scan_of(target).ids:
            return None
        place = "this page" if target == page else str(target)
        return (lambda u: f"'{u}' points to a missing anchor: {place} has no id '{fragment}'"), fragment


class _Locator:
    """Places a problem found in a built file at the line of the note that produced it."""

    def __init__(self, built: Path, note: NoteSource | None) -> None:
        self.built = built
        self.note = note
        self.note_lines: list[str] = []
        if note is not None:
            try:
                self.note_lines = note.path.read_text(encoding="utf-8-sig").replace("\r\n", "\n").split("\n")
            except (OSError, UnicodeDecodeError):
                self.note = None
        self._seen: dict[str, int] = {}

    def diagnostic(self, ref: Reference, problem: Problem, fragment: str) -> Diagnostic:
        nth = self._seen.get(ref.url, 0)
        self._seen[ref.url] = nth + 1
        if self.note is not None:
            for spellings in self._spellings(ref.url, fragment):
                places = sorted(
                    (number, column, spelling)
                    for spelling in spellings
                    for number, line in enumerate(self.note_lines)
                    for column in _find_all(line, spelling)
                )
                if places:
                    number, column, spelling = places[min(nth, len(places) - 1)]
                    shown = spelling if spelling != fragment else ref.url
                    return Diagnostic(
                        SourcePosition(self.note.display_path, number + 1, column + 1),
                        problem(shown),
                        source_line=self.note_lines[number],
                    )
        built_lines = self._built_lines
        line = built_lines[ref.line - 1] if 0 < ref.line <= len(built_lines) else None
        return Diagnostic(
            SourcePosition(self.built, ref.line, ref.column), problem(ref.url), source_line=line
        )

    @cached_property
    def _built_lines(self) -> list[str]:
        """The built file's lines, read only when a problem cannot be placed in the note."""
        return self.built.read_text(encoding="utf-8", errors="replace").split("\n")

    @staticmethod
    def _spellings(url: str, fragment: str) -> list[tuple[str, ...]]:
        """How the note may have written a URL, in the order to try: as built or as a link to
        the .md (both build to this URL, so their places count in one sequence), else the id."""
        built = [url]
        parts = urlsplit(url)
        if parts.path.endswith(".html"):
            md = parts.path[: -len(".html")] + ".md"
            built.append(md + (f"#{parts.fragment}" if parts.fragment else ""))
        bare = [f"#{parts.fragment}", f"#{fragment}", fragment] if fragment else []
        others = [s for s in dict.fromkeys(bare) if s and s not in built]
        return [tuple(built), *((spelling,) for spelling in others)]


def _find_all(line: str, text: str) -> list[int]:
    """Columns where text stands in line as a whole URL, not inside a longer one
    (`img/` must not be found in `img/fig.png`)."""
    columns = []
    start = line.find(text)
    while start >= 0:
        end = start + len(text)
        before = line[start - 1] if start else " "
        after = line[end] if end < len(line) else " "
        if not (_continues_url(before) or _continues_url(after)):
            columns.append(start)
        start = line.find(text, start + 1)
    return columns


def _continues_url(char: str) -> bool:
    return char.isalnum() or char in "-._~%/#?=&+"
