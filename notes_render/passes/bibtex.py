"""BibTeX files read with pybtex: each entry as the plain data a citation and a bibliography
line show, and every problem of the file located at its line and column.

pybtex parses (strings, `#` concatenation, names split into first / von / last / Jr); we
turn its LaTeX into Unicode text (accents, `--`, braces that protect case), keep `$…$`
in titles apart for KaTeX, and find the line of the problems pybtex reports without one
(a repeated key or field).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from ..errors import Diagnostic, SourcePosition, not_utf8
from ..sources import display_path

if TYPE_CHECKING:
    from pybtex.backends import BaseBackend


@dataclass(frozen=True, slots=True)
class Author:
    """One name of an author list, LaTeX turned into text."""

    last: str
    """Surname with its von part (`van den Oord`); `others` for BibTeX's `and others`."""
    first: str
    """Given names, as written."""
    lineage: str = ""
    """`Jr.`, `III`: BibTeX's `King, Jr., Martin Luther`, shown after the given names."""

    @property
    def others(self) -> bool:
        """BibTeX's `and others`: the list goes on, shown as "et al."."""
        return self.last == "others" and not self.first


@dataclass(frozen=True, slots=True)
class Entry:
    """What the notes show of one BibTeX entry."""

    key: str
    """The citation key as written in the .bib file."""
    offset: int
    """Where the entry's key is in the file (for errors in its fields)."""
    authors: tuple[Author, ...]
    """Authors, else editors; empty when neither is given."""
    year: str
    """The year, or "n.d." when there is none."""
    title: tuple[tuple[str, bool], ...]
    """The title in pieces: (text, False) or (TeX of a `$…$` formula, True)."""
    venue: str
    """Journal, book title, publisher, school…; an arXiv preprint says so."""
    details: str
    """Volume, number and pages, when given (`23 (7), 1661–1674`)."""
    link: tuple[str, str] | None
    """(URL, what it shows) for the DOI, else the arXiv page, else the entry's url."""


@dataclass(slots=True)
class Bibliography:
    """One .bib file read: its entries by key (case as written) and its problems."""

    path: Path
    entries: dict[str, Entry] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    folded: dict[str, Entry] = field(default_factory=dict)
    """The entries by case-folded key: BibTeX keys do not depend on case."""
    text: str = ""
    """The file's text, newlines normalised."""

    def diagnostic(self, offset: int, message: str) -> Diagnostic:
        """A problem at an offset of the file, with its line as the excerpt."""
        line = self.text.count("\n", 0, offset)
        column = offset - (self.text.rfind("\n", 0, offset) + 1)
        source_line = self.text.split("\n")[line]
        return Diagnostic(
            SourcePosition(display_path(self.path), line + 1, column + 1), message, source_line=source_line
        )

    def find(self, key: str) -> Entry | None:
        """The entry of a key, whatever its case."""
        return self.entries.get(key) or self.folded.get(key.casefold())


_ENTRY_START = re.compile(r"@\s*([A-Za-z]+)\s*[{(]\s*([^,\s{}()]*)")
_ARXIV_URL = re.compile(r"^https?://(?:www\.)?arxiv\.org/(?:abs|pdf)/([^\s?#]+?)(?:\.pdf)?/?$", re.I)
_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:)", re.I)
_LEFTOVER_COMMAND = re.compile(r"\\[A-Za-z]+\s?")
_ESCAPED = re.compile(r"\\([$&%#_{}])")
_DOI_SAFE = "/:;()!$&'*+,=@"
"""What a DOI keeps as written in its URL: the characters a URL's path may hold."""
_VENUE_FIELDS = ("journal", "booktitle", "howpublished", "school", "institution", "publisher")


