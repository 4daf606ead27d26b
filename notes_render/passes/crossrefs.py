"""Numbered blocks and references to them: theorems, proofs, algorithms, figures, tables and
sections, as passes over a parsed note's tokens (the syntax is in divs.py and figures.py, the
heads and "Used in" lines are made by blockheads.py).

Pass 1, `number_blocks`, before the math is collected: give every theorem-like block,
algorithm, labelled figure and table its number and visible head ("Lemma 2 (Title).",
"Algorithm 1", "Figure 3."), close proofs with ∎, number an algorithm's steps, and
register every label. Pass 2, `resolve_references`, after the equations are numbered: give
every `@label` its link text ("Lemma 2", "(3)", "§4.2"), report unknown and duplicate
labels with the nearest known one, note where each equation and block is used ("Used in
§3.1, (12)") and choose the targets whose preview the page carries.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote

from markdown_it.token import Token

from ..errors import Diagnostic
from ..markdown.figures import IMAGE_ATTRIBUTES
from ..markdown.parsing import ParsedNote
from ..markdown.plaintext import plain_text
from ..markdown.tokenmeta import (
    BARE,
    DIV_ATTRS,
    HEADING_ID,
    HOST,
    HREF,
    LABEL,
    OFFSET,
    PARAGRAPH,
    PARENT,
    TEXT,
)
from . import blockheads
from .amsmath import Mark
from .blockheads import THEOREM_KINDS
from .links import is_local
from .positions import BlockPositions
from .previews import NOTE_REFERENCE_CLASS
from .references import Numbering, Target, nearest

if TYPE_CHECKING:
    from markdown_it import MarkdownIt


@dataclass(slots=True)
class Item:
    """Something numbered that a reference can name."""

    kind: str
    """What a reference shows before the number: `Lemma`, `Figure`, `§` for a section."""
    number: str
    """`2`, `4.2`; empty for a section whose heading has no number."""
    anchor: str
    """The id of its element."""
    title: str = ""
    """A section's heading text, shown when it has no number."""
    line: int = 0
    column: int = 0
    """Where its label is written (0-based), for duplicate-label errors."""
    first: Token | None = None
    last: Token | None = None
    """Its first and last token, to copy it into a preview (None: no preview, a section)."""
    used_in: list[tuple[str, str | None]] = field(default_factory=list)
    """Where the note refers to it: (text, href) of each place, in order, once each."""

    def reference(self, bare: bool = False) -> str:
        """What a reference to it shows: `Lemma 2`, `§4.2`, or with `bare` the number alone."""
        if self.kind == "§":
            return (self.number if bare else f"§{self.number}") if self.number else self.title
        return self.number if bare else f"{self.kind} {self.number}"


@dataclass(slots=True)
class CrossRefs:
    """What the passes learned about one note's numbered blocks and references."""

    items: dict[str, Item] = field(default_factory=dict)
    """Every label of a block, figure, table or section, with its item."""
    previews: list[tuple[str, Token, Token | None]] = field(default_factory=list)
    """Targets referred to, once each: (label, first token, last token or None for an inline
    display formula)."""
    diagnostics: list[Diagnostic] = field(default_factory=list)


# --- pass 1: numbers and heads -------------------------------------------------------------


