"""A markdown-it plugin that ends every heading that has an id with a link to itself."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token


def permalink_plugin(md: MarkdownIt) -> None:
    """End every heading that has an id with a link to itself.

    The link has no text; the stylesheet draws its mark, so copying a heading copies
    only its words. It is hidden from screen readers and the Tab key (the heading's name
    stays its words; the contents already link every heading), for the mouse and touch.
    """
    md.add_render_rule("heading_close", _render_heading_close)


def _render_heading_close(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    opening = tokens[idx - 2] if idx >= 2 else None
    anchor = opening.attrGet("id") if opening is not None and opening.type == "heading_open" else None
    link = (
        f'<a class="heading-permalink" href="#{escape(str(anchor), quote=True)}" '
        'aria-hidden="true" tabindex="-1"></a>'
        if anchor
        else ""
    )
    return link + str(self.renderToken(tokens, idx, options, env))
