"""build_site: the build's stages, one named call each.

discover the notes -> take the output folder's lock -> plan what to build from the last
build's state -> build the notes -> write their pages and the assets -> finish the
output folder -> save the state (still under the lock). What to do and why is the
planner's (plan.py); running the work, here or in worker processes, the executor's.

The heavy stages (markdown-it, Jinja, V8) are imported only when they have work to do,
so a rebuild where nothing changed costs little more than a stat of every file.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .. import sources
from ..config import Config
from ..errors import ConfigError, Diagnostic
from ..site import writer
from ..sources import HOME, NoteSource, discover_notes
from ..typeset import forked
from ..typeset.bodies import load_bodies
from ..typeset.cache import Store, cache_warning
from ..typeset.katex import find_katex, katex_version
from . import assets, state, statefile
from .engine import EngineFactory, default_engine
from .executor import POOL_MIN_BYTES, Executor
from .plan import Disk, Fingerprints, Plan, linked_to_changed, plan_builds, plan_pages
from .record import NoteRecord, Site
from .state import BuildState

__all__ = ["BuildReport", "EngineFactory", "Reason", "build_site", "default_engine"]

HOME_NOTE = PurePosixPath("index.md")
"""The note that, when present, is the home page instead of the generated listing."""


@dataclass(frozen=True, slots=True)
class Reason:
    """Why the build did something to a note or page (printed by --verbose)."""

    subject: str
    """The note (`a.md`) or page (`a.html`, `index.html`) concerned."""
    why: str
    """What made it necessary: `content changed`, `a title changed`..."""

    def __str__(self) -> str:
        return f"{self.subject}: {self.why}"


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
    read: set[Path] = field(default_factory=set)
    """Other files the notes' bodies were made from (the bibliography), there or not."""
    reasons: list[Reason] = field(default_factory=list)
    """Why each note was built and each page not built with it was rendered, in that order."""
    workers: int = 0
    """Worker processes the build started (0: everything ran in this process)."""

    @property
    def errors(self) -> list[Diagnostic]:
        """The diagnostics that fail a --strict build."""
        return [d for d in self.diagnostics if d.severity == "error"]


@dataclass(slots=True)
class _Build:
    """What one build carries from stage to stage."""

    config: Config
    dist: Path
    executor: Executor
    store: Store | None
    previous: BuildState
    current: BuildState
    unreadable: dict[PurePosixPath, Diagnostic] = field(default_factory=dict)
    """Notes that could not be read, with why."""
    home: bool = False
    """The build writes the generated home page (a whole site without index.md)."""
    cache_trouble: Diagnostic | None = None
    """Why the build state could not be saved in the cache, if it could not."""
    report: BuildReport = field(default_factory=BuildReport)

    @property
    def now(self) -> Fingerprints:
        return Fingerprints(self.current.inputs, self.current.layout)


def build_site(
    config: Config,
    engine_factory: EngineFactory = default_engine,
    *,
    only: Collection[PurePosixPath] | None = None,
    pool_min_bytes: int = POOL_MIN_BYTES,
) -> BuildReport:
    """Build config.src into config.out and report what was found.

    With config.cache_dir, formulas come from the cache and a note that did not change
    since the last build is not built again; its page is rewritten only if something it
    shows changed. With `only` (note paths relative to config.src), build just those
    notes plus the assets and files they reference: no home page, and nothing already in
    config.out is removed, since the rest of the site was not looked at. Below
    `pool_min_bytes` of Markdown to build, the notes are built in this process; above, in
    config.jobs worker processes (0: whenever there are two notes and two jobs).
    """
    dist = find_katex(config.katex_dir)
    notes = _discover(config, only)
    state_file = statefile.state_path(config) if only is None else None
    with writer.locked(config.out):  # before the state is read: it is this folder's
        build = _start(config, dist, engine_factory, state_file, pool_min_bytes)
        try:
            plan = _plan(build, notes)
            _build_notes(build, [note for note in notes if note.rel in plan.build])
            _build_notes_again(build, notes)
            build.home = only is None and HOME_NOTE not in build.current.notes
            rendered = _pages_to_render(build, notes)
            forked.stop_all()  # the last stage that may typeset: KaTeX's child ends meanwhile
            output, planned = _claim_output(build, notes)
            _write_pages(build, notes, rendered, meanwhile=lambda: _write_assets(build, planned))
            output.finish(set(planned), keep=only is not None)
            _save_state(build, state_file)
        finally:  # workers stop and the cache's connection is let go even when a stage fails
            try:
                build.executor.close()
            finally:
                if build.store is not None:
                    build.store.close()
    return _report(build, notes)


