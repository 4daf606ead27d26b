"""Formulas typeset: a note's math sent to the engine in one batch, KaTeX's HTML put on each
token (display formulas fitted to the page), each problem reported at its place in the
source; then what the typeset HTML decides: punctuation held to its formula, boxes that
may scroll made reachable by keyboard.

The passes before this stage only find the formulas and rewrite their TeX (passes/math.py,
passes/references.py); this is the one place a note's formulas meet the engine.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Literal

from markdown_it.token import Token

from ..errors import Diagnostic
from ..markdown.parsing import ParsedNote
from ..markdown.tokenmeta import LAST_PIECE, MATH_HTML, MAY_SCROLL, TRAIL
from ..passes.citations import Resolved
from ..passes.math import MathItem
from ..passes.positions import walk
from .background import PendingResults, start_batch
from .katex import MathEngine, MathRequest, MathResult
from .mathlayout import fit_display, hold_last_piece, hold_piece_at, may_scroll
from .messages import explain
from .texdefs import warning_offsets

if TYPE_CHECKING:
    from ..passes.bibtex import Entry  # loaded only by a note that cites


def start_math(items: list[MathItem], engine: MathEngine, macros: Mapping[str, str]) -> PendingResults:
    """Start typesetting a note's formulas in one batch (in the background, where the
    engine can): place_math puts the results in place."""
    return start_batch(engine, [MathRequest(item.sent_tex, item.display) for item in items], macros)


def place_math(note: ParsedNote, items: list[MathItem], results: list[MathResult]) -> list[Diagnostic]:
    """Put KaTeX's HTML on each formula's token; one diagnostic per problem."""
    diagnostics = []
    for item, result in zip(items, results, strict=True):
        diagnostics += apply_result(note, item, result)
    return diagnostics


def apply_result(note: ParsedNote, item: MathItem, result: MathResult) -> list[Diagnostic]:
    """Put one formula's typeset HTML, laid out, and its layout facts on its token; return
    its diagnostics."""
    html = result.html
    token = item.token
    if html is not None:
        if item.edits or (item.display and not result.fitted):  # text for a while, one formula
            text = html.decode("utf-8")
            if item.edits:  # in the MathML, ahead of what layout looks at (see MathResult.last_piece)
                text = restore_annotation(text, item.tex)
            if item.display and not result.fitted:
                text = fit_display(text)
            html = text.encode("utf-8")
        if result.may_scroll is not None:
            MAY_SCROLL.set(token, result.may_scroll)
            if not item.display:
                LAST_PIECE.set(token, result.last_piece)
        elif item.display:
            MAY_SCROLL.set(token, may_scroll(html.decode("utf-8")))
    # UTF-8, as it came (see MathResult.html); the renderer decodes one formula at a time.
    MATH_HTML.set(token, html or _error_html(item, result).encode("utf-8"))
    diagnostics = [
        _math_diagnostic(note, item, message, offset, "warning")
        for message, offset in _placed(item.sent_tex, result.warnings)
    ]
    if result.html is None:
        message = explain(result.error or "", item.tex)
        diagnostics.append(_math_diagnostic(note, item, message, result.position, "error"))
    return diagnostics


TitleFormulas = tuple[list[tuple["Entry", str]], PendingResults]
"""The formulas of a listing's titles, (entry, TeX) each, and their batch on its way."""


def start_titles(
    resolved: Resolved, get_engine: Callable[[], MathEngine], macros: Mapping[str, str]
) -> TitleFormulas | None:
    """Start typesetting the formulas in the titles of the works a note lists, in one batch
    (in the background, with the note's own); None when there are none."""
    listing = resolved.listing
    formulas = listing.title_formulas() if listing is not None else []
    if not formulas:
        return None
    return formulas, start_batch(get_engine(), [MathRequest(tex, False) for _, tex in formulas], macros)


def place_titles(resolved: Resolved, started: TitleFormulas | None) -> dict[tuple[str, str], str]:
    """The titles' formulas typeset: HTML by (entry key, TeX); an invalid one is reported at
    its place in the .bib file."""
    if started is None or resolved.listing is None:
        return {}
    formulas, pending = started
    typeset: dict[tuple[str, str], str] = {}
    bibliography = resolved.listing.bibliography
    for (entry, tex), result in zip(formulas, pending.result(), strict=True):
        if result.html is not None:
            typeset[(entry.key, tex)] = result.html.decode("utf-8")  # a title's few formulas
            continue
        at = bibliography.text.find(tex, entry.offset)
        offset = (at if at >= 0 else entry.offset) + (result.position or 0)
        message = f"invalid formula in the title of '{entry.key}': {result.error}"
        resolved.diagnostics.append(bibliography.diagnostic(offset, message))
    return typeset


