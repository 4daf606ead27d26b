"""Math dialects: how each Markdown tool finds math, as a record of rule switches.

The math plugin (mathsyntax.py) reads one MathDialect; every difference between tools is
one field here, so a dialect is data, not a branch in the tokenizer. The README's table
"Math dialects" gives the source of each value.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

DEFAULT_DIALECT = "pandoc"


@dataclass(frozen=True, slots=True)
class MathDialect:
    """Which delimiters are math, and how, for notes written for one tool."""

    name: str
    """What `dialect = "NAME"` selects it by."""
    single_dollar: bool = True
    """`$…$` is inline math at all (kramdown has only `$$`)."""
    dollar_spaces: bool = False
    """`$ x $`, with a space just inside a dollar, is math (Typora's inline math)."""
    dollar_before_digit: bool = False
    """A closing `$` may be followed by a digit, as in `$-$1` (pandoc refuses it so that
    `$5 and $10` stays text)."""
    dollar_backtick: bool = True
    """GitHub's `` $`…`$ `` is inline math."""
    inline_double_dollar: Literal["display", "inline"] = "display"
    """How `$$…$$` inside a paragraph is typeset: centred on its own line, or inline
    (kramdown's span math; Typora's inline math)."""
    block_alone: bool = False
    """A `$$` block must start and end at a block boundary (a blank line, the start or end
    of its container); otherwise its `$$…$$` is inline math in the paragraph (kramdown)."""
    block_blank_lines: bool = False
    """A blank line inside a `$$` block keeps the block whole, as MathJax does, instead of
    ending it (LaTeX and pandoc allow none)."""
    backslash_delimiters: bool = True
    """`\\(…\\)` and `\\[…\\]` are math; elsewhere Markdown reads `\\(` as an escaped `(`."""
    escaped_delimiters: bool = False
    """`\\\\(…\\\\)` and `\\\\[…\\\\]` are math: written for a Markdown-first engine, they
    reach MathJax as `\\(…\\)` and `\\[…\\]`; the TeX is their text after `escapes`."""
    escapes: str = ""
    """The characters a backslash escapes in this tool's Markdown (for `escaped_delimiters`)."""


KRAMDOWN_ESCAPES = "\\.*_+`<>()[]{}#!:|\"'$=-"
"""kramdown's ESCAPED_CHARS (lib/kramdown/parser/kramdown/escaped_chars.rb)."""

DIALECTS = {
    dialect.name: dialect
    for dialect in (
        MathDialect("pandoc"),
        MathDialect(
            "typora",
            dollar_spaces=True,
            dollar_before_digit=True,
            dollar_backtick=False,
            inline_double_dollar="inline",
            block_blank_lines=True,
            backslash_delimiters=False,
        ),
        MathDialect(
            "kramdown",
            single_dollar=False,
            dollar_backtick=False,
            inline_double_dollar="inline",
            block_alone=True,
            block_blank_lines=True,
            backslash_delimiters=False,
            escaped_delimiters=True,
            escapes=KRAMDOWN_ESCAPES,
        ),
        MathDialect("github", backslash_delimiters=False),
        MathDialect("obsidian", dollar_backtick=False, block_blank_lines=True, backslash_delimiters=False),
    )
}
"""Every dialect by name; `pandoc` is the default and today's rules."""


def find_dialect(name: str) -> MathDialect | None:
    """The dialect called name, or None."""
    return DIALECTS.get(name)


def unknown_dialect(name: object) -> str:
    """The message for a dialect name that is not one of DIALECTS."""
    return f"unknown math dialect {name!r}; known dialects: {', '.join(DIALECTS)}"


def dialects_with(rule: str) -> list[str]:
    """Names of the dialects in which the switch `rule` is on."""
    assert rule in {f.name for f in fields(MathDialect)}, rule
    return [name for name, dialect in DIALECTS.items() if getattr(dialect, rule)]