def _discover(config: Config, only: Collection[PurePosixPath] | None) -> list[NoteSource]:
    """The notes to build: every note of config.src, or the named ones."""
    notes = discover_notes(config.src) if only is None else _select_notes(config.src, only)
    if not notes:
        raise ConfigError(f"no Markdown notes (*.md) found in {config.src}")
    sources.check_outputs(notes, home=only is None)
    return notes


def _select_notes(src: Path, only: Collection[PurePosixPath]) -> list[NoteSource]:
    """The named notes of src, in the order discovery gives; a missing one is a ConfigError."""
    notes = [note for note in discover_notes(src) if note.rel in only]
    missing = set(only) - {note.rel for note in notes}
    if missing:
        raise ConfigError(f"no such note in {src}: {', '.join(sorted(map(str, missing)))}")
    return notes


def _start(
    config: Config, dist: Path, engine_factory: EngineFactory, state_file: Path | None, pool_min_bytes: int
) -> _Build:
    """The last build's state, this build's fingerprints, the cache and the executor."""
    version = katex_version(dist)
    store = Store(config.cache_dir) if config.cache_dir is not None else None
    return _Build(
        config,
        dist,
        Executor(config, dist, engine_factory, store, pool_min_bytes=pool_min_bytes),
        store,
        previous=state.load(state_file),
        current=BuildState(
            state.inputs_fingerprint(config, version), state.layout_fingerprint(config, version)
        ),
    )


def _plan(build: _Build, notes: list[NoteSource]) -> Plan:
    """Decide which notes to build; take over the last build's record of the others."""
    plan = plan_builds(build.previous, build.now, notes, build.config.src, Disk())
    build.current.notes.update(plan.keep)
    _say(build, plan.build)
    _say(build, plan.removed)
    return plan


def _build_notes(build: _Build, notes: Sequence[NoteSource]) -> None:
    """Parse, transform and typeset notes; each body stays where it was built, for its page."""
    if not notes:
        return
    # A note the last build did not build is new to the cache too (or there is no cache):
    # its formulas will need the engine, which may as well start now.
    prestart = any(note.rel not in build.previous.notes for note in notes)
    # What this process makes after the notes, made while V8 typesets them.
    stylesheet = not assets.untouched(build.config.out, build.previous, build.current, assets.HIGHLIGHT_CSS)
    shared = functools.partial(assets.prepare, build.dist, stylesheet=stylesheet)
    for note, built in zip(notes, build.executor.build(notes, prestart=prestart, idle=[shared]), strict=True):
        if isinstance(built, Diagnostic):
            build.unreadable[note.rel] = built
            build.current.notes.pop(note.rel, None)
            continue
        build.current.notes[note.rel] = built
        build.report.built.append(note.rel)


def _build_notes_again(build: _Build, notes: list[NoteSource]) -> None:
    """Build the unchanged notes that show what changed of a note they link to."""
    again = linked_to_changed(build.previous.notes, build.current.notes, build.report.built)
    _say(build, again)
    _build_notes(build, [note for note in notes if note.rel in again])


def _pages_to_render(build: _Build, notes: list[NoteSource]) -> list[PurePosixPath]:
    """The notes not built now whose page is rendered again, their bodies taken from the
    cache; a note whose body is not there is built again."""
    notes_now, out = build.current.notes, build.config.out
    pages = plan_pages(build.previous, build.now, notes_now, build.report.built, out, Disk(), home=build.home)
    wanted = [build.current.notes[rel] for rel in pages.render]
    keys = [record.body_key for record in wanted]
    found = load_bodies(build.store, keys) if build.store is not None and keys else {}
    rendered: list[PurePosixPath] = []
    missing: dict[PurePosixPath, str] = {}
    for record in wanted:
        body = found.get(record.body_key)
        if body is None:
            missing[record.source.rel] = "its body is not in the cache"
        else:
            build.executor.hold(record.source.rel, [body])
            rendered.append(record.source.rel)
    _say(build, {rel: why for rel, why in pages.render.items() if rel not in missing}, page=True)
    _say(build, missing)
    _build_notes(build, [note for note in notes if note.rel in missing])
    if pages.home is not None:
        build.report.reasons.append(Reason(str(HOME), pages.home))
        rendered.append(HOME)
    return rendered