def number_blocks(
    note: ParsedNote, md: MarkdownIt, layout: Literal["per-kind", "shared"] = "per-kind"
) -> CrossRefs:
    """Number the note's blocks, figures, tables and sections and give them their heads.

    Theorem-like blocks share one counter with layout "shared" (amsthm's
    `\\newtheorem{lemma}[theorem]{Lemma}`), else each kind has its own; algorithms,
    figures and tables always count on their own."""
    refs = CrossRefs(diagnostics=_syntax_problems(note))
    counters: dict[str, int] = {}
    first_seen: dict[str, int] = {}
    pairs = blockheads.div_pairs(note.tokens)
    _empty_links(note)
    tokens = list(note.tokens)  # as parsed: what the heads and captions insert is not visited
    for position, token in enumerate(tokens):
        if token.type == "div_open":
            found = _div_item(note, md, token, pairs, counters, layout)
        elif token.type in ("figure_open", "table_open"):
            found = _float_item(tokens, position, counters)
        elif token.type == "heading_open" and HEADING_ID.has(token):
            inline = tokens[position + 1]
            section = Item(
                "§", section_number(inline.content), str(token.attrGet("id")), _heading_text(inline)
            )
            found = section, HEADING_ID(token)
        else:
            found = None
        if found is not None and found[1]:
            _register(note, refs, first_seen, token, *found)
    return refs


def _syntax_problems(note: ParsedNote) -> list[Diagnostic]:
    """What the div and figure syntax noted while parsing: unclosed divs, dropped attributes."""
    problems = [
        note.diagnostic(line, 0, "fenced div (:::) is never closed")
        for line in note.env.get("unclosed_divs", ())
    ]
    for line, names in note.env.get("dropped_attributes", ()):
        column = max(note.lines[line].find(names[0]), 0) if line < len(note.lines) else 0
        problems.append(
            note.diagnostic(
                line, column,
                f"image attribute {', '.join(map(repr, names))} ignored "
                f"(an image takes {', '.join(IMAGE_ATTRIBUTES)})",
                "warning",
            )
        )  # fmt: skip
    return problems


def _div_item(
    note: ParsedNote,
    md: MarkdownIt,
    token: Token,
    pairs: dict[int, Token],
    counters: dict[str, int],
    layout: Literal["per-kind", "shared"],
) -> tuple[Item, str] | None:
    """A numbered div's item and label ("" if it has none), its head given; a proof's head."""
    attrs = DIV_ATTRS.get_or(token, {})
    label = str(attrs.get("id", ""))
    prefix = blockheads.block_prefix(label, str(attrs.get("class", "")).split())
    if prefix == "proof":
        blockheads.proof_head(note, md, token, pairs[id(token)], str(attrs.get("name", "")))
        return None
    if prefix is None:
        return None
    counter = "thm" if layout == "shared" and prefix != "alg" else prefix
    counters[counter] = number = counters.get(counter, 0) + 1
    item = Item(
        THEOREM_KINDS.get(prefix, "Algorithm"), str(number), label, first=token, last=pairs[id(token)]
    )
    if prefix == "alg":
        blockheads.algorithm_head(note, md, token, pairs[id(token)], str(number), str(attrs.get("name", "")))
    else:
        blockheads.theorem_head(note, md, token, prefix, str(number), str(attrs.get("name", "")))
    # `::: {.lemma}`, or an id that names another kind: numbered, not labelled.
    return item, label if label.startswith(prefix + "-") else ""


def _float_item(tokens: list[Token], position: int, counters: dict[str, int]) -> tuple[Item, str] | None:
    """A labelled figure's or table's item and label, "Figure 3." put in its caption."""
    token = tokens[position]
    label = str(token.attrGet("id") or "")
    kind = "fig" if token.type == "figure_open" else "tbl"
    if not label.startswith(kind + "-"):
        return None
    counters[kind] = number = counters.get(kind, 0) + 1
    close = "figure_close" if kind == "fig" else "table_close"
    last = next(t for t in tokens[position:] if t.type == close)
    item = Item("Figure" if kind == "fig" else "Table", str(number), label, first=token, last=last)
    blockheads.caption_label(tokens, position, f"{item.kind} {number}.")
    return item, label


