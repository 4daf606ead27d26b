"""The formula cache and incremental builds: what is typeset again, and what is not.

A spy engine records every formula sent to KaTeX, so each test states exactly which
formulas a change must typeset again; the pages are compared with a build from scratch.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import pkgutil
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path, PurePosixPath

import pytest
from conftest import FIXTURES, REPO
from markupsafe import Markup

from notes_render.build.pipeline import BuildReport, build_site
from notes_render.build.record import NoteRecord
from notes_render.build.state import code_files
from notes_render.config import Config, make_config
from notes_render.errors import BuildError, ConfigError, ContentError, SourcePosition
from notes_render.markdown import highlight
from notes_render.site import templates
from notes_render.typeset.katex import MathRequest, MathResult, MiniRacerEngine, find_katex

MACROS = {"\\R": "\\mathbb{R}", "\\Rp": "\\R_{+}", "\\unused": "u"}

NOTE = """# Sets

The reals $\\R^n$, a square $x^2$ and the half line $\\Rp$.

$$
\\gdef\\V{v} \\V + 1
$$

Later $\\V_i$ and $y$.
"""


class SpyEngine:
    """The real engine, remembering every formula it was asked to typeset."""

    def __init__(self, dist: Path, config: Config, seen: list[str]) -> None:
        self._inner = MiniRacerEngine(dist, trust_links=config.trust_links)
        self.version = self._inner.version
        self._seen = seen

    def render_batch(self, requests: Sequence[MathRequest], macros: Mapping[str, str]) -> list[MathResult]:
        self._seen += [r.tex.strip() for r in requests]
        return self._inner.render_batch(requests, macros)


class Site:
    """A source folder, an output folder and a cache folder, built with a spy engine."""

    def __init__(self, root: Path, notes: dict[str, str], **settings: object) -> None:
        self.src = root / "src"
        self.src.mkdir()
        for rel, text in notes.items():
            (self.src / rel).write_text(text, encoding="utf-8")
        self.config = Config(src=self.src, out=root / "out", cache_dir=root / "cache", **settings)  # type: ignore[arg-type]
        self.seen: list[str] = []

    def build(self, **changes: object) -> BuildReport:
        self.seen.clear()
        config = replace(self.config, **changes)  # type: ignore[arg-type]
        return build_site(config, lambda dist, config: SpyEngine(dist, config, self.seen))

    def files(self) -> dict[str, bytes]:
        out = self.config.out
        return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}

    def mtimes(self) -> dict[str, int]:
        out = self.config.out
        return {p.relative_to(out).as_posix(): p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}


def _from_scratch(site: Site, tmp_path: Path, **changes: object) -> dict[str, bytes]:
    """The pages a build without any cache makes of the same notes."""
    out = tmp_path / "scratch"
    shutil.rmtree(out, ignore_errors=True)
    config = replace(site.config, out=out, cache_dir=None, **changes)  # type: ignore[arg-type]
    build_site(config)
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def _pages(files: dict[str, bytes]) -> dict[str, bytes]:
    return {rel: data for rel, data in files.items() if rel.endswith(".html")}


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path, {"sets.md": NOTE, "other.md": "# Other\n\nJust $z$.\n"}, macros=MACROS)


def test_a_changed_macro_typesets_again_only_the_formulas_that_reach_it(site: Site, tmp_path: Path) -> None:
    site.build()
    assert len(site.seen) == 7
    site.build(macros={**MACROS, "\\R": "\\mathbf{R}"})
    # \Rp reaches \R through its expansion; x^2, z and y do not use \R at all.
    assert site.seen == ["\\R^n", "\\Rp"]
    assert _pages(site.files()) == _pages(
        _from_scratch(site, tmp_path, macros={**MACROS, "\\R": "\\mathbf{R}"})
    )
    site.build(macros={**MACROS, "\\unused": "w"})
    assert site.seen == []


def test_a_changed_definition_in_a_note_typesets_the_formulas_after_it(site: Site, tmp_path: Path) -> None:
    site.build()
    (site.src / "sets.md").write_text(NOTE.replace("\\gdef\\V{v}", "\\gdef\\V{w}"), encoding="utf-8")
    site.build()
    # The definition and every formula after it in the note; nothing before it.
    assert site.seen == ["\\gdef\\V{w} \\V + 1", "\\V_i", "y"]
    page = site.files()["sets.html"].decode()
    assert "<mi>w</mi>" in page and "<mi>v</mi>" not in page
    assert _pages(site.files()) == _pages(_from_scratch(site, tmp_path))


def test_a_formula_after_a_cached_definition_still_sees_it(site: Site) -> None:
    site.build()
    (site.src / "sets.md").write_text(NOTE.replace("Later $\\V_i$", "Later $\\V_j$"), encoding="utf-8")
    site.build()
    # The definition is replayed (it is cached) so that \V_j, the only new formula, means v_j.
    assert site.seen == ["\\gdef\\V{v} \\V + 1", "\\V_j"]
    assert "<msub><mi>v</mi><mi>j</mi></msub>" in site.files()["sets.html"].decode()


def test_a_changed_katex_option_typesets_everything_again(site: Site) -> None:
    site.build()
    site.build(trust_links=True)
    assert len(site.seen) == 7


def test_a_changed_katex_version_typesets_everything_again(site: Site, tmp_path: Path) -> None:
    site.build()
    package = tmp_path / "katex"
    shutil.copytree(
        find_katex(None).parent, package, ignore=shutil.ignore_patterns("*.mjs", "src", "contrib")
    )
    shutil.copytree(find_katex(None) / "contrib", package / "dist" / "contrib")
    meta = json.loads((package / "package.json").read_text(encoding="utf-8"))
    meta["version"] = meta["version"] + "-patched"
    (package / "package.json").write_text(json.dumps(meta), encoding="utf-8")
    site.build(katex_dir=package / "dist")
    assert len(site.seen) == 7
    site.build(katex_dir=package / "dist")
    assert site.seen == []


def test_damaged_entries_are_typeset_again_never_served(site: Site, tmp_path: Path) -> None:
    site.build()
    expected = site.files()
    db = sqlite3.connect(site.config.cache_dir / "cache.sqlite3")  # type: ignore[operator]
    with db:
        db.execute("UPDATE formulas SET value = substr(value, 1, length(value) / 2)")  # truncated
        db.execute("UPDATE bodies SET value = CAST('<p>wrong</p>' AS BLOB)")  # altered
    db.close()
    shutil.rmtree(site.config.out)  # every page must be made again, from the cache if it can
    site.build()
    assert len(site.seen) == 7
    assert site.files() == expected


def test_a_truncated_cache_file_is_ignored_and_rebuilt(site: Site) -> None:
    site.build()
    expected = site.files()
    db_file = site.config.cache_dir / "cache.sqlite3"  # type: ignore[operator]
    for suffix in ("-wal", "-shm"):
        Path(f"{db_file}{suffix}").unlink(missing_ok=True)
    db_file.write_bytes(db_file.read_bytes()[:100])
    shutil.rmtree(site.config.out)
    site.build()
    assert len(site.seen) == 7
    assert site.files() == expected
    shutil.rmtree(site.config.out)
    site.build()  # the rebuilt cache serves again
    assert site.seen == []


def test_a_rebuild_with_nothing_changed_typesets_and_rewrites_nothing(site: Site) -> None:
    first = site.build()
    before = site.mtimes()
    second = site.build()
    assert site.seen == []
    assert second.built == [] and second.rendered == []
    assert site.mtimes() == before
    assert (second.pages, second.formulas) == (first.pages, first.formulas)


def test_problems_are_reported_again_by_a_rebuild_that_builds_nothing(tmp_path: Path) -> None:
    site = Site(tmp_path, {"bad.md": "# Bad\n\nSee $\\nosuchmacro$ and [x](missing.md).\n"})
    first = site.build()
    second = site.build()
    assert second.built == []
    assert [d.format() for d in second.diagnostics] == [d.format() for d in first.diagnostics]
    assert len(first.errors) == 2
    (site.src / "missing.md").write_text("# Here now\n", encoding="utf-8")
    third = site.build()  # the link's target appeared: the note is built again
    assert "bad.md" in [str(p) for p in third.built]
    assert [d.message for d in third.diagnostics] == ["Undefined control sequence: \\nosuchmacro"]


def test_one_changed_note_is_the_only_one_built(site: Site, tmp_path: Path) -> None:
    site.build()
    before = site.mtimes()
    (site.src / "other.md").write_text("# Other\n\nJust $z$ and $w$.\n", encoding="utf-8")
    report = site.build()
    assert [str(p) for p in report.built] == ["other.md"]
    assert site.seen == ["w"]
    after = site.mtimes()
    assert after["sets.html"] == before["sets.html"] and after["index.html"] == before["index.html"]
    assert after["other.html"] != before["other.html"]
    assert _pages(site.files()) == _pages(_from_scratch(site, tmp_path))


def test_a_note_saved_while_it_is_built_is_built_again_by_the_next_build(tmp_path: Path) -> None:
    site = Site(tmp_path, {"sets.md": NOTE}, macros=MACROS)
    note = site.src / "sets.md"

    class SavingEngine(SpyEngine):
        def render_batch(
            self, requests: Sequence[MathRequest], macros: Mapping[str, str]
        ) -> list[MathResult]:  # noqa: E501
            note.write_text(NOTE.replace("Later", "Then"), encoding="utf-8")  # after the note was read
            return super().render_batch(requests, macros)

    # Not when the engine is made: a cold build makes it at once, maybe before the note is read.
    build_site(site.config, lambda dist, config: SavingEngine(dist, config, site.seen))
    report = site.build()
    assert [str(p) for p in report.built] == ["sets.md"]
    assert "Then" in site.files()["sets.html"].decode()


def test_code_coloured_once_is_not_given_to_pygments_again(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = "```python\ndef f(x):\n    return x\n```\n"
    (site.src / "other.md").write_text(f"# Other\n\n{code}", encoding="utf-8")
    site.build()
    coloured: list[str] = []
    original = highlight.highlight_code
    spy = lambda *args: coloured.append(args[0]) or original(*args)  # noqa: E731
    monkeypatch.setattr(highlight, "highlight_code", spy)
    (site.src / "other.md").write_text(f"# Other\n\nNew words.\n\n{code}", encoding="utf-8")
    site.build()
    assert coloured == []
    (site.src / "other.md").write_text(f"# Other\n\n{code}\n```python\ny = 2\n```\n", encoding="utf-8")
    site.build()
    assert coloured == ["y = 2\n"]
    assert _pages(site.files()) == _pages(_from_scratch(site, tmp_path))


def test_a_new_title_renders_the_pages_that_list_it_but_typesets_nothing(site: Site, tmp_path: Path) -> None:
    site.build()
    (site.src / "other.md").write_text("# Another title\n\nJust $z$.\n", encoding="utf-8")
    report = site.build()
    assert site.seen == []
    assert [str(p) for p in report.built] == ["other.md"]
    assert "Another title" in site.files()["index.html"].decode()
    assert _pages(site.files()) == _pages(_from_scratch(site, tmp_path))


def test_a_template_change_renders_every_page_and_typesets_nothing(site: Site, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    site.build(templates_dir=templates)
    base = templates / "base.html"
    base.write_text(
        base.read_text(encoding="utf-8").replace("<main", "<!-- changed --><main"), encoding="utf-8"
    )
    report = site.build(templates_dir=templates)
    assert site.seen == [] and report.built == []
    assert all(b"<!-- changed -->" in data for data in _pages(site.files()).values())
    assert _pages(site.files()) == _pages(_from_scratch(site, tmp_path, templates_dir=templates))


def test_a_page_removed_from_the_output_is_written_again(site: Site) -> None:
    site.build()
    expected = site.files()
    (site.config.out / "sets.html").unlink()
    report = site.build()
    assert site.seen == [] and report.built == []
    assert site.files() == expected


def test_a_cached_build_equals_a_build_from_scratch(tmp_path: Path) -> None:
    src = FIXTURES / "site-basic"
    warm = Config(src=src, out=tmp_path / "warm", cache_dir=tmp_path / "cache")
    build_site(warm)
    shutil.rmtree(warm.out)
    again = build_site(warm)  # every formula and body now comes from the cache
    assert again.built == []
    cold = Config(src=src, out=tmp_path / "cold")
    build_site(cold)
    files = {p.relative_to(warm.out): p.read_bytes() for p in warm.out.rglob("*") if p.is_file()}
    assert files == {p.relative_to(cold.out): p.read_bytes() for p in cold.out.rglob("*") if p.is_file()}


@pytest.fixture
def rendered_here(monkeypatch: pytest.MonkeyPatch) -> list[NoteRecord]:
    """The notes whose page this process renders (workers are other processes), as it begins."""
    rendered: list[NoteRecord] = []
    note_page = templates.PageRenderer.note
    monkeypatch.setattr(
        templates.PageRenderer,
        "note",
        lambda self, record, body: rendered.append(record) or note_page(self, record, body),
    )
    return rendered


def test_workers_build_the_same_site_as_one_process(tmp_path: Path, rendered_here: list[NoteRecord]) -> None:
    src = tmp_path / "src"
    shutil.copytree(FIXTURES / "site-basic", src)
    shutil.copy(REPO / "notes" / "n1.md", src / "n1.md")
    outputs = {}
    for jobs in (1, 2):
        rendered_here.clear()
        out = tmp_path / f"out{jobs}"
        report = build_site(Config(src=src, out=out, jobs=jobs), pool_min_bytes=0)
        outputs[jobs] = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
        assert sorted(report.rendered) == sorted([*report.pages, PurePosixPath("index.html")])
        assert len(rendered_here) == (len(report.pages) if jobs == 1 else 0)  # bodies stay in workers
        assert report.workers == (0 if jobs == 1 else 2)
    assert outputs[1] == outputs[2]
    # A process that has not loaded V8 forks its workers (this one spawns them): the same site.
    forked = tmp_path / "forked"
    script = (
        "from pathlib import Path; from notes_render import config\n"
        "from notes_render.build import pipeline\n"
        "import sys; assert 'py_mini_racer' not in sys.modules  # so the pool forks\n"
        f"site = config.Config(src=Path({str(src)!r}), out=Path({str(forked)!r}), jobs=2)\n"
        "report = pipeline.build_site(site, pool_min_bytes=0)\n"
        "assert report.workers == 2 and 'jinja2' not in sys.modules  # workers wrote every page\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert {p.relative_to(forked): p.read_bytes() for p in forked.rglob("*") if p.is_file()} == outputs[1]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # an orphan's zombie may wait for a reaper: it has stopped all the same


def test_workers_stop_when_the_build_that_started_them_is_killed(tmp_path: Path) -> None:
    # Each worker makes its engine on its first formula: there, it says who it is and, once
    # both have, kills the build, which leaves its workers at work with no clean-up run.
    printed, src = tmp_path / "pids", tmp_path / "src"
    src.mkdir()
    for i in range(4):  # two for each worker
        (src / f"n{i}.md").write_text(f"# Note {i}\n\n$x^{i}$\n", encoding="utf-8")
    script = (
        "import os, time; from pathlib import Path; from notes_render import config\n"
        "from notes_render.build import pipeline\n"
        f"PIDS, BUILD = Path({str(printed)!r}), os.getpid()\n"
        "def engine(dist, settings):\n"
        "    with PIDS.open('a') as pids:\n"
        "        print(os.getpid(), file=pids, flush=True)\n"
        "    while len(PIDS.read_text().split()) < 2:\n"
        "        time.sleep(0.01)\n"
        "    os.kill(BUILD, 9)\n"
        "    return pipeline.default_engine(dist, settings)\n"
        f"site = config.Config(src=Path({str(src)!r}), "
        f"out=Path({str(tmp_path / 'out')!r}), jobs=2)\n"
        "pipeline.build_site(site, engine, pool_min_bytes=0)\n"
    )
    with (tmp_path / "stdout").open("w") as stdout:  # not a pipe: the workers' copy would hold run() up
        done = subprocess.run([sys.executable, "-c", script], cwd=REPO, stdout=stdout, timeout=60)
    pids = [int(pid) for pid in printed.read_text().split()]
    assert done.returncode == -9 and len(pids) == 2
    try:
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in pids)
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)


def _dying_engine(dist: Path, config: Config) -> MiniRacerEngine:
    os._exit(7)  # a worker killed while it typesets (out of memory, say)


def test_a_worker_that_dies_fails_the_build_with_a_clear_error(
    tmp_path: Path,
) -> None:
    config = Config(src=FIXTURES / "site-basic", out=tmp_path / "out", jobs=2)
    with pytest.raises(BuildError, match=r"a build worker stopped unexpectedly \(exit code 7\)"):
        build_site(config, _dying_engine, pool_min_bytes=0)


def test_a_template_error_in_a_worker_is_reported_as_in_one_process(
    tmp_path: Path, rendered_here: list[NoteRecord]
) -> None:
    templates_dir = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates_dir)
    (templates_dir / "note.html").write_text(
        "{% extends 'base.html' %}{% block main %}{{ nothing_like_this }}{% endblock %}", encoding="utf-8"
    )
    messages, here = [], []
    for jobs in (1, 2):
        rendered_here.clear()
        config = Config(
            src=FIXTURES / "site-basic", out=tmp_path / f"out{jobs}", templates_dir=templates_dir, jobs=jobs
        )
        with pytest.raises(ConfigError) as raised:
            build_site(config, pool_min_bytes=0)
        messages.append(str(raised.value))
        here.append(len(rendered_here))
    expected = f"{templates_dir / 'note.html'}:1: template error: 'nothing_like_this' is undefined"
    assert messages[0] == messages[1] == expected
    assert here == [1, 0]  # the second build's pages were rendered in workers


def test_a_content_error_survives_the_trip_from_a_worker() -> None:
    error = ContentError(SourcePosition(Path("a.md"), 3, 4), "not valid UTF-8 (byte 0xff)")
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), again.position, again.message, str(again)) == (
        ContentError,
        error.position,
        error.message,
        "a.md:3:4: not valid UTF-8 (byte 0xff)",
    )


def test_cache_options_on_the_command_line(build_notes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cache = tmp_path / "my-cache"
    result = build_notes({"a.md": "# A\n\n$x$\n"}, "--cache-dir", str(cache))
    assert result.code == 0 and (cache / "cache.sqlite3").is_file()
    assert "1 notes built" in result.stderr
    again = build_notes({"a.md": "# A\n\n$x$\n"}, "--cache-dir", str(cache))
    assert "0 notes built" in again.stderr
    no_cache = build_notes({"a.md": "# A\n\n$x$\n"}, "--no-cache", "--cache-dir", str(tmp_path / "none"))
    assert "1 notes built" in no_cache.stderr and not (tmp_path / "none").exists()
    from notes_render import cli

    assert cli.main(["cache", "prune", "--cache-dir", str(cache), "--max-age", "0"]) == 0
    db = sqlite3.connect(cache / "cache.sqlite3")
    assert db.execute("SELECT count(*) FROM formulas").fetchone() == (0,)
    db.close()


def test_two_builds_at_once_share_one_cache(tmp_path: Path) -> None:
    import subprocess
    import sys

    src = tmp_path / "src"
    src.mkdir()
    for n in range(12):
        formulas = " ".join(f"${chr(97 + n % 26)}_{{{n}{k}}} + \\frac{{{k}}}{{{n + 1}}}$" for k in range(40))
        (src / f"n{n:02d}.md").write_text(f"# Note {n}\n\n{formulas}\n", encoding="utf-8")
    command = [sys.executable, "build.py", "--src", str(src), "--cache-dir", str(tmp_path / "cache"), "-q"]
    runs = [
        subprocess.Popen([*command, "--out", str(tmp_path / f"out{i}")], cwd=REPO, stderr=subprocess.PIPE)
        for i in range(2)
    ]
    for run in runs:
        _, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
    sites = [
        {p.relative_to(tmp_path / f"out{i}"): p.read_bytes() for p in (tmp_path / f"out{i}").rglob("*.html")}
        for i in range(2)
    ]
    assert sites[0] == sites[1] and len(sites[0]) == 13
    build_site(make_config(src=src, out=tmp_path / "scratch", project_dir=REPO, use_cache=False))
    scratch = {
        p.relative_to(tmp_path / "scratch"): p.read_bytes() for p in (tmp_path / "scratch").rglob("*.html")
    }
    assert sites[0] == scratch


def test_prune_forgets_builds_whose_output_folder_is_gone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A preview builds into a temporary folder; once it is gone, its build state goes too."""
    import shutil

    from notes_render import cli

    src, cache = tmp_path / "src", tmp_path / "cache"
    src.mkdir()
    (src / "a.md").write_text("# A\n\n$x$\n", encoding="utf-8")
    for out in ("kept", "gone"):
        assert (
            cli.main(["--src", str(src), "--out", str(tmp_path / out), "--cache-dir", str(cache), "-q"]) == 0
        )
    assert len(list((cache / "builds").glob("*.json"))) == 2
    shutil.rmtree(tmp_path / "gone")
    assert cli.main(["cache", "prune", "--cache-dir", str(cache)]) == 0
    (state,) = (cache / "builds").glob("*.json")
    assert str(tmp_path / "kept") in state.read_text(encoding="utf-8")
    # The kept build still knows its notes: nothing is built again.
    capsys.readouterr()
    code = cli.main(["--src", str(src), "--out", str(tmp_path / "kept"), "--cache-dir", str(cache)])
    assert code == 0
    assert "(0 notes built, 0 pages rendered)" in capsys.readouterr().err


