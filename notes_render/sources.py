"""Find the notes of a source folder and map each to its output path and URL."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


@dataclass(frozen=True, slots=True)
class NoteSource:
    """One Markdown note and where its page goes."""

    path: Path
    """The file on disk, as found under the source folder."""
    rel: PurePosixPath
    """Its path relative to the source folder, e.g. `a/b.md`."""

    @property
    def output(self) -> PurePosixPath:
        """The page's path relative to the output folder: `a/b.md` -> `a/b.html`."""
        return self.rel.with_suffix(".html")

    @property
    def display_path(self) -> Path:
        """The path to print in messages: relative to the working folder when possible."""
        try:
            return self.path.resolve().relative_to(Path.cwd())
        except ValueError:
            return self.path


def discover_notes(src: Path) -> list[NoteSource]:
    """All `.md` files below src, sorted by path, skipping hidden files and folders."""
    notes = []
    for path in sorted(src.rglob("*.md")):
        rel = PurePosixPath(path.relative_to(src).as_posix())
        if any(part.startswith(".") or part == "node_modules" for part in rel.parts):
            continue
        if path.is_file():
            notes.append(NoteSource(path=path, rel=rel))
    return notes


def relative_url(from_page: PurePosixPath, to_path: PurePosixPath) -> str:
    """The relative URL from one output page to another output file."""
    return posixpath.relpath(str(to_path), str(from_page.parent) or ".")
