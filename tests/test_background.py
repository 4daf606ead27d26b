"""Typesetting in the background: V8 works on one note while Python parses the next, and a
cold build starts V8 before its first note is parsed.

Each test holds one side until the other has done what it must have done by then; if the
overlap is gone, the side that waits gives up after WAIT_S and the test fails on what it saw.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO

from notes_render.build import assets, workers
from notes_render.build.pipeline import build_site, default_engine
from notes_render.config import Config
from notes_render.errors import ConfigError
from notes_render.markdown import parsing
from notes_render.typeset import katex
from notes_render.typeset.katex import MathEngine, MathRequest, MathResult, MiniRacerEngine

WAIT_S = 10.0


class GatedEngine:
    """The real engine; a batch holding `gated_tex` is typeset only once `gate` is open
    (or WAIT_S has passed), and `opened` says which it was."""

    def __init__(self, dist: Path, config: Config, gated_tex: str, gate: threading.Event) -> None:
        self._inner = MiniRacerEngine(dist, trust_links=config.trust_links)
        self.version = self._inner.version
        self._gated_tex, self._gate = gated_tex, gate
        self.opened: list[bool] = []
        self.threads: set[str] = set()

    def render_batch(self, requests: Sequence[MathRequest], macros: Mapping[str, str]) -> list[MathResult]:
        self.threads.add(threading.current_thread().name)
        if any(r.tex == self._gated_tex for r in requests):
            self.opened.append(self._gate.wait(WAIT_S))
        return self._inner.render_batch(requests, macros)


def _watch_parsing(monkeypatch: pytest.MonkeyPatch, on_parse: object) -> None:
    parse_note = parsing.parse_note

    def watched(note, text, dialect=None):  # type: ignore[no-untyped-def]
        on_parse(note.rel.name)  # type: ignore[operator]
        return parse_note(note, text, dialect)

    monkeypatch.setattr(parsing, "parse_note", watched)


def test_v8_typesets_a_note_while_the_next_is_parsed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.md").write_text("# A\n\nFirst $a^2$.\n", encoding="utf-8")
    (src / "b.md").write_text("# B\n\nThen $b^2$.\n", encoding="utf-8")
    b_parsed = threading.Event()
    _watch_parsing(monkeypatch, lambda name: name == "b.md" and b_parsed.set())
    engines: list[GatedEngine] = []

    def factory(dist: Path, config: Config) -> GatedEngine:
        engines.append(GatedEngine(dist, config, "a^2", b_parsed))
        return engines[-1]

    report = build_site(Config(src=src, out=tmp_path / "out"), factory)
    # a.md's formulas were still being typeset when b.md was parsed, on the engine's thread
    assert engines[0].opened == [True]
    assert engines[0].threads == {"notes-render-engine_0"}
    assert report.workers == 0 and report.formulas == 2
    assert "katex" in (tmp_path / "out" / "a.html").read_text(encoding="utf-8")


def test_a_cold_build_starts_v8_before_parsing_and_a_rebuild_only_when_it_must(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    note = src / "a.md"
    note.write_text("# A\n\nFirst $a^2$.\n", encoding="utf-8")
    made, cold = threading.Event(), [True]
    waited: list[bool] = []
    _watch_parsing(monkeypatch, lambda name: waited.append(made.wait(WAIT_S) if cold[0] else made.is_set()))

    def factory(dist: Path, config: Config) -> MiniRacerEngine:
        made.set()
        return MiniRacerEngine(dist, trust_links=config.trust_links)

    config = Config(src=src, out=tmp_path / "out", cache_dir=tmp_path / "cache")
    build_site(config, factory)
    assert waited == [True]  # the engine was being made while the note was parsed
    made.clear()
    waited.clear()
    cold[0] = False
    note.write_text("# A\n\nFirst $a^2$, edited.\n", encoding="utf-8")
    build_site(config, factory)
    assert waited == [False]  # a note the cache knows: no engine before its formulas ask
    assert not made.is_set()  # nor after: they were all cached


def test_prestarting_the_default_engine_imports_mini_racer_on_the_calling_thread(tmp_path: Path) -> None:
    """Before the engine's thread starts V8 (while this one goes on to import markdown-it)."""
    probe = (
        "import sys\nfrom pathlib import Path\n"
        "from notes_render.build.engine import LazyEngine, default_engine\n"
        "from notes_render.config import Config\nfrom notes_render.typeset.katex import find_katex\n"
        f"config = Config(src=Path({str(tmp_path)!r}), out=Path({str(tmp_path / 'out')!r}))\n"
        "engine = LazyEngine(config, find_katex(None), default_engine)\n"
        "before = 'py_mini_racer' in sys.modules\n"
        "engine.prestart()\n"
        "print(before, 'py_mini_racer' in sys.modules)\n"
        "engine.close()\n"
    )
    assert _run_probe(probe).split() == ["False", "True"]