def load(path: Path) -> Bibliography:
    """The entries and problems of a .bib file; read again only when the file changes."""
    stat = path.stat()
    return _load(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _load(path: Path, mtime_ns: int, size: int) -> Bibliography:
    import pybtex.errors  # ~0.05 s, paid only by a build whose notes cite
    from pybtex.database import BibliographyDataError
    from pybtex.database.input import bibtex
    from pybtex.scanner import PybtexSyntaxError

    bibliography = Bibliography(path)
    try:
        data = path.read_bytes()
        text = data.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    except OSError as exc:
        message = f"cannot be read: {exc.strerror or exc}"
        bibliography.diagnostics.append(Diagnostic(SourcePosition(display_path(path), 0, 0), message))
        return bibliography
    except UnicodeDecodeError as exc:  # where the first bad byte is, as for a note
        position, message = not_utf8(display_path(path), data, exc)
        bibliography.diagnostics.append(Diagnostic(position, f"{message}; save the .bib file as UTF-8"))
        return bibliography
    starts = _entry_starts(text)

    bibliography.text = text

    def problem(offset: int, message: str) -> None:
        bibliography.diagnostics.append(bibliography.diagnostic(offset, message))

    with pybtex.errors.capture() as errors:
        data = bibtex.Parser().parse_string(text)
    for error in errors:
        if isinstance(error, PybtexSyntaxError):
            _, _, offset = error.error_context_info
            problem(min(offset, len(text)), _syntax_message(error))
        elif isinstance(error, BibliographyDataError):
            _locate_data_error(str(error), text, starts, problem)
    for key, item in data.entries.items():
        offsets = starts.get(key.casefold(), [0])
        bibliography.entries[key] = _entry(key, item, offsets[0])
        bibliography.folded[key.casefold()] = bibliography.entries[key]
    return bibliography


def _syntax_message(error: Exception) -> str:
    """pybtex's message without its own "syntax error in line N:" (our position says it)."""
    message = str(error)
    return "BibTeX " + re.sub(r"^syntax error in line \d+: ", "syntax error: ", message)


def _entry_starts(text: str) -> dict[str, list[int]]:
    """Offsets of each key's `@type{key` (case folded), in file order."""
    starts: dict[str, list[int]] = {}
    for match in _ENTRY_START.finditer(text):
        if match.group(1).lower() in ("comment", "preamble", "string"):
            continue
        starts.setdefault(match.group(2).casefold(), []).append(match.start(2))
    return starts


def _locate_data_error(
    message: str, text: str, starts: dict[str, list[int]], problem: Callable[[int, str], None]
) -> None:
    """Put a repeated key at its second `@type{key`, a repeated field at its second `name =`."""
    repeated = re.match(r"repeated bibliograph?y entry: (.+)$", message)
    if repeated:
        key = repeated.group(1)
        offsets = starts.get(key.casefold(), [0, 0])
        first = text.count("\n", 0, offsets[0]) + 1
        problem(offsets[-1], f"duplicate BibTeX key '{key}' (first defined on line {first})")
        return
    duplicate = re.match(r"entry with key (.+) has a duplicate (.+) field$", message)
    if duplicate:
        key, name = duplicate.groups()
        start = starts.get(key.casefold(), [0])[0]
        fields = list(re.finditer(rf"[,\s]({re.escape(name)})\s*=", text[start:], re.I))
        offset = start + (fields[1].start(1) if len(fields) > 1 else 0)
        problem(offset, f"duplicate field '{name}' in BibTeX entry '{key}'")
        return
    problem(0, message)


@lru_cache(maxsize=1)
def _plain_text() -> BaseBackend:
    """pybtex's plain-text backend, made once: `render_as("text")` looks it up among every
    installed package's entry points on each call: 2 s of CPU, 60 % of a cold build of notes/."""
    from pybtex.backends.plaintext import Backend

    return Backend()


def latex_text(latex: str) -> str:
    """BibTeX's LaTeX as Unicode text: accents, dashes and ties, braces that protect case gone."""
    from pybtex.richtext import Text
    from pybtex.scanner import PybtexSyntaxError

    try:
        text = str(Text.from_latex(latex).render(_plain_text()))
    except PybtexSyntaxError:  # unbalanced braces (a quoted field may hold them): drop them all
        text = str(Text.from_latex(re.sub(r"\\?[{}]", "", latex)).render(_plain_text()))
    text = _ESCAPED.sub(r"\1", _LEFTOVER_COMMAND.sub("", text))
    return text.replace("\xa0", " ").strip()


_MATH = re.compile(r"(?<!\\)\$(.+?)(?<!\\)\$", re.S)
_HELD = re.compile("\ue000(\\d+)\ue001")


def split_math(latex: str) -> list[tuple[str, bool]]:
    """A title in pieces of text and `$…$` formulas (an escaped `\\$` is text); formulas are
    held out while the rest becomes text, so braces around one (`{$x$}`) still pair up."""
    formulas: list[str] = []

    def hold(match: re.Match[str]) -> str:
        formulas.append(match.group(1))
        return f"\ue000{len(formulas) - 1}\ue001"

    parts = _HELD.split(latex_text(_MATH.sub(hold, latex)))
    pieces = [(formulas[int(part)], True) if index % 2 else (part, False) for index, part in enumerate(parts)]
    return [(text, math) for text, math in pieces if text]


def _entry(key: str, item: object, offset: int) -> Entry:
    from pybtex.database import Entry as PybtexEntry

    assert isinstance(item, PybtexEntry)
    fields = item.fields
    people = item.persons.get("author") or item.persons.get("editor") or []
    authors = tuple(
        Author(
            latex_text(" ".join([*person.prelast_names, *person.last_names])),
            latex_text(" ".join([*person.first_names, *person.middle_names])),
            latex_text(" ".join(person.lineage_names)),
        )
        for person in people
    )
    return Entry(
        key=key,
        offset=offset,
        authors=authors,
        year=latex_text(fields.get("year", "")) or "n.d.",
        title=tuple(split_math(fields.get("title", ""))),
        venue=_venue(fields),
        details=_details(item.type.lower(), fields),
        link=_link(fields),
    )


def _venue(fields: dict[str, str]) -> str:
    """Where the work appeared; an arXiv preprint says so."""
    name = next((fields[f] for f in _VENUE_FIELDS if fields.get(f)), "")
    if not name and _arxiv_id(fields):
        name = f"arXiv preprint arXiv:{_arxiv_id(fields)}"
    return latex_text(name)


def _details(kind: str, fields: dict[str, str]) -> str:
    """Volume (number), pages: `23 (7), 1661–1674`; pages of a non-article get `pp.`."""
    details = latex_text(fields.get("volume", ""))
    if details and fields.get("number"):
        details += f" ({latex_text(fields['number'])})"
    if fields.get("pages"):
        pages = ("pp. " if kind != "article" else "") + latex_text(fields["pages"])
        details += (", " if details else "") + pages
    return details


def _arxiv_id(fields: dict[str, str]) -> str | None:
    prefix = (fields.get("archivePrefix") or fields.get("eprinttype") or "").strip().lower()
    if fields.get("eprint") and prefix == "arxiv":
        return fields["eprint"].strip()
    match = _ARXIV_URL.match(fields.get("url", "").strip())
    return match.group(1) if match else None


def _link(fields: dict[str, str]) -> tuple[str, str] | None:
    """The DOI's page, else arXiv's, else the url field."""
    doi = _DOI_PREFIX.sub("", fields.get("doi", "").strip())
    if doi:
        # A DOI may hold any printable character (old Wiley ones hold `<`, `>`, `;`, `#`):
        # in its URL those a path may not hold are percent-encoded, as the DOI Handbook says.
        return f"https://doi.org/{quote(doi, safe=_DOI_SAFE)}", f"doi:{doi}"
    arxiv = _arxiv_id(fields)
    if arxiv:
        return f"https://arxiv.org/abs/{arxiv}", f"arXiv:{arxiv}"
    url = fields.get("url", "").strip()
    if url.startswith(("https://", "http://")):
        return url, url
    return None
