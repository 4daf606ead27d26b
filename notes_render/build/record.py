"""One note's record: what a build learned from it, everything but its body; and the Site,
what every page shows of the others.

The builder makes a record, the state file keeps it, the planner compares it with the last
build's, and the writer and the templates render the note's page from it and its body
(which the cache, or the worker that built the note, keeps). It is plain data, so it
crosses between processes as it is and into the state file's JSON field by field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ..errors import Diagnostic
from ..sources import NoteSource, PathKind, Stat

if TYPE_CHECKING:
    from ..passes.headings import Heading
    from ..site.navigation import TocEntry


@dataclass(slots=True)
class NoteRecord:
    """What a build learned from one note: everything but its body.

    Later stages (the index, navigation, link checks, the next build's plan) read notes
    through this, so a note that did not change needs neither parsing nor its body.
    """

    source: NoteSource
    """Where it came from."""
    title: str
    """Front matter title, else first heading, else file name."""
    date: str | None
    """Front matter date, as ISO text."""
    description: str | None
    """Front matter description."""
    formulas: int
    """How many formulas it holds."""
    diagnostics: list[Diagnostic]
    """Problems found in it, in source order, reported again by every build until it changes."""
    files: set[PurePosixPath]
    """Local files it references (relative to the source folder), to copy."""
    targets: dict[PurePosixPath, PathKind]
    """Every local path it points at and what it was (file, folder, missing) when it was built."""
    outline: dict[str, Any]
    """Headings, table of contents and labels as JSON data (see outline_data)."""
    source_stat: Stat
    """The source file's (mtime_ns, size) just before it was read (see sources.read_fingerprinted)."""
    source_digest: str
    """SHA-256 of the source bytes that were built, for when the time changed but the text did not."""
    body_key: str = ""
    """Key of its body in the cache's `bodies` table once stored there ("" without a cache)."""
    output_stat: Stat | None = None
    """The page file as the build left it; another value means someone touched it."""
    depends: dict[str, tuple[Stat | None, str]] = field(default_factory=dict)
    """Other files its body was made from (the bibliography): path -> (stat, SHA-256)."""

    @property
    def labels(self) -> dict[str, str]:
        """What a reference to each of its labels shows (`Lemma 2`, `(3)`, `§4.2`), for other notes."""
        labels: dict[str, str] = self.outline.get("labels", {})
        return labels

    @property
    def listing_entry(self) -> Listed:
        """What other pages show of this note (index, navigation): a change re-renders them."""
        labels = tuple(sorted(self.labels.items()))
        return Listed(self.source.output, self.title, self.date, self.description, labels)

    @property
    def headings(self) -> list[Heading]:
        """Its headings with their ids, in order (without their tokens)."""
        from ..passes.headings import Heading

        return [Heading(level, text, anchor) for level, text, anchor in self.outline["headings"]]

    @property
    def toc(self) -> list[TocEntry]:
        """Its table of contents, formulas typeset."""
        return [_toc_entry(item) for item in self.outline["toc"]]


def outline_data(headings: list[Heading], toc: list[TocEntry], labels: dict[str, str]) -> dict[str, Any]:
    """Headings, table of contents and labels as JSON data, for NoteRecord.outline."""
    return {
        "headings": [[h.level, h.text, h.anchor] for h in headings],
        "toc": [_toc_data(entry) for entry in toc],
        "labels": labels,
    }


def _toc_data(entry: TocEntry) -> list[Any]:
    return [entry.level, entry.anchor, str(entry.html), [_toc_data(child) for child in entry.children]]


def _toc_entry(item: list[Any]) -> TocEntry:
    from markupsafe import Markup

    from ..site.navigation import TocEntry

    level, anchor, html, children = item
    return TocEntry(level, anchor, Markup(html), [_toc_entry(child) for child in children])


@dataclass(frozen=True, slots=True)
class Listed:
    """What other pages show of one note: the home page's list, previous/next, breadcrumbs."""

    output: PurePosixPath
    """Its page, relative to the output folder."""
    title: str
    """Its title."""
    date: str | None
    """Front matter date, as ISO text."""
    description: str | None
    """Front matter description."""
    labels: tuple[tuple[str, str], ...] = ()
    """(label, what a reference shows) of its numbered things, for references from other notes."""


@dataclass(frozen=True, slots=True)
class Site:
    """Everything a page's template needs besides its own note; plain data, so it can be sent
    to the workers that render pages."""

    title: str
    """The site title (`site-title` in the configuration)."""
    katex_version: str
    """The KaTeX that typeset the formulas, named in every page's footer."""
    templates_dir: Path
    """Where the templates are."""
    notes: tuple[Listed, ...]
    """Every note of the site, in build order; the home note (index.md) too."""
    katex_fonts: tuple[tuple[tuple[str, ...], str], ...] = ()
    """Which classes select which of KaTeX's font files (fonts.font_map), to preload them."""
