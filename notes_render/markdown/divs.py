"""Pandoc's fenced divs and Quarto's label and reference syntax, as markdown-it rules.

- `::: {#lem-gauss .lemma name="Title"}` … `:::` (three or more colons; `::: proof` with a
  bare class also opens one) gives `div_open` / `div_close` tokens. The opening token's
  `attrs` hold only `id` and `class` (what HTML may show); DIV_ATTRS (tokenmeta.py) holds every
  attribute written, `name` included. Divs nest; the closing fence is a line of colons only.
  An opening fence never closed is recorded in `env["unclosed_divs"]` (its 0-based line),
  since a parser has no way to report it.
- `## Title {#sec-x}`: a heading's own id, its HEADING_ID.
- `@lem-gauss` (or cleveref's `\\cref{lem-gauss}`), and `-@lem-gauss` for the number
  alone: an `xref` token with LABEL, BARE and OFFSET (in the parent inline's
  content).
  Only labels with one of Quarto's cross-reference prefixes are references, so `@name`
  stays free for citations and for e-mail-like text.

The passes in crossrefs.py give these tokens their numbers, heads and link texts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_block import StateBlock
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from mdit_py_plugins.attrs.parse import ParseError
from mdit_py_plugins.attrs.parse import parse as parse_attrs

from .tokenmeta import BARE, DIV_ATTRS, HEADING_ID, HREF, LABEL, OFFSET, TEXT

REFERENCE_PREFIXES = (
    "thm", "lem", "cor", "prp", "cnj", "def", "exm", "exr", "rem", "alg", "fig", "tbl", "sec", "eq",
)  # fmt: skip
"""Label prefixes that make `@label` a cross-reference (Quarto's, plus `alg` and `eq`)."""

_OPENING = re.compile(r"^(:{3,})\s*(\{.*\}|[A-Za-z][\w-]*)\s*:*\s*$")
_CLOSING = re.compile(r"^:{3,}\s*$")
_REFERENCE = re.compile(r"(-?)@((?:" + "|".join(REFERENCE_PREFIXES) + r")[-:]\w+(?:[-:.]\w+)*)")
_CREF = re.compile(r"\\[cC]ref\{([^{}\n]+)\}")
"""cleveref's `\\cref{lem-x}`, which LaTeX writers use for "Lemma 1"; the same as `@lem-x`."""
_HEADING_ID = re.compile(r"\s*\{#([^\s{}]+)\}\s*$")


def divs_plugin(md: MarkdownIt) -> None:
    """Fenced divs, heading ids and `@label` references."""
    md.block.ruler.before(
        "fence", "fenced_div", _fenced_div, {"alt": ["paragraph", "reference", "blockquote", "list"]}
    )
    md.inline.ruler.before("escape", "xref", _reference)
    md.core.ruler.after("inline", "heading_ids", _heading_ids)
    md.add_render_rule("xref", render_xref)


# --- fenced divs -----------------------------------------------------------------------


def _line(state: StateBlock, line: int) -> str:
    start = state.bMarks[line] + state.tShift[line]
    return state.src[start : state.eMarks[line]]


def _opening(state: StateBlock, line: int) -> dict[str, str] | None:
    """The attributes of an opening fence on this line, or None if it is not one."""
    if state.sCount[line] - state.blkIndent >= 4:
        return None
    match = _OPENING.match(_line(state, line))
    if match is None:
        return None
    spec = match.group(2)
    if not spec.startswith("{"):
        return {"class": spec}
    try:
        end, attrs = parse_attrs(spec)
    except ParseError:
        return None
    return attrs if end >= len(spec) - 1 else None  # end: the index of the closing brace


def _fenced_div(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    attrs = _opening(state, start)
    if attrs is None:
        return False
    if silent:
        return True
    depth, close = 1, None
    for line in range(start + 1, end):
        if not state.isEmpty(line) and state.sCount[line] < state.blkIndent:
            break  # the end of the enclosing list item or quote
        if _CLOSING.match(_line(state, line)) and state.sCount[line] - state.blkIndent < 4:
            depth -= 1
            if depth == 0:
                close = line
                break
        elif _opening(state, line) is not None:
            depth += 1
    if close is None:
        state.env.setdefault("unclosed_divs", []).append(start)
    last = close if close is not None else end
    opening = state.push("div_open", "div", 1)
    opening.block = True
    opening.map = [start, last + 1 if close is not None else last]
    DIV_ATTRS.set(opening, dict(attrs))
    if "id" in attrs:
        opening.attrSet("id", attrs["id"])
    if "class" in attrs:
        opening.attrSet("class", attrs["class"])
    old_parent, old_max = state.parentType, state.lineMax
    state.parentType = "div"
    state.lineMax = last
    state.md.block.tokenize(state, start + 1, last)
    state.parentType, state.lineMax = old_parent, old_max
    closing = state.push("div_close", "div", -1)
    closing.block = True
    state.line = last + 1 if close is not None else last
    return True


# --- heading ids -----------------------------------------------------------------------


def _heading_ids(state: StateCore) -> None:
    """`## Title {#sec-x}`: take the attribute off the heading's text, keep it as its id."""
    tokens = state.tokens
    for index, token in enumerate(tokens[:-1]):
        if token.type != "heading_open":
            continue
        inline = tokens[index + 1]
        children = inline.children or []
        match = _HEADING_ID.search(inline.content)
        if not match or not children or children[-1].type != "text":
            continue
        last = children[-1]
        tail = _HEADING_ID.search(last.content)
        if tail is None:
            continue
        last.content = last.content[: tail.start()]
        HEADING_ID.set(token, tail.group(1))


# --- references --------------------------------------------------------------------------


def _reference(state: StateInline, silent: bool) -> bool:
    """`@label`, `-@label` or `\\cref{label}` at state.pos."""
    src, pos = state.src, state.pos
    if src.startswith(("\\cref{", "\\Cref{"), pos):
        match = _CREF.match(src, pos)
        label, bare = (match.group(1).strip(), False) if match else ("", False)
    elif src[pos] in "@-" and not (pos > 0 and (src[pos - 1].isalnum() or src[pos - 1] in "_@")):
        match = _REFERENCE.match(src, pos)  # (after a letter, a@lem-x.org is an address)
        label, bare = (match.group(2), bool(match.group(1))) if match else ("", False)
    else:
        return False
    if match is None or not label:
        return False
    if not silent:
        token = state.push("xref", "", 0)
        token.content = match.group(0)
        LABEL.set(token, label)
        BARE.set(token, bare)
        OFFSET.set(token, pos)
    state.pos = match.end()
    return True


def render_xref(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    """A reference: a link showing the target's kind and number, or the label marked unknown."""
    token = tokens[idx]
    href = HREF.get(token)
    text = escapeHtml(TEXT.get_or(token, token.content))
    if href is None:
        return f'<span class="xref xref-missing">{text}</span>'
    return f'<a class="xref" href="{escapeHtml(href)}">{text}</a>'
