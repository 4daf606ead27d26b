"""Writing the site: the output folder's ownership rule, atomic writes that skip unchanged
files, and the manifest of what the build wrote.

The build replaces or removes only files it owns: those listed in the manifest of an
earlier build, or a copy whose bytes are already what it would write. Anything else in the
output folder (the user's own files, a symbolic link, a folder where a page goes) stops the
build before a file is written, so an output folder that also holds the user's files never
loses one. The manifest names every file a build is about to write before it writes the
first, so a build that fails or is killed half-way leaves nothing a later build does not
clean up; so do the temporary files it leaves, whose names say they are ours.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

import filelock

from ..errors import ConfigError

MANIFEST_NAME = ".notes-render-manifest.json"
"""File in the output folder listing every file the last build wrote there."""

LOCK_NAME = ".notes-render.lock"
"""File in the output folder that a build holds locked while it writes there."""

TEMPORARY = re.compile(r"\.notes-render-([0-9a-f]{8})-[0-9a-f]{16}\.tmp")
"""The name of a temporary file a write renames into place: a tag of the target's name,
then a random part; 43 bytes whatever the target's name, so it never exceeds a file
system's 255-byte limit where the target does not."""

SHOWN = 10
"""How many foreign files an error names before it only counts the rest."""


@contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold out's lock while writing; a second build into the same folder fails at once.

    The lock is the operating system's (flock, or LockFileEx on Windows), never a file whose
    mere presence says "locked": the system releases it when the process ends, so a crashed
    or killed build never leaves a stale lock behind. The empty lock file itself stays.
    """
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK_NAME
    if path.is_symlink():  # opening it would create or lock whatever it points at
        raise _lock_through_link(out)
    lock = filelock.FileLock(
        path,
        blocking=False,  # one attempt: a second build is told at once, it never waits
        fallback_to_soft=False,  # a soft lock would outlive a killed build
        preserve_lock_file=True,  # the same empty file on every system, nothing to clean up
        thread_local=False,
    )
    try:
        lock.acquire()
    except filelock.Timeout:
        raise ConfigError(
            f"another build is writing to {out} (it holds {path}); "
            "wait for it to finish, or choose another --out"
        ) from None
    except OSError:
        if path.is_symlink():  # made after the check above: filelock's open refuses to follow it
            raise _lock_through_link(out) from None
        raise
    try:
        yield
    finally:
        lock.release()


def _lock_through_link(out: Path) -> ConfigError:
    return ConfigError(
        f"--out {out} holds a symbolic link where the build keeps its lock: {out / LOCK_NAME}; "
        "remove it or choose another output folder"
    )


# --- temporary files --------------------------------------------------------------------


def _tag(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:8]


def _temporary(target: Path) -> tuple[int, Path]:
    """Create target's temporary file beside it, exclusively; its descriptor and path."""
    while True:
        path = target.parent / f".notes-render-{_tag(target.name)}-{secrets.token_hex(8)}.tmp"
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
            return os.open(path, flags, 0o644), path
        except FileExistsError:  # pragma: no cover - 64 random bits
            continue


def remove_temporaries(folder: Path, *, of: str | None = None) -> int:
    """Remove the temporary files a killed write left: in folder and below, or with `of`,
    in folder only and only those of the file of that name. Returns how many went.

    Call it only while no other write into folder can be under way (under the lock)."""
    if of is not None:
        tag = _tag(of)
        found = [p for p in _listdir(folder) if _is_temporary(p.name, tag)]
    else:
        found = [
            Path(root) / name
            for root, _, names in os.walk(folder)  # never follows a symbolic link
            for name in names
            if _is_temporary(name)
        ]
    for path in found:
        if not path.is_symlink():
            path.unlink(missing_ok=True)
    return len(found)


def _is_temporary(name: str, tag: str | None = None) -> bool:
    match = TEMPORARY.fullmatch(name)
    return match is not None and (tag is None or match.group(1) == tag)


