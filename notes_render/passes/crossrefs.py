"""Numbered blocks and references to them: theorems, proofs, algorithms, figures, tables and
sections, as passes over a parsed note's tokens (the syntax is in divs.py and figures.py).

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
from html import escape
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote

from markdown_it.token import Token

from ..errors import Diagnostic
from ..markdown.figures import IMAGE_ATTRIBUTES
from ..markdown.parsing import ParsedNote
from ..markdown.plaintext import plain_text
from .links import is_local
from .positions import BlockPositions
from .previews import NOTE_REFERENCE_CLASS, preview_block
from .references import Mark, Numbering, Target, nearest

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.utils import OptionsDict

THEOREM_KINDS = {
    "thm": "Theorem", "lem": "Lemma", "cor": "Corollary", "prp": "Proposition",
    "cnj": "Conjecture", "def": "Definition", "exm": "Example", "exr": "Exercise", "rem": "Remark",
}  # fmt: skip
"""Quarto's theorem prefixes and the names shown before the number."""

CLASS_PREFIXES = {name.lower(): prefix for prefix, name in THEOREM_KINDS.items()} | {"algorithm": "alg"}
"""`::: {.lemma}` (a numbered block with no label) means what `::: {#lem-…}` means."""


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
    pairs = _div_pairs(note.tokens)
    _empty_links(note)
    tokens = list(note.tokens)  # as parsed: what the heads and captions insert is not visited
    for position, token in enumerate(tokens):
        if token.type == "div_open":
            found = _div_item(note, md, token, pairs, counters, layout)
        elif token.type in ("figure_open", "table_open"):
            found = _float_item(tokens, position, counters)
        elif token.type == "heading_open" and "id" in token.meta:
            inline = tokens[position + 1]
            section = Item(
                "§", section_number(inline.content), str(token.attrGet("id")), _heading_text(inline)
            )
            found = section, str(token.meta["id"])
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
    attrs = token.meta.get("attrs", {})
    label = str(attrs.get("id", ""))
    prefix = _block_prefix(label, str(attrs.get("class", "")).split())
    if prefix == "proof":
        _proof(note, md, token, pairs[id(token)], str(attrs.get("name", "")))
        return None
    if prefix is None:
        return None
    counter = "thm" if layout == "shared" and prefix != "alg" else prefix
    counters[counter] = number = counters.get(counter, 0) + 1
    item = Item(
        THEOREM_KINDS.get(prefix, "Algorithm"), str(number), label, first=token, last=pairs[id(token)]
    )
    if prefix == "alg":
        _algorithm(note, md, item, str(attrs.get("name", "")))
    else:
        _theorem(note, md, item, prefix, str(attrs.get("name", "")))
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
    _caption_label(tokens, position, f"{item.kind} {number}.")
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
                reference.meta = {"label": unquote(fragment), "bare": False, "offset": offset}
                children[index : index + 2] = [reference]
            elif path.endswith(".md") and is_local(path):
                opening.attrSet("class", NOTE_REFERENCE_CLASS)
                children.insert(index + 1, _text(f"{path}#{unquote(fragment)}"))
                index += 3
            else:
                index += 1


def _div_pairs(tokens: list[Token]) -> dict[int, Token]:
    """Each div_open's matching div_close, by the opening token's id()."""
    pairs, stack = {}, []
    for token in tokens:
        if token.type == "div_open":
            stack.append(token)
        elif token.type == "div_close" and stack:
            pairs[id(stack.pop())] = token
    return pairs


def _block_prefix(label: str, classes: list[str]) -> str | None:
    """The kind of a div: `lem`, `alg`, `proof`, or None for a plain div."""
    prefix = label.split("-", 1)[0] if "-" in label else ""
    if prefix in THEOREM_KINDS or prefix == "alg":
        return prefix
    if "proof" in classes:
        return "proof"
    return next((CLASS_PREFIXES[c] for c in classes if c in CLASS_PREFIXES), None)


def _title(note: ParsedNote, md: MarkdownIt, opening: Token, title: str) -> list[Token]:
    """A `name="…"` title parsed as Markdown; its formulas point at the fence line."""
    if not title:
        return []
    children: list[Token] = []
    md.inline.parse(title, md, note.env, children)
    line = opening.map[0] if opening.map else 0
    source = note.lines[line] if line < len(note.lines) else ""
    host = Token("inline", "", 0, content=source, map=[line, line + 1])
    where = max(source.find(title), 0)
    for child in children:
        if child.type.startswith("math_"):
            child.meta["host"] = host
            child.meta["offset"] = int(child.meta.get("offset", 0)) + where
    return children


