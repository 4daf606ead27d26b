"""build_site: discover notes, see what changed since the last build, build the changed
ones (parse, transform, typeset; in worker processes for a big build), render templates,
write, and remember what was built.

The heavy stages (markdown-it, Jinja, V8) are imported only when they have work to do,
so a rebuild where nothing changed costs little more than a stat of every file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from . import sources, state, writer
from .cache import BODIES, Store, cache_warning
from .config import Config
from .errors import ConfigError, ContentError, Diagnostic, SourcePosition
from .katex import MathEngine, MiniRacerEngine, find_katex, katex_version
from .page import Page, Site, page_from_state
from .sources import HOME, NoteSource, discover_notes
from .state import BuildState, NoteResult

if TYPE_CHECKING:
    from .workers import NoteBuilder

EngineFactory = Callable[[Path, Config], MathEngine]
"""Makes the engine of one process: called in each worker, on its first uncached formula."""

__all__ = ["BuildReport", "EngineFactory", "Page", "build_site", "default_engine"]

_KATEX_FONT_URL = re.compile(r"url\((fonts/[^)]+)\)")

COPY_TEX_SCRIPT = "contrib/copy-tex.min.js"
"""KaTeX's copy-tex extension, relative to its dist/ folder and to assets/katex/."""

HOME_NOTE = PurePosixPath("index.md")
"""The note that, when present, is the home page instead of the generated listing."""


@dataclass(slots=True)
class BuildReport:
    """What a build did and found."""

    pages: list[PurePosixPath] = field(default_factory=list)
    """Pages written (relative to the output folder), changed or not."""
    formulas: int = 0
    """Formulas in the site, typeset now or earlier."""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    """Every problem found, in note order."""
    built: list[PurePosixPath] = field(default_factory=list)
    """Notes parsed and transformed by this build (the others had not changed)."""
    rendered: list[PurePosixPath] = field(default_factory=list)
    """Pages whose template was rendered by this build (the others were left as they were)."""
    targets: set[PurePosixPath] = field(default_factory=set)
    """Local paths the notes point at, there or not (relative to the source folder)."""

    @property
    def errors(self) -> list[Diagnostic]:
        """The diagnostics that fail a --strict build."""
        return [d for d in self.diagnostics if d.severity == "error"]


def default_engine(dist: Path, config: Config) -> MathEngine:
    """One embedded KaTeX per process."""
    return MiniRacerEngine(dist, trust_links=config.trust_links)


@dataclass(slots=True)
class _Build:
    """What one build carries from stage to stage."""

    config: Config
    dist: Path
    engine_factory: EngineFactory
    store: Store | None
    previous: BuildState
    current: BuildState
    pages: dict[PurePosixPath, Page] = field(default_factory=dict)
    """Notes whose page is rendered by this build, ready for their template."""
    unreadable: dict[PurePosixPath, Diagnostic] = field(default_factory=dict)
    """Notes that could not be read, with why."""
    render_all: bool = True
    """Every page is rendered again: the templates or the list of notes changed."""
    builder: NoteBuilder | None = None
    """Builds the notes (and writes their pages); made when the first note is built."""
    cache_trouble: Diagnostic | None = None
    """Why the build state could not be saved in the cache, if it could not."""
    report: BuildReport = field(default_factory=BuildReport)


