"""The build's settings: one frozen Config made from the command line and pyproject.toml."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .sources import display_path

CACHE_DIR_NAME = ".notes-render-cache"

CACHE_DIR_VARIABLE = "NOTES_RENDER_CACHE_DIR"
"""Environment variable naming the cache folder when --cache-dir does not (tests use it to
keep their caches out of the project's)."""


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
    return settings


def _macros_from(settings: Mapping[str, Any], where: str) -> dict[str, str]:
    katex = settings.get("katex", {})
    macros = katex.get("macros", {}) if isinstance(katex, dict) else None
    if not isinstance(macros, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in macros.items()
    ):
        raise ConfigError(f"{where}: [tool.notes-render.katex.macros] must map names to strings")
    return {(k if k.startswith("\\") else "\\" + k): v for k, v in macros.items()}


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
) -> Config:
    """Combine command-line values with pyproject.toml and refuse dangerous settings.

    temporary_out: out is a hidden folder made empty for this run (the preview's), so it
    may lie inside src: nothing in it is the user's, and finding notes skips hidden folders.
    """
    project_dir = (project_dir or Path.cwd()).resolve()
    settings = load_pyproject_settings(project_dir)
    where = str(project_dir / "pyproject.toml")
    katex_settings = settings.get("katex", {})
    trust_links = katex_settings.get("trust-links", False) if isinstance(katex_settings, dict) else False
    if not isinstance(trust_links, bool):
        raise ConfigError(f"{where}: katex.trust-links must be true or false")
    site_title = settings.get("site-title", "Notes")
    if not isinstance(site_title, str):
        raise ConfigError(f"{where}: site-title must be a string")
    templates = settings.get("templates", PACKAGE_ROOT / "templates")
    if not isinstance(templates, str | Path):
        raise ConfigError(f"{where}: templates must be a string (a folder)")
    config = Config(
        src=src,
        out=out,
        strict=strict,
        templates_dir=templates_dir or project_dir / templates,
        katex_dir=katex_dir,
        macros=_macros_from(settings, where),
        trust_links=trust_links,
        site_title=site_title,
        cache_dir=(cache_dir or default_cache_dir(project_dir)) if use_cache else None,
        jobs=max(1, jobs if jobs is not None else os.cpu_count() or 1),
    )
    check_paths(config, project_dir, temporary_out=temporary_out)
    return config


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
