"""The build state: what the last build made of each note, so the next one redoes only
what changed.

One JSON file in the cache folder per (source folder, output folder) pair records each
note's fingerprint (modification time and size, then a content hash) and its record, and
fingerprints of everything else a page depends on. Reading it loads nothing heavy, so a
rebuild that finds nothing to do never imports markdown-it, Jinja or V8.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar, cast, get_args

from .. import __version__
from ..config import Config
from ..errors import Diagnostic, SourcePosition
from ..site import writer
from ..sources import NoteSource, PathKind, Stat, file_stat, template_stats
from ..typeset.katex import engine_id
from .record import NoteRecord
from .statefile import state_name

_T = TypeVar("_T")

STATE_VERSION = 4
"""Bumped when the file's layout changes; a state of another version is ignored."""

STATE_KIND = "notes-render build state"
"""The `kind` of every state file: `cache prune` removes no file without it."""

_PACKAGE = Path(__file__).resolve().parent.parent
"""notes_render/, every module of which can change what a build makes."""
# Third-party code whose version changes the pages' HTML (code highlighting, Markdown).
_LIBRARIES = ("markdown_it", "mdit_py_plugins", "pygments", "yaml")


@dataclass(slots=True)
class BuildState:
    """The notes of the last build and the fingerprints they were built under."""

    inputs: str = ""
    """Fingerprint of what every body depends on: code, settings, KaTeX."""
    layout: str = ""
    """Fingerprint of what every page around a body depends on: templates, site title."""
    notes: dict[PurePosixPath, NoteRecord] = field(default_factory=dict)
    """The notes built, by path relative to the source folder."""
    generated: dict[str, Stat] = field(default_factory=dict)
    """Files made from no note (the home page, Pygments' stylesheet), as the build left them."""


# --- fingerprints -----------------------------------------------------------------------


def code_files() -> list[Path]:
    """Every module of the package, in every subpackage: a changed one builds every note again."""
    return sorted(_PACKAGE.rglob("*.py"))


def inputs_fingerprint(config: Config, katex: str) -> str:
    """Everything besides its source that decides a note's body and diagnostics."""
    code = [(p.relative_to(_PACKAGE).as_posix(), file_stat(p)) for p in code_files()]
    for name in _LIBRARIES:
        spec = importlib.util.find_spec(name)
        code.append((name, file_stat(Path(spec.origin)) if spec and spec.origin else None))
    material = [
        STATE_VERSION,
        __version__,
        code,
        str(config.src.resolve()),
        os.getcwd(),
        sorted(config.macros.items()),
        [str(config.bibliography), config.citation_style],
        config.theorem_numbering,
        engine_id(katex, trust_links=config.trust_links),
        config.dialect,
    ]
    return _hash(material)


def layout_fingerprint(config: Config, katex: str) -> str:
    """Everything besides the notes that decides the pages around their bodies."""
    material = [str(config.out.resolve()), config.site_title, katex, template_stats(config.templates_dir)]
    return _hash(material)


def _hash(material: Any) -> str:
    return hashlib.sha256(json.dumps(material, default=str).encode("utf-8")).hexdigest()


# --- the file ---------------------------------------------------------------------------


