"""The planner: from the last build's state and the notes found now, what this build does
and why.

Three pure decisions, each made as soon as what it needs is known: which notes to build
(`plan_builds`, before any is built), which unchanged notes to build again because a note
they link to shows differently (`linked_to_changed`, once the changed ones are built), and
which pages to render again (`plan_pages`). None of them touches a file: what they need
to know of the disk they ask a `Files`, so a test can hand them a folder held in memory.
Every decision carries its reason, which `--verbose` prints.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Protocol

from ..sources import HOME, NoteSource, PathKind, Stat, containment_problem, file_stat, target_kind
from .record import Listed, NoteRecord
from .state import BuildState


class Files(Protocol):
    """What the planner needs to know of the disk."""

    def stat(self, path: Path) -> Stat | None:
        """A file's (mtime_ns, size), None when it is not there."""

    def digest(self, path: Path) -> str | None:
        """SHA-256 of a regular file's bytes, None when path is no regular file."""

    def kind(self, src: Path, rel: PurePosixPath) -> PathKind:
        """What a note's link to rel finds (sources.target_kind)."""

    def refused(self, src: Path, rel: PurePosixPath) -> str | None:
        """Why a note at rel may not be read, None when it may (sources.containment_problem)."""


class Disk:
    """The real disk, as the build sees it."""

    def stat(self, path: Path) -> Stat | None:
        return file_stat(path)

    def digest(self, path: Path) -> str | None:
        try:
            return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        except OSError:
            return None

    def kind(self, src: Path, rel: PurePosixPath) -> PathKind:
        return target_kind(src, rel)

    def refused(self, src: Path, rel: PurePosixPath) -> str | None:
        return containment_problem(src, rel)


@dataclass(frozen=True, slots=True)
class Fingerprints:
    """What every page depends on besides its note (see state.inputs_fingerprint)."""

    inputs: str
    """Code, settings and KaTeX: what every body depends on."""
    layout: str
    """Templates and site title: what every page around a body depends on."""


@dataclass(frozen=True, slots=True)
class Plan:
    """Which notes a build builds, which it takes over from the last one, which are gone."""

    build: dict[PurePosixPath, str]
    """Notes to parse, transform and typeset, in note order, each with why."""
    keep: dict[PurePosixPath, NoteRecord]
    """Notes unchanged since the last build: its record, taken over as it is."""
    removed: dict[PurePosixPath, str]
    """Notes of the last build that are not there any more (their pages go), each with why."""


@dataclass(frozen=True, slots=True)
class PagePlan:
    """Which pages of notes not built now are rendered again, and whether the home page is."""

    render: dict[PurePosixPath, str]
    """Notes whose page is rendered again from its kept body, each with why."""
    home: str | None
    """Why the home page is rendered again; None: it stays as it is (or there is none)."""


def plan_builds(
    previous: BuildState, now: Fingerprints, notes: Sequence[NoteSource], src: Path, files: Files
) -> Plan:
    """What to build of the notes found in src, from what the last build made of them."""
    build: dict[PurePosixPath, str] = {}
    keep: dict[PurePosixPath, NoteRecord] = {}
    for note in notes:
        old = previous.notes.get(note.rel)
        if previous.inputs != now.inputs:
            build[note.rel] = "code, settings or KaTeX changed" if previous.inputs else "not built before"
        elif old is None:
            build[note.rel] = "new note"
        else:
            why, record = _note_change(note, old, src, files)
            if why is None:
                keep[note.rel] = record
            else:
                build[note.rel] = why
    found = {note.rel for note in notes}
    removed = {rel: "removed" for rel in sorted(previous.notes.keys() - found)}
    return Plan(build, keep, removed)


def _note_change(note: NoteSource, old: NoteRecord, src: Path, files: Files) -> tuple[str | None, NoteRecord]:
    """Why a note is built again (None: it is not), and its record to keep otherwise: the
    same, with its new time when the file was touched but its bytes are as they were."""
    stat = files.stat(note.path)
    record = old if old.source == note else replace(old, source=note)
    if stat != old.source_stat:
        if stat is None:
            return "cannot be read", old
        if stat[1] != old.source_stat[1] or files.digest(note.path) != old.source_digest:
            return "content changed", old
        record = replace(record, source_stat=stat)  # touched, not changed
    refused = files.refused(src, note.rel)
    if refused is not None:
        return f"this note {refused}", old  # refused as a fresh build would
    for target, kind in old.targets.items():
        now = files.kind(src, target)
        if now != kind:
            return f"{target} it links to: was {kind}, now {now}", old
    for path, (was, digest) in old.depends.items():
        if not _same_file(files, Path(path), was, digest):
            return f"{path} it reads changed", old
    return None, record