def _index(tokens: list[Token], token: Token) -> int:
    """Where token is in tokens, by identity: Tokens compare equal by value, and two
    closing tokens are always equal."""
    return next(index for index, candidate in enumerate(tokens) if candidate is token)


def _html(content: str) -> Token:
    return Token("html_inline", "", 0, content=content)


def _text(content: str) -> Token:
    return Token("text", "", 0, content=content)


def _theorem(note: ParsedNote, md: MarkdownIt, item: Item, prefix: str, title: str) -> None:
    """`<div class="theorem lemma">` whose first paragraph opens with "**Lemma 2** (Title)."."""
    assert item.first is not None
    kind = THEOREM_KINDS[prefix].lower()
    classes = " ".join(dict.fromkeys(["theorem", kind, *str(item.first.attrGet("class") or "").split()]))
    item.first.attrSet("class", classes)
    head = [
        _html('<span class="theorem-head"><strong>'),
        _text(f"{item.kind} {item.number}"),
        _html("</strong>"),
    ]
    titled = _title(note, md, item.first, title)
    if titled:
        head += [_text(" ("), *titled, _text(")")]
    head += [_text("."), _html("</span>"), _text(" ")]
    _run_in(note.tokens, item.first, head)


def _proof(note: ParsedNote, md: MarkdownIt, opening: Token, closing: Token, title: str) -> None:
    """A proof: "*Proof.*" (or its title, as amsthm's optional argument) and a closing ∎."""
    classes = " ".join(dict.fromkeys(["proof", *str(opening.attrGet("class") or "").split()]))
    opening.attrSet("class", classes)
    words = _title(note, md, opening, title) or [_text("Proof")]
    _run_in(
        note.tokens,
        opening,
        [_html('<span class="proof-head"><em>'), *words, _text("."), _html("</em></span> ")],
    )
    qed = _html('<span class="qed" role="img" aria-label="End of proof">∎</span>')
    index = _index(note.tokens, closing)
    before = note.tokens[index - 1]
    if before.type == "paragraph_close" and note.tokens[index - 2].type == "inline":
        children = note.tokens[index - 2].children
        if children is not None:
            children.append(_html(" "))
            children.append(qed)
            return
    note.tokens[index:index] = _paragraph([qed], closing.level + 1, "qed-line")


def _algorithm(note: ParsedNote, md: MarkdownIt, item: Item, title: str) -> None:
    """`<figure class="algorithm">` captioned "**Algorithm 1** Title", its steps numbered
    1, 2, … in reading order through nested lists, as an algorithm's lines are."""
    assert item.first is not None and item.last is not None
    item.first.tag = item.last.tag = "figure"
    classes = " ".join(dict.fromkeys(["algorithm", *str(item.first.attrGet("class") or "").split()]))
    item.first.attrSet("class", classes)
    caption = Token("inline", "", 0, children=[], map=item.first.map)
    caption.children = [_html("<strong>"), _text(f"Algorithm {item.number}"), _html("</strong>")]
    titled = _title(note, md, item.first, title)
    if titled:
        caption.children += [_text(" "), *titled]
    start = _index(note.tokens, item.first)
    note.tokens[start + 1 : start + 1] = [
        Token("figcaption_open", "figcaption", 1, block=True),
        caption,
        Token("figcaption_close", "figcaption", -1, block=True),
    ]
    end = _index(note.tokens, item.last)
    step, lists = 0, []
    for token in note.tokens[start:end]:
        if token.type in ("ordered_list_open", "bullet_list_open"):
            lists.append(token.type)
        elif token.type in ("ordered_list_close", "bullet_list_close") and lists:
            lists.pop()
        elif token.type == "list_item_open" and lists and lists[-1] == "ordered_list_open":
            step += 1
            token.attrSet("value", str(step))


def _run_in(tokens: list[Token], opening: Token, head: list[Token]) -> None:
    """Put a head at the start of a block's first paragraph, or in a paragraph of its own."""
    index = _index(tokens, opening)
    if index + 2 < len(tokens) and tokens[index + 1].type == "paragraph_open":
        inline = tokens[index + 2]
        inline.children = head + list(inline.children or [])
        return
    tokens[index + 1 : index + 1] = _paragraph(head, opening.level + 1)