def _say(build: _Build, reasons: dict[PurePosixPath, str], *, page: bool = False) -> None:
    """Keep the reasons of a decision for the report (a note's, or with `page` its page's)."""
    notes = build.current.notes
    for rel, why in reasons.items():
        subject = notes[rel].source.output if page else rel
        build.report.reasons.append(Reason(str(subject), why))


def _claim_output(
    build: _Build, notes: list[NoteSource]
) -> tuple[writer.OutputFolder, dict[PurePosixPath, Path | None]]:
    """Plan every file of the output folder (each with the file it copies, None: made) and
    claim them: a file there that is not the build's own stops it before anything is written."""
    output = writer.OutputFolder(build.config.out)
    records = _in_order(build, notes)
    planned = assets.plan_outputs(build.config, build.dist, records, home=build.home)
    output.claim(planned, assets.left_by_last_build(build.previous))  # refuses files not ours
    return output, planned


def _in_order(build: _Build, notes: list[NoteSource]) -> list[NoteRecord]:
    """The records of the notes built or kept, in note order."""
    return [build.current.notes[n.rel] for n in notes if n.rel in build.current.notes]


def _write_pages(
    build: _Build, notes: list[NoteSource], rendered: list[PurePosixPath], *, meanwhile: Callable[[], None]
) -> None:
    """Render the page of every note built now or planned to render again, where its body
    is, and the home page if it needs it; leave the others as they are. `meanwhile` (the
    assets) is done while the workers write their pages."""
    records = _in_order(build, notes)
    again = set(rendered) | set(build.report.built)
    pages = [record for record in records if record.source.rel in again]
    render_home = build.home and HOME in rendered
    if not (pages or render_home):
        meanwhile()
    else:
        stats = build.executor.write_pages(
            _site(build, records), pages, home=render_home, meanwhile=meanwhile
        )
        for page in pages:
            build.current.notes[page.source.rel].output_stat = stats[page.source.rel]
            build.report.rendered.append(page.source.output)
        if render_home:
            build.report.rendered.append(HOME)
    if build.home:
        assets.remember(build.config.out, build.current, HOME)


def _site(build: _Build, records: list[NoteRecord]) -> Site:
    """What every page shows of the others."""
    from ..typeset.fonts import font_map

    notes = tuple(r.listing_entry for r in records)
    fonts = font_map(assets.installed_katex_css(build.dist))
    version = katex_version(build.dist)
    return Site(build.config.site_title, version, build.config.templates_dir, notes, fonts)


def _write_assets(build: _Build, planned: dict[PurePosixPath, Path | None]) -> None:
    """The stylesheets, KaTeX's files, the site's own assets and the files the notes link to."""
    assets.write_stylesheets(build.config.out, build.dist, build.previous, build.current)
    assets.copy_files(planned, build.config.out)


def _save_state(build: _Build, state_file: Path | None) -> None:
    """Remember what was built; a cache that cannot take it (full disk) only costs speed."""
    if build.current == build.previous:  # nothing to remember: kept records compare by identity
        return
    try:
        state.save(state_file, build.current, build.config)
    except OSError as exc:
        assert build.config.cache_dir is not None  # there is a state file to save
        build.cache_trouble = cache_warning(build.config.cache_dir, exc)


def _report(build: _Build, notes: list[NoteSource]) -> BuildReport:
    """Every note's problems in note order, whether found now or by an earlier build."""
    report = build.report
    shared: set[Diagnostic] = set()
    for note in notes:
        if note.rel in build.unreadable:
            report.diagnostics.append(build.unreadable[note.rel])
        elif note.rel in build.current.notes:
            record = build.current.notes[note.rel]
            report.diagnostics += [d for d in record.diagnostics if d not in shared]
            # A file several notes read (the bibliography) has its problems said once.
            shared.update(d for d in record.diagnostics if d.position.path != note.display_path)
            report.formulas += record.formulas
            report.targets |= record.targets.keys()
            report.read |= {Path(path) for path in record.depends}
            report.pages.append(note.output)
    report.pages.sort()
    troubles = [
        build.store.trouble if build.store is not None else None,
        build.executor.cache_trouble(),
        build.cache_trouble,
    ]
    report.diagnostics += [trouble for trouble in troubles if trouble is not None][:1]  # said once
    report.workers = build.executor.workers
    return report
