"""In-place previews of references, without JavaScript: the markup and the CSS that shows it.

Each target a note refers to (an equation, a theorem, an algorithm, a figure, a table) is
copied once, at the end of the note, into `<div class="xref-preview" data-preview="LABEL">`,
hidden. The page's head gets one rule per target, shown while a reference to it is hovered
or has keyboard focus: `.note:has(a[href="#LABEL"]:hover) [data-preview="LABEL"]`. The
stylesheet places the copy beside the hovered link (CSS anchor positioning) or, in a
browser without it, at the foot of the window.

The copy is inert: no ids (they would be duplicates), no links or tabindex (it is
aria-hidden, so it must hold nothing focusable), display formulas as `.preview-math` (not one more
`.math-display`) and no MathML (a screen reader's user follows the link instead; it also
halves the weight).
"""

from __future__ import annotations

import html
import posixpath
import re
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from markdown_it.token import Token

from ..markdown.tokenmeta import USED_IN

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.utils import OptionsDict

PREVIEW_ATTRIBUTE = "data-preview"
"""The attribute naming the label a preview copy shows."""

NOTE_REFERENCE_CLASS = "xref xref-note"
"""The class of a `[](other.md#label)` link, whose text is filled in when its page is written."""

_NOTE_REFERENCE = re.compile(
    rb'<a href="([^"#]*)#([^"]*)" class="' + NOTE_REFERENCE_CLASS.encode() + rb'">([^<]*)</a>'
)

_ID = re.compile(r'\s(?:id|tabindex|aria-labelledby|aria-describedby)="[^"]*"')
_LINK_OPEN = re.compile(r"<a\b[^>]*>")
_MATHML = re.compile(r'<span class="katex-mathml">.*?</math></span>', re.S)
_PREVIEWS = re.compile(PREVIEW_ATTRIBUTE.encode() + rb'="([^"]*)"')


def inert(fragment: str) -> str:
    """The HTML of a target as its preview shows it: without ids, links or MathML."""
    fragment = _MATHML.sub("", fragment)
    fragment = _ID.sub("", fragment)
    # Not one more `.math-display` of the page for whatever counts or lays out those.
    fragment = fragment.replace('<div class="math-display">', '<div class="preview-math">')
    fragment = _LINK_OPEN.sub("<span>", fragment)
    return fragment.replace("</a>", "</span>")


def preview_block(label: str, fragment: str) -> str:
    """One hidden preview of the target `label`."""
    return (
        f'<div class="xref-preview" {PREVIEW_ATTRIBUTE}="{html.escape(label, quote=True)}" '
        f'aria-hidden="true">{inert(fragment)}</div>'
    )


def fill_note_references(
    body: bytes, page: PurePosixPath, notes: Mapping[PurePosixPath, tuple[str, Mapping[str, str]]]
) -> bytes:
    """Give each `[](other.md#label)` of a rendered body (or one of its pieces) its text,
    "Title, Lemma 2", from the other note's labels (notes: each page's title and labels); an
    unknown one keeps its `other.md#label` text (the link checker reports its anchor)."""
    if NOTE_REFERENCE_CLASS.encode() not in body:
        return body

    def fill(match: re.Match[bytes]) -> bytes:
        href, fragment = match.group(1).decode("utf-8"), match.group(2).decode("utf-8")
        path = posixpath.normpath(posixpath.join(str(page.parent), html.unescape(href)))
        title, labels = notes.get(PurePosixPath(path), ("", {}))
        shown = labels.get(html.unescape(fragment))
        if shown is None:
            return match.group(0)
        text = html.escape(f"{title}, {shown}" if title else shown)
        return f'<a href="{href}#{fragment}" class="{NOTE_REFERENCE_CLASS}">{text}</a>'.encode()

    return _NOTE_REFERENCE.sub(fill, body)


def stylesheet(body: Sequence[bytes]) -> str:
    """The rules that show each preview of a rendered body (its pieces, see page.Page.body)
    while a link to it is hovered or focused; empty when the body has none."""
    rules = []
    for escaped in dict.fromkeys(found for piece in body for found in _PREVIEWS.findall(piece)):
        label = _css_string(html.unescape(escaped.decode("utf-8")))
        rules.append(
            f'.note:has(a:is(.xref,.eqref)[href="#{label}"]:is(:hover,:focus-visible)) '
            f'.xref-preview[{PREVIEW_ATTRIBUTE}="{label}"]{{display:block}}'
        )
    return "\n".join(rules)


def _css_string(text: str) -> str:
    """text inside a double-quoted CSS string, safe inside <style> as well."""
    return re.sub(r'["\\<>\n&]', lambda m: f"\\{ord(m.group(0)):x} ", text)


def render_previews(
    md: MarkdownIt,
    tokens: list[Token],
    options: OptionsDict,
    env: dict[str, object],
    targets: Sequence[tuple[str, Token, Token | None]],
) -> str:
    """The hidden copy of every target the note refers to, once each, to follow the body:
    (label, first token, last token, or None for a display formula inside a paragraph),
    as crossrefs.CrossRefs.previews lists them."""
    if not targets:
        return ""
    index = {id(token): number for number, token in enumerate(tokens)}
    parts = []
    for label, first, last in targets:
        if last is None:  # a display formula inside a paragraph
            inline = Token("inline", "", 0, children=[first])
            html = f'<div class="math-display">{md.renderer.render([inline], options, env)}</div>'
        else:
            span = tokens[index[id(first)] : index[id(last)] + 1]
            html = md.renderer.render([t for t in span if not USED_IN.get(t)], options, env)
        parts.append(preview_block(label, html))
    return '<div class="xref-previews">\n' + "\n".join(parts) + "\n</div>\n"
