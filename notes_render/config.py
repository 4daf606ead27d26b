"""The build's settings: one frozen Config made from the command line and pyproject.toml."""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from .errors import ConfigError, display_path
from .markdown.dialects import DEFAULT_DIALECT, find_dialect, unknown_dialect

CACHE_DIR_NAME = ".notes-render-cache"

CACHE_DIR_VARIABLE = "NOTES_RENDER_CACHE_DIR"
"""Environment variable naming the cache folder when --cache-dir does not (tests use it to
keep their caches out of the project's)."""


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity where the system keeps one (a
    container's cpuset, `taskset`), which os.cpu_count ignores, else the machine's count.
    A CPU quota (`docker --cpus`) is no affinity and is not seen."""
    process_count = getattr(os, "process_cpu_count", None)  # Python 3.13+: the affinity's
    affinity = getattr(os, "sched_getaffinity", None)  # Linux; not macOS nor Windows
    try:
        if process_count is not None:
            return process_count() or 1
        if affinity is not None:
            return max(1, len(affinity(0)))
    except OSError:  # neither catches what the system call refuses
        pass
    return os.cpu_count() or 1


def default_cache_dir(project_dir: Path) -> Path:
    """$NOTES_RENDER_CACHE_DIR, else .notes-render-cache/ in the project folder."""
    named = os.environ.get(CACHE_DIR_VARIABLE)
    return Path(named) if named else project_dir / CACHE_DIR_NAME


"""The default cache folder, in the project folder (beside pyproject.toml)."""

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
"""The checkout that holds notes_render/, templates/ and node_modules/ (an editable install)."""


@dataclass(frozen=True, slots=True)
class Config:
    """Everything a build depends on besides the notes themselves."""

    src: Path
    """Folder of Markdown notes, searched recursively."""
    out: Path
    """Folder the site is written to; only files the build wrote are ever replaced or removed."""
    strict: bool = False
    """Content problems (invalid formula, missing image, ...) make the build fail."""
    templates_dir: Path = PACKAGE_ROOT / "templates"
    """Jinja2 templates and the site's own stylesheet (templates/assets/)."""
    katex_dir: Path | None = None
    """KaTeX's dist/ folder; None means: look in node_modules/ of the project and the checkout."""
    macros: Mapping[str, str] = field(default_factory=dict)
    """Global KaTeX macros, `\\name` -> expansion, from [tool.notes-render.katex.macros]."""
    trust_links: bool = False
    """Allow \\href and \\url to http(s) targets in formulas; everything else stays untrusted."""
    site_title: str = "Notes"
    """The site's name, shown in the header and page titles."""
    cache_dir: Path | None = None
    """Folder of the formula cache and the build state; None builds everything from scratch."""
    jobs: int = 1
    """Worker processes a big build may spread its notes over."""
    preamble: Path | None = None
    """The TeX file of `katex.preamble`, whose definitions are already in `macros`."""
    bibliography: Path | None = None
    """The BibTeX file citations come from (`bibliography`); None: references.bib in src."""
    citation_style: Literal["author-year", "numbered"] = "author-year"
    """How citations show (`citation-style`): `(Ho et al. 2020)` or `[1]`."""
    dialect: str = DEFAULT_DIALECT
    """How math is found in the notes (a name in dialects.DIALECTS); a note's front matter
    may name its own."""
    theorem_numbering: Literal["per-kind", "shared"] = "per-kind"
    """Theorem-like blocks counted per kind (Lemma 1, Theorem 1), or on one shared counter
    (Lemma 1, Theorem 2), from `theorem-numbering` in [tool.notes-render]."""


SETTINGS = (
    "site-title",
    "templates",
    "dialect",
    "katex.trust-links",
    "katex.preamble",
    "katex.macros.*",
    "bibliography",
    "citation-style",
    "theorem-numbering",
)
"""Every key [tool.notes-render] may hold, dotted; `table.*` allows any key in that table.
Any other key is an error, so a typo is never silently ignored: add a setting here."""


def load_pyproject_settings(project_dir: Path) -> dict[str, Any]:
    """Return [tool.notes-render] of project_dir/pyproject.toml, or {} when there is none."""
    path = project_dir / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    settings = data.get("tool", {}).get("notes-render", {})
    if not isinstance(settings, dict):
        raise ConfigError(f"{path}: [tool.notes-render] must be a table")
    check_settings(settings, path)
    return settings


def check_settings(settings: Mapping[str, Any], path: Path) -> None:
    """Refuse the first key SETTINGS does not know, at its line, naming the nearest known one."""
    for key in _unknown_keys(settings, ()):
        parent, name = key[:-1], key[-1]
        siblings = sorted(
            {
                known[len(parent)]
                for known in _KNOWN
                if known[: len(parent)] == parent and len(known) > len(parent)
            }
        )
        nearest = difflib.get_close_matches(name, siblings, n=1, cutoff=0.6)
        table = ".".join(("tool", "notes-render", *parent))
        if nearest:
            hint = f"did you mean '{nearest[0]}'?"
        elif siblings:
            hint = "known keys: " + ", ".join(siblings)
        else:
            hint = f"'{parent[-1]}' takes a value, not a table"
        line, column = _key_position(path.read_text(encoding="utf-8"), ("tool", "notes-render", *key))
        where = f"{path}:{line}:{column}" if line else str(path)
        raise ConfigError(f"{where}: unknown key '{name}' in [{table}]; {hint}")


_KNOWN = [tuple(setting.split(".")) for setting in SETTINGS]


def _unknown_keys(table: Mapping[str, Any], prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
    unknown: list[tuple[str, ...]] = []
    for name, value in table.items():
        key = (*prefix, name)
        if any(known[: len(key)] == key or known == (*prefix, "*") for known in _KNOWN):
            if isinstance(value, dict) and not any(known == (*key, "*") for known in _KNOWN):
                unknown += _unknown_keys(value, key)
        else:
            unknown.append(key)
    return unknown


_HEADER = re.compile(r"\s*\[\[?\s*(?P<key>[^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_ASSIGNMENT = re.compile(
    r"\s*(?P<key>(?:[A-Za-z0-9_-]+|\"(?:[^\"\\]|\\.)*\"|'[^']*')"
    r"(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"(?:[^\"\\]|\\.)*\"|'[^']*'))*)\s*="
)
_KEY_PART = re.compile(r"\s*([A-Za-z0-9_-]+|\"(?:[^\"\\]|\\.)*\"|'[^']*')\s*(?:\.|$)")


_INLINE_KEY = re.compile(
    r"\"(?:[^\"\\]|\\.)*\"|'[^']*'"  # a string value, skipped: a key's name in it is no key
    r"|[{,]\s*(?P<key>[A-Za-z0-9_-]+|\"(?:[^\"\\]|\\.)*\"|'[^']*')\s*[=.]"
)
"""Strings, and the first part of each key written after `{` or `,` of an inline table."""


def _key_parts(dotted: str) -> tuple[str, ...]:
    parts = []
    for match in _KEY_PART.finditer(dotted):
        part = match.group(1)
        parts.append(part[1:-1] if part[0] in "\"'" else part)
    return tuple(parts)


def _key_position(text: str, key: tuple[str, ...]) -> tuple[int, int]:
    """(1-based line, column) where TOML text writes key, or of its nearest enclosing key.

    tomllib gives no positions, so this reads the lines itself: table headers, `a.b = …`
    assignments (quoted or bare parts), skipping multi-line strings; (0, 0) if not found.
    """
    lines = text.splitlines()
    best: tuple[int, int, int] = (0, 0, 0)  # (parts matched, line, column)
    table: tuple[str, ...] = ()
    in_string: str | None = None
    for number, line in enumerate(lines, start=1):
        if in_string is not None:
            if line.count(in_string) % 2:
                in_string = None
            continue
        header = _HEADER.match(line)
        if header:
            table = _key_parts(header.group("key"))
            found, column = table, line.index(header.group("key")) + 1
        else:
            assignment = _ASSIGNMENT.match(line)
            if not assignment:
                continue
            found, column = (*table, *_key_parts(assignment.group("key"))), assignment.start("key") + 1
            for quotes in ('"""', "'''"):
                if line.count(quotes) % 2:
                    in_string = quotes
        matched = 0
        while matched < min(len(found), len(key)) and found[matched] == key[matched]:
            matched += 1
        if matched > best[0] and matched in (len(found), len(key)):
            best = (matched, number, column)
    matched, number, column = best
    for part in key[matched:] if number else ():  # in an inline table: `katex = { trust-linkz = 1 }`
        for inner in _INLINE_KEY.finditer(lines[number - 1], column):
            if inner.group("key") and _key_parts(inner.group("key")) == (part,):
                column = inner.start("key") + 1
                break
    return number, column


def _macros_from(settings: Mapping[str, Any], where: str) -> dict[str, str]:
    katex = settings.get("katex", {})
    macros = katex.get("macros", {}) if isinstance(katex, dict) else None
    if not isinstance(macros, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in macros.items()
    ):
        raise ConfigError(f"{where}: [tool.notes-render.katex.macros] must map names to strings")
    return {(k if k.startswith("\\") else "\\" + k): v for k, v in macros.items()}


def _dialect_from(option: str | None, settings: Mapping[str, Any], path: Path) -> str:
    """--dialect, else `dialect` of [tool.notes-render], else pandoc; an unknown name is an
    error naming the known ones (in pyproject.toml, at its line)."""
    if option is not None:
        if find_dialect(option) is None:
            raise ConfigError(f"--dialect: {unknown_dialect(option)}")
        return option
    name = settings.get("dialect", DEFAULT_DIALECT)
    if not isinstance(name, str) or find_dialect(name) is None:
        line, column = _key_position(path.read_text(encoding="utf-8"), ("tool", "notes-render", "dialect"))
        raise ConfigError(f"{path}:{line}:{column}: dialect: {unknown_dialect(name)}")
    return name


def make_config(
    *,
    src: Path,
    out: Path,
    strict: bool = False,
    project_dir: Path | None = None,
    templates_dir: Path | None = None,
    katex_dir: Path | None = None,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    jobs: int | None = None,
    temporary_out: bool = False,
    dialect: str | None = None,
) -> Config:
    """Combine command-line values with pyproject.toml and refuse dangerous settings.

    temporary_out: out is a hidden folder made empty for this run (the preview's), so it
    may lie inside src: nothing in it is the user's, and finding notes skips hidden folders.
    """
    project_dir = (project_dir or Path.cwd()).resolve()
    settings = load_pyproject_settings(project_dir)
    pyproject = project_dir / "pyproject.toml"
    site = _site_settings(settings, pyproject)
    config = Config(
        dialect=_dialect_from(dialect, settings, pyproject),
        src=src,
        out=out,
        strict=strict,
        templates_dir=templates_dir or project_dir / site.pop("templates"),
        katex_dir=katex_dir,
        cache_dir=(cache_dir or default_cache_dir(project_dir)) if use_cache else None,
        jobs=max(1, jobs if jobs is not None else usable_cpus()),
        **_katex_settings(settings, pyproject),
        **{key: value for key, value in site.items() if key != "templates"},
    )
    check_paths(config, project_dir, temporary_out=temporary_out)
    return config


def _katex_settings(settings: Mapping[str, Any], pyproject: Path) -> dict[str, Any]:
    """trust_links, macros (the preamble's, then [katex.macros] over them) and preamble."""
    where = str(pyproject)
    katex = settings.get("katex", {})
    katex = katex if isinstance(katex, dict) else {}
    trust_links = katex.get("trust-links", False)
    if not isinstance(trust_links, bool):
        raise ConfigError(f"{where}: katex.trust-links must be true or false")
    preamble = katex.get("preamble")
    if preamble is not None and not isinstance(preamble, str):
        raise ConfigError(f"{where}: katex.preamble must be a string (a TeX file)")
    macros = _macros_from(settings, where)
    preamble_path = _existing_file(pyproject, ("katex", "preamble"), preamble)
    if preamble_path is not None:
        from .typeset.texdefs import read_preamble

        macros = {**read_preamble(preamble_path, display_path(preamble_path)), **macros}
    return {"trust_links": trust_links, "macros": macros, "preamble": preamble_path}


def _site_settings(settings: Mapping[str, Any], pyproject: Path) -> dict[str, Any]:
    """site_title, templates (relative to the project), bibliography, citation_style and
    theorem_numbering, each of the type and among the values it may have."""
    where = str(pyproject)
    site_title = settings.get("site-title", "Notes")
    if not isinstance(site_title, str):
        raise ConfigError(f"{where}: site-title must be a string")
    templates = settings.get("templates", PACKAGE_ROOT / "templates")
    if not isinstance(templates, str | Path):
        raise ConfigError(f"{where}: templates must be a string (a folder)")
    bibliography = settings.get("bibliography")
    if bibliography is not None and not isinstance(bibliography, str):
        raise ConfigError(f"{where}: bibliography must be a string (a .bib file)")
    citation_style = settings.get("citation-style", "author-year")
    if citation_style not in ("author-year", "numbered"):
        raise ConfigError(f'{where}: citation-style must be "author-year" or "numbered"')
    theorem_numbering = settings.get("theorem-numbering", "per-kind")
    if theorem_numbering not in ("per-kind", "shared"):
        raise ConfigError(f'{where}: theorem-numbering must be "per-kind" or "shared"')
    return {
        "site_title": site_title,
        "templates": templates,
        "bibliography": _existing_file(pyproject, ("bibliography",), bibliography),
        "citation_style": citation_style,
        "theorem_numbering": cast('Literal["per-kind", "shared"]', theorem_numbering),
    }


def _existing_file(pyproject: Path, key: tuple[str, ...], value: str | None) -> Path | None:
    """The file a setting names, relative to the project folder; one that is not there is
    an error at the setting's line."""
    if value is None:
        return None
    path = pyproject.parent / value
    if not path.is_file():
        line, column = _key_position(pyproject.read_text(encoding="utf-8"), ("tool", "notes-render", *key))
        at = f"{pyproject}:{line}:{column}" if line else str(pyproject)
        raise ConfigError(f"{at}: {'.'.join(key)}: {path} does not exist or is not a file")
    return path


def check_paths(config: Config, project_dir: Path, *, temporary_out: bool = False) -> None:
    """Refuse an output folder that would overwrite sources, templates or anything that is
    not the site: the build would read its own pages as input (a temporary one may be
    inside the sources: see make_config)."""
    if not config.src.is_dir():
        raise ConfigError(f"source folder {config.src} does not exist or is not a folder")
    out = config.out.resolve()
    for name, folder in (("source folder", config.src), ("templates folder", config.templates_dir)):
        inputs = folder.resolve()
        if out == inputs:
            raise ConfigError(f"--out {config.out} is the {name}; choose another output folder")
        if out.is_relative_to(inputs) and not temporary_out:
            raise ConfigError(f"--out {config.out} is inside the {name} {display_path(folder)}")
        if inputs.is_relative_to(out):
            raise ConfigError(f"--out {config.out} contains the {name} {display_path(folder)}")
    home = Path(os.path.expanduser("~")).resolve()
    if out in (project_dir, home, Path(out.anchor)) or project_dir.is_relative_to(out):
        raise ConfigError(f"--out {config.out} is the project folder or above it; refusing to write there")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {config.out} exists and is not a folder")
