"""One note from Markdown to its record and body: parse, transform, typeset its math,
render its body.

This is the unit of work a build repeats for every changed note, in this process or in a
worker. It imports markdown-it and friends only when a note is actually built, so a
rebuild that finds nothing to do never loads them.
"""

from __future__ import annotations

import datetime
import functools
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from .. import sources
from ..config import Config
from ..errors import ContentError, Diagnostic, SourcePosition
from ..sources import NoteSource, Stat
from ..typeset.katex import MathEngine
from .record import NoteRecord, outline_data

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.renderer import RendererHTML
    from markdown_it.token import Token
    from markdown_it.utils import OptionsDict

    from ..markdown.highlight import CachedHighlighter
    from ..markdown.parsing import ParsedNote
    from ..passes.citations import Resolved
    from ..passes.crossrefs import CrossRefs
    from ..passes.headings import Heading
    from ..passes.links import LinkReport
    from ..passes.math import MathItem
    from ..passes.references import Numbering
    from ..typeset.background import PendingResults
    from ..typeset.bodies import Recipe
    from ..typeset.cache import Store
    from ..typeset.formulas import TitleFormulas


@dataclass(frozen=True, slots=True)
class BuiltNote:
    """A note just built: its record, and its body to write its page from."""

    record: NoteRecord
    """Everything the build learned from it but its body."""
    body: list[bytes]
    """The note's rendered HTML as UTF-8, in pieces to be written one after the other,
    without the template around it. Bytes, not text: a str holding one character past
    U+00FF (KaTeX's zero-width spaces) takes two bytes a character, four past U+FFFF, which
    for a big note is gigabytes. Pieces, never joined on the way to the page (see
    _render_utf8)."""
    recipe: Recipe | None = None
    """The body as the cache keeps it (made when there is a cache, see typeset/bodies.py)."""


@dataclass(slots=True)
class StartedNote:
    """A note parsed and transformed, its formulas being typeset (start_note); finish_note
    makes its record and body once they are."""

    note: NoteSource
    parsed: ParsedNote
    md: MarkdownIt
    headings: list[Heading]
    blocks: CrossRefs
    links: LinkReport
    items: list[MathItem]
    numbering: Numbering
    diagnostics: list[Diagnostic]
    cited: Resolved
    titles: TitleFormulas | None
    """The formulas in the titles of the works it lists, on their way through the engine."""
    typesetting: PendingResults | None
    """The note's formulas on their way through the engine; None: it has none."""
    source_stat: Stat
    source_digest: str


def build_note(
    note: NoteSource, config: Config, get_engine: Callable[[], MathEngine], store: Store | None = None
) -> BuiltNote | Diagnostic:
    """Parse and transform one note; a note that cannot be read gives its Diagnostic instead.
    With a store, highlighted code comes from and goes to the cache."""
    started = start_note(note, config, get_engine)
    return started if isinstance(started, Diagnostic) else finish_note(started, store)


def start_note(
    note: NoteSource, config: Config, get_engine: Callable[[], MathEngine]
) -> StartedNote | Diagnostic:
    """Parse and transform one note and start typesetting its formulas, which an engine on
    its own thread does while the caller goes on (with the next note); a note that cannot
    be read gives its Diagnostic instead."""
    # Heavy (markdown-it, YAML): loaded only when a note is built.
    from ..markdown import parsing
    from ..passes import citations, crossrefs, references
    from ..passes.headings import assign_heading_ids
    from ..passes.links import rewrite_links
    from ..passes.math import collect_math, text_math_warnings
    from ..typeset import mathjax
    from ..typeset.formulas import start_math, start_titles

    read = _read(note, config)
    if isinstance(read, Diagnostic):
        return read
    parsed, source_stat, source_digest = read
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
        *crossrefs.resolve_references(parsed, blocks, numbering),
        *references.rewrite_formulas(parsed, numbering),
        *references.resolve_text_references(parsed, numbering),
    ]
    cited = citations.resolve(parsed, config)
    macros = {**config.macros, **_note_macros(parsed)}
    titles = start_titles(cited, get_engine, macros)
    typesetting = start_math(items, get_engine(), macros) if items else None
    return StartedNote(
        note, parsed, md, headings, blocks, links, items, numbering, diagnostics, cited, titles,
        typesetting, source_stat, source_digest,
    )  # fmt: skip


