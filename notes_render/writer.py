"""Writing the site: atomic writes that skip unchanged files, and a manifest of what we wrote.

Only files listed in the manifest of an earlier build are ever removed, so an output
folder that also holds the user's own files never loses them.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from .errors import ConfigError

MANIFEST_NAME = ".notes-render-manifest.json"
"""File in the output folder listing every file the last build wrote there."""

LOCK_NAME = ".notes-render.lock"
"""File in the output folder that a build holds locked while it writes there."""


@contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold out's lock while writing; a second build into the same folder fails at once.

    flock is released by the kernel when the process ends, so a crashed or killed build
    never leaves a stale lock behind; the empty lock file itself stays.
    """
    out.mkdir(parents=True, exist_ok=True)
    with open(out / LOCK_NAME, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                f"another build is writing to {out} (it holds {out / LOCK_NAME}); "
                "wait for it to finish, or choose another --out"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_atomic(path: Path, data: bytes) -> bool:
    """Write data to path via a temporary file and rename; False if it already held data."""
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
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
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        shutil.copyfile(source, tmp_name)
        os.chmod(tmp_name, 0o644)
        os.utime(tmp_name, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return True


def read_manifest(out: Path) -> set[PurePosixPath]:
    """Files the previous build wrote into out (empty when there was none or it is unreadable)."""
    try:
        data = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
        return {PurePosixPath(p) for p in data["files"] if isinstance(p, str)}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def finish(out: Path, written: set[PurePosixPath], previous: set[PurePosixPath]) -> None:
    """Record this build's files and remove those only the previous build wrote."""
    root = out.resolve()
    for rel in sorted(previous - written):
        if rel.is_absolute() or ".." in rel.parts:
            continue  # a tampered manifest must never reach outside the output folder
        target = out / rel
        if target.resolve() != root / rel:
            continue  # nor through a symbolic link, to a file or to a folder, anywhere on the way
        if target.is_file() and not target.is_symlink():
            target.unlink()
            _remove_empty_parents(target.parent, out)
    manifest = json.dumps({"files": sorted(str(p) for p in written)}, indent=1) + "\n"
    write_atomic(out / MANIFEST_NAME, manifest.encode("utf-8"))


def _remove_empty_parents(folder: Path, out: Path) -> None:
    while folder != out and folder.is_relative_to(out):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
