"""The planner as a pure function: the last build's state and the notes found now, over a
folder held in memory, give what to build, render and remove, each with its reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from notes_render.build.plan import (
    Fingerprints,
    linked_to_changed,
    plan_builds,
    plan_pages,
)
from notes_render.build.record import NoteRecord
from notes_render.build.state import BuildState
from notes_render.sources import NoteSource, PathKind, Stat

SRC = Path("/notes")
OUT = Path("/site")
NOW = Fingerprints(inputs="code-1", layout="templates-1")


@dataclass
class MemoryFiles:
    """A folder in memory: each file's stat and digest, each link target's kind."""

    stats: dict[Path, Stat] = field(default_factory=dict)
    digests: dict[Path, str] = field(default_factory=dict)
    kinds: dict[PurePosixPath, PathKind] = field(default_factory=dict)
    refusals: dict[PurePosixPath, str] = field(default_factory=dict)

    def stat(self, path: Path) -> Stat | None:
        return self.stats.get(path)

    def digest(self, path: Path) -> str | None:
        return self.digests.get(path)

    def kind(self, src: Path, rel: PurePosixPath) -> PathKind:
        return self.kinds.get(rel, "missing")

    def refused(self, src: Path, rel: PurePosixPath) -> str | None:
        return self.refusals.get(rel)


def note(rel: str) -> NoteSource:
    return NoteSource(path=SRC / rel, rel=PurePosixPath(rel))


def record(rel: str, title: str = "T", **fields: object) -> NoteRecord:
    made = NoteRecord(
        source=note(rel),
        title=title,
        date=None,
        description=None,
        formulas=0,
        diagnostics=[],
        files=set(),
        targets={},
        outline={"headings": [], "toc": [], "labels": {}},
        body_key="",
        source_stat=(1, 10),
        source_digest=f"digest of {rel}",
        output_stat=(2, 100),
    )
    for name, value in fields.items():
        setattr(made, name, value)
    return made


def as_built(*records: NoteRecord) -> BuildState:
    """The state a build under NOW leaves, with these notes."""
    return BuildState(NOW.inputs, NOW.layout, {r.source.rel: r for r in records})


def disk_as_left(*records: NoteRecord) -> MemoryFiles:
    """The folder as the build of these notes left it: every note and page untouched."""
    files = MemoryFiles()
    for r in records:
        files.stats[r.source.path] = r.source_stat
        files.digests[r.source.path] = r.source_digest
        assert r.output_stat is not None
        files.stats[OUT / r.source.output] = r.output_stat
    return files


def P(rel: str) -> PurePosixPath:
    return PurePosixPath(rel)


def test_a_first_build_builds_every_note() -> None:
    plan = plan_builds(BuildState(), NOW, [note("a.md"), note("b.md")], SRC, MemoryFiles())
    assert plan.build == {P("a.md"): "not built before", P("b.md"): "not built before"}
    assert plan.keep == {} and plan.removed == {}


def test_nothing_changed_keeps_every_note_and_renders_nothing() -> None:
    a, b = record("a.md"), record("b.md")
    files = disk_as_left(a, b)
    plan = plan_builds(as_built(a, b), NOW, [note("a.md"), note("b.md")], SRC, files)
    assert plan.build == {} and plan.keep == {P("a.md"): a, P("b.md"): b}
    pages = plan_pages(as_built(a, b), NOW, plan.keep, [], OUT, files, home=False)
    assert pages.render == {} and pages.home is None


def test_changed_or_gone_notes_are_built_and_one_only_touched_is_kept_with_its_new_time() -> None:
    a, b, c, d = record("a.md"), record("b.md"), record("c.md"), record("d.md")
    files = disk_as_left(a, b, c, d)
    files.stats[SRC / "a.md"] = (5, 11)  # another size
    files.stats[SRC / "b.md"] = (5, 10)  # same size, other bytes
    files.digests[SRC / "b.md"] = "other"
    files.stats[SRC / "c.md"] = (5, 10)  # touched: same bytes
    del files.stats[SRC / "d.md"]  # gone since it was found
    found = [note("a.md"), note("b.md"), note("c.md"), note("d.md")]
    plan = plan_builds(as_built(a, b, c, d), NOW, found, SRC, files)
    assert plan.build == {
        P("a.md"): "content changed",
        P("b.md"): "content changed",
        P("d.md"): "cannot be read",
    }
    assert list(plan.keep) == [P("c.md")] and plan.keep[P("c.md")].source_stat == (5, 10)
    assert c.source_stat == (1, 10)  # the last build's record is not changed in place


def test_new_and_removed_notes_and_changed_code() -> None:
    a, gone = record("a.md"), record("gone.md")
    files = disk_as_left(a)
    plan = plan_builds(as_built(a, gone), NOW, [note("a.md"), note("new.md")], SRC, files)
    assert plan.build == {P("new.md"): "new note"} and plan.removed == {P("gone.md"): "removed"}
    newer = Fingerprints("code-2", NOW.layout)
    assert plan_builds(as_built(a), newer, [note("a.md")], SRC, files).build == {
        P("a.md"): "code, settings or KaTeX changed"
    }


def test_a_note_is_built_again_when_what_it_links_to_or_reads_changed() -> None:
    a = record("a.md", targets={P("img/x.png"): "file"})
    b = record("b.md", depends={"/notes/refs.bib": ((3, 30), "bib digest")})
    c = record("c.md")
    files = disk_as_left(a, b, c)
    files.stats[Path("/notes/refs.bib")] = (4, 31)
    files.digests[Path("/notes/refs.bib")] = "new bib digest"
    files.refusals[P("c.md")] = "is a symbolic link to a file outside the notes folder"
    plan = plan_builds(as_built(a, b, c), NOW, [note("a.md"), note("b.md"), note("c.md")], SRC, files)
    assert plan.build == {
        P("a.md"): "img/x.png it links to: was file, now missing",
        P("b.md"): "/notes/refs.bib it reads changed",
        P("c.md"): "this note is a symbolic link to a file outside the notes folder",
    }
    files.kinds[P("img/x.png")] = "file"
    files.digests[Path("/notes/refs.bib")] = "bib digest"  # touched, same bytes
    del files.refusals[P("c.md")]
    found = [note("a.md"), note("b.md"), note("c.md")]
    assert plan_builds(as_built(a, b, c), NOW, found, SRC, files).build == {}


def test_a_title_change_rebuilds_the_notes_linking_there_and_renders_every_page() -> None:
    a = record("a.md", targets={P("b.md"): "file"})
    b, c = record("b.md", title="Old"), record("c.md")
    previous = as_built(a, b, c)
    current = {**previous.notes, P("b.md"): record("b.md", title="New")}
    built = [P("b.md")]
    again = linked_to_changed(previous.notes, current, built)
    assert again == {P("a.md"): "links to b.md, whose title changed"}
    files = disk_as_left(a, b, c)
    pages = plan_pages(previous, NOW, current, [*built, *again], OUT, files, home=True)
    assert pages.render == {P("c.md"): "a title changed"}
    assert pages.home == "a title changed"


def test_a_note_that_appeared_or_went_changes_every_listing() -> None:
    a = record("a.md", targets={P("gone.md"): "file"})
    previous = as_built(a, record("gone.md"))
    current = {P("a.md"): a}
    assert linked_to_changed(previous.notes, current, []) == {P("a.md"): "links to gone.md, which is gone"}
    pages = plan_pages(previous, NOW, current, [P("a.md")], OUT, disk_as_left(a), home=True)
    assert pages.render == {} and pages.home == "a note was removed: gone.md"


def test_pages_are_rendered_again_when_templates_or_their_files_changed() -> None:
    a, b, c = record("a.md"), record("b.md"), record("c.md", output_stat=None)
    previous = as_built(a, b, c)
    previous.generated["index.html"] = (7, 70)
    files = disk_as_left(a, b)
    files.stats[OUT / "b.html"] = (9, 100)  # someone edited the page
    files.stats[OUT / "index.html"] = (7, 70)
    pages = plan_pages(previous, NOW, previous.notes, [], OUT, files, home=True)
    assert pages.render == {
        P("b.md"): "page file changed since the last build",
        P("c.md"): "not written before",
    }
    assert pages.home is None
    del files.stats[OUT / "index.html"]
    assert plan_pages(previous, NOW, previous.notes, [], OUT, files, home=True).home == "page file missing"
    restyled = Fingerprints(NOW.inputs, "templates-2")
    pages = plan_pages(previous, restyled, previous.notes, [], OUT, files, home=True)
    assert set(pages.render.values()) == {"templates or site settings changed"} and len(pages.render) == 3
    assert pages.home == "templates or site settings changed"