def finish_note(
    started: StartedNote, store: Store | None = None, idle: Sequence[Callable[[], object]] = ()
) -> BuiltNote:
    """A started note's record and body, once its formulas are typeset. With a store,
    highlighted code comes from and goes to the cache. `idle`: work for later that may be
    done now if V8 is not finished yet (see _wait_usefully)."""
    from ..markdown.highlight import CachedHighlighter
    from ..passes import citations, crossrefs
    from ..passes.headings import note_title
    from ..site import navigation
    from ..typeset.bodies import Recipe
    from ..typeset.cached import stored_keys
    from ..typeset.formulas import join_trailing_punctuation, place_math, place_titles, reach_scroll_boxes

    note, parsed, diagnostics = started.note, started.parsed, started.diagnostics
    highlighter = CachedHighlighter(store)
    _wait_usefully(started, highlighter, idle)
    citations.append_bibliography(parsed, started.cited, place_titles(started.cited, started.titles))
    diagnostics += started.cited.diagnostics
    # With a cache, the body is kept there as a recipe over the formulas it holds.
    recipe = Recipe() if store is not None else None
    if started.typesetting is not None:
        results = started.typesetting.result()
        keys = stored_keys(started.typesetting)
        if recipe is not None and keys is not None:
            recipe.know_results(results, keys)
        diagnostics += place_math(parsed, started.items, results)
        held = join_trailing_punctuation(parsed)
        if recipe is not None:
            recipe.know_held(held)
        reach_scroll_boxes(parsed)
    # The note's problems in order, then those of the files it reads (the bibliography).
    diagnostics.sort(key=lambda d: (d.position.path != note.display_path, d.position.line, d.position.column))
    toc = navigation.table_of_contents(started.headings, started.md, parsed.env)
    # Last: rendering the body takes the formulas' HTML out of their tokens.
    body = _render_body(started.md, parsed, highlighter, started.blocks, recipe)
    date = parsed.front_matter.get("date")
    record = NoteRecord(
        source=note,
        title=note_title(parsed, started.headings),
        date=date.isoformat() if isinstance(date, datetime.date) else date,
        description=parsed.front_matter.get("description"),
        formulas=len(started.items),
        diagnostics=diagnostics,
        files=started.links.files,
        targets=started.links.targets,
        outline=outline_data(started.headings, toc, crossrefs.labels(started.blocks, started.numbering)),
        source_stat=started.source_stat,
        source_digest=started.source_digest,
        depends=started.cited.depends,
    )
    return BuiltNote(record, body, recipe)


def _read(note: NoteSource, config: Config) -> tuple[ParsedNote, Stat, str] | Diagnostic:
    """The note parsed, with the stat and digest of the bytes read; or why it may not or
    cannot be read."""
    from ..markdown import parsing

    refused = sources.containment_problem(config.src, note.rel)
    if refused is not None:
        return Diagnostic(SourcePosition(note.display_path, 0, 0), f"this note {refused}")
    too_long = sources.name_problem(note)
    if too_long is not None:
        return Diagnostic(SourcePosition(note.display_path, 0, 0), too_long)
    try:
        data, source_stat, source_digest = sources.read_fingerprinted(note.path)
        parsed = parsing.parse_note(note, parsing.decode_note(note, data), config.dialect)
    except OSError as exc:  # gone since it was found, or not ours to read
        return Diagnostic(SourcePosition(note.display_path, 0, 0), f"cannot be read: {exc.strerror or exc}")
    except ContentError as exc:
        return exc.diagnostic()
    return parsed, source_stat, source_digest


