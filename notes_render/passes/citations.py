"""Citations resolved from a BibTeX file, and the bibliography at the end of the note.

The syntax is citesyntax.py's; this pass finds each key's entry, gives each citation its
text and links in the configured style (author-year or numbered), appends the list of the
works cited, and reports unknown keys, a missing bibliography and the .bib file's problems.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markdown_it.token import Token

from ..config import Config
from ..errors import Diagnostic
from ..markdown.citesyntax import IN_TEXT, Cite, key_of
from ..markdown.parsing import ParsedNote
from ..markdown.tokenmeta import (
    CITATION_HTML,
    CITE_IN_TEXT,
    CITES,
    ENTRIES,
    FOOTNOTE_ID,
    HOST,
    IN_LINK,
    OFFSET,
    was_made,
)
from ..sources import Stat, file_digest, file_stat
from .bibliography import CitationStyle, Label, bibliography_html, citation_html, make_labels
from .positions import BlockPositions, walk

if TYPE_CHECKING:  # pybtex's reader is loaded only for a note that cites
    from .bibtex import Bibliography, Entry

DEFAULT_BIBLIOGRAPHY = "references.bib"
"""The BibTeX file looked for in the source folder when none is configured."""


# --- resolving ---------------------------------------------------------------------------


@dataclass(slots=True)
class Resolved:
    """What the citation pass learned from one note."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    depends: dict[str, tuple[Stat | None, str]] = field(default_factory=dict)
    """The bibliography file the body was made from: path -> (stat, SHA-256), or (None, "")
    when it was looked for and not there; a change rebuilds the note."""
    listing: Listing | None = None
    """The works the note's bibliography lists, once any is cited (or named in `nocite`)."""


@dataclass(slots=True)
class Listing:
    """The list of works a note ends with, to be appended once its titles' formulas are
    typeset (see append_bibliography)."""

    bibliography: Bibliography
    """The .bib file the entries come from."""
    entries: list[Entry]
    """The works listed, in the style's order."""
    labels: dict[str, Label]
    """How citations show each entry, by key."""
    style: CitationStyle

    def title_formulas(self) -> list[tuple[Entry, str]]:
        """Every formula written in a listed title: (entry, TeX), in order."""
        return [(entry, tex) for entry in self.entries for tex, math in entry.title if math]


@dataclass(slots=True)
class _Context:
    note: ParsedNote
    style: CitationStyle
    bibliography: Bibliography | None
    resolved: Resolved
    positions: Callable[[Token], BlockPositions]
    """Where offsets of each block's inline content are in the note."""
    order: list[Entry] = field(default_factory=list)
    """Entries cited, in order of first citation."""


def resolve(note: ParsedNote, config: Config) -> Resolved:
    """Link every citation of the note to its entry and choose the works its bibliography
    lists; report unknown keys, a missing bibliography and the .bib file's problems."""
    cites = _citations(note)
    nocite = _nocite(note)
    resolved = Resolved()
    if not cites and not nocite:
        return resolved
    path, named_line = _bibliography_path(note, config.src, config.bibliography)
    if named_line and not path.resolve().is_relative_to(config.src.resolve()):
        message = f"bibliography file {path.name} is outside the source folder; move it inside"
        resolved.diagnostics.append(note.diagnostic(named_line - 1, 0, message))
        _no_bibliography(note, cites, nocite, resolved)
        return resolved
    stat = file_stat(path) if path.is_file() else None  # a folder named references.bib is none
    resolved.depends[str(path)] = (stat, _digest(path) if stat is not None else "")
    if stat is None:
        if named_line:
            resolved.diagnostics.append(
                note.diagnostic(named_line - 1, 0, f"bibliography file {path.name} does not exist")
            )
        _no_bibliography(note, cites, nocite, resolved)
        return resolved
    from . import bibtex

    bibliography = bibtex.load(path)
    resolved.diagnostics += bibliography.diagnostics
    context = _Context(note, config.citation_style, bibliography, resolved, BlockPositions.cache(note.lines))
    for token, parent in cites:
        _resolve_token(context, token, parent)
    entries, labels = _listed(context, nocite)
    if entries:
        resolved.listing = Listing(bibliography, entries, labels, config.citation_style)
    return resolved