def _paragraph(children: list[Token], level: int, css_class: str = "") -> list[Token]:
    opening = Token("paragraph_open", "p", 1, block=True, level=level)
    if css_class:
        opening.attrSet("class", css_class)
    return [
        opening,
        Token("inline", "", 0, children=children, level=level + 1),
        Token("paragraph_close", "p", -1, block=True, level=level),
    ]


def _caption_label(tokens: list[Token], index: int, text: str) -> None:
    """Start the caption of the figure or table at index with "Figure 2." / "Table 1."."""
    for offset, token in enumerate(tokens[index + 1 :], start=index + 2):
        if token.type in ("figcaption_open", "caption_open"):
            inline = tokens[offset]
            label = [_html('<span class="caption-label">'), _text(text), _html("</span>")]
            rest = list(inline.children or [])
            inline.children = label + ([_text(" "), *rest] if rest else [])
            return
        if token.type in ("figure_close", "table_close"):
            return


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
        label = str(token.meta["label"])
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
                _used_in_block(note.tokens, block)
        elif label in equations:
            token, paragraph = equations[label]
            refs.previews.append((label, token, token if paragraph is None else None))
            if where:
                _used_in_equation(note.tokens, token, paragraph, where)
    return diagnostics


def _resolve_xref(note: ParsedNote, refs: CrossRefs, numbering: Numbering, token: Token) -> list[Diagnostic]:
    label = str(token.meta["label"])
    bare = bool(token.meta.get("bare"))
    item = refs.items.get(label)
    target = numbering.targets.get(label)
    if item is not None:
        token.meta["text"] = item.reference(bare)
        token.meta["href"] = "#" + item.anchor
        return []
    if target is not None:
        token.meta["text"] = target.tag if bare else f"({target.tag})"
        token.meta["href"] = "#" + label
        return []
    token.meta["text"] = "??"
    parent = token.meta.get("parent")
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
                    found[mark.name] = (formula.item.token, formula.item.token.meta.get("paragraph"))
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
                child.meta["paragraph"] = token
            if child.type in ("xref", "math_ref"):
                child.meta["parent"] = child.meta.get("host", token)
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
                    ref = Token("math_ref", "", 0, meta={"label": mark.name})
                    yield ref, place


def _used_in_html(places: list[tuple[str, str | None]]) -> str:
    links = [
        f'<a href="{escape(href, quote=True)}">{escape(text)}</a>' if href else escape(text)
        for text, href in places
    ]
    return "Used in " + ", ".join(links) + "."


def _used_in_block(tokens: list[Token], item: Item) -> None:
    assert item.last is not None
    index = _index(tokens, item.last)
    note = Token("html_block", "", 0, content=f'<p class="used-in">{_used_in_html(item.used_in)}</p>\n')
    note.meta["used_in"] = True
    tokens.insert(index, note)


def _used_in_equation(
    tokens: list[Token], token: Token, paragraph: Token | None, places: list[tuple[str, str | None]]
) -> None:
    """A line under the equation (under its paragraph, for a display inside one)."""
    after = _index(tokens, paragraph) + 1 if paragraph is not None else _index(tokens, token)
    note = Token("html_block", "", 0, content=f'<p class="used-in">{_used_in_html(places)}</p>\n')
    note.meta["used_in"] = True
    tokens.insert(after + 1, note)


def labels(refs: CrossRefs, numbering: Numbering) -> dict[str, str]:
    """What a reference to each label of the note shows, for the other notes' references."""
    found = {label: item.reference() for label, item in refs.items.items()}
    for label, target in numbering.targets.items():
        found.setdefault(label, f"({target.tag})")
    return found


# --- previews --------------------------------------------------------------------------


def render_previews(
    md: MarkdownIt, tokens: list[Token], options: OptionsDict, env: dict[str, object], refs: CrossRefs
) -> str:
    """The hidden copy of every target the note refers to, once each, to follow the body."""
    if not refs.previews:
        return ""
    index = {id(token): number for number, token in enumerate(tokens)}
    parts = []
    for label, first, last in refs.previews:
        if last is None:  # a display formula inside a paragraph
            inline = Token("inline", "", 0, children=[first])
            html = f'<div class="math-display">{md.renderer.render([inline], options, env)}</div>'
        else:
            span = tokens[index[id(first)] : index[id(last)] + 1]
            html = md.renderer.render([t for t in span if not t.meta.get("used_in")], options, env)
        parts.append(preview_block(label, html))
    return '<div class="xref-previews">\n' + "\n".join(parts) + "\n</div>\n"