def _render_body(
    md: MarkdownIt,
    parsed: ParsedNote,
    highlighter: CachedHighlighter,
    blocks: CrossRefs,
    recipe: Recipe | None,
) -> list[bytes]:
    """The note's HTML as UTF-8 in pieces, followed by the hidden previews of what it
    refers to; each piece goes to the recipe too, if there is one."""
    from markdown_it.utils import OptionsDict, OptionsType

    from ..markdown.mathsyntax import CONSUME_HTML
    from ..passes.previews import render_previews

    options = OptionsDict(cast("OptionsType", {**md.options, "highlight": highlighter}))
    # First: rendering the body takes each formula's HTML out of its token.
    previews = render_previews(md, parsed.tokens, options, parsed.env, blocks.previews).encode("utf-8")
    parsed.env[CONSUME_HTML] = True
    body = _render_utf8(md, parsed.tokens, options, parsed.env, recipe)
    if previews:
        body.append(previews)
        if recipe is not None:
            recipe.add(previews)
    highlighter.save()
    return body


def _wait_usefully(
    started: StartedNote, highlighter: CachedHighlighter, idle: Sequence[Callable[[], object]]
) -> None:
    """While V8 still typesets the note's formulas, do what the build needs next: what the
    caller adds (the templates, the site's shared parts), then colour the note's code
    (finding and compiling a lexer is tens of milliseconds). Stops at the first task after
    V8 is done."""
    from markdown_it.utils import OptionsDict, OptionsType

    pending = started.typesetting
    if pending is None:
        return
    md, tokens, env = started.md, started.parsed.tokens, started.parsed.env
    # markdown-it's own fence rule, so the code reaches the highlighter split into language
    # and attributes exactly as the body's rendering will give it.
    fence = cast("RendererHTML", md.renderer).rules["fence"]
    options = OptionsDict(cast("OptionsType", {**md.options, "highlight": highlighter.prepare}))
    colour: Iterator[Callable[[], object]] = (
        functools.partial(fence, tokens, index, options, env)
        for index, token in enumerate(tokens)
        if token.type == "fence" and token.info
    )
    tasks: Iterator[Callable[[], object]] = itertools.chain(idle, colour)
    for task in tasks:
        if pending.done():
            return
        task()


BODY_PIECE = 1 << 16
"""Bytes of a body gathered into one piece (see _render_utf8)."""


def _render_utf8(
    md: MarkdownIt,
    tokens: list[Token],
    options: OptionsDict,
    env: dict[str, Any],
    recipe: Recipe | None = None,
) -> list[bytes]:
    """What md.renderer.render gives, as UTF-8 in pieces of about BODY_PIECE bytes, each
    block encoded as it is rendered: the body never exists as one string (see BuiltNote.body),
    nor as one bytes object. Pieces this size fit in the memory that the formulas' HTML,
    taken out of the tokens as they are rendered, leaves free: rendering a 2 MB note's body
    added 3 MB to the build's peak this way, 52 MB into one growing buffer, and joining the
    pieces at the end held the body twice (for a 20 MB note, half a gigabyte each). A piece
    ends only where a top-level block's HTML ends, so no tag and no inline content (a link,
    a formula) is split between two pieces: previews.py searches them one at a time."""
    from ..markdown.mathsyntax import utf8_renderer

    render_utf8 = utf8_renderer(cast("RendererHTML", md.renderer))
    pieces: list[bytes] = []
    piece: list[bytes] = []
    size = 0
    for index in range(len(tokens)):  # markdown-it's RendererHTML.render, piece by piece
        html = render_utf8(tokens, index, options, env)
        if recipe is not None:
            for part in html:
                recipe.add(part)
        piece += html
        size += sum(map(len, html))
        if size >= BODY_PIECE:
            pieces.append(b"".join(piece))
            piece, size = [], 0
    if piece or not pieces:
        pieces.append(b"".join(piece))
    return pieces


def _note_macros(parsed: ParsedNote) -> dict[str, str]:
    macros = parsed.front_matter.get("macros") or {}
    return {(k if k.startswith("\\") else "\\" + k): str(v) for k, v in macros.items()}
