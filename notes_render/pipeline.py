"""build_site: discover notes, parse, transform, typeset math, render templates, write."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from markupsafe import Markup

from . import highlight, navigation, parsing, sources, templates, transforms, writer
from .config import Config
from .errors import ConfigError, ContentError, Diagnostic, SourcePosition
from .katex import MathEngine, MiniRacerEngine, find_katex, katex_version
from .sources import NoteSource, discover_notes, relative_url

EngineFactory = Callable[[Path, Config], MathEngine]

_KATEX_FONT_URL = re.compile(r"url\((fonts/[^)]+)\)")

COPY_TEX_SCRIPT = "contrib/copy-tex.min.js"
"""KaTeX's copy-tex extension, relative to its dist/ folder and to assets/katex/."""


@dataclass(slots=True)
class Page:
    """One note, transformed and ready for its template."""

    source: NoteSource
    """Where it came from."""
    title: str
    """Front matter title, else first heading, else file name."""
    date: str | None
    """Front matter date, as ISO text."""
    description: str | None
    """Front matter description."""
    headings: list[transforms.Heading]
    """Its headings with their ids, in order."""
    toc: list[navigation.TocEntry]
    """Its table of contents, formulas typeset."""
    body: str
    """The note's rendered HTML, without the template around it."""
    formulas: int
    """How many formulas it holds."""


@dataclass(slots=True)
class BuildReport:
    """What a build did and found."""

    pages: list[PurePosixPath] = field(default_factory=list)
    """Pages written (relative to the output folder), changed or not."""
    formulas: int = 0
    """Formulas typeset."""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    """Every problem found, in note order."""

    @property
    def errors(self) -> list[Diagnostic]:
        """The diagnostics that fail a --strict build."""
        return [d for d in self.diagnostics if d.severity == "error"]


def default_engine(dist: Path, config: Config) -> MathEngine:
    """One embedded KaTeX for the whole build."""
    return MiniRacerEngine(dist, trust_links=config.trust_links)


def build_site(
    config: Config,
    engine_factory: EngineFactory = default_engine,
    *,
    only: Collection[PurePosixPath] | None = None,
) -> BuildReport:
    """Build config.src into config.out and report what was found.

    With `only` (note paths relative to config.src), build just those notes plus the
    assets and files they reference: no home page, and nothing already in config.out
    is removed, since the rest of the site was not looked at.
    """
    report = BuildReport()
    dist = find_katex(config.katex_dir)
    environment = templates.make_environment(config.templates_dir)
    notes = discover_notes(config.src) if only is None else _select_notes(config.src, only)
    if not notes:
        raise ConfigError(f"no Markdown notes (*.md) found in {config.src}")
    sources.check_outputs(notes)
    engine: MathEngine | None = None

    def get_engine() -> MathEngine:
        nonlocal engine
        if engine is None:
            engine = engine_factory(dist, config)
        return engine

    pages: list[Page] = []
    referenced: set[PurePosixPath] = set()
    for note in notes:
        page = _build_page(note, config, get_engine, referenced, report)
        if page is not None:
            pages.append(page)

    with writer.locked(config.out):
        previous = writer.read_manifest(config.out)
        written: set[PurePosixPath] = set()
        version = katex_version(dist)
        for page in pages:
            _write_page(page, pages, environment, config, version, written)
        if only is None and not any(page.source.rel == PurePosixPath("index.md") for page in pages):
            _write_index(pages, environment, config, version, written)
        _copy_katex(dist, config.out, written)
        _copy_own_assets(config.templates_dir / "assets", config.out, written)
        _write_highlight_css(config.out, written)
        _copy_referenced(referenced, config, written)
        writer.finish(config.out, written if only is None else written | previous, previous)
    report.pages = sorted(p.source.output for p in pages)
    return report


def _copy_referenced(referenced: set[PurePosixPath], config: Config, written: set[PurePosixPath]) -> None:
    """The images and files the notes link to; one that would replace a page or one of the
    site's own files stops the build before it is copied."""
    taken = {sources.url_key(rel): rel for rel in written}
    for rel in sorted(referenced):
        if sources.url_key(rel) in taken:
            raise ContentError(
                SourcePosition(sources.display_path(config.src / rel), 0, 0),
                f"the notes link to this file, but the site already has {taken[sources.url_key(rel)]}; "
                "rename or move the file",
            )
    for rel in sorted(referenced):
        writer.copy_atomic(config.src / rel, config.out / rel)
        written.add(rel)


def _select_notes(src: Path, only: Collection[PurePosixPath]) -> list[NoteSource]:
    """The named notes of src, in the order discovery gives; a missing one is a ConfigError."""
    notes = [note for note in discover_notes(src) if note.rel in only]
    missing = set(only) - {note.rel for note in notes}
    if missing:
        raise ConfigError(f"no such note in {src}: {', '.join(sorted(map(str, missing)))}")
    return notes