def build_site(
    config: Config,
    engine_factory: EngineFactory = default_engine,
    *,
    only: Collection[PurePosixPath] | None = None,
) -> BuildReport:
    """Build config.src into config.out and report what was found.

    With config.cache_dir, formulas come from the cache and a note that did not change
    since the last build is not built again; its page is rewritten only if something it
    shows changed. With `only` (note paths relative to config.src), build just those
    notes plus the assets and files they reference: no home page, and nothing already in
    config.out is removed, since the rest of the site was not looked at.
    """
    dist = find_katex(config.katex_dir)
    notes = discover_notes(config.src) if only is None else _select_notes(config.src, only)
    if not notes:
        raise ConfigError(f"no Markdown notes (*.md) found in {config.src}")
    sources.check_outputs(notes)
    version = katex_version(dist)
    state_file = state.state_path(config) if only is None else None
    build = _Build(
        config,
        dist,
        engine_factory,
        store=Store(config.cache_dir) if config.cache_dir is not None else None,
        previous=state.load(state_file),
        current=BuildState(
            state.inputs_fingerprint(config, version), state.layout_fingerprint(config, version)
        ),
    )
    try:
        _keep_unchanged(build, notes)
        _build_notes(build, [note for note in notes if note.rel not in build.current.notes])
        _build_notes(build, _linking_to_changed(build, notes))
        _load_pages_to_render_again(build, notes)

        with writer.locked(config.out):
            previous_files = writer.read_manifest(config.out)
            written: set[PurePosixPath] = set()
            results = [build.current.notes[n.rel] for n in notes if n.rel in build.current.notes]
            home = only is None and not any(r.source.rel == HOME_NOTE for r in results)
            _write_pages(build, results, version, written, home=home)
            _copy_katex(dist, config.out, written)
            _copy_own_assets(config.templates_dir / "assets", config.out, written)
            _write_highlight_css(build, written)
            _copy_referenced(set().union(*(r.files for r in results)), config, written)
            writer.finish(config.out, written if only is None else written | previous_files, previous_files)
        _save_state(build, state_file)
    finally:  # workers stop and the cache's connection is let go even when a stage fails
        if build.builder is not None:
            build.builder.close()
        if build.store is not None:
            build.store.close()
    return _report(build, notes)


def _save_state(build: _Build, state_file: Path | None) -> None:
    """Remember what was built; a cache that cannot take it (full disk) only costs speed."""
    try:
        state.save(state_file, build.current, build.config)
    except OSError as exc:
        assert build.config.cache_dir is not None  # there is a state file to save
        build.cache_trouble = cache_warning(build.config.cache_dir, exc)


def _keep_unchanged(build: _Build, notes: list[NoteSource]) -> None:
    """Take over the last build's result for every note that did not change."""
    if build.previous.inputs != build.current.inputs:
        return  # code, settings or KaTeX changed: every note is built again
    for note in notes:
        result = build.previous.notes.get(note.rel)
        if result is not None and state.unchanged(note, result, build.config.src):
            result.source = note
            build.current.notes[note.rel] = result


def _build_notes(build: _Build, notes: Sequence[NoteSource]) -> None:
    """Parse, transform and typeset notes; in workers, each keeps its notes' bodies to write
    their pages later."""
    if not notes:
        return
    for note, built in zip(notes, _builder(build).build(notes), strict=True):
        if isinstance(built, Diagnostic):
            build.unreadable[note.rel] = built
            build.current.notes.pop(note.rel, None)
            continue
        build.current.notes[note.rel] = state.result_of(built)
        build.pages[note.rel] = built
        build.report.built.append(note.rel)


def _builder(build: _Build) -> NoteBuilder:
    """The build's note builder, made when there is a first note to build or page to write."""
    if build.builder is None:
        from .workers import NoteBuilder  # heavy only when there is something to build

        build.builder = NoteBuilder(build.config, build.dist, build.engine_factory, build.store)
    return build.builder


def _linking_to_changed(build: _Build, notes: list[NoteSource]) -> list[NoteSource]:
    """Unchanged notes that point at a note whose listing entry (title...) changed or that
    appeared or went: what they show of it may have changed, so they are built again."""
    changed = _changed_listings(build)
    if not changed:
        return []
    new = build.current.notes
    return [
        note
        for note in notes
        if note.rel in new and note.rel not in build.pages and changed & new[note.rel].targets.keys()
    ]


def _load_pages_to_render_again(build: _Build, notes: list[NoteSource]) -> None:
    """Unchanged notes whose page must be rendered again: the templates or the list of
    notes changed, or the page file is not as the last build left it. Their bodies come
    from the cache; a note whose body is not there is built again."""
    build.render_all = build.previous.layout != build.current.layout or bool(_changed_listings(build))
    wanted = [
        result
        for rel, result in build.current.notes.items()
        if rel not in build.pages
        and (
            build.render_all
            or result.output_stat is None
            or state.file_stat(build.config.out / result.source.output) != result.output_stat
        )
    ]
    if not wanted:
        return
    found = build.store.get_many(BODIES, [r.body_key for r in wanted]) if build.store is not None else {}
    for result in wanted:
        body = found.get(result.body_key)
        if body is not None:
            build.pages[result.source.rel] = page_from_state(result, body.decode("utf-8"))
    missing = {r.source.rel for r in wanted} - build.pages.keys()
    _build_notes(build, [note for note in notes if note.rel in missing])