def test_an_engine_started_on_another_thread_is_used_and_let_go_on_this_one() -> None:
    """Where the CPU has memory protection keys, a V8 started on a thread that has ended
    (the engine's, in a library build or the preview) killed the process with SIGSEGV
    when this thread later let it go; the rule V8 needs is in katex.V8_FLAGS."""
    probe = (
        "import threading\n"
        "from notes_render.typeset.katex import MathRequest, MiniRacerEngine, find_katex\n"
        "made = []\n"
        "thread = threading.Thread(target=lambda: made.append(MiniRacerEngine(find_katex(None))))\n"
        "thread.start()\nthread.join()\n"
        "[result] = made[0].render_batch([MathRequest(tex='x^2', display=False)], {})\n"
        "made[0].close()\n"
        "print('<msup>' in result.html.decode(), 'closed')\n"
    )
    assert _run_probe(probe).split() == ["True", "closed"]


def _run_probe(probe: str) -> str:
    """What Python code printed, run in a new interpreter at the repository root."""
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def test_workers_fit_their_threads_to_the_cores_and_build_the_same_site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers overlap Python and V8, and V8 keeps its helper threads, only with a core
    for each of their threads; the site is the same either way."""
    src = tmp_path / "src"
    shutil.copytree(FIXTURES / "site-basic", src)
    shutil.copy(REPO / "notes" / "n1.md", src / "n1.md")
    flags_seen = tmp_path / "flags.txt"
    monkeypatch.setenv("FLAGS_SEEN", str(flags_seen))  # for the workers, forked or spawned
    outputs, flags = {}, {}
    asked: list[int] = []
    for cores in (2, 8):

        def usable_cpus(cores: int = cores) -> int:
            asked.append(cores)
            return cores

        monkeypatch.setattr(workers, "usable_cpus", usable_cpus)
        flags_seen.write_text("", encoding="utf-8")
        out = tmp_path / f"out{cores}"
        report = build_site(Config(src=src, out=out, jobs=2), _noting_v8_flags, pool_min_bytes=0)
        assert report.workers == 2
        outputs[cores] = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
        flags[cores] = flags_seen.read_text(encoding="utf-8").splitlines()
    assert asked == [2, 8]
    assert outputs[2] == outputs[8]
    assert flags[2] == [" ".join(katex.V8_FLAGS + katex.BUSY_CORES_V8_FLAGS)] * 2  # one V8 a worker
    assert flags[8] == [" ".join(katex.V8_FLAGS)] * 2
    assert katex.BUSY_CORES_V8_FLAGS == ("--efficiency-mode",)


def _noting_v8_flags(dist: Path, config: Config) -> MathEngine:
    """The default engine, after noting the flags its process's V8 starts with."""
    with Path(os.environ["FLAGS_SEEN"]).open("a", encoding="utf-8") as seen:
        seen.write(" ".join(katex.v8_flags()) + "\n")
    return default_engine(dist, config)


def test_an_engine_starts_v8_with_the_flags_of_its_process() -> None:
    """What an engine gives V8, alone and once use_busy_cores has said the cores are busy
    (in a new interpreter: V8's flags are the process's)."""
    probe = (
        "import py_mini_racer\n"
        "from notes_render.typeset import katex\n"
        "given = []\n"
        "real_init = py_mini_racer.init_mini_racer\n"
        "def noting_init(flags=(), **options):\n"
        "    given.append(list(flags))\n"
        "    return real_init(flags=flags, **options)\n"
        "py_mini_racer.init_mini_racer = noting_init\n"
        "katex.MiniRacerEngine(katex.find_katex(None)).close()\n"
        "katex.use_busy_cores()\n"
        "katex.MiniRacerEngine(katex.find_katex(None)).close()\n"
        "print(given)\n"
    )
    # The second engine's flags are noted, not taken: V8 started with the first's.
    expected = [list(katex.V8_FLAGS), list(katex.V8_FLAGS + katex.BUSY_CORES_V8_FLAGS)]
    assert _run_probe(probe).strip() == str(expected)


