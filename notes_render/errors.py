"""Errors and diagnostics: every problem in a note carries its file, line and column."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Literal


def display_path(path: Path) -> Path:
    """A path as messages print it: relative to the working folder when possible. The file
    itself is not resolved, so a symbolic link is named, not what it points at."""
    try:
        return (path.parent.resolve() / path.name).relative_to(Path.cwd())
    except ValueError:
        return path


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


def not_utf8(path: Path, data: bytes, exc: UnicodeDecodeError) -> tuple[SourcePosition, str]:
    """Where the first byte of data that is not UTF-8 is (exc: what decoding data raised),
    in the file at path (as messages print it), and the words for it."""
    line = data[: exc.start].count(b"\n") + 1
    column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
    return SourcePosition(path, line, column), f"not valid UTF-8 (byte 0x{data[exc.start]:02x})"


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
    link: str | None = None
    """For a link of a note that the build found broken: its URL, so that the site checker,
    which reads the built page, does not judge that link a second time."""

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
    """Base of the errors that stop a build; the CLI turns them into exit codes.

    What failed decides the kind: the notes (a content problem, exit 1, which stops a
    build only where it cannot go on: `FatalContentError`) or what the build runs
    in (a usage or environment problem, exit 2: `ConfigError`)."""

    exit_code = 1


class ConfigError(NotesRenderError):
    """A usage or environment problem: a bad option or setting, a missing folder, KaTeX not
    installed, a template that fails, an output folder that cannot be written."""

    exit_code = 2


class ContentError(Exception):
    """A note cannot be read or parsed at all (not UTF-8, broken front matter).

    Never a reason to stop: the one place that builds a note turns it into the note's
    `Diagnostic` and the build goes on, so it is no `NotesRenderError`."""

    def __init__(self, position: SourcePosition, message: str) -> None:
        super().__init__(f"{position}: {message}")
        self.position = position
        self.message = message

    def diagnostic(self) -> Diagnostic:
        """The same problem as a diagnostic, so a build can report it and go on."""
        return Diagnostic(self.position, self.message)

    def __reduce__(self) -> tuple[type[ContentError], tuple[SourcePosition, str]]:
        # Pickled by its own arguments, so it reaches the build from a worker process intact.
        return (type(self), (self.position, self.message))


class FatalContentError(NotesRenderError):
    """A content problem the build cannot go past, with or without --strict: outputs that
    would be one file (two notes one URL, a linked file over a page), which would lose a
    page, or a file of the notes that cannot be read while it is copied."""

    exit_code = 1

    def __init__(self, position: SourcePosition, message: str) -> None:
        super().__init__(f"{position}: {message}")
        self.position = position
        self.message = message


class BuildError(NotesRenderError):
    """The build itself failed: a worker process died (killed, out of memory) or broke."""

    exit_code = 1


def file_error(exc: OSError, *, notes: Path | None = None, own: Collection[Path] = ()) -> NotesRenderError:
    """What a failed file operation is, decided by what failed. A file of the notes folder
    that cannot be read (an image a note links to, copied into the site) is a content
    problem: FatalContentError, exit 1, as for a note that cannot be read. Anything else is
    the environment's: the output folder (full disk, no permission), the templates, KaTeX,
    the system; ConfigError, exit 2. `own`: folders of the build's own files, which count
    as its environment even inside the notes (a preview's output folder)."""
    reason = exc.strerror or str(exc)
    if not isinstance(exc.filename, str | Path):
        return ConfigError(str(exc))  # the system named no file
    path = Path(exc.filename)
    if notes is not None and _within(path, notes) and not any(_within(path, folder) for folder in own):
        return FatalContentError(SourcePosition(display_path(path), 0, 0), f"cannot be read: {reason}")
    return ConfigError(f"{display_path(path)}: {reason}")


def _within(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):  # a loop of symbolic links
        return False
