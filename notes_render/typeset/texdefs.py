"""Reading TeX without markdown-it: brace groups, macro names, and the preamble file of macros.

Light on purpose: the configuration reads the preamble before anything heavy is loaded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

MATHJAX_NAME = re.compile(r"\s*(?:\\?([A-Za-z]+)|(\\?)([^\s{}\\]))\s*$")
"""A name MathJax's \\newcommand accepts: letters or one character, with or without `\\`."""


# Commands that change the macros later formulas of the same note see (KaTeX keeps them in
# the batch's shared macros object). Matched without a word boundary on purpose: `\define`
# also counts, which only makes keys more specific, never wrong.
_DEFINES = re.compile(
    r"\\(?:[gex]?def|let|futurelet|global|(?:new|renew|provide)command|(?:new|renew)environment)"
)


def defines_macros(tex: str) -> bool:
    """True when a formula may define or redefine a macro for the formulas after it."""
    return _DEFINES.search(tex) is not None


def skip_braces(src: str, pos: int) -> int:
    """Position after the balanced group opening at src[pos] == '{'; -1 if it never closes.

    A backslash escapes the character after it, so `\\}` does not close and `\\\\}` does."""
    depth = 0
    while pos < len(src):
        char = src[pos]
        if char == "\\":
            pos += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return pos + 1
        pos += 1
    return -1


@dataclass(slots=True)
class Lexeme:
    """A control sequence or brace of a formula, with its place in the TeX.

    Not frozen: a frozen dataclass sets each field through object.__setattr__, which made
    making them most of the lexer's time (tens of thousands per build); none is changed."""

    name: str
    """`\\begin`, `\\\\`, `{`, `}`, …"""
    start: int
    end: int


_LEXEME = re.compile(r"\\(?:[a-zA-Z]+|.)?|%[^\n]*|[{}&]", re.S)
"""A control sequence (a lone `\\` at the very end is one too), a `%` comment to the end of
its line, or a brace or `&`; the regex skips every other character at once."""


def lex(tex: str) -> Iterator[Lexeme]:
    """Control sequences, braces and `&`, skipping `%` comments as TeX does."""
    for match in _LEXEME.finditer(tex):
        name = match.group()
        if name[0] != "%":
            yield Lexeme(name, match.start(), match.end())


def content_end(tex: str) -> int:
    """Where the TeX's last code ends: a tag appended there is not inside a `%` comment."""
    end = pos = 0
    while pos < len(tex):
        char = tex[pos]
        if char == "\\":
            pos = end = min(pos + 2, len(tex))
        elif char == "%":
            newline = tex.find("\n", pos)
            pos = len(tex) if newline < 0 else newline + 1
        else:
            pos += 1
            if not char.isspace():
                end = pos
    return end


_LINE_BREAK_WARNING = "In LaTeX, \\\\ or \\newline does nothing in display mode"
_ENVIRONMENT_NAME = re.compile(r"\s*\{\s*([A-Za-z]+\*?)\s*\}")
_SINGLE_ROW = ("equation", "equation*")
"""KaTeX's environments of one row, where a `\\\\` is a line break it warns about."""
_COMMAND_IN_MESSAGE = re.compile(r"\\(?:[A-Za-z]+|[^A-Za-z\s])")


def warning_offsets(tex: str, message: str) -> list[int]:
    """Where in tex, in order, KaTeX can raise a warning it gives no position for.

    For its line-break warning: every `\\newline`, and every `\\\\` that does not end a row
    of an environment (in a group, in `\\left…\\right`, in `equation`, which has one row,
    outside any environment); for any
    other message naming a command: that command.
    """
    if message == _LINE_BREAK_WARNING:
        offsets = []
        openers: list[str] = []  # `{`, `\\left` and `\\begin` still open, innermost last
        for lexeme in lex(tex):
            name = lexeme.name
            if name == "\\begin":
                environment = _ENVIRONMENT_NAME.match(tex, lexeme.end)
                single_row = environment is not None and environment.group(1) in _SINGLE_ROW
                openers.append("\\begin*" if single_row else name)  # `*`: a `\\` there ends no row
            elif name in ("{", "\\left"):
                openers.append(name)
            elif name in ("}", "\\right") and openers:
                openers.pop()
            elif name == "\\end":
                while openers and not openers.pop().startswith("\\begin"):
                    pass
            elif name == "\\newline" or (name == "\\\\" and openers[-1:] != ["\\begin"]):
                offsets.append(lexeme.start)
        return offsets
    command = _COMMAND_IN_MESSAGE.search(message)
    if command is None:
        return []
    return [lexeme.start for lexeme in lex(tex) if lexeme.name == command.group()]


def brace_group(tex: str, pos: int) -> tuple[int, int] | None:
    """(offset of `{`, offset of its `}`) of the brace group after pos (spaces allowed)."""
    while pos < len(tex) and tex[pos] in " \t\n":
        pos += 1
    if not tex.startswith("{", pos):
        return None
    end = skip_braces(tex, pos)
    return None if end < 0 else (pos, end - 1)