def _register(
    note: ParsedNote, refs: CrossRefs, first_seen: dict[str, int], token: Token, item: Item, label: str
) -> None:
    """Record a label's item, or report it as a duplicate of one seen before."""
    item.line, item.column = _label_position(note, token, label)
    if label in first_seen:
        refs.diagnostics.append(
            note.diagnostic(
                item.line, item.column,
                f"duplicate label '{label}' (first defined on line {first_seen[label]})",
            )
        )  # fmt: skip
        if token.type != "heading_open":  # (a heading's id was made unique)
            token.attrs.pop("id", None)  # a second element with the id would be invalid HTML
        return
    first_seen[label] = item.line + 1
    refs.items[label] = item


def _empty_links(note: ParsedNote) -> None:
    """MyST's references: a link with no text, `[](#lem-x)`, shows what `@lem-x` would;
    `[](other.md#lem-x)` gets its text when the pages are written, from the other note's
    labels (templates.py), since that note may be built elsewhere or not at all this time."""
    for token in note.tokens:
        children = token.children
        if token.type != "inline" or not children:
            continue
        index = 0
        while index + 1 < len(children):
            opening, closing = children[index], children[index + 1]
            href = str(opening.attrGet("href") or "")
            path, hash_sign, fragment = href.partition("#")
            if opening.type != "link_open" or closing.type != "link_close" or not hash_sign or not fragment:
                index += 1
                continue
            if not path:
                offset = max(token.content.find(f"[]({href}"), 0)
                reference = Token("xref", "", 0, content=f"[]({href})")
                LABEL.set(reference, unquote(fragment))
                BARE.set(reference, False)
                OFFSET.set(reference, offset)
                children[index : index + 2] = [reference]
            elif path.endswith(".md") and is_local(path):
                opening.attrSet("class", NOTE_REFERENCE_CLASS)
                children.insert(index + 1, blockheads.text_token(f"{path}#{unquote(fragment)}"))
                index += 3
            else:
                index += 1


_SECTION_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)*)\.?(?=\s)")


def section_number(heading: str) -> str:
    """The number a heading is written with (`4.2 Rewriting` → `4.2`), or ""."""
    match = _SECTION_NUMBER.match(heading)
    return match.group(1) if match else ""


def _heading_text(inline: Token) -> str:
    return plain_text(inline, readable=True)


def _label_position(note: ParsedNote, token: Token, label: str) -> tuple[int, int]:
    """Where `#label` is written in the block's first line (0-based line, column)."""
    line = token.map[0] if token.map else 0
    text = note.lines[line] if line < len(note.lines) else ""
    column = text.find("#" + label)
    return line, column + 1 if column >= 0 else 0


# --- pass 2: references ----------------------------------------------------------------


def resolve_references(note: ParsedNote, refs: CrossRefs, numbering: Numbering) -> list[Diagnostic]:
    """Link every `@label` to its target; register block labels with the equations' so that
    `\\ref{lem-x}` works too; record where targets are used and which get a preview.

    Call after references.number_equations and before references.rewrite_formulas, which
    then finds the block labels among the equations'."""
    diagnostics = list(refs.diagnostics)
    for label, item in refs.items.items():
        if label in numbering.targets:
            diagnostics.append(
                note.diagnostic(item.line, item.column, f"duplicate label '{label}' (also an equation's)")
            )
            if item.first is not None:
                item.first.attrs.pop("id", None)
            continue
        numbering.targets[label] = Target(item.reference(bare=True), Mark(label, -1, -1))
    used: dict[str, list[tuple[str, str | None]]] = {}
    places = list(_places(note, refs, numbering))
    equations = _equations(numbering)
    targets = refs.items.keys() | equations.keys()
    for token, place in places:
        label = LABEL(token)
        if token.type == "xref":
            diagnostics += _resolve_xref(note, refs, numbering, token)
        if label in targets:
            entries = used.setdefault(label, [])
            if place is not None and place not in entries and place[1] != "#" + label:
                entries.append(place)
    for label, where in used.items():
        block = refs.items.get(label)
        if block is not None and block.first is not None and block.last is not None:
            refs.previews.append((label, block.first, block.last))
            if block.first.type == "div_open" and where:
                block.used_in = where
                blockheads.used_in_block(note.tokens, block.last, where)
        elif label in equations:
            token, paragraph = equations[label]
            refs.previews.append((label, token, token if paragraph is None else None))
            if where:
                blockheads.used_in_equation(note.tokens, token, paragraph, where)
    return diagnostics