def _changed_listings(build: _Build) -> set[PurePosixPath]:
    """Notes whose listing entry (title...) changed since the last build, or that appeared or went."""
    old, new = build.previous.notes, build.current.notes
    return {
        rel
        for rel in old.keys() | new.keys()
        if rel not in old or rel not in new or old[rel].listing_entry != new[rel].listing_entry
    }


def _report(build: _Build, notes: list[NoteSource]) -> BuildReport:
    """Every note's problems in note order, whether found now or by an earlier build."""
    report = build.report
    for note in notes:
        if note.rel in build.unreadable:
            report.diagnostics.append(build.unreadable[note.rel])
        elif note.rel in build.current.notes:
            result = build.current.notes[note.rel]
            report.diagnostics += result.diagnostics
            report.formulas += result.formulas
            report.targets |= result.targets.keys()
            report.pages.append(note.output)
    report.pages.sort()
    troubles = [
        build.store.trouble if build.store is not None else None,
        build.builder.cache_trouble() if build.builder is not None else None,
        build.cache_trouble,
    ]
    report.diagnostics += [trouble for trouble in troubles if trouble is not None][:1]  # said once
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


def _write_pages(
    build: _Build, results: list[NoteResult], version: str, written: set[PurePosixPath], *, home: bool
) -> None:
    """Render the page of every note that needs it, where its body is, and with `home` the
    home page listing the notes if it needs it; leave the others as they are."""
    pages = [build.pages[r.source.rel] for r in results if r.source.rel in build.pages]
    render_home = home and (build.render_all or not _untouched(build, HOME))
    if pages or render_home:
        stats = _builder(build).write_pages(_site(build, results, version), pages, home=render_home)
        for page in pages:
            build.current.notes[page.source.rel].output_stat = stats[page.source.rel]
            build.report.rendered.append(page.source.output)
        if render_home:
            build.report.rendered.append(HOME)
    written.update(r.source.output for r in results)
    if home:
        _remember(build, HOME)
        written.add(HOME)


def _site(build: _Build, results: list[NoteResult], version: str) -> Site:
    """What every page shows of the others."""
    notes = tuple(r.listing_entry for r in results)
    return Site(build.config.site_title, version, build.config.templates_dir, notes)


def _untouched(build: _Build, output: PurePosixPath) -> bool:
    """True when a generated file is as the last build (under the same inputs) left it."""
    recorded = build.previous.generated.get(str(output))
    return (
        build.previous.inputs == build.current.inputs
        and recorded is not None
        and state.file_stat(build.config.out / output) == recorded
    )


def _remember(build: _Build, output: PurePosixPath) -> None:
    stat = state.file_stat(build.config.out / output)
    if stat is not None:
        build.current.generated[str(output)] = stat


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


def _write_highlight_css(build: _Build, written: set[PurePosixPath]) -> None:
    """Pygments' colours for highlighted code, generated so they follow the installed Pygments."""
    target = PurePosixPath("assets/pygments.css")
    if not _untouched(build, target):
        from . import highlight  # heavy: Pygments

        writer.write_atomic(build.config.out / target, highlight.stylesheet().encode("utf-8"))
    _remember(build, target)
    written.add(target)


def _copy_own_assets(assets: Path, out: Path, written: set[PurePosixPath]) -> None:
    """The site's own stylesheet (and anything else in templates/assets/)."""
    if not assets.is_dir():
        return
    for path in sorted(p for p in assets.rglob("*") if p.is_file()):
        rel = PurePosixPath("assets") / path.relative_to(assets).as_posix()
        writer.copy_atomic(path, out / rel)
        written.add(rel)