def append_bibliography(note: ParsedNote, resolved: Resolved, typeset: dict[tuple[str, str], str]) -> None:
    """The list of works at the end of the note, before its footnotes; `typeset` holds the
    HTML of its titles' formulas by (entry key, TeX), the others are shown as TeX."""
    listing = resolved.listing
    if listing is None:
        return
    html = bibliography_html(listing.entries, listing.labels, listing.style, typeset)
    block = Token("html_block", "", 0, content=html)
    tokens = note.tokens
    at = next((i for i, t in enumerate(tokens) if t.type == "footnote_block_open"), len(tokens))
    tokens.insert(at, block)


def _digest(path: Path) -> str:
    """The file's SHA-256; "" when it cannot be read (the reader then says why)."""
    try:
        return file_digest(path)
    except OSError:
        return ""


def _citations(note: ParsedNote) -> list[tuple[Token, Token | None]]:
    """Every citation token with its parent, in reading order: a footnote's citations come
    where the footnote is first referenced, as pandoc numbers them; one inside a link's text
    is marked, since a link cannot hold another."""
    if not was_made(note.env, "citation"):
        return []  # most notes: no need to look at every token
    # Each stream is what is read in order: a citation, or a reference to a footnote (its id).
    streams: dict[int | None, list[tuple[Token, Token | None] | int]] = {None: []}
    footnote: int | None = None
    depth = 0
    for token, parent in walk(note.tokens):
        if token.type == "footnote_open":
            footnote = FOOTNOTE_ID(token)
            streams[footnote] = []
        elif token.type == "footnote_close":
            footnote = None
        elif token.type in ("link_open", "link_close"):
            depth = max(depth + (1 if token.type == "link_open" else -1), 0)
        elif parent is None:
            depth = 0
        elif token.type == "footnote_ref":
            streams[footnote].append(FOOTNOTE_ID(token))
        elif token.type == "citation":
            IN_LINK.set(token, depth > 0)
            host = HOST.get_or(token, parent)  # an inline footnote's paragraph
            streams[footnote].append((token, host))
    cites: list[tuple[Token, Token | None]] = []
    read: set[int | None] = set()
    for name in streams:  # the text first; then any footnote no reference reaches
        if name in read:
            continue
        read.add(name)
        pending = [iter(streams[name])]  # a stack, not recursion: footnotes may chain deeply
        while pending:
            event = next(pending[-1], None)
            if event is None:
                pending.pop()
            elif not isinstance(event, int):
                cites.append(event)
            elif event not in read and event in streams:
                read.add(event)
                pending.append(iter(streams[event]))
    return cites


def _bibliography_path(note: ParsedNote, src: Path, configured: Path | None) -> tuple[Path, int]:
    """The note's own `bibliography:` (beside the note), else the configured one, else
    references.bib in the source folder; with the front matter line that named it (or 0)."""
    named = note.front_matter.get("bibliography")
    if isinstance(named, str) and named.strip():
        return (note.source.path.parent / named.strip()), _front_matter_line(note, "bibliography")
    return (configured if configured is not None else src / DEFAULT_BIBLIOGRAPHY), 0


def _front_matter_line(note: ParsedNote, key: str) -> int:
    """1-based line of a top-level key of the front matter (1 if not found there)."""
    first = note.tokens[0] if note.tokens else None
    end = first.map[1] if first is not None and first.type == "front_matter" and first.map else 0
    for index, line in enumerate(note.lines[:end]):
        if line.startswith(f"{key}:"):
            return index + 1
    return 1


def _nocite(note: ParsedNote) -> list[str]:
    """Keys listed in `nocite:` (a list, or pandoc's text of `@key`s); `*` means all."""
    value = note.front_matter.get("nocite")
    if isinstance(value, str):
        return [
            key_of(m) if m.group(0) != "@*" else "*" for m in re.finditer(r"@\*|" + IN_TEXT.pattern, value)
        ]
    if isinstance(value, list):
        return [str(item).strip().removeprefix("@") for item in value if str(item).strip()]
    return []


