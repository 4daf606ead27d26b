"""Figures: an image with a title, alone in its paragraph, becomes <figure> with a caption.

`![alt](src "Caption")` is how Markdown attaches a caption to an image; GitHub shows the
title only as a tooltip, which a reader on paper or a phone never sees.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token


def figure_plugin(md: MarkdownIt) -> None:
    """Turn lone titled images into figure tokens, after inline parsing made the images."""
    md.core.ruler.after("inline", "figures", _figures)


def _figures(state: StateCore) -> None:
    tokens = state.tokens
    index = 0
    while index + 2 < len(tokens):
        opening, inline, closing = tokens[index : index + 3]
        caption = _lone_titled_image(opening, inline, closing)
        if caption is None:
            index += 1
            continue
        tokens[index : index + 3] = _figure_tokens(opening, inline, caption)
        index += 6


def _lone_titled_image(opening: Token, inline: Token, closing: Token) -> str | None:
    """The image's title when the paragraph holds exactly one image that has one."""
    if opening.type != "paragraph_open" or closing.type != "paragraph_close":
        return None
    children = inline.children or []
    if len(children) != 1 or children[0].type != "image":
        return None
    title = str(children[0].attrGet("title") or "").strip()
    return title or None


def _figure_tokens(paragraph: Token, inline: Token, caption: str) -> list[Token]:
    image = (inline.children or [])[0]
    image.attrs.pop("title", None)  # shown as the caption; a tooltip would repeat it
    text = Token("text", "", 0, content=caption)
    caption_inline = Token("inline", "", 0, content=caption, children=[text], map=paragraph.map)
    # A tight list hides its paragraphs' tags; a figure must keep its own.
    return [
        Token("figure_open", "figure", 1, map=paragraph.map, block=True),
        inline,
        Token("figcaption_open", "figcaption", 1, map=paragraph.map, block=True),
        caption_inline,
        Token("figcaption_close", "figcaption", -1, block=True),
        Token("figure_close", "figure", -1, block=True),
    ]
