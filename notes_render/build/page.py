"""One note from Markdown to a Page: parse, transform, typeset its math, render its body;
and the Site, what every page shows of the others.

This is the unit of work a build repeats for every changed note, in this process or in a
worker. It imports markdown-it and friends only when a note is actually built, so a
rebuild that finds nothing to do never loads them.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, cast

from .. import sources
from ..config import Config
from ..errors import ContentError, Diagnostic, SourcePosition
from ..sources import NoteSource, PathKind
from ..typeset.katex import MathEngine

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.renderer import RendererHTML
    from markdown_it.token import Token
    from markdown_it.utils import OptionsDict

    from ..markdown.parsing import ParsedNote
    from ..passes.crossrefs import CrossRefs
    from ..passes.headings import Heading
    from ..site.navigation import TocEntry
    from ..typeset.cache import Store
    from .state import NoteResult


@dataclass(slots=True)
class Page:
    """One note, transformed and ready for its template."""

    source: NoteSource
    """Where it came from."""
    title: str
    """Front matter title, else first heading, else file name."""
    date: str | None
    """Front matter date, as ISO text."""
    description: str | None
    """Front matter description."""
    headings: list[Heading]
    """Its headings with their ids, in order."""
    toc: list[TocEntry]
    """Its table of contents, formulas typeset."""
    body: list[bytes] | None
    """The note's rendered HTML as UTF-8, in pieces to be written one after the other,
    without the template around it; None in the build's own process when the worker that
    built the note keeps it (and writes the page). Bytes, not text: a str holding one
    character past U+00FF (KaTeX's zero-width spaces) takes two bytes a character, four past
    U+FFFF, which for a big note is gigabytes. Pieces, never joined on the way to the page
    (see _render_utf8)."""
    formulas: int
    """How many formulas it holds."""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    """Problems found in it, in source order."""
    files: set[PurePosixPath] = field(default_factory=set)
    """Local files it references (relative to the source folder), to copy."""
    targets: dict[PurePosixPath, PathKind] = field(default_factory=dict)
    """Every local path it points at and what it was (file, folder, missing) when it was built."""
    body_key: str = ""
    """Key of the body in the cache's `bodies` table once stored there ("" without a cache)."""
    source_stat: tuple[int, int] = (0, 0)
    """The source file's (mtime_ns, size) just before it was read (see state.read_fingerprinted)."""
    source_digest: str = ""
    """SHA-256 of the source bytes that were built."""
    depends: dict[str, tuple[tuple[int, int] | None, str]] = field(default_factory=dict)
    """Other files its body was made from (the bibliography): path -> (stat, SHA-256)."""
    labels: dict[str, str] = field(default_factory=dict)
    """What a reference to each of its labels shows (`Lemma 2`, `(3)`, `§4.2`), for other notes."""


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


def build_page(
    note: NoteSource, config: Config, get_engine: Callable[[], MathEngine], store: Store | None = None
) -> Page | Diagnostic:
    """Parse and transform one note; a note that cannot be read gives its Diagnostic instead.
    With a store, highlighted code comes from and goes to the cache."""
    # Heavy (markdown-it, YAML): loaded only when a note is built.
    from ..markdown import parsing
    from ..passes import citations, crossrefs, references
    from ..passes.headings import assign_heading_ids, note_title
    from ..passes.links import rewrite_links
    from ..passes.math import collect_math, text_math_warnings
    from ..site import navigation
    from ..typeset import mathjax
    from ..typeset.formulas import join_trailing_punctuation, reach_scroll_boxes, typeset_math, typeset_titles
    from . import state

    refused = sources.containment_problem(config.src, note.rel)
    if refused is not None:
        return Diagnostic(SourcePosition(note.display_path, 0, 0), f"this note {refused}")
    too_long = sources.name_problem(note)
    if too_long is not None:
        return Diagnostic(SourcePosition(note.display_path, 0, 0), too_long)
    try:
        data, source_stat, source_digest = state.read_fingerprinted(note.path)
        parsed = parsing.parse_note(note, parsing.decode_note(note, data), config.dialect)
    except OSError as exc:  # gone since it was found, or not ours to read
        return Diagnostic(SourcePosition(note.display_path, 0, 0), f"cannot be read: {exc.strerror or exc}")
    except ContentError as exc:
        return exc.diagnostic()
    headings = assign_heading_ids(parsed.tokens)
    md = parsing.markdown(parsed.dialect)
    blocks = crossrefs.number_blocks(parsed, md, config.theorem_numbering)
    links = rewrite_links(parsed, config.src)
    items = collect_math(parsed)
    mathjax.translate_formulas(items)
    numbering = references.number_equations(parsed, items)
    diagnostics = [
        *parsing.nesting_problems(parsed),
        *links.diagnostics,
        *numbering.diagnostics,
        *text_math_warnings(parsed),
    ]
    diagnostics += crossrefs.resolve_references(parsed, blocks, numbering)
    diagnostics += references.rewrite_formulas(parsed, numbering)
    diagnostics += references.resolve_text_references(parsed, numbering)
    cited = citations.resolve(parsed, config)
    macros = {**config.macros, **_note_macros(parsed)}
    citations.append_bibliography(parsed, cited, typeset_titles(cited, get_engine, macros))
    diagnostics += cited.diagnostics
    if items:
        diagnostics += typeset_math(parsed, items, get_engine(), macros)
        join_trailing_punctuation(parsed)
        reach_scroll_boxes(parsed)
    # The note's problems in order, then those of the files it reads (the bibliography).
    diagnostics.sort(key=lambda d: (d.position.path != note.display_path, d.position.line, d.position.column))
    toc = navigation.table_of_contents(headings, md, parsed.env)
    body = _render_body(md, parsed, store, blocks)  # last: it takes the formulas' HTML out of the tokens
    date = parsed.front_matter.get("date")
    description = parsed.front_matter.get("description")
    return Page(
        source=note,
        title=note_title(parsed, headings),
        date=date.isoformat() if isinstance(date, datetime.date) else date,
        description=description,
        headings=headings,
        toc=toc,
        body=body,
        formulas=len(items),
        diagnostics=diagnostics,
        files=links.files,
        targets=links.targets,
        source_stat=source_stat,
        source_digest=source_digest,
        depends=cited.depends,
        labels=crossrefs.labels(blocks, numbering),
    )


def _render_body(md: MarkdownIt, parsed: ParsedNote, store: Store | None, blocks: CrossRefs) -> list[bytes]:
    """The note's HTML as UTF-8 in pieces, followed by the hidden previews of what it refers to."""
    from markdown_it.utils import OptionsDict, OptionsType

    from ..markdown.highlight import CachedHighlighter
    from ..markdown.mathsyntax import CONSUME_HTML
    from ..passes.previews import render_previews

    options, highlighter = md.options, None
    if store is not None:
        highlighter = CachedHighlighter(store)
        options = OptionsDict(cast("OptionsType", {**md.options, "highlight": highlighter}))
    # First: rendering the body takes each formula's HTML out of its token.
    previews = render_previews(md, parsed.tokens, options, parsed.env, blocks.previews).encode("utf-8")
    parsed.env[CONSUME_HTML] = True
    body = _render_utf8(md, parsed.tokens, options, parsed.env)
    if previews:
        body.append(previews)
    if highlighter is not None:
        highlighter.save()
    return body


BODY_PIECE = 1 << 16
"""Bytes of a body gathered into one piece (see _render_utf8)."""


def _render_utf8(
    md: MarkdownIt, tokens: list[Token], options: OptionsDict, env: dict[str, Any]
) -> list[bytes]:
    """What md.renderer.render gives, as UTF-8 in pieces of about BODY_PIECE bytes, each
    block encoded as it is rendered: the body never exists as one string (see Page.body),
    nor as one bytes object. Pieces this size fit in the memory that the formulas' HTML,
    taken out of the tokens as they are rendered, leaves free: rendering a 2 MB note's body
    added 3 MB to the build's peak this way, 52 MB into one growing buffer, and joining the
    pieces at the end held the body twice (for a 20 MB note, half a gigabyte each). A piece
    ends only where a top-level block's HTML ends, so no tag and no inline content (a link,
    a formula) is split between two pieces: previews.py searches them one at a time."""
    renderer = cast("RendererHTML", md.renderer)
    pieces: list[bytes] = []
    piece: list[bytes] = []
    size = 0
    for index, token in enumerate(tokens):  # markdown-it's RendererHTML.render, piece by piece
        if token.type == "inline":
            html = renderer.renderInline(token.children or [], options, env)
        elif token.type in renderer.rules:
            html = renderer.rules[token.type](tokens, index, options, env)
        else:
            html = renderer.renderToken(tokens, index, options, env)
        piece.append(html.encode("utf-8"))
        size += len(piece[-1])
        if size >= BODY_PIECE:
            pieces.append(b"".join(piece))
            piece, size = [], 0
    if piece or not pieces:
        pieces.append(b"".join(piece))
    return pieces


def _note_macros(parsed: ParsedNote) -> dict[str, str]:
    macros = parsed.front_matter.get("macros") or {}
    return {(k if k.startswith("\\") else "\\" + k): str(v) for k, v in macros.items()}


def detach(page: Page) -> Page:
    """The page without its tokens, small enough to send between processes."""
    from dataclasses import replace

    page.headings = [replace(h, inline=None) for h in page.headings]
    return page


# --- to and from the build state --------------------------------------------------------


def outline_data(page: Page) -> dict[str, Any]:
    """Headings, table of contents and labels as JSON data, for the build state."""
    return {
        "headings": [[h.level, h.text, h.anchor] for h in page.headings],
        "toc": [_toc_data(entry) for entry in page.toc],
        "labels": page.labels,
    }


def _toc_data(entry: TocEntry) -> list[Any]:
    return [entry.level, entry.anchor, str(entry.html), [_toc_data(child) for child in entry.children]]


def page_from_state(result: NoteResult, body: bytes) -> Page:
    """A Page rebuilt from what the build state kept, to render its template again."""
    from ..passes.headings import Heading

    return Page(
        source=result.source,
        title=result.title,
        date=result.date,
        description=result.description,
        headings=[Heading(level, text, anchor) for level, text, anchor in result.outline["headings"]],
        toc=[_toc_entry(item) for item in result.outline["toc"]],
        body=[body],
        formulas=result.formulas,
    )


def _toc_entry(item: list[Any]) -> TocEntry:
    from markupsafe import Markup

    from ..site.navigation import TocEntry

    level, anchor, html, children = item
    return TocEntry(level, anchor, Markup(html), [_toc_entry(child) for child in children])