def _listdir(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError:
        return []


# --- atomic writes ----------------------------------------------------------------------


def write_atomic(path: Path, data: bytes | Sequence[bytes]) -> bool:
    """Write data (bytes, or pieces of it to write one after the other) to path via a
    temporary file and rename; False if it already held data."""
    pieces = [data] if isinstance(data, bytes) else data
    try:
        if path.stat().st_size == sum(len(piece) for piece in pieces) and _holds(path, pieces):
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _temporary(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            for piece in pieces:
                handle.write(piece)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return True


_COMPARED = 1 << 20
"""Bytes of a file read at a time to compare it with what would be written."""


def _holds(path: Path, pieces: Sequence[bytes]) -> bool:
    """Whether the file at path holds exactly the pieces, one after the other (same size
    known), read a megabyte at a time rather than whole beside them."""
    with path.open("rb") as handle:
        for piece in pieces:
            view = memoryview(piece)
            for start in range(0, len(view), _COMPARED):
                chunk = view[start : start + _COMPARED]
                if handle.read(len(chunk)) != chunk:
                    return False
    return True


def copy_atomic(source: Path, target: Path) -> bool:
    """Copy a file unless target already has the same size and modification time.

    Times are compared to the nanosecond (the copy carries the source's), so a file saved
    twice within one second at the same size is still copied again.
    """
    stat = source.stat()
    try:
        existing = target.stat()
        if existing.st_size == stat.st_size and existing.st_mtime_ns == stat.st_mtime_ns:
            return False
    except FileNotFoundError:
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _temporary(target)
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        os.chmod(tmp, 0o644)
        os.utime(tmp, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return True


# --- the manifest and the ownership rule ------------------------------------------------


def is_inside(rel: PurePosixPath) -> bool:
    """True for a relative path that stays inside the folder it is relative to."""
    return bool(rel.parts) and not rel.is_absolute() and ".." not in rel.parts and "\\" not in str(rel)


def read_manifest(out: Path) -> set[PurePosixPath]:
    """Files the previous build wrote into out (empty when there was none or it is
    unreadable); entries that would leave out are dropped."""
    try:
        data = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
        listed = {PurePosixPath(p) for p in data["files"] if isinstance(p, str)}
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    return {rel for rel in listed if is_inside(rel)}


class OutputFolder:
    """The output folder as one build sees it, under its lock: what the build owns there,
    and the only ways it changes the folder."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.owned = read_manifest(out)
        """Files an earlier build wrote (and so this one may replace or remove)."""
        remove_temporaries(out)  # left by a build that was killed while it wrote

    def claim(
        self,
        planned: Mapping[PurePosixPath, Path | None],
        left: Mapping[PurePosixPath, tuple[int, int]] | None = None,
    ) -> None:
        """Make sure every planned file (relative path -> the file it copies, or None for a
        file the build makes) is the build's to write, then list them all in the manifest
        before the first is written.

        A file is the build's when the manifest lists it, when it is already a byte-for-byte
        copy of its source, or when it still has the (mtime_ns, size) the last build `left`
        it with. Any other planned file that exists, a symbolic link or a non-folder on its
        way, or a folder in its place is refused with a ConfigError naming every such path;
        nothing has been written then.
        """
        foreign: list[str] = []
        checked: dict[PurePosixPath, str | None] = {}
        for rel in sorted(planned):
            if not is_inside(rel):
                raise ConfigError(f"refusing to write {rel}: it would leave the output folder {self.out}")
            problem = None
            for folder in reversed(rel.parents[:-1]):  # the folders on its way, outermost first
                if folder not in checked:
                    checked[folder] = self._folder_problem(folder)
                problem = checked[folder]
                if problem:
                    break
            problem = problem or self._file_problem(rel, planned[rel], (left or {}).get(rel))
            if problem and problem not in foreign:
                foreign.append(problem)
        if foreign:
            shown = ", ".join(foreign[:SHOWN]) + (
                f" and {len(foreign) - SHOWN} more" if len(foreign) > SHOWN else ""
            )
            raise ConfigError(
                f"--out {self.out} holds files this build did not write, and it will not replace them: "
                f"{shown}; move them away or choose another output folder"
            )
        if not planned.keys() <= self.owned:
            self.owned |= planned.keys()
            self._write_manifest(self.owned)

    def _folder_problem(self, rel: PurePosixPath) -> str | None:
        path = self.out / rel
        if path.is_symlink():
            return f"{path} (a symbolic link)"
        if path.exists() and not path.is_dir():
            return f"{path} (a file where the build needs a folder)"
        return None

    def _file_problem(
        self, rel: PurePosixPath, source: Path | None, left: tuple[int, int] | None
    ) -> str | None:
        path = self.out / rel
        if path.is_symlink():
            return f"{path} (a symbolic link)"
        if not path.exists():
            return None
        if not path.is_file():
            return f"{path} (a folder where the build writes a file)"
        if rel in self.owned or (source is not None and _same_bytes(path, source)):
            return None
        stat = path.stat()
        if left is not None and (stat.st_mtime_ns, stat.st_size) == tuple(left):
            return None
        return str(path)

    def finish(self, written: set[PurePosixPath], *, keep: bool = False) -> None:
        """Remove the files owned before that this build did not write (with `keep`, none:
        a partial build), and record what the folder now holds of the build's."""
        root = self.out.resolve()
        gone = set() if keep else self.owned - written
        for rel in sorted(gone):
            target = self.out / rel
            if target.resolve() != root / rel:
                continue  # never through a symbolic link, to a file or to a folder, anywhere on the way
            if target.is_file() and not target.is_symlink():
                target.unlink()
                _remove_empty_parents(target.parent, self.out)
        self.owned = written | (self.owned if keep else set())
        self._write_manifest(self.owned)

    def _write_manifest(self, files: set[PurePosixPath]) -> None:
        manifest = json.dumps({"files": sorted(str(p) for p in files)}, indent=1) + "\n"
        write_atomic(self.out / MANIFEST_NAME, manifest.encode("utf-8"))


def _same_bytes(path: Path, source: Path) -> bool:
    try:
        return path.stat().st_size == source.stat().st_size and path.read_bytes() == source.read_bytes()
    except OSError:
        return False


def _remove_empty_parents(folder: Path, out: Path) -> None:
    while folder != out and folder.is_relative_to(out):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
