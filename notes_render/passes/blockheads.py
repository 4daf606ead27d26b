"""What a numbered block looks like: its kind, read from its label or class, and the parts
it is given in the note's tokens: a theorem's run-in head ("**Lemma 2** (Title)."), a
proof's "*Proof.*" and ∎, an algorithm's caption and step numbers, a figure's or table's
caption label ("Figure 3."), and the line saying where the note uses a block or equation
("Used in §3.1, (12)."). crossrefs.py decides the numbers and calls these."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from markdown_it.token import Token

from ..markdown.parsing import ParsedNote
from ..markdown.tokenmeta import HOST, OFFSET, USED_IN

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

THEOREM_KINDS = {
    "thm": "Theorem", "lem": "Lemma", "cor": "Corollary", "prp": "Proposition",
    "cnj": "Conjecture", "def": "Definition", "exm": "Example", "exr": "Exercise", "rem": "Remark",
}  # fmt: skip
"""Quarto's theorem prefixes and the names shown before the number."""


CLASS_PREFIXES = {name.lower(): prefix for prefix, name in THEOREM_KINDS.items()} | {"algorithm": "alg"}
"""`::: {.lemma}` (a numbered block with no label) means what `::: {#lem-…}` means."""


def div_pairs(tokens: list[Token]) -> dict[int, Token]:
    """Each div_open's matching div_close, by the opening token's id()."""
    pairs, stack = {}, []
    for token in tokens:
        if token.type == "div_open":
            stack.append(token)
        elif token.type == "div_close" and stack:
            pairs[id(stack.pop())] = token
    return pairs


def block_prefix(label: str, classes: list[str]) -> str | None:
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
            HOST.set(child, host)
            OFFSET.set(child, OFFSET.get_or(child, 0) + where)
    return children


def index_of(tokens: list[Token], token: Token) -> int:
    """Where token is in tokens, by identity: Tokens compare equal by value, and two
    closing tokens are always equal."""
    return next(index for index, candidate in enumerate(tokens) if candidate is token)


def html_token(content: str) -> Token:
    return Token("html_inline", "", 0, content=content)


def text_token(content: str) -> Token:
    return Token("text", "", 0, content=content)


def theorem_head(
    note: ParsedNote, md: MarkdownIt, opening: Token, prefix: str, number: str, title: str
) -> None:
    """`<div class="theorem lemma">` whose first paragraph opens with "**Lemma 2** (Title)."."""
    kind = THEOREM_KINDS[prefix].lower()
    classes = " ".join(dict.fromkeys(["theorem", kind, *str(opening.attrGet("class") or "").split()]))
    opening.attrSet("class", classes)
    head = [
        html_token('<span class="theorem-head"><strong>'),
        text_token(f"{THEOREM_KINDS[prefix]} {number}"),
        html_token("</strong>"),
    ]
    titled = _title(note, md, opening, title)
    if titled:
        head += [text_token(" ("), *titled, text_token(")")]
    head += [text_token("."), html_token("</span>"), text_token(" ")]
    _run_in(note.tokens, opening, head)


def proof_head(note: ParsedNote, md: MarkdownIt, opening: Token, closing: Token, title: str) -> None:
    """A proof: "*Proof.*" (or its title, as amsthm's optional argument) and a closing ∎."""
    classes = " ".join(dict.fromkeys(["proof", *str(opening.attrGet("class") or "").split()]))
    opening.attrSet("class", classes)
    words = _title(note, md, opening, title) or [text_token("Proof")]
    _run_in(
        note.tokens,
        opening,
        [html_token('<span class="proof-head"><em>'), *words, text_token("."), html_token("</em></span> ")],
    )
    qed = html_token('<span class="qed" role="img" aria-label="End of proof">∎</span>')
    index = index_of(note.tokens, closing)
    before = note.tokens[index - 1]
    if before.type == "paragraph_close" and note.tokens[index - 2].type == "inline":
        children = note.tokens[index - 2].children
        if children is not None:
            children.append(html_token(" "))
            children.append(qed)
            return
    note.tokens[index:index] = _paragraph([qed], closing.level + 1, "qed-line")


def algorithm_head(
    note: ParsedNote, md: MarkdownIt, opening: Token, closing: Token, number: str, title: str
) -> None:
    """`<figure class="algorithm">` captioned "**Algorithm 1** Title", its steps numbered
    1, 2, … in reading order through nested lists, as an algorithm's lines are."""
    opening.tag = closing.tag = "figure"
    classes = " ".join(dict.fromkeys(["algorithm", *str(opening.attrGet("class") or "").split()]))
    opening.attrSet("class", classes)
    caption = Token("inline", "", 0, children=[], map=opening.map)
    caption.children = [html_token("<strong>"), text_token(f"Algorithm {number}"), html_token("</strong>")]
    titled = _title(note, md, opening, title)
    if titled:
        caption.children += [text_token(" "), *titled]
    start = index_of(note.tokens, opening)
    note.tokens[start + 1 : start + 1] = [
        Token("figcaption_open", "figcaption", 1, block=True),
        caption,
        Token("figcaption_close", "figcaption", -1, block=True),
    ]
    end = index_of(note.tokens, closing)
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
    index = index_of(tokens, opening)
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


def caption_label(tokens: list[Token], index: int, text: str) -> None:
    """Start the caption of the figure or table at index with "Figure 2." / "Table 1."."""
    for offset, token in enumerate(tokens[index + 1 :], start=index + 2):
        if token.type in ("figcaption_open", "caption_open"):
            inline = tokens[offset]
            label = [html_token('<span class="caption-label">'), text_token(text), html_token("</span>")]
            rest = list(inline.children or [])
            inline.children = label + ([text_token(" "), *rest] if rest else [])
            return
        if token.type in ("figure_close", "table_close"):
            return


def _used_in_html(places: list[tuple[str, str | None]]) -> str:
    links = [
        f'<a href="{escape(href, quote=True)}">{escape(text)}</a>' if href else escape(text)
        for text, href in places
    ]
    return "Used in " + ", ".join(links) + "."


def used_in_block(tokens: list[Token], closing: Token, places: list[tuple[str, str | None]]) -> None:
    """A line at the end of a block saying where the note refers to it: (text, href) of each place."""
    index = index_of(tokens, closing)
    note = Token("html_block", "", 0, content=f'<p class="used-in">{_used_in_html(places)}</p>\n')
    USED_IN.set(note, True)
    tokens.insert(index, note)


def used_in_equation(
    tokens: list[Token], token: Token, paragraph: Token | None, places: list[tuple[str, str | None]]
) -> None:
    """A line under the equation (under its paragraph, for a display inside one)."""
    after = index_of(tokens, paragraph) + 1 if paragraph is not None else index_of(tokens, token)
    note = Token("html_block", "", 0, content=f'<p class="used-in">{_used_in_html(places)}</p>\n')
    USED_IN.set(note, True)
    tokens.insert(after + 1, note)