def _refused(*args: object) -> int:
    raise OSError(22, "Invalid argument")


def test_the_default_jobs_are_the_cpus_this_process_may_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from notes_render import config

    monkeypatch.delattr(os, "process_cpu_count", raising=False)  # Python 3.11 and 3.12
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 5}, raising=False)  # taskset -c 0,5
    assert config.usable_cpus() == 2
    (tmp_path / "src").mkdir()
    made = config.make_config(src=tmp_path / "src", out=tmp_path / "out", project_dir=tmp_path)
    assert made.jobs == 2
    monkeypatch.setattr(os, "sched_getaffinity", _refused)
    assert config.usable_cpus() == 8
    monkeypatch.delattr(os, "sched_getaffinity")  # macOS, Windows
    assert config.usable_cpus() == 8
    monkeypatch.setattr(os, "process_cpu_count", lambda: 3, raising=False)  # Python 3.13
    assert config.usable_cpus() == 3
    monkeypatch.setattr(os, "process_cpu_count", _refused)  # 3.13 lets the system's error through
    assert config.usable_cpus() == 8


def test_code_is_coloured_and_templates_compiled_while_v8_typesets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from notes_render.markdown import highlight
    from notes_render.site import templates
    from notes_render.typeset.fonts import font_map

    src = tmp_path / "src"
    src.mkdir()
    # The second block's info string has attributes after a tab: split as markdown-it splits it.
    code = "```python\nx = 1\n```\n\n```python\tlinenos\ny = 2\n```\n"
    (src / "a.md").write_text(f"# A\n\nSee $a^2$.\n\n{code}", encoding="utf-8")
    coloured: list[str] = []
    prepared: list[Path] = []
    ready = threading.Event()
    highlight_code, prepare = highlight.highlight_code, templates.prepared_environment

    def colour(code: str, language: str, attrs: str) -> str:
        coloured.append(code)
        if prepared and len(coloured) == 2:  # both blocks, and the templates, while V8 waits
            ready.set()
        return highlight_code(code, language, attrs)

    def compile_templates(templates_dir: Path) -> object:
        prepared.append(templates_dir)
        return prepare(templates_dir)

    monkeypatch.setattr(highlight, "highlight_code", colour)
    monkeypatch.setattr(templates, "prepared_environment", compile_templates)
    engines: list[GatedEngine] = []
    # How the templates use the body is read once, also while the formula waits.
    while_waiting: list[bool] = []
    only_prints = templates.only_prints

    def read_use(*args: object, **kwargs: object) -> bool:
        while_waiting.append(not (engines and engines[0].opened))
        return only_prints(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(templates, "only_prints", read_use)
    # So is what the stylesheets and the pages' site need of Pygments and of KaTeX's CSS.
    shared_while_waiting: list[tuple[bool, bool]] = []
    prepare_shared = assets.prepare

    def prepare_assets(dist: Path, *, stylesheet: bool) -> None:
        shared_while_waiting.append((not (engines and engines[0].opened), stylesheet))
        prepare_shared(dist, stylesheet=stylesheet)

    monkeypatch.setattr(assets, "prepare", prepare_assets)

    def factory(dist: Path, config: Config) -> GatedEngine:
        engines.append(GatedEngine(dist, config, "a^2", ready))
        return engines[-1]

    font_maps_reused = font_map.cache_info().hits
    prepare_shared.cache_clear()  # as a new process finds them: nothing made yet
    assets.served_katex_css.cache_clear()
    build_site(Config(src=src, out=tmp_path / "out", cache_dir=tmp_path / "cache"), factory)
    assert engines[0].opened == [True]  # both were done while the formula waited
    assert shared_while_waiting == [(True, True)]  # Pygments' too: a new site writes its stylesheet
    assert font_map.cache_info().hits > font_maps_reused  # the pages' site took the map made
    cut = assets.served_katex_css.cache_info()
    assert (cut.misses, cut.hits) == (1, 2)  # cut once, ahead; then the plan's and the write's
    assert coloured == ["x = 1\n", "y = 2\n"]  # once each: the renderer took the colouring made ahead
    assert len(prepared) == 1  # once, for the page renderer
    assert while_waiting == [True]
    page = (tmp_path / "out" / "a.html").read_text(encoding="utf-8")
    assert '<pre class="highlight"><code class="language-python"><span class="n">x</span>' in page


def test_templates_compiled_ahead_serve_only_their_own_build(tmp_path: Path) -> None:
    src, templates_dir = tmp_path / "src", tmp_path / "templates"
    src.mkdir()
    shutil.copytree(REPO / "templates", templates_dir)
    (src / "a.md").write_text("# A\n\nSee $a^2$.\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.html").write_text("not the build's own", encoding="utf-8")
    config = Config(src=src, out=out, templates_dir=templates_dir)
    with pytest.raises(ConfigError):  # after its notes are built, before any page is written
        build_site(config)
    (out / "a.html").unlink()
    base_html = templates_dir / "base.html"
    stat = base_html.stat()
    base_html.write_text(base_html.read_text(encoding="utf-8").replace("<main", "<main data-edited"), "utf-8")
    os.utime(base_html, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as `cp -p` leaves it
    build_site(config)  # in the same process, as the preview does
    assert "<main data-edited" in (out / "a.html").read_text(encoding="utf-8")


def test_workers_are_not_forked_while_an_engine_thread_loads_v8() -> None:
    from notes_render.build import workers
    from notes_render.typeset.background import ThreadedEngine

    release = threading.Event()
    engine = ThreadedEngine(lambda: release.wait(WAIT_S) and None, "0")  # type: ignore[arg-type, return-value]
    try:  # V8 not imported yet, but a thread is on its way to it: a fork would copy it half made
        assert workers.start_method("linux") == "spawn"
    finally:
        release.set()
        engine.close()


def test_templates_compiled_ahead_include_those_the_pages_extend_or_include(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Compiled while V8 typesets, so that the first page rendered compiles nothing; one
    # that is broken but never rendered (a branch not taken) changes nothing of that.
    from notes_render.site import templates

    folder = tmp_path / "templates"
    shutil.copytree(REPO / "templates", folder)
    (folder / "parts").mkdir()
    (folder / "parts" / "footer.html").write_text("<footer>{{ site_title }}</footer>", encoding="utf-8")
    (folder / "latin.html").write_bytes(b"<p>caf\xe9</p>\n")
    index = folder / "index.html"
    before, after = index.read_text(encoding="utf-8").rsplit("{% endblock %}", 1)
    uses = '{% include "parts/footer.html" %}{% if false %}{% include "latin.html" %}{% endif %}'
    index.write_text(f"{before}{uses}{{% endblock %}}{after}", encoding="utf-8")
    prepared = templates.prepared_environment(folder)
    assert prepared is not None
    environment = prepared.environment
    compiled: list[object] = []

    def compile_again(*args: object, **options: object) -> object:
        compiled.append(args)
        raise AssertionError("compiled when rendered")

    monkeypatch.setattr(environment, "compile", compile_again)
    for name in ("note.html", "index.html", "base.html", "parts/footer.html"):
        environment.get_template(name)
    assert compiled == []


def test_templates_compiled_ahead_are_read_again_if_one_changes_before_the_pages(tmp_path: Path) -> None:
    from notes_render.site import templates

    folder = tmp_path / "templates"
    shutil.copytree(REPO / "templates", folder)
    compiled = templates.compile_templates(folder)
    assert compiled.splices(folder)  # the project's templates only print the body
    note = folder / "note.html"
    text = note.read_text(encoding="utf-8")
    assert "{{ content }}" in text
    note.write_text(text.replace("{{ content }}", "{{ content|striptags }}"), encoding="utf-8")
    os.utime(note, ns=(note.stat().st_atime_ns, note.stat().st_mtime_ns + 10**9))
    assert not compiled.splices(folder)  # what Jinja will render now looks at the body's text