def test_the_cache_folder_can_be_named_by_the_environment(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from notes_render import cli

    src = tmp_path / "src"
    src.mkdir()
    (src / "a.md").write_text("$x$\n", encoding="utf-8")
    monkeypatch.setenv("NOTES_RENDER_CACHE_DIR", str(tmp_path / "env-cache"))
    assert cli.main(["--src", str(src), "--out", str(tmp_path / "out"), "-q"]) == 0
    assert (tmp_path / "env-cache" / "cache.sqlite3").is_file()
    # --cache-dir still wins over the environment.
    assert (
        cli.main(
            ["--src", str(src), "--out", str(tmp_path / "o2"), "--cache-dir", str(tmp_path / "c2"), "-q"]
        )
        == 0
    )
    assert (tmp_path / "c2" / "cache.sqlite3").is_file()


def test_a_template_may_filter_the_content_it_is_given(tmp_path: Path) -> None:
    # `content` is the note's HTML to every filter, in one process as in workers.
    templates_dir = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates_dir)
    note_template = templates_dir / "note.html"
    note_template.write_text(
        note_template.read_text(encoding="utf-8").replace(
            "{{ content }}", '{{ content }}<p id="words">{{ content|striptags|wordcount }} words</p>'
        ),
        encoding="utf-8",
    )
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.md").write_text("# Title\n\nOne two three, with $x$.\n", encoding="utf-8")
    (src / "b.md").write_text("# Other\n\nFour.\n", encoding="utf-8")
    for jobs in (1, 2):
        config = Config(src=src, out=tmp_path / f"out{jobs}", templates_dir=templates_dir, jobs=jobs)
        report = build_site(config, pool_min_bytes=0)
        assert report.workers == (0 if jobs == 1 else 2)
        page = (config.out / "a.html").read_text(encoding="utf-8")
        body = page.split('<article class="note">\n')[1].split('<p id="words">')[0]
        words = len(re.findall(r"\w+", Markup(body).striptags()))  # what Jinja's filters count
        assert "One two three" in body and f'<p id="words">{words} words</p>' in page, jobs


