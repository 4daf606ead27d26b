"""The contract of `Token.meta`: every key that the parser's plugins, the passes and the
renderers hand each other on a token, with the type of its value and who writes it.

markdown-it documents `Token.meta` as free-form; here several modules share it, so each
key is one typed `Key` below, read and written through it (`HOST.get(token)`,
`OFFSET.set(token, 3)`) rather than by its name. The tokens a key sits on are named in its
description.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any, Generic, TypeVar

from markdown_it.token import Token

V = TypeVar("V")
D = TypeVar("D")


class Key(Generic[V]):
    """One key of `Token.meta` and the type of its value."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name
        """The key in the dict."""

    def __call__(self, token: Token) -> V:
        """The value on the token; KeyError when the token has none."""
        value: V = token.meta[self.name]
        return value

    def get(self, token: Token) -> V | None:
        """The value on the token, or None."""
        value: V | None = token.meta.get(self.name)
        return value

    def get_or(self, token: Token, default: D) -> V | D:
        """The value on the token, or default."""
        value: V | D = token.meta.get(self.name, default)
        return value

    def has(self, token: Token) -> bool:
        """Whether the token holds the key."""
        return self.name in token.meta

    def set(self, token: Token, value: V) -> None:
        """Give the token the value."""
        token.meta[self.name] = value

    def pop(self, token: Token) -> V | None:
        """Take the value off the token (None if it had none)."""
        value: V | None = token.meta.pop(self.name, None)
        return value

    def __repr__(self) -> str:
        return f"Key({self.name!r})"


# --- where a token's source is ----------------------------------------------------------

OFFSET: Key[int] = Key("offset")
"""Inline math, `math_notice`, `math_ref`, `xref`, `citation`, an inline footnote's
`footnote_ref`: where the token's source starts in its parent inline token's content (in
HOST's content when it has a HOST). Written by the syntax plugins; moved on by the plugins
and passes that put the token under another host (figures, inline footnotes, titles)."""

HOST: Key[Token] = Key("host")
"""Inline math, `math_ref`, `citation` parsed out of their block (a figure's caption, an
inline footnote, a theorem's title): the inline token whose content OFFSET counts in,
standing in for the block the token now sits in."""

RAW: Key[str] = Key("raw")
"""Inline math written `\\\\(…\\\\)` for a Markdown-first engine: the TeX as written in the
source, before Markdown's escapes were taken out (the content holds the TeX KaTeX reads)."""

DROPPED: Key[list[int]] = Key("dropped")
"""With RAW: the offsets in the content where a backslash of the source was dropped."""

STARTS: Key[list[tuple[int, int]]] = Key("starts")
"""`math_block`: for each line of its TeX, the (0-based line, column) where it starts."""

# --- math the parser left as text -------------------------------------------------------

RULE: Key[str] = Key("rule")
"""`math_notice`: the dialect rule (a MathDialect field) that would have made it math."""

WRITTEN: Key[str] = Key("written")
"""`math_notice`: how the text that a MathJax page would typeset is named in the warning."""

# --- what the passes give the renderers -------------------------------------------------

MATH_HTML: Key[bytes] = Key("html")
"""A math token: KaTeX's HTML for it, UTF-8 as it came from V8 (see katex.MathResult.html).
Written by the typeset stage; the renderer takes it off the token as it renders the body."""

CITATION_HTML: Key[str] = Key("html")
"""`citation`: its text and links, written by the citation pass."""

MAY_SCROLL: Key[bool] = Key("may_scroll")
"""Display math: its typeset HTML may be wider than a phone, so its box scrolls. Inline
math, when the engine said so: its paragraph may scroll (else that is read from its HTML)."""

LAST_PIECE: Key[tuple[int, int] | None] = Key("last_piece")
"""Inline math, when the engine said where: its last piece in MATH_HTML, for holding it to
its punctuation (see katex.MathResult.last_piece)."""

TRAIL: Key[str] = Key("trail")
"""Inline math: the punctuation right after it, rendered with it so no line starts with it."""

ANCHOR: Key[str | None] = Key("anchor")
"""Display math: the id of the formula's element (its one label), None when each line
carries its own in its tag."""

LABEL: Key[str] = Key("label")
"""`xref` (`@lem-x`, `[](#lem-x)`) and `math_ref` (`\\\\eqref{x}`): the label referred to."""

BARE: Key[bool] = Key("bare")
"""`xref`: the number alone is shown (`[-@lem-x]`), without the kind's name."""

TEXT: Key[str] = Key("text")
"""`xref`, `math_ref`: what the reference shows (`Lemma 2`, `(3)`, `??`)."""

HREF: Key[str] = Key("href")
"""`xref`, `math_ref`: the link's target (`#lem-x`); none when the label is unknown."""

# --- attributes written in the source ---------------------------------------------------

HEADING_ID: Key[str] = Key("id")
"""`heading_open`: the id written after it (`## Title {#sec-x}`)."""

FOOTNOTE_ID: Key[int] = Key("id")
"""`footnote_open`, `footnote_ref`: the footnote's number (mdit-py-plugins' footnote plugin)."""

DIV_ATTRS: Key[dict[str, str]] = Key("attrs")
"""`div_open`: every attribute of `::: {#id .class key="value"}`, those HTML may not show too."""

INSECURE_ATTRS: Key[dict[str, Any]] = Key("insecure_attrs")
"""`image`: the attributes mdit-py-plugins' attrs plugin refused (reported, not rendered)."""

CITES: Key[list[Any]] = Key("items")
"""`citation`: the works cited, each a citesyntax.Cite, as written."""

CITE_IN_TEXT: Key[bool] = Key("in_text")
"""`citation`: in-text (`@ho2020 shows`) rather than in brackets."""

# --- kept by one pass between its own steps ---------------------------------------------

IN_LINK: Key[bool] = Key("in_link")
"""`citation`: inside a link's text, so its own links are left out (citations.py)."""

ENTRIES: Key[list[Any]] = Key("entries")
"""`citation`: for each of CITES, its bibtex.Entry, or None for an unknown key (citations.py)."""

PARAGRAPH: Key[Token] = Key("paragraph")
"""`math_inline_display`: the inline token of the paragraph it is displayed in (crossrefs.py)."""

PARENT: Key[Token] = Key("parent")
"""`xref`, `math_ref`: the inline token whose content OFFSET counts in (crossrefs.py)."""

USED_IN: Key[bool] = Key("used_in")
"""An `html_block` saying where a block is used: left out of the block's preview (crossrefs.py)."""


MADE = "notes_render.made"
"""env key: the kinds of token among MADE_KINDS that the inline rules pushed while parsing
(mathinline, mathnotices, citesyntax), so that a pass looking for one kind skips a note
that has none instead of walking all its tokens (most notes have no citation, no `\\ref`
in prose, no pair left as text). Only those rules make such tokens."""

MADE_KINDS = ("citation", "math_notice", "math_ref")


def note_made(env: MutableMapping[str, Any], kind: str) -> None:
    """Record in a parse's env that a token of kind (one of MADE_KINDS) was pushed."""
    env.setdefault(MADE, set()).add(kind)


def was_made(env: Mapping[str, Any], kind: str) -> bool:
    """Whether the parse whose env this is pushed any token of kind (one of MADE_KINDS)."""
    return kind in env.get(MADE, ())