def _resolve_xref(note: ParsedNote, refs: CrossRefs, numbering: Numbering, token: Token) -> list[Diagnostic]:
    label = LABEL(token)
    bare = BARE.get_or(token, False)
    item = refs.items.get(label)
    target = numbering.targets.get(label)
    if item is not None:
        TEXT.set(token, item.reference(bare))
        HREF.set(token, "#" + item.anchor)
        return []
    if target is not None:
        TEXT.set(token, target.tag if bare else f"({target.tag})")
        HREF.set(token, "#" + label)
        return []
    TEXT.set(token, "??")
    parent = PARENT.get(token)
    line, column = (
        BlockPositions(parent, note.lines).starts_of(token)[0] if isinstance(parent, Token) else (0, 0)
    )
    return [
        note.diagnostic(
            line, column, f"undefined label '{label}' in {token.content}{nearest(label, numbering.targets)}"
        )
    ]


def _equations(numbering: Numbering) -> dict[str, tuple[Token, Token | None]]:
    """Each equation label's math token, and for a display inside a paragraph that paragraph's
    inline token (None for a block of its own)."""
    found = {}
    for formula in numbering.formulas:
        for line in formula.lines:
            for mark in line.labels:
                target = numbering.targets.get(mark.name)
                if target is not None and target.label is mark:
                    found[mark.name] = (formula.item.token, PARAGRAPH.get(formula.item.token))
    return found


def _places(
    note: ParsedNote, refs: CrossRefs, numbering: Numbering
) -> Iterable[tuple[Token, tuple[str, str | None] | None]]:
    """Every reference token in document order (a formula's references as its math token
    with a label), with the place it sits in: the innermost labelled block, the labelled
    equation it is part of, else its section."""
    blocks = {id(item.first): item for item in refs.items.values() if item.first is not None}
    formulas = {id(f.item.token): f for f in numbering.formulas if f.refs}
    section: tuple[str, str | None] | None = None
    stack: list[tuple[Token, Item]] = []
    for index, token in enumerate(note.tokens):
        if token.type == "heading_open":
            inline = note.tokens[index + 1]
            number = section_number(inline.content)
            section = (f"§{number}" if number else _heading_text(inline), f"#{token.attrGet('id')}")
        item = blocks.get(id(token))
        if item is not None and item.kind != "§":
            stack.append((token, item))
        if stack and token is stack[-1][1].last:
            stack.pop()
        block_place = (stack[-1][1].reference(), "#" + stack[-1][1].anchor) if stack else section
        children = token.children or ()
        if token.type == "math_block":
            children = [token]
        for child in children:
            if child.type == "math_inline_display":
                PARAGRAPH.set(child, token)
            if child.type in ("xref", "math_ref"):
                PARENT.set(child, HOST.get_or(child, token))
                yield child, block_place
            elif child.type.startswith("math_") and id(child) in formulas:
                formula = formulas[id(child)]
                place = block_place
                for line in formula.lines:
                    anchored = [m for m in line.labels if numbering.targets.get(m.name, None)]
                    if line.number and anchored:
                        place = (f"({line.number})", "#" + anchored[0].name)
                        break
                for mark, _ in formula.refs:
                    ref = Token("math_ref", "", 0)
                    LABEL.set(ref, mark.name)
                    yield ref, place


def labels(refs: CrossRefs, numbering: Numbering) -> dict[str, str]:
    """What a reference to each label of the note shows, for the other notes' references."""
    found = {label: item.reference() for label, item in refs.items.items()}
    for label, target in numbering.targets.items():
        found.setdefault(label, f"({target.tag})")
    return found