def _placed(tex: str, warnings: tuple[tuple[str, int | None], ...]) -> Iterator[tuple[str, int | None]]:
    """KaTeX's warnings, each given the offset of what it is about where KaTeX gave none."""
    seen: dict[str, int] = {}
    for message, offset in warnings:
        if offset is None:
            count = seen[message] = seen.get(message, -1) + 1
            offsets = warning_offsets(tex, message)
            offset = offsets[count] if count < len(offsets) else None
        yield message, offset


_TRAILING_PUNCTUATION = re.compile(r"[.,;:!?)\]}\u2019\u201d\u00bb\u2026]+")
"""Marks that must not start a line after the formula they follow."""


def _html_text(formula: Token) -> str:
    """A formula's typeset HTML as text, for a moment ("" before it is typeset): the token
    keeps it as UTF-8 (see katex.MathResult.html)."""
    return (MATH_HTML.get(formula) or b"").decode("utf-8")


def join_trailing_punctuation(note: ParsedNote) -> list[tuple[bytes, bytes, tuple[int, int]]]:
    """Give each inline formula the punctuation right after it, as TRAIL, so they
    are rendered together and a line never starts with the comma or full stop of a formula.
    Returns the formulas held at the place the engine gave: (HTML before, after, place)."""
    held: list[tuple[bytes, bytes, tuple[int, int]]] = []
    for token, _parent in walk(note.tokens):
        children = token.children or []
        for formula, after in zip(children, children[1:], strict=False):
            if formula.type != "math_inline" or after.type != "text":
                continue
            match = _TRAILING_PUNCTUATION.match(after.content)
            before = MATH_HTML.get(formula)
            if match and before:
                TRAIL.set(formula, match.group())
                MATH_HTML.set(formula, _held(formula))
                after.content = after.content[match.end() :]
                piece = LAST_PIECE.get(formula)
                if piece is not None:
                    held.append((before, MATH_HTML(formula), piece))
    return held


def _held(formula: Token) -> bytes:
    """The formula's HTML with its last piece held (mathlayout.hold_last_piece), by the
    place the engine gave when it gave one."""
    if not LAST_PIECE.has(formula):
        return hold_last_piece(_html_text(formula)).encode("utf-8")
    return hold_piece_at(MATH_HTML(formula), LAST_PIECE(formula))


def _inline_may_scroll(formula: Token) -> bool:
    """mathlayout.may_scroll of an inline formula, as the engine said it when it did (the
    last piece held or not: the tags around it hide no character)."""
    said = MAY_SCROLL.get(formula)
    return may_scroll(_html_text(formula)) if said is None else said


def reach_scroll_boxes(note: ParsedNote) -> None:
    """Make the boxes that may scroll sideways on a phone Tab stops, so that a keyboard can
    scroll them: tables, and paragraphs holding an inline formula with a long piece (display
    formulas are marked as they are typeset)."""
    tokens = note.tokens
    for index, token in enumerate(tokens):
        if token.type == "table_open":
            token.attrSet("tabindex", "0")
        elif token.type == "paragraph_open" and index + 2 < len(tokens):
            children = tokens[index + 1].children or []
            if any(c.type == "math_inline" and _inline_may_scroll(c) for c in children):
                token.attrSet("tabindex", "0")
                if token.hidden:
                    # An item of a tight list shows its text without a paragraph, and an item
                    # cannot scroll without hiding its marker: give it a paragraph that can.
                    token.hidden = tokens[index + 2].hidden = False
                    token.attrSet("class", "tight")


_ANNOTATION = re.compile(r'(<annotation encoding="application/x-tex">)(.*?)(</annotation>)', re.S)


def restore_annotation(rendered: str, tex: str) -> str:
    """Put the TeX as written back into KaTeX's MathML annotation, escaped as KaTeX does."""
    escaped = (
        tex.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")
        .replace('"', "&quot;").replace("'", "&#x27;")
    )  # fmt: skip
    return _ANNOTATION.sub(lambda m: m.group(1) + escaped + m.group(3), rendered, count=1)


def _error_html(item: MathItem, result: MathResult) -> str:
    from html import escape

    # Only a block formula may be a <div>: one inside a paragraph (`$$…$$` or `\\[…\\]`
    # within a sentence) is display style but must stay phrasing content.
    tag = "div" if item.token.type == "math_block" else "span"
    return (
        f'<{tag} class="katex-error" title="{escape(result.error or "", quote=True)}">'
        f"{escape(item.tex)}</{tag}>"
    )


def _math_diagnostic(
    note: ParsedNote, item: MathItem, message: str, offset: int | None, severity: Literal["error", "warning"]
) -> Diagnostic:
    line, column = item.position_of(item.source_offset(offset) if offset is not None else 0)
    return note.diagnostic(line, column, message, severity)
