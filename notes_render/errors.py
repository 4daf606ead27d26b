"""Errors and diagnostics: every problem in a note carries its file, line and column."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True, slots=True)
class SourcePosition:
    """A place in a source file, 1-based like compilers print it."""

    path: Path
    """The source file as the user named it (relative to the working folder if possible)."""
    line: int
    """1-based line number; 0 when the problem concerns the whole file."""
    column: int
    """1-based column number; 0 when unknown."""

    def __str__(self) -> str:
        where = str(self.path)
        if self.line:
            where += f":{self.line}"
            if self.column:
                where += f":{self.column}"
        return where


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A content problem found while building one note; the build goes on after it."""

    position: SourcePosition
    """Where the problem is."""
    message: str
    """What is wrong, in one line."""
    severity: Literal["error", "warning"] = "error"
    """Errors fail a --strict build; warnings are only reported."""
    source_line: str | None = None
    """The text of the offending line, for the excerpt under the message."""

    def format(self) -> str:
        """`file:line:col: message`, then the line and a caret under the column."""
        label = "" if self.severity == "error" else "warning: "
        text = f"{self.position}: {label}{self.message}"
        if self.source_line is not None and self.position.column:
            line = self.source_line.expandtabs(1)
            caret = " " * (self.position.column - 1) + "^"
            text += f"\n    {line}\n    {caret}"
        return text


class NotesRenderError(Exception):
    """Base of the errors that stop a build; the CLI turns them into exit codes."""

    exit_code = 1


class ConfigError(NotesRenderError):
    """A usage or configuration problem: bad option, missing folder, missing KaTeX."""

    exit_code = 2


class ContentError(NotesRenderError):
    """A note cannot be read or parsed at all (not UTF-8, broken front matter)."""

    exit_code = 1

    def __init__(self, position: SourcePosition, message: str) -> None:
        super().__init__(f"{position}: {message}")
        self.position = position
        self.message = message

    def diagnostic(self) -> Diagnostic:
        """The same problem as a diagnostic, so a build can report it and go on."""
        return Diagnostic(self.position, self.message)

    def __reduce__(self) -> tuple[type[ContentError], tuple[SourcePosition, str]]:
        # Pickled by its own arguments, so it reaches the build from a worker process intact.
        return (ContentError, (self.position, self.message))


class BuildError(NotesRenderError):
    """The build itself failed: a worker process died (killed, out of memory) or broke."""

    exit_code = 1
