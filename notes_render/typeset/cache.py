"""The formula cache: KaTeX's answers kept on disk, so a formula is typeset once, ever.

`Store` holds them, and cached.py's `CachedEngine` answers from it. Entries live in one
SQLite file (WAL mode, so two builds may read and write at once), each with a checksum: an
entry that does not match is ignored and typeset again, never served. Rendered note bodies
are kept there too (see build/ and bodies.py), so a template change re-renders pages without
typesetting anything, and so is highlighted code, so a note whose code blocks did not change never
loads Pygments.

A cache is an optimisation: one that is locked by another process for long, cannot be
written (read-only, full disk) or is not a folder turns its Store off for the rest of the
build, which goes on without it and reports the reason once (`Store.trouble`).
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..errors import ConfigError, Diagnostic, SourcePosition
from ..sources import display_path

DB_NAME = "cache.sqlite3"
"""The SQLite file inside the cache folder."""

FORMULAS = "formulas"
BODIES = "bodies"
CODE = "code"
_TABLES = (FORMULAS, BODIES, CODE)

_DAY_S = 86400

PAGE_SIZE = 16384
"""SQLite page size of a new cache file, in bytes."""

GROUP_BYTES = 4 * 2**20
"""Bytes of entries gathered over several notes' batches before they are written in one
transaction (see Store.batch)."""

BUSY_TIMEOUT_S = 5.0
"""How long a read or write waits for another process's write to the cache: ample for
another build's transaction (one note's entries), and the build's only wait if the lock is
held for longer (then it goes on without the cache)."""


class Store:
    """A key-value store of checksummed entries in SQLite; every failure is a miss.

    Safe when several builds (or worker processes) use it at once: SQLite's WAL mode lets
    readers and one writer proceed together, and writers wait for each other, up to
    BUSY_TIMEOUT_S. A cache that stays locked or cannot be written turns the store off:
    later reads miss and writes are dropped, without waiting again, and `trouble` says why.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.trouble: Diagnostic | None = None
        """Why the store stopped using the cache (a warning naming it), or None."""
        self._db: sqlite3.Connection | None = None
        self._unwritten: dict[str, dict[str, tuple[str, bytes, str, int]]] = {}
        """Entries put and not written yet, by table and key (see batch)."""
        self._unwritten_bytes = 0
        self._batches = 0
        """How many batches are open: puts outside one are written at once."""

    @property
    def path(self) -> Path:
        """The SQLite file."""
        return self.folder / DB_NAME

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            try:
                self._db = self._open()
            except sqlite3.DatabaseError as exc:
                if not _damaged(exc):
                    raise  # busy or unwritable: the callers give up on the cache
                self._discard()  # not a database (truncated, overwritten): start a new one
                self._db = self._open()
        return self._db

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            # Entries are kilobytes (formulas) to megabytes (bodies): bigger pages than the
            # default 4 KB take a third less time to write. It applies to a new file only.
            db.execute(f"PRAGMA page_size={PAGE_SIZE}")
            _use_wal(db)
            # No fsync: a cache may lose its last entries in a power cut, and a damaged entry
            # fails its checksum and is typeset again; fsyncs cost more than the typesetting.
            db.execute("PRAGMA synchronous=OFF")
            for table in _TABLES:
                db.execute(
                    f"CREATE TABLE IF NOT EXISTS {table} "
                    "(key TEXT PRIMARY KEY, value BLOB NOT NULL, digest TEXT NOT NULL, used INTEGER NOT NULL)"
                )
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _give_up(self, exc: Exception) -> None:
        """Stop using the cache for the rest of this build, remembering why (the first time)."""
        self._drop_unwritten()
        self.close()
        if self.trouble is None:
            self.trouble = cache_warning(self.folder, exc)

    def _discard(self) -> None:
        self._drop_unwritten()
        if self._db is not None:
            self._db.close()
            self._db = None
        for suffix in ("", "-wal", "-shm"):
            (self.folder / (DB_NAME + suffix)).unlink(missing_ok=True)

    def get_many(self, table: str, keys: Sequence[str]) -> dict[str, bytes]:
        """The intact entries among keys; missing or damaged ones are simply absent."""
        if not keys or self.trouble is not None:
            return {}
        unwritten = self._unwritten.get(table, {})
        found = {key: unwritten[key][1] for key in keys if key in unwritten}
        today = int(time.time()) // _DAY_S
        try:
            db = self._connect()
            unique = [key for key in dict.fromkeys(keys) if key not in found]
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT key, value, digest, used FROM {table} WHERE key IN ({marks})", chunk
                ).fetchall()
                stale = []
                for key, value, digest, used in rows:
                    if isinstance(value, bytes) and _digest(value) == digest:
                        found[key] = value
                        if used < today:
                            stale.append(key)
                if stale:  # remember use at most once a day, for `cache prune`
                    marks = ",".join("?" * len(stale))
                    db.execute(f"UPDATE {table} SET used = ? WHERE key IN ({marks})", [today, *stale])
        except sqlite3.DatabaseError as exc:
            if _damaged(exc):
                self._discard()  # damaged beyond single entries: rebuilt anew
            else:
                self._give_up(exc)  # busy too long, unreadable: no cache this build
        except OSError as exc:  # the folder cannot be made: not a folder, no permission
            self._give_up(exc)
        return found

    def put_many(self, table: str, items: Iterable[tuple[str, bytes]]) -> None:
        """Store entries; a cache that cannot be written only costs speed, never the build."""
        today = int(time.time()) // _DAY_S
        rows = [(key, value, _digest(value), today) for key, value in items]
        if not rows or self.trouble is not None:
            return
        unwritten = self._unwritten.setdefault(table, {})
        for row in rows:
            unwritten[row[0]] = row
            self._unwritten_bytes += len(row[1])
        if not self._batches:
            self.flush()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Hold the puts made inside (one note's entries) for a later transaction, written
        once GROUP_BYTES have gathered, at flush() or at close(). Every transaction rewrites
        each page of the key index it touches, and keys are hashes, spread over the whole
        index: one transaction a note wrote 2.6 times corpus200's data into the WAL. Entries
        held are found by get_many as if written."""
        self._batches += 1
        try:
            yield
        finally:
            self._batches -= 1
            if not self._batches and self._unwritten_bytes >= GROUP_BYTES:
                self.flush()

    def flush(self) -> None:
        """Write every entry held, in one transaction."""
        puts = [(table, list(rows.values())) for table, rows in self._unwritten.items() if rows]
        self._drop_unwritten()
        self._write(puts)

    def _drop_unwritten(self) -> None:
        self._unwritten = {}
        self._unwritten_bytes = 0

    def _write(self, puts: list[tuple[str, list[tuple[str, bytes, str, int]]]]) -> None:
        if not puts or self.trouble is not None:
            return
        try:
            db = self._connect()
            with db:
                db.execute("BEGIN IMMEDIATE")
                for table, rows in puts:
                    db.executemany(f"INSERT OR REPLACE INTO {table} VALUES (?, ?, ?, ?)", rows)
        except sqlite3.DatabaseError as exc:
            if _damaged(exc):
                self._discard()
            else:
                self._give_up(exc)  # busy too long, read-only, full: no cache this build
        except OSError as exc:
            self._give_up(exc)

    def prune(self, max_age_days: int) -> int:
        """Remove entries no build has used for max_age_days; returns how many went.

        Only a database that is ours is touched (the tables a build makes, with their
        columns); none is made where there was none.
        """
        if not self.path.is_file():
            return 0
        cutoff = int(time.time()) // _DAY_S - max_age_days
        try:
            db = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=rw",
                uri=True,
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,
            )
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"cannot prune {self.path}: {exc}") from exc
        try:
            tables = [table for table in _TABLES if _columns(db, table)]
            if not tables or any(_columns(db, table) != _COLUMNS for table in tables):
                raise ConfigError(f"{self.path} is not a notes-render cache; nothing was removed")
            removed = 0
            for table in tables:
                removed += db.execute(f"DELETE FROM {table} WHERE used <= ?", (cutoff,)).rowcount
            db.execute("VACUUM")
        except sqlite3.DatabaseError as exc:  # locked by a build for long, read-only, not SQLite
            raise ConfigError(f"cannot prune {self.path}: {exc}") from exc
        finally:
            db.close()
        return removed

    def close(self) -> None:
        """Write the entries held, and close the database (it is reopened on next use)."""
        self.flush()
        if self._db is not None:
            self._db.close()
            self._db = None


def cache_warning(folder: Path, exc: Exception) -> Diagnostic:
    """The one warning of a build whose cache failed: where, why, and that it went on."""
    # A failed rename names the temporary file first and its target second: name the target.
    named = Path(exc.filename2 or exc.filename or folder) if isinstance(exc, OSError) else folder
    if isinstance(exc, FileExistsError | NotADirectoryError):  # the file on the way, not below it
        where = next((p for p in reversed([named, *named.parents]) if p.exists() and not p.is_dir()), named)
        why = (
            "the cache folder exists and is not a folder"
            if where == folder
            else "a file where the cache needs a folder"
        )
    elif isinstance(exc, OSError):
        where, why = named, f"cannot write the cache ({exc.strerror or exc})"
    elif getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        where, why = folder / DB_NAME, f"the cache is locked by another process (waited {BUSY_TIMEOUT_S:g} s)"
    else:
        where, why = folder / DB_NAME, f"cannot use the cache ({exc})"
    message = f"{why}; this build goes on without it"
    return Diagnostic(SourcePosition(display_path(where), 0, 0), message, "warning")


def body_key(body: bytes) -> str:
    """The key of a note's body HTML: its own hash, so equal bodies share one entry."""
    return hashlib.sha256(body).hexdigest()


_COLUMNS = ["key", "value", "digest", "used"]


def _use_wal(db: sqlite3.Connection) -> None:
    """Put the file in WAL mode, waiting up to BUSY_TIMEOUT_S for other connections.

    Switching a new file to WAL takes an exclusive lock, and SQLite answers "locked" at once,
    without its busy handler, when another connection is writing or switching the same file:
    two workers opening a new cache together would lose it for the whole build. WAL is a
    property of the file, so once one of them has switched it the others find it done.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    pause = 0.001
    while True:
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
            if not busy or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    """The columns of a table, in order ([] when there is no such table)."""
    return [row[1] for row in db.execute(f"PRAGMA table_info({table})").fetchall()]


def _damaged(exc: sqlite3.DatabaseError) -> bool:
    """The file is not a database or is corrupt (not merely busy or unwritable)."""
    return getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def _digest(value: bytes) -> str:
    # CRC-32 finds damage (a torn write, flipped bits) as surely as a cryptographic hash
    # would, at a fifth of the cost; nothing here guards against a deliberate forgery.
    return f"crc32:{zlib.crc32(value):08x}"