def _same_file(files: Files, path: Path, stat: Stat | None, digest: str) -> bool:
    """True when a file a body was made from is as it was (or still missing)."""
    now = files.stat(path)
    if now == stat:
        return True
    # Only a regular file is read: a path from an edited state may name a pipe or /dev/zero.
    return now is not None and stat is not None and files.digest(path) == digest


def linked_to_changed(
    previous: Mapping[PurePosixPath, NoteRecord],
    current: Mapping[PurePosixPath, NoteRecord],
    built: Sequence[PurePosixPath],
) -> dict[PurePosixPath, str]:
    """Notes not built now that point at a note whose listing entry (title...) changed, or
    that appeared or went: what they show of it may have changed, so they are built again."""
    changed = changed_listings(previous, current)
    again: dict[PurePosixPath, str] = {}
    for rel, record in current.items():
        if rel in built:
            continue
        targets = sorted(changed.keys() & record.targets.keys())
        if targets:
            what = changed[targets[0]]
            which = f"which is {what}" if what in ("new", "gone") else f"whose {what}"
            again[rel] = f"links to {targets[0]}, {which}"
    return again


def changed_listings(
    previous: Mapping[PurePosixPath, NoteRecord], current: Mapping[PurePosixPath, NoteRecord]
) -> dict[PurePosixPath, str]:
    """Notes whose listing entry changed since the last build, or that appeared or went,
    each with what changed of it."""
    changed: dict[PurePosixPath, str] = {}
    for rel in previous.keys() | current.keys():
        old, new = previous.get(rel), current.get(rel)
        if old is new:  # a record kept as it was (most of a big site's): nothing to compare
            continue
        if old is None:
            changed[rel] = "new"
        elif new is None:
            changed[rel] = "gone"
        else:
            what = _listing_change(old.listing_entry, new.listing_entry)
            if what is not None:
                changed[rel] = what
    return dict(sorted(changed.items()))  # sorted here, not the thousands that did not change


def _listing_change(old: Listed, new: Listed) -> str | None:
    for name in ("title", "date", "description", "labels"):
        if getattr(old, name) != getattr(new, name):
            return f"{name.rstrip('s')} changed"
    return None


def plan_pages(
    previous: BuildState,
    now: Fingerprints,
    current: Mapping[PurePosixPath, NoteRecord],
    built: Sequence[PurePosixPath],
    out: Path,
    files: Files,
    *,
    home: bool,
) -> PagePlan:
    """Which pages of the notes not built now to render again, and the home page (with
    `home`): all of them when the templates or what any page lists of the notes changed,
    else those whose file is not as the last build left it."""
    everything = _render_all(previous, now, current)
    render: dict[PurePosixPath, str] = {}
    for rel, record in current.items():
        if rel in built:
            continue
        why = everything or _file_change(files.stat(out / record.source.output), record.output_stat)
        if why is not None:
            render[rel] = why
    home_why = None
    if home:
        recorded = previous.generated.get(str(HOME))
        home_why = everything or _file_change(files.stat(out / HOME), recorded)
        if home_why is None and previous.inputs != now.inputs:
            home_why = "code, settings or KaTeX changed"
    return PagePlan(render, home_why)


def _render_all(
    previous: BuildState, now: Fingerprints, current: Mapping[PurePosixPath, NoteRecord]
) -> str | None:
    """Why every page is rendered again, None when not every one needs it."""
    if previous.layout != now.layout:
        return "templates or site settings changed" if previous.layout else "not rendered before"
    changed = changed_listings(previous.notes, current)
    if changed:
        rel, what = next(iter(changed.items()))
        if what in ("new", "gone"):
            return f"a note was {'added' if what == 'new' else 'removed'}: {rel}"
        return f"a {what}"
    return None


def _file_change(now: Stat | None, recorded: Stat | None) -> str | None:
    """Why a page file is written again: it is not as the last build left it."""
    if recorded is None:
        return "not written before"
    if now is None:
        return "page file missing"
    return None if now == recorded else "page file changed since the last build"
