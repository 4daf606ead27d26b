"""Find the notes of a source folder, map each to its output path and URL, and fingerprint
the files a build reads."""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal
from urllib.parse import quote

from .errors import FatalContentError, SourcePosition
from .errors import display_path as display_path  # where messages get their paths

RESERVED = "assets"
"""The output folder the build fills with the site's own files (stylesheets, KaTeX)."""

HOME = PurePosixPath("index.html")
"""The home page's output path: the top-level index.md's page, or the generated listing."""


PathKind = Literal["file", "folder", "other", "missing", "refused"]
"""What a path a note points at is: a note is built again when it turns into another kind
("refused": hidden, or a symbolic link out of the notes, see `containment_problem`)."""


def path_kind(path: Path) -> PathKind:
    """Whether path is a file, a folder, something else (a pipe, a device), or missing."""
    if path.is_file():
        return "file"
    if path.is_dir():
        return "folder"
    return "other" if path.exists() else "missing"


@dataclass(frozen=True, slots=True)
class NoteSource:
    """One Markdown note and where its page goes."""

    path: Path
    """The file on disk, as found under the source folder."""
    rel: PurePosixPath
    """Its path relative to the source folder, e.g. `a/b.md`."""
    output: PurePosixPath = field(init=False, compare=False, repr=False)
    """The page's path relative to the output folder: `a/b.md` -> `a/b.html` (made once:
    a build asks for it a dozen times per note)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "output", self.rel.with_suffix(".html"))

    @property
    def display_path(self) -> Path:
        """The path to print in messages: relative to the working folder when possible."""
        return display_path(self.path)


def target_kind(src: Path, rel: PurePosixPath) -> PathKind:
    """What src/rel is for a note that points at it: "refused" when it may not be read (so
    a file that becomes a symbolic link out of the notes, or back, changes its kind)."""
    return "refused" if containment_problem(src, rel) is not None else path_kind(src / rel)


NAME_MAX = 255
"""The longest file name, in bytes, that Linux and macOS file systems take (Windows: 255
UTF-16 units, never fewer than the UTF-8 bytes)."""


def name_problem(note: NoteSource) -> str | None:
    """Why the note's page cannot be written under its name (one too long, or not UTF-8,
    which no URL or page can hold), or None."""
    try:
        str(note.rel).encode("utf-8")
    except UnicodeEncodeError as exc:  # a byte the file system gave as a lone surrogate
        byte = ord(str(note.rel)[exc.start]) - 0xDC00
        return f"its name is not valid UTF-8 (byte 0x{byte:02x}); rename the note"
    for part in note.output.parts:
        size = len(part.encode("utf-8", "surrogateescape"))
        if size > NAME_MAX:
            return (
                f"its page's name {part} is {size} bytes, over the {NAME_MAX} a file name may have; "
                "shorten the note's name"
            )
    return None


def is_hidden(rel: PurePosixPath) -> bool:
    """A name, or a folder on its way, starts with a dot (`.env`, `.git/config`)."""
    return any(part.startswith(".") for part in rel.parts)


def containment_problem(src: Path, rel: PurePosixPath) -> str | None:
    """Why the build must not read or publish src/rel, or None if it may.

    What may be read lies inside the source folder once every symbolic link on its way is
    followed, and is not hidden there: a link inside the notes to `~/.ssh/id_rsa` or `/etc`,
    or a `.env` beside them, would otherwise land in a site that is published as it is.
    """
    if is_hidden(rel):
        return "is hidden (a name on its way starts with a dot); hidden files are never read or published"
    if _no_link_on_the_way(src, rel):
        return None  # it is where it looks: inside, and not hidden
    root = src.resolve()
    try:
        resolved = (src / rel).resolve()
    except (OSError, RuntimeError):  # a loop of symbolic links
        return "is a loop of symbolic links"
    try:
        inside = PurePosixPath(resolved.relative_to(root).as_posix())
    except ValueError:
        return (
            f"leads outside the source folder (a symbolic link to {resolved}); it is never read or published"
        )
    if is_hidden(inside):
        return f"leads to a hidden file ({inside}); hidden files are never read or published"
    return None


def _no_link_on_the_way(src: Path, rel: PurePosixPath) -> bool:
    """True when src/rel exists and no name of rel is a symbolic link: then it resolves to
    itself inside src, and a build of thousands of notes spares their realpaths."""
    path = str(src)
    for part in rel.parts:
        if part in (".", ".."):
            return False
        path = os.path.join(path, part)
        try:
            found = os.lstat(path)
        except OSError:  # missing, or not a folder on the way: the full check says what
            return False
        # A Windows junction is no symbolic link to S_ISLNK, but resolves elsewhere all the same.
        reparse = getattr(found, "st_file_attributes", 0) & stat.FILE_ATTRIBUTE_REPARSE_POINT
        if stat.S_ISLNK(found.st_mode) or reparse:
            return False
    return True


def discover_notes(src: Path) -> list[NoteSource]:
    """All `.md` files below src, sorted by path, skipping hidden files and folders."""
    notes = []
    # Sorted as Path sorts (by parts, case-folded where the system folds case), by a key:
    # comparing thousands of Paths to each other costs a big site's no-change build a tenth.
    for path in sorted(src.rglob("*.md"), key=lambda p: tuple(map(os.path.normcase, p.parts))):
        rel = PurePosixPath(path.relative_to(src).as_posix())
        if is_hidden(rel) or "node_modules" in rel.parts:
            continue
        if path.is_file():
            notes.append(NoteSource(path=path, rel=rel))
    return notes


def check_outputs(notes: list[NoteSource], *, home: bool = True) -> None:
    """Refuse notes whose pages would collide, before anything is written.

    Two notes collide when their pages are one file on a case-insensitive file system
    (`A.md`, `a.md`; `index.md`, `INDEX.md`) or one URL on a server with clean URLs (`a.md`
    and `a/index.md` are both `a/`); a note inside `assets/` (in any case: `Assets/` is the
    same folder on macOS and Windows) would mix with the site's own files. With `home` and
    without an `index.md`, the generated home page is `index.html`, which `INDEX.md`'s page
    would be.
    """
    seen: dict[str, NoteSource] = {}
    for note in notes:
        if note.rel.parts[0].casefold() == RESERVED:
            raise FatalContentError(
                SourcePosition(note.display_path, 0, 0),
                f"{RESERVED}/ holds the site's own stylesheets and fonts; move the note out of it",
            )
        key = url_key(note.output)
        other = seen.setdefault(key, note)
        if other is not note:
            raise FatalContentError(
                SourcePosition(note.display_path, 0, 0),
                f"its page {note.output} and the page {other.output} of {other.display_path} "
                f"{_clash(note.output, other.output)}; rename one of the notes",
            )
    at_home = seen.get(url_key(HOME))
    if home and at_home is not None and at_home.rel != PurePosixPath("index.md"):
        raise FatalContentError(
            SourcePosition(at_home.display_path, 0, 0),
            f"its page {at_home.output} and the generated home page {HOME} "
            f"{_clash(at_home.output, HOME)}; rename the note",
        )


def url_key(output: PurePosixPath) -> str:
    """What two output files must not share: the clean URL of a page, case folded first, as
    a case-insensitive file system compares names (`b.HTML` is `b.html` there)."""
    text = str(output).casefold().removesuffix(".html")
    if text == "index" or text.endswith("/index"):
        text = text.removesuffix("index")
    return text.rstrip("/")


def _clash(one: PurePosixPath, other: PurePosixPath) -> str:
    if str(one).casefold() == str(other).casefold():
        return "differ only in case, so they are one file on macOS and Windows"
    return f"are both the URL '{url_key(one)}/'"


def relative_url(from_page: PurePosixPath, to_path: PurePosixPath) -> str:
    """The relative URL from one output page to another output file, percent-encoded: a
    file named `q?.html`, `hash#.html` or `pct%25.html` is a path, not a query, a fragment
    or an escape."""
    return quote(posixpath.relpath(str(to_path), str(from_page.parent) or "."), safe="/")


Stat = tuple[int, int]
"""(modification time in ns, size) of a file."""


def file_stat(path: Path) -> Stat | None:
    """A file's (mtime_ns, size), or None when it does not exist."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size)


def template_stats(templates_dir: Path) -> list[tuple[str, Stat | None]]:
    """(path relative to templates_dir, file_stat) of each template, sorted: every file
    of the folder but its assets (copied to the site, not rendered)."""
    files = sorted(
        p
        for p in templates_dir.rglob("*")
        if p.is_file() and "assets" not in p.relative_to(templates_dir).parts
    )
    return [(p.relative_to(templates_dir).as_posix(), file_stat(p)) for p in files]


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_fingerprinted(path: Path) -> tuple[bytes, Stat, str]:
    """A note's bytes, read once where it is built, with its stat taken just before and the
    digest of exactly those bytes: a note saved meanwhile looks changed to the next build."""
    stat = path.stat()
    data = path.read_bytes()
    return data, (stat.st_mtime_ns, stat.st_size), hashlib.sha256(data).hexdigest()