def load(path: Path | None) -> BuildState:
    """The state at path; an empty one when there is none or it cannot be read."""
    if path is None:
        return BuildState()
    try:
        data = _check(json.loads(path.read_bytes()), dict)
        if data.get("version") != STATE_VERSION:
            return BuildState()
        return BuildState(
            inputs=_check(data["inputs"], str),
            layout=_check(data["layout"], str),
            notes={
                (rel := _inside(key)): _record_from(rel, item)
                for key, item in _check(data["notes"], dict).items()
            },
            generated={
                str(_inside(key)): _stat_from(v) for key, v in _check(data["generated"], dict).items()
            },
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        # A damaged or edited state only costs a full build: every value is checked for its
        # type, and every path for staying inside its folder, before any is used.
        return BuildState()


def save(path: Path | None, state: BuildState, config: Config) -> None:
    """Write the state atomically, so a concurrent or interrupted build never reads half."""
    if path is None:
        return
    data = {
        "kind": STATE_KIND,
        "version": STATE_VERSION,
        "src": str(config.src.resolve()),
        "out": str(config.out.resolve()),
        "inputs": state.inputs,
        "layout": state.layout,
        "generated": state.generated,
        "notes": {str(rel): _record_data(record) for rel, record in state.notes.items()},
    }
    # Only the build holding the output folder's lock writes this file: one left half-written
    # by a build that was killed is its own to remove.
    writer.remove_temporaries(path.parent, of=path.name)
    writer.write_atomic(path, json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def prune(cache_dir: Path) -> int:
    """Remove the states of builds whose source or output folder is gone (a preview's
    temporary folder, a deleted site); returns how many were removed.

    Only files a build wrote are candidates: a regular file of the right kind, whose
    name is the one its own folders give (so neither the user's JSON nor a copy).
    """
    removed = 0
    for path in sorted((cache_dir / "builds").glob("*.json")):
        folders = _own_state_folders(path)
        if folders is not None and not all(folder.is_dir() for folder in folders):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _own_state_folders(path: Path) -> tuple[Path, Path] | None:
    """(src, out) of a state file a build wrote, or None when path is no such file."""
    if path.is_symlink() or not path.is_file():
        return None
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("kind") != STATE_KIND:
        return None
    src, out = data.get("src"), data.get("out")
    if not isinstance(src, str) or not isinstance(out, str) or path.name != state_name(src, out):
        return None
    return Path(src), Path(out)


def _record_data(record: NoteRecord) -> dict[str, Any]:
    return {
        "path": str(record.source.path),
        "title": record.title,
        "date": record.date,
        "description": record.description,
        "formulas": record.formulas,
        "diagnostics": [_diagnostic_data(d) for d in record.diagnostics],
        "files": sorted(str(f) for f in record.files),
        "targets": {str(t): kind for t, kind in record.targets.items()},
        "outline": record.outline,
        "body": record.body_key,
        "source": [*record.source_stat, record.source_digest],
        "output": record.output_stat,
        "depends": {path: [stat, digest] for path, (stat, digest) in record.depends.items()},
    }


# --- reading it back: the file is checked, never trusted --------------------------------


def _record_from(rel: PurePosixPath, item: Any) -> NoteRecord:
    item = _check(item, dict)
    mtime, size, digest = _items(item["source"], 3)
    return NoteRecord(
        source=NoteSource(path=Path(_check(item["path"], str)), rel=rel),
        title=_check(item["title"], str),
        date=_optional_text(item["date"]),
        description=_optional_text(item["description"]),
        formulas=_integer(item["formulas"]),
        diagnostics=[_diagnostic_from(d) for d in _check(item["diagnostics"], list)],
        files={_inside(f) for f in _check(item["files"], list)},
        targets={_inside(t): _kind(k) for t, k in _check(item["targets"], dict).items()},
        outline=_outline(item["outline"]),
        body_key=_check(item["body"], str),
        source_stat=(_integer(mtime), _integer(size)),
        source_digest=_check(digest, str),
        output_stat=None if item["output"] is None else _stat_from(item["output"]),
        depends={_check(p, str): _depends_from(v) for p, v in _check(item.get("depends", {}), dict).items()},
    )


def _check(value: Any, kind: type[_T]) -> _T:
    """value itself if it is a kind, else ValueError: the whole state is then ignored."""
    # JSON gives exact types, so the exact type is the check: a bool is no int here.
    if type(value) is not kind:
        raise ValueError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def _integer(value: Any) -> int:
    return _check(value, int)


def _optional_text(value: Any) -> str | None:
    return None if value is None else _check(value, str)


def _items(value: Any, count: int) -> list[Any]:
    items = _check(value, list)
    if len(items) != count:
        raise ValueError(f"expected {count} items, got {len(items)}")
    return items


def _inside(value: Any) -> PurePosixPath:
    """A path relative to the source or output folder that stays inside it."""
    rel = PurePosixPath(_check(value, str))
    if not writer.is_inside(rel) or str(rel) != value:
        raise ValueError(f"{value!r} leaves its folder")
    return rel


def _kind(value: Any) -> PathKind:
    if value not in get_args(PathKind):
        raise ValueError(f"{value!r} is no kind of path")
    return cast("PathKind", value)


def _depends_from(value: Any) -> tuple[Stat | None, str]:
    stat, digest = _items(value, 2)
    return (None if stat is None else _stat_from(stat)), _check(digest, str)


def _stat_from(value: Any) -> Stat:
    mtime, size = _items(value, 2)
    return (_integer(mtime), _integer(size))


def _outline(value: Any) -> dict[str, Any]:
    outline = _check(value, dict)
    for heading in _check(outline["headings"], list):
        level, text, anchor = _items(heading, 3)
        _integer(level), _check(text, str), _check(anchor, str)
    _toc(outline["toc"])
    return outline


def _toc(entries: Any) -> None:
    for entry in _check(entries, list):
        level, anchor, html, children = _items(entry, 4)
        _integer(level), _check(anchor, str), _check(html, str)
        _toc(children)


def _diagnostic_data(diagnostic: Diagnostic) -> list[Any]:
    position = diagnostic.position
    return [
        str(position.path),
        position.line,
        position.column,
        diagnostic.message,
        diagnostic.severity,
        diagnostic.source_line,
        diagnostic.link,
    ]


def _diagnostic_from(data: Any) -> Diagnostic:
    path, line, column, message, severity, source_line, link = _items(data, 7)
    if severity not in ("error", "warning"):
        raise ValueError(f"{severity!r} is no severity")
    return Diagnostic(
        SourcePosition(Path(_check(path, str)), _integer(line), _integer(column)),
        _check(message, str),
        severity,
        _optional_text(source_line),
        _optional_text(link),
    )
