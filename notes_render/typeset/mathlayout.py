"""Break points for display formulas, so that a narrow column breaks a display where TeX
allows instead of hiding it behind a scroll bar.

KaTeX already ends one piece (`katex-base`) after each relation and binary operator at the
formula's outer level, the places where TeX may break a formula (TeXbook, p. 173). This
pass wraps those pieces in `math-lines` (which the stylesheet lets wrap, continuation lines
indented) and cuts the formula into `math-part`s at every `\\quad` and `\\qquad` of its
outer level, the gaps that separate the parts of a display such as `a = b, \\qquad c = d`:
a narrow screen stacks the parts first and breaks inside a part only when it does not fit
on a line of its own. Only KaTeX's visible HTML changes; the MathML and its TeX annotation,
which copy-tex and screen readers read, stay the whole formula.
"""

from __future__ import annotations

import re
from itertools import accumulate, compress, islice

_TAG = re.compile(r"<(/?)[a-zA-Z][^>]*(?:(?<=(/))|)>")
"""A tag: whether it closes (`</…>`), and whether it closes itself (`<…/>`)."""
_DEPTH_CHANGE = {("", ""): 1, ("/", ""): -1, ("", "/"): 0, ("/", "/"): 0}
_HTML_START = '<span class="katex-html" aria-hidden="true">'
_BASE_START = '<span class="katex-base">'
_STRUT = re.compile(r'<span class="katex-strut" style="[^"]*"></span>')
_QUADS = {
    '<span class="mspace" style="margin-right:1em;"></span>': "1em",
    '<span class="mspace" style="margin-right:2em;"></span>': "2em",
}
"""KaTeX's HTML for `\\quad` and `\\qquad`, and the gap each leaves."""


def fit_display(html: str) -> str:
    """KaTeX's HTML of a display formula with its pieces wrapped for breaking.

    HTML that is not a KaTeX display as expected (an error box) is returned unchanged.
    """
    start = html.find(_HTML_START)
    if start < 0:
        return html
    inner = start + len(_HTML_START)
    children = _children(html, inner)
    if children is None:
        return html
    bases = [(s, e) for s, e in children if html.startswith(_BASE_START, s)]
    if not bases or bases != children[: len(bases)]:
        return html
    parts: list[list[str]] = [[]]
    gaps: list[str] = []
    for base_start, base_end in bases:
        for item in _split_at_quads(html[base_start:base_end]):
            if not item.startswith("<"):
                if parts[-1]:  # a gap at the start, or after another gap, adds no part
                    parts.append([])
                    gaps.append(item)
                elif gaps:
                    gaps[-1] = _wider(gaps[-1], item)
            else:
                parts[-1].append(item)
    if not parts[-1] and gaps:  # nor does a gap at the end
        parts.pop()
        gaps.pop()
    # A part after a gap keeps the gap as its left margin: the space between two parts on
    # one line, the indent of a part that starts a line. Parts may break between them.
    lines = ['<span class="math-part">' + "".join(parts[0]) + "</span>"]
    for gap, part in zip(gaps, parts[1:], strict=True):
        lines.append(f'<span class="math-part" style="--quad:{gap}">' + "".join(part) + "</span>")
    end = bases[-1][1]
    return html[:inner] + '<span class="math-lines">' + "".join(lines) + "</span>" + html[end:]


def _children(html: str, pos: int) -> list[tuple[int, int]] | None:
    """(start, end) of each element directly inside the element whose content starts at pos,
    up to its closing tag; None if the markup does not balance."""
    # A display holds hundreds of tags and only its few children matter: the depth after
    # each tag is summed in C, and the tags where it returns to 0 are the only ones looked
    # at in Python (a loop over every tag was half the cost of fitting a corpus's displays).
    depths = list(accumulate(map(_DEPTH_CHANGE.__getitem__, _TAG.findall(html, pos))))
    try:
        closing = depths.index(-1)  # the enclosing element's own closing tag
    except ValueError:
        return None
    tags = _TAG.finditer(html, pos)
    children: list[tuple[int, int]] = []
    first = 0  # the index of the next tag out of `tags`: the first of the next child
    for last in compress(range(closing), map((0).__eq__, depths)):
        start = next(tags)
        end = start if last == first else next(islice(tags, last - first - 1, None))
        children.append((start.start(), end.end()))
        first = last + 1
    return children


def _split_at_quads(base: str) -> list[str]:
    """The base cut at each quad among its children: pieces (each a base, with the base's
    strut) and, between them, the gaps ("2em"). A piece that would hold nothing but the
    strut is left out."""
    if not any(quad in base for quad in _QUADS):  # most bases: nothing to cut, no tag scan
        return [base]
    content = len(_BASE_START)
    children = _children(base, content)
    strut = _STRUT.match(base, content)
    if children is None or strut is None:
        return [base]
    items: list[str] = []
    current: list[str] = []
    for start, end in children:
        element = base[start:end]
        gap = _QUADS.get(element)
        if gap is None:
            current.append(element)
            continue
        if any(c != strut.group(0) for c in current):
            items.append(_BASE_START + "".join(current) + "</span>")
        items.append(gap)
        current = [strut.group(0)]
    if any(c != strut.group(0) for c in current) or not items:
        items.append(_BASE_START + "".join(current) + "</span>")
    return items


def _wider(first: str, second: str) -> str:
    return second if float(second[:-2]) > float(first[:-2]) else first


def hold_last_piece(html: str) -> str:
    """KaTeX's HTML of an inline formula with its last piece wrapped in `math-last`, which the
    stylesheet keeps on one line with whatever follows the formula (its punctuation); the
    formula may still break after its other pieces."""
    start = html.find(_HTML_START)
    if start < 0:
        return html
    children = _children(html, start + len(_HTML_START))
    if not children:
        return html
    last_start, last_end = children[-1]
    if not html.startswith(_BASE_START, last_start):
        return html
    return f'{html[:last_start]}<span class="math-last">{html[last_start:last_end]}</span>{html[last_end:]}'


def hold_piece_at(html: bytes, piece: tuple[int, int] | None) -> bytes:
    """What hold_last_piece makes of html (UTF-8) when its last piece is at piece: (start,
    end) counted in bytes back from the end of html, as the engine gives it
    (katex.MathResult.last_piece); None when there is nothing to hold."""
    if piece is None:
        return html
    start, end = len(html) - piece[0], len(html) - piece[1]
    return b"".join((html[:start], b'<span class="math-last">', html[start:end], b"</span>", html[end:]))


_MARKUP = re.compile(r"<[^>]*>")
_ENTITY = re.compile(r"&(?:#x?[0-9a-fA-F]+|\w+);")
MAY_SCROLL_CHARACTERS = 14
"""A piece showing this many characters may be wider than a phone's column less the number
and an indent, about 8em at 320 px: its display may scroll there, so it must be reachable
by keyboard. (Measured on the notes: every piece wider than 8em shows 15 characters or more,
every display that scrolls at 320 px has a piece of 21 or more.)"""


def may_scroll(html: str) -> bool:
    """Whether some piece of a display, which nothing may break, is long enough that the
    display could scroll on a phone (see MAY_SCROLL_CHARACTERS)."""
    start = html.find(_HTML_START)
    if start < 0:
        return False
    visible = html[start:]
    pieces = visible.split(_BASE_START)[1:]
    return any(
        len(_ENTITY.sub("x", _MARKUP.sub("", piece)).replace("\u200b", "").strip()) >= MAY_SCROLL_CHARACTERS
        for piece in pieces
    )