def test_every_module_of_the_package_counts_in_the_inputs_fingerprint() -> None:
    # A change to any module, in any subpackage, must build every note again.
    import notes_render

    walked = {name for _, name, is_package in pkgutil.walk_packages(notes_render.__path__, "notes_render.")}
    root = Path(notes_render.__file__).parent
    fingerprinted = {
        "notes_render." + ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        for path in code_files()
    }
    assert walked <= fingerprinted
    assert "notes_render.passes.headings" in fingerprinted


def test_verbose_says_why_each_note_was_built_and_each_page_rendered(build_notes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cache = ("--cache-dir", str(tmp_path / "cache"), "--verbose", "-q")
    notes = {"a.md": "# A\n\nSee [b](b.md).\n", "b.md": "# B\n\n$x$\n", "c.md": "# C\n"}
    first = build_notes(notes, *cache)
    assert first.stderr.splitlines() == [
        "a.md: not built before",
        "b.md: not built before",
        "c.md: not built before",
        "index.html: not rendered before",
    ]
    # Every note is written again (so touched); only b.md's bytes differ.
    retitled = build_notes({**notes, "b.md": "# Bee\n\n$x$\n"}, *cache)
    assert retitled.stderr.splitlines() == [
        "b.md: content changed",
        "a.md: links to b.md, whose title changed",
        "c.html: a title changed",
        "index.html: a title changed",
    ]
    assert build_notes({**notes, "b.md": "# Bee\n\n$x$\n"}, *cache).stderr == ""
    fewer = build_notes({"a.md": notes["a.md"], "b.md": "# Bee\n\n$x$\n"}, *cache)
    assert fewer.stderr.splitlines() == [
        "c.md: removed",
        "a.html: a note was removed: c.md",
        "b.html: a note was removed: c.md",
        "index.html: a note was removed: c.md",
    ]