def _no_bibliography(
    note: ParsedNote, cites: list[tuple[Token, Token | None]], nocite: list[str], resolved: Resolved
) -> None:
    """Without a .bib file, in-text `@name` stays text; the first unmistakable citation is reported."""
    message = (
        f"citation but no bibliography: add {DEFAULT_BIBLIOGRAPHY} to the source folder, or name one "
        'with bibliography = "…" in [tool.notes-render] or in the front matter'
    )
    unmistakable = [(t, p) for t, p in cites if not CITE_IN_TEXT(t) or t.content.startswith("\\")]
    for token, _ in unmistakable:
        CITATION_HTML.set(token, f'<span class="citation citation-missing">{escape(token.content)}</span>')
    if unmistakable:
        token, parent = unmistakable[0]
        positions = BlockPositions.cache(note.lines)
        resolved.diagnostics.append(_at(note, positions, parent, token, CITES(token)[0], message))
    elif nocite:
        resolved.diagnostics.append(note.diagnostic(_front_matter_line(note, "nocite") - 1, 0, message))


def _at(
    note: ParsedNote,
    positions: Callable[[Token], BlockPositions],
    parent: Token | None,
    token: Token,
    cite: Cite,
    message: str,
) -> Diagnostic:
    """A problem at one work of a citation."""
    if parent is None:
        return note.diagnostic(0, 0, message)
    line, column = positions(parent).position(OFFSET(token) + cite.offset)
    return note.diagnostic(line, column, message)


def _resolve_token(context: _Context, token: Token, parent: Token | None) -> None:
    """Find each item's entry (reporting unknown keys); the text is made once all are known."""
    assert context.bibliography is not None
    entries: list[Entry | None] = []
    for cite in CITES(token):
        entry = context.bibliography.find(cite.key)
        if entry is None:
            context.resolved.diagnostics.append(
                _at(
                    context.note,
                    context.positions,
                    parent,
                    token,
                    cite,
                    _unknown_key(cite.key, context.bibliography),
                )
            )
        elif entry not in context.order:
            context.order.append(entry)
        entries.append(entry)
    ENTRIES.set(token, entries)


def _unknown_key(key: str, bibliography: Bibliography, where: str = "") -> str:
    message = f"unknown citation key '{key}'{where} (not in {bibliography.path.name})"
    close = difflib.get_close_matches(key, list(bibliography.entries), n=1, cutoff=0.6)
    return message + (f"; did you mean '{close[0]}'?" if close else "")


def _listed(context: _Context, nocite: list[str]) -> tuple[list[Entry], dict[str, Label]]:
    """The entries of the bibliography, in the style's order (cited ones, then `nocite`), and
    how citations show each; every citation gets its HTML."""
    assert context.bibliography is not None
    entries = list(context.order)
    if "*" in nocite:
        entries += [e for e in context.bibliography.entries.values() if e not in entries]
    else:
        line = _front_matter_line(context.note, "nocite") - 1 if nocite else 0
        for key in nocite:
            entry = context.bibliography.find(key)
            if entry is None:
                message = _unknown_key(key, context.bibliography, " in nocite")
                context.resolved.diagnostics.append(context.note.diagnostic(line, 0, message))
            elif entry not in entries:
                entries.append(entry)
    if context.style == "author-year":
        entries.sort(key=_sort_key)
    taken = {str(token.attrs["id"]) for token, _ in walk(context.note.tokens) if "id" in token.attrs}
    labels = make_labels(entries, context.style, taken)
    for token, _ in walk(context.note.tokens):
        if token.type == "citation" and ENTRIES.has(token):
            html = citation_html(token, labels, context.style)
            CITATION_HTML.set(token, re.sub(r"</?a\b[^>]*>", "", html) if IN_LINK(token) else html)
    return entries, labels


def _sort_key(entry: Entry) -> tuple[Any, ...]:
    names = [(a.last.casefold(), a.first.casefold()) for a in entry.authors]
    title = "".join(text for text, math in entry.title if not math).casefold()
    return (names or [(title, "")], entry.year, title)
