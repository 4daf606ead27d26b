"""Figures and table captions: the Markdown ways of giving an image or a table a caption.

- `![alt](src "Caption")` alone in its paragraph becomes <figure> with the title as its
  <figcaption>; GitHub shows the title only as a tooltip, which a reader on paper or a
  phone never sees.
- `![Caption](src){#fig-x}` (Quarto's figure): a lone image with a `fig-` id is a figure
  whose caption is its alt text (`fig-alt="…"` gives the image another alt text); with a
  title too, the title is the caption and the alt text stays the image's.
- `: Caption {#tbl-x}` (or `Table: Caption`), a paragraph just before or after a table,
  becomes the table's <caption> (pandoc's and Quarto's table caption).

Captions are Markdown, math included. Their formulas keep HOST (tokenmeta.py), the paragraph
the caption was written in, and an offset into it, so errors point at the right column.
The id goes on the <figure> or <table>; crossrefs.py numbers them. A figure's image links
to its file, which a phone opens full size.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from mdit_py_plugins.attrs import attrs_plugin

from .plaintext import plain_text
from .tokenmeta import HOST, INSECURE_ATTRS, OFFSET

IMAGE_ATTRIBUTES = ("id", "class", "width", "height", "fig-alt")
"""What `{…}` after an image may set; anything else is dropped, and said so (env["dropped_attributes"])."""

_TABLE_CAPTION = re.compile(r"^(?:Table)?:\s+(.*?)(?:\s*\{#(tbl-[^\s{}]+)\})?\s*$", re.S)


def figure_plugin(md: MarkdownIt) -> None:
    """Turn lone captioned images into figures and caption paragraphs into table captions."""
    # `{#fig-x width=300}` after an image; only attributes an <img> may carry are kept.
    attrs_plugin(md, after=("image",), allowed=IMAGE_ATTRIBUTES)
    md.core.ruler.after("inline", "figures", _figures)
    md.core.ruler.after("figures", "table_captions", _table_captions)
    md.core.ruler.after("table_captions", "alt_text_math", _alt_text_math)


def _figures(state: StateCore) -> None:
    tokens = state.tokens
    for token in tokens:  # attributes the attrs plugin refused, to report them
        for child in token.children or ():
            if child.type == "image" and INSECURE_ATTRS.get(child):
                line = token.map[0] if token.map else 0
                state.env.setdefault("dropped_attributes", []).append((line, list(INSECURE_ATTRS(child))))
    index = 0
    while index + 2 < len(tokens):
        opening, inline, closing = tokens[index : index + 3]
        image = _lone_image(opening, inline, closing)
        caption = _caption(state, inline, image) if image is not None else None
        if image is None or caption is None:
            index += 1
            continue
        tokens[index : index + 3] = _figure_tokens(opening, inline, image, caption)
        index += 6


def _lone_image(opening: Token, inline: Token, closing: Token) -> Token | None:
    """The image when the paragraph holds exactly one image."""
    if opening.type != "paragraph_open" or closing.type != "paragraph_close":
        return None
    children = inline.children or []
    return children[0] if len(children) == 1 and children[0].type == "image" else None


def _caption(state: StateCore, inline: Token, image: Token) -> Token | None:
    """The caption of a lone image: its title, or for a `fig-` image its alt text; None when
    the image is no figure."""
    title = str(image.attrGet("title") or "").strip()
    labelled = str(image.attrGet("id") or "").startswith("fig-")
    if not title and not labelled:
        return None
    caption = Token("inline", "", 0, map=inline.map)
    if title:
        caption.content = title
        caption.children = []
        state.md.inline.parse(title, state.md, state.env, caption.children)
        where = inline.content.find(title)
    else:
        caption.content = image.content
        caption.children = image.children or []
        where = inline.content.find("![") + 2
    for child in caption.children:
        if child.type.startswith("math_"):  # positions within the paragraph as written
            HOST.set(child, inline)
            OFFSET.set(child, OFFSET.get_or(child, 0) + max(where, 0))
    alt = image.attrs.pop("fig-alt", None)
    if alt is not None or not title:
        text = str(alt) if alt is not None else plain_text(caption, readable=True)
        image.children = [Token("text", "", 0, content=text)]
    return caption


def _figure_tokens(paragraph: Token, inline: Token, image: Token, caption: Token) -> list[Token]:
    image.attrs.pop("title", None)  # shown as the caption; a tooltip would repeat it
    opening = Token("figure_open", "figure", 1, map=paragraph.map, block=True)
    label = image.attrs.pop("id", None)
    if label is not None:
        opening.attrSet("id", str(label))
    # The figure links to its file, so a phone can open it full size; the link is named by
    # the image's alt text, or by the caption when there is none.
    link = Token("link_open", "a", 1, attrs={"href": str(image.attrGet("src") or ""), "class": "figure-link"})
    if not image.children and not image.content:
        link.attrSet("aria-label", caption.content)
    inline.children = [link, image, Token("link_close", "a", -1)]
    # A tight list hides its paragraphs' tags; a figure must keep its own.
    return [
        opening,
        inline,
        Token("figcaption_open", "figcaption", 1, map=paragraph.map, block=True),
        caption,
        Token("figcaption_close", "figcaption", -1, block=True),
        Token("figure_close", "figure", -1, block=True),
    ]


def _alt_text_math(state: StateCore) -> None:
    """A formula in an image's alt text becomes its TeX, as pandoc writes it: an alt text is
    plain text, and markdown-it's renderer would drop a formula there without a word."""
    for token in state.tokens:
        for child in token.children or ():
            if child.type == "image" and any(c.type.startswith("math_") for c in child.children or ()):
                child.children = [
                    Token("text", "", 0, content=c.content) if c.type.startswith("math_") else c
                    for c in child.children or ()
                ]


def _table_captions(state: StateCore) -> None:
    tokens = state.tokens
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.type != "table_open":
            index += 1
            continue
        close = next(i for i in range(index, len(tokens)) if tokens[i].type == "table_close")
        after = _caption_paragraph(tokens, close + 1, token.level)
        before = _caption_paragraph(tokens, index - 3, token.level) if index >= 3 else None
        if after is not None:
            caption, label = after
            del tokens[close + 1 : close + 4]
        elif before is not None:
            caption, label = before
            del tokens[index - 3 : index]
            index -= 3
        else:
            index = close + 1
            continue
        if label:
            tokens[index].attrSet("id", label)
        tokens[index + 1 : index + 1] = [
            Token("caption_open", "caption", 1, map=caption.map, block=True),
            caption,
            Token("caption_close", "caption", -1, block=True),
        ]
        index = close + 4 if after is not None else close + 1  # just past the table_close


def _caption_paragraph(tokens: list[Token], index: int, level: int) -> tuple[Token, str] | None:
    """A `: Caption {#tbl-x}` paragraph at index, as its inline token (caption text only) and label."""
    if index < 0 or index + 2 >= len(tokens) or tokens[index].type != "paragraph_open":
        return None
    if tokens[index].level != level:
        return None
    inline = tokens[index + 1]
    match = _TABLE_CAPTION.match(inline.content)
    children = inline.children or []
    if match is None or not children or children[0].type != "text":
        return None
    first = children[0]
    first.content = re.sub(r"^(?:Table)?:\s+", "", first.content)
    if match.group(2):
        last = children[-1]
        if last.type != "text" or not last.content.rstrip().endswith("}"):
            return None
        last.content = re.sub(r"\s*\{#tbl-[^\s{}]+\}\s*$", "", last.content)
    return inline, match.group(2) or ""