def macro_name(tex: str, pos: int) -> tuple[str, int] | None:
    """The macro name after \\DeclareMathOperator or \\newcommand (`{\\op}`, `\\op`, `{op}`), and its end."""
    while pos < len(tex) and tex[pos] in " \t\n":
        pos += 1
    if tex.startswith("\\", pos):
        match = re.compile(r"\\(?:[A-Za-z]+|.)").match(tex, pos)
        return (match.group(), match.end()) if match else None
    if pos < len(tex) and tex[pos] not in "{}[":  # `\newcommand R{…}`: one character, as MathJax reads it
        return "\\" + tex[pos], pos + 1
    group = brace_group(tex, pos)
    if group is None:
        return None
    name = MATHJAX_NAME.match(tex[group[0] + 1 : group[1]])
    if name is None:
        return None
    letters = name.group(1) or name.group(3)
    return "\\" + letters, group[1] + 1


# --- the preamble file ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Definition:
    name: str
    body: str


_PREAMBLE_COMMAND = re.compile(r"\\(newcommand|renewcommand|providecommand|def|gdef|DeclareMathOperator)\b")
_PARAMETERS = re.compile(r"(?:#[1-9])*")


def read_preamble(path: Path, shown: Path) -> dict[str, str]:
    """The macros a preamble file defines, `\\name` -> expansion, as KaTeX's `macros` option.

    It holds `\\newcommand`, `\\renewcommand`, `\\providecommand`, `\\def`, `\\gdef` and
    `\\DeclareMathOperator` definitions and `%` comments; anything else is a ConfigError at
    shown:line:col.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.reason if isinstance(exc, UnicodeDecodeError) else exc.strerror or exc
        raise ConfigError(f"{shown}: cannot read the preamble: {reason}") from exc
    macros: dict[str, str] = {}
    for definition in _definitions(text, shown):
        macros[definition.name] = definition.body
    return macros


def _definitions(text: str, shown: Path) -> Iterator[_Definition]:
    pos = 0

    def fail(at: int, message: str) -> ConfigError:
        line = text.count("\n", 0, at) + 1
        column = at - (text.rfind("\n", 0, at) + 1) + 1
        return ConfigError(f"{shown}:{line}:{column}: {message}")

    while True:
        while pos < len(text) and (text[pos].isspace() or text[pos] == "%"):
            if text[pos] == "%":  # a comment, to the end of its line
                newline = text.find("\n", pos)
                pos = len(text) if newline < 0 else newline + 1
            else:
                pos += 1
        if pos >= len(text):
            return
        command = _PREAMBLE_COMMAND.match(text, pos)
        if command is None:
            raise fail(
                pos,
                "a preamble holds only \\newcommand, \\renewcommand, \\providecommand, \\def, "
                "\\gdef and \\DeclareMathOperator definitions",
            )
        kind, after = command.group(1), command.end()
        star = text.startswith("*", after)
        named = macro_name(text, after + star)
        if named is None:
            raise fail(after, f"\\{kind} needs a macro name, such as {{\\R}}")
        name, after = named
        if kind in ("def", "gdef"):
            parameters = _PARAMETERS.match(text, after)
            params = parameters.group() if parameters else ""
            after += len(params)
            if not text.startswith("{", after):
                raise fail(
                    after,
                    f"\\{kind}{{{name}}}: KaTeX's macros take only #1…#9 parameters before the {{body}}",
                )
            arity = len(params) // 2
        else:
            arity = 0
            if kind != "DeclareMathOperator":
                count = re.compile(r"\s*\[\s*([0-9])\s*\]").match(text, after)
                if count:
                    arity, after = int(count.group(1)), count.end()
                if re.compile(r"\s*\[").match(text, after):
                    raise fail(
                        after, f"\\{kind}{{{name}}}: KaTeX has no optional arguments; make it a required one"
                    )
        group = brace_group(text, after)
        if group is None:
            opened = re.compile(r"\s*\{").match(text, after)
            problem = "its {body} is never closed" if opened else "the definition needs a {body}"
            raise fail(opened.end() - 1 if opened else after, f"\\{kind}{{{name}}}: {problem}")
        body = text[group[0] + 1 : group[1]]
        if kind == "DeclareMathOperator":
            body = f"\\operatorname{'*' if star else ''}{{{body}}}"
        yield _Definition(name, _with_arity(body, arity))
        pos = group[1] + 1


def _with_arity(body: str, arity: int) -> str:
    """The body as a KaTeX macro string, which takes as many arguments as the highest #n it uses:
    a definition declaring more takes the others too and drops them."""
    used = max((int(n) for n in re.findall(r"(?<!#)#([1-9])", body)), default=0)
    if arity <= used:
        return body
    return "\\@secondoftwo{" + "".join(f"#{n}" for n in range(1, arity + 1)) + "}{" + body + "}"