def _build_page(
    note: NoteSource,
    config: Config,
    get_engine: Callable[[], MathEngine],
    referenced: set[PurePosixPath],
    report: BuildReport,
) -> Page | None:
    """Parse and transform one note; a note that cannot be read is reported and skipped."""
    try:
        parsed = parsing.parse_note(note, parsing.read_note(note))
    except ContentError as exc:
        report.diagnostics.append(exc.diagnostic())
        return None
    headings = transforms.assign_heading_ids(parsed.tokens)
    links = transforms.rewrite_links(parsed, config.src)
    referenced |= links.files
    items = transforms.collect_math(parsed)
    diagnostics = list(links.diagnostics)
    if items:
        macros = {**config.macros, **_note_macros(parsed)}
        diagnostics += transforms.render_math(parsed, items, get_engine(), macros)
    diagnostics.sort(key=lambda d: (d.position.line, d.position.column))
    report.diagnostics += diagnostics
    report.formulas += len(items)
    md = parsing.markdown()
    body = md.renderer.render(parsed.tokens, md.options, parsed.env)
    toc = navigation.table_of_contents(headings, md, parsed.env)
    date = parsed.front_matter.get("date")
    description = parsed.front_matter.get("description")
    return Page(
        source=note,
        title=transforms.note_title(parsed, headings),
        date=date.isoformat() if isinstance(date, datetime.date) else date,
        description=description,
        headings=headings,
        toc=toc,
        body=body,
        formulas=len(items),
    )


def _note_macros(parsed: parsing.ParsedNote) -> dict[str, str]:
    macros = parsed.front_matter.get("macros") or {}
    return {(k if k.startswith("\\") else "\\" + k): str(v) for k, v in macros.items()}


def _page_context(page_path: PurePosixPath, config: Config, version: str) -> dict[str, Any]:
    root = relative_url(page_path, PurePosixPath("index.html"))[: -len("index.html")]
    return {
        "site_title": config.site_title,
        "katex_version": version,
        "root": root,
        "assets": root + "assets/",
        "lang": "en",
    }


def _write_page(
    page: Page,
    pages: list[Page],
    environment: Any,
    config: Config,
    version: str,
    written: set[PurePosixPath],
) -> None:
    context = _page_context(page.source.output, config, version)
    context.update(
        title=page.title,
        date=page.date,
        description=page.description,
        content=Markup(page.body),
        headings=page.headings,
        toc=page.toc,
        notes=_listing(page.source.output, pages),
        **navigation.page_links(
            page.source.output, [(p.source.output, p.title) for p in pages], config.site_title
        ),
    )
    html = templates.render_page(environment, "note.html", context)
    writer.write_atomic(config.out / page.source.output, html.encode("utf-8"))
    written.add(page.source.output)


def _listing(from_page: PurePosixPath, pages: list[Page]) -> list[dict[str, Any]]:
    """The notes as the index template lists them, with URLs relative to from_page."""
    return [
        {
            "title": p.title,
            "url": relative_url(from_page, p.source.output),
            "date": p.date,
            "description": p.description,
        }
        for p in pages
        if p.source.rel != PurePosixPath("index.md")
    ]


def _write_index(
    pages: list[Page], environment: Any, config: Config, version: str, written: set[PurePosixPath]
) -> None:
    """The home page listing every note, for a folder without index.md."""
    output = PurePosixPath("index.html")
    context = _page_context(output, config, version)
    context.update(title=config.site_title, description=None, notes=_listing(output, pages))
    html = templates.render_page(environment, "index.html", context)
    writer.write_atomic(config.out / output, html.encode("utf-8"))
    written.add(output)


def _copy_katex(dist: Path, out: Path, written: set[PurePosixPath]) -> None:
    """KaTeX's stylesheet, every font file it references, and copy-tex, under assets/katex/."""
    css = (dist / "katex.min.css").read_text(encoding="utf-8")
    target = PurePosixPath("assets/katex")
    writer.copy_atomic(dist / "katex.min.css", out / target / "katex.min.css")
    written.add(target / "katex.min.css")
    for font in sorted(set(_KATEX_FONT_URL.findall(css))):
        writer.copy_atomic(dist / font, out / target / font)
        written.add(target / font)
    # The page's only script: copying a selection puts the formulas' TeX on the clipboard.
    writer.copy_atomic(dist / COPY_TEX_SCRIPT, out / target / COPY_TEX_SCRIPT)
    written.add(target / COPY_TEX_SCRIPT)


def _write_highlight_css(out: Path, written: set[PurePosixPath]) -> None:
    """Pygments' colours for highlighted code, generated so they follow the installed Pygments."""
    target = PurePosixPath("assets/pygments.css")
    writer.write_atomic(out / target, highlight.stylesheet().encode("utf-8"))
    written.add(target)


def _copy_own_assets(assets: Path, out: Path, written: set[PurePosixPath]) -> None:
    """The site's own stylesheet (and anything else in templates/assets/)."""
    if not assets.is_dir():
        return
    for path in sorted(p for p in assets.rglob("*") if p.is_file()):
        rel = PurePosixPath("assets") / path.relative_to(assets).as_posix()
        writer.copy_atomic(path, out / rel)
        written.add(rel)
