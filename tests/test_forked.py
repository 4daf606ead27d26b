"""KaTeX started in a child process: at the start of a cold build, or by a rebuild on its first
formula the cache does not know (typeset/forked.py).

Each case runs in a fresh interpreter: whether a process may fork depends on what it has
loaded and which threads it runs, which a test session does not control.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO

pytestmark = pytest.mark.skipif(
    not hasattr(os, "fork") or sys.platform == "darwin", reason="the child is forked only where fork is sound"
)

NOTE = "# Sums\n\nInline $\\sum_{k=1}^n k = \\frac{n(n+1)}{2}$ and a display:\n\n$$\ne^{i\\pi} + 1 = 0\n$$\n"


PREAMBLE = """import json, os, sys
from pathlib import Path
from notes_render.typeset import forked
def unreaped():
    try:
        os.waitpid(-1, os.WNOHANG)
        return True
    except ChildProcessError:
        return False
"""
"""What every case's code starts with; unreaped(): whether a child of its process is left."""


def _run(code: str) -> Any:
    """Run Python code in a new interpreter at the repository root; what it printed last, as JSON."""
    done = subprocess.run(
        [sys.executable, "-c", PREAMBLE + code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _site(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "sums.md").write_text(NOTE, encoding="utf-8")
    return src


def _site_for_workers(tmp_path: Path) -> Path:
    """tmp_path/src with 4 notes of 75 KB: past the 256 KB from which a build uses workers."""
    src = tmp_path / "src"
    src.mkdir()
    prose = "Words that take room but no typesetting, over and over again. " * 1200
    for n in range(4):
        (src / f"n{n}.md").write_text(f"# Note {n}\n\n$x_{n}$ {prose}\n", encoding="utf-8")
    return src


def _pages(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.html"))}


BUILD = """
from notes_render import cli
import threading
builds, thread = {args}
if thread:  # a second thread running: this process may not fork
    threading.Thread(target=threading.Event().wait, daemon=True).start()
discarded = []
real_discard = forked.discard
forked.discard = lambda: (discarded.append(len(forked._started)), real_discard())[1]
codes = []
for src, out, cache, add_note, arguments in builds:
    if add_note:  # after a build that failed for want of notes
        Path(src, "late.md").write_text("# Late\\n\\nThen $a^2$.\\n", encoding="utf-8")
    codes.append(cli.main(["--src", src, "--out", out, "--cache-dir", cache, "-q", *arguments]))
left = unreaped()
print(json.dumps({{"codes": codes, "opened": [bool(child.version) for child in forked._started],
                  "mini_racer_here": "py_mini_racer" in sys.modules, "children left": left,
                  "discarded": discarded}}))
"""


def _build(
    tmp_path: Path, name: str, *, thread: bool = False, times: int = 2, arguments: tuple[str, ...] = ()
) -> Any:
    """Build tmp_path/src `times` in one new interpreter (with `thread`, one that cannot fork)."""
    build = (str(tmp_path / "src"), str(tmp_path / name), str(tmp_path / f"{name}-cache"), False, arguments)
    return _run(BUILD.format(args=repr(([build] * times, thread))))


def test_a_cold_build_typesets_in_the_child_and_writes_the_same_pages(tmp_path: Path) -> None:
    _site(tmp_path)
    forked_build = _build(tmp_path, "forked")
    # Two builds in a row: the first, cold, forked one child and typeset there; the second
    # found its state and forked none.
    assert forked_build == {
        "codes": [0, 0],
        "opened": [True],
        "mini_racer_here": False,
        "children left": False,
        "discarded": [],
    }
    threaded_build = _build(tmp_path, "threaded", thread=True)
    assert threaded_build == {
        "codes": [0, 0],
        "opened": [],
        "mini_racer_here": True,
        "children left": False,
        "discarded": [],
    }
    pages = _pages(tmp_path / "forked")
    assert pages == _pages(tmp_path / "threaded")
    assert 'class="katex-display"' in pages["sums.html"].decode("utf-8")


def test_the_child_ends_before_the_pages_are_written(tmp_path: Path) -> None:
    # Nothing is typeset after the notes: the child's exit overlaps the pages, and the
    # build's end only reaps it.
    if not Path("/proc/self/stat").is_file():
        pytest.skip("reads the child's state from Linux's /proc")
    src = _site(tmp_path)
    answer = _run(f"""
import time
from notes_render import cli
from notes_render.build import pipeline
seen = []
write_pages = pipeline._write_pages
def watched(*args, **kwargs):
    pid = forked._started[0].pid
    deadline = time.monotonic() + 10
    state = ""
    while time.monotonic() < deadline:  # ended: a zombie until the build reaps it
        state = Path(f"/proc/{{pid}}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "Z":
            break
        time.sleep(0.01)
    seen.append(state)
    return write_pages(*args, **kwargs)
pipeline._write_pages = watched
code = cli.main(["--src", {str(src)!r}, "--out", {str(tmp_path / "out")!r}, "-q",
                 "--cache-dir", {str(tmp_path / "cache")!r}])
print(json.dumps({{"code": code, "seen": seen, "status": forked._started[0].end()}}))
""")
    assert answer == {"code": 0, "seen": ["Z"], "status": "killed by signal 15"}
    assert 'class="katex-display"' in (tmp_path / "out" / "sums.html").read_text(encoding="utf-8")


def test_a_build_after_a_failed_one_starts_its_own_child(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()  # no notes: the first build fails before it takes its child
    first = (str(tmp_path / "src"), str(tmp_path / "out"), str(tmp_path / "cache"), False, ())
    second = (*first[:3], True, ())
    answer = _run(BUILD.format(args=repr(([first, second], False))))
    assert answer == {
        "codes": [2, 0],
        "opened": [False, True],
        "mini_racer_here": False,
        "children left": False,
        "discarded": [],
    }
    assert "<mi>a</mi>" in (tmp_path / "out" / "late.html").read_text(encoding="utf-8")


def test_a_build_for_workers_stops_its_child_unused(tmp_path: Path) -> None:
    _site_for_workers(tmp_path)
    answer = _build(tmp_path, "pooled", times=1, arguments=("--jobs", "2"))
    # stopped as soon as the build chose workers (the one child started by then)
    assert answer == {
        "codes": [0],
        "opened": [False],
        "mini_racer_here": False,
        "children left": False,
        "discarded": [1],
    }
    assert "<mi>x</mi>" in (tmp_path / "pooled" / "n3.html").read_text(encoding="utf-8")


def test_a_child_that_dies_is_an_error_that_says_how() -> None:
    answer = _run("""
from notes_render.typeset.katex import MathRequest, find_katex
dist = find_katex(None)
assert forked.start(dist, trust_links=False)
engine = forked.take().open(dist, trust_links=False)
first = engine.render_batch([MathRequest("x^2", False)], {})[0]
os.kill(engine.pid, 9)
try:
    engine.render_batch([MathRequest("y", False)], {})
    error = None
except forked.ChildGone as exc:
    error = str(exc)
print(json.dumps({"first": first.error is None and b"katex" in first.html, "error": error}))
""")
    assert answer == {"first": True, "error": "KaTeX's process ended: killed by signal 9"}


def test_the_child_typesets_with_its_settings_and_is_not_used_with_others() -> None:
    answer = _run("""
from notes_render.typeset.katex import MathRequest, find_katex
dist = find_katex(None)
link = [MathRequest(r"\\href{https://example.org/}{x}", False)]
answers = {}
for trust in (False, True):
    assert forked.start(dist, trust_links=trust)
    result = forked.take().open(dist, trust_links=trust).render_batch(link, {})[0]
    linked = b'href="https://example.org/"' in (result.html or b"")
    answers[f"trust {trust}"] = result.error or "link" * linked
    forked.end_all()
assert forked.start(dist, trust_links=False)
child = forked.take()
answers["other settings"] = [child.open(dist, trust_links=True) is None, child.end()]
missing = Path("/no/such/katex/dist")
assert forked.start(missing, trust_links=False)
try:
    forked.take().open(missing, trust_links=False)
except OSError as exc:
    answers["missing"] = type(exc).__name__
print(json.dumps(answers))
""")
    refused = (
        "\\href to 'https://example.org/' is not allowed: "
        "links are refused unless katex.trust-links = true (http and https only)"
    )
    assert answer == {
        "trust False": refused,
        "trust True": "link",
        "other settings": [True, "killed by signal 15"],
        "missing": "FileNotFoundError",
    }


def test_an_unused_child_is_killed_and_reaped() -> None:
    answer = _run("""
from notes_render.typeset.katex import find_katex
assert forked.start(find_katex(None), trust_links=False)
pid = forked._started[0].pid
waiting = forked.waiting()
forked.discard()
try:
    os.waitpid(pid, os.WNOHANG)
    reaped = False
except ChildProcessError:
    reaped = True
after, taken = forked.waiting(), forked.take() is None
print(json.dumps({"waiting": waiting, "after": after, "taken": taken, "reaped": reaped}))
""")
    assert answer == {"waiting": True, "after": False, "taken": True, "reaped": True}


def test_no_child_where_fork_is_unsound() -> None:
    answer = _run("""
import threading
from notes_render.typeset.katex import find_katex
dist = find_katex(None)
real = sys.platform
answers = {}
for platform in ("darwin", "win32"):
    sys.platform = platform
    answers[platform] = forked.start(dist, trust_links=False)
sys.platform = real
stop = threading.Event()
threading.Thread(target=stop.wait).start()
answers["a thread"] = forked.start(dist, trust_links=False)
stop.set()
import signal
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps: the pid could be reused
answers["children not reaped"] = forked.start(dist, trust_links=False)
signal.signal(signal.SIGCHLD, signal.SIG_DFL)
fds = len(os.listdir("/proc/self/fd"))
def no_fork():
    raise BlockingIOError(11, "Resource temporarily unavailable")
real_fork, os.fork = os.fork, no_fork
answers["no process to spare"] = forked.start(dist, trust_links=False)
answers["descriptors kept"] = len(os.listdir("/proc/self/fd")) - fds
os.fork = real_fork
pipes = []
def second_pipe_fails():
    if pipes:
        raise OSError(24, "Too many open files")
    pipes.append(real_pipe())
    return pipes[-1]
real_pipe, os.pipe = os.pipe, second_pipe_fails
answers["no descriptor to spare"] = forked.start(dist, trust_links=False)
answers["descriptors kept after"] = len(os.listdir("/proc/self/fd")) - fds
os.pipe = real_pipe
import py_mini_racer
answers["mini-racer here"] = forked.start(dist, trust_links=False)
print(json.dumps({**answers, "children": len(forked._started)}))
""")
    assert answer == {
        "darwin": False,
        "win32": False,
        "a thread": False,
        "children not reaped": False,
        "no process to spare": False,
        "descriptors kept": 0,
        "no descriptor to spare": False,
        "descriptors kept after": 0,
        "mini-racer here": False,
        "children": 0,
    }


def test_a_build_whose_state_cannot_be_read_still_starts_its_child(tmp_path: Path) -> None:
    _site(tmp_path)
    answer = _run(f"""
from unittest import mock
from notes_render import cli
from notes_render.config import make_config
config = make_config(src=Path({str(tmp_path / "src")!r}), out=Path({str(tmp_path / "out")!r}))
with mock.patch.object(Path, "exists", side_effect=PermissionError(13, "Permission denied")):
    started = cli._start_katex(config)
forked.end_all()
print(json.dumps({{"started": started}}))
""")
    assert answer == {"started": True}


def test_a_child_dead_before_its_first_use_leaves_the_build_to_v8_here(tmp_path: Path) -> None:
    _site(tmp_path)
    answer = _run(f"""
from notes_render.build.pipeline import build_site
from notes_render.config import make_config
from notes_render.typeset.katex import find_katex
assert forked.start(find_katex(None), trust_links=False)
os.kill(forked._started[0].pid, 9)
config = make_config(src=Path({str(tmp_path / "src")!r}), out=Path({str(tmp_path / "out")!r}))
report = build_site(config)
print(json.dumps({{"errors": len(report.errors), "mini_racer_here": "py_mini_racer" in sys.modules,
                  "child": forked._started[0].end()}}))
""")
    assert answer == {"errors": 0, "mini_racer_here": True, "child": "killed by signal 9"}
    assert 'class="katex-display"' in (tmp_path / "out" / "sums.html").read_text(encoding="utf-8")


def _long_cold_build(tmp_path: Path, **popen: Any) -> tuple[subprocess.Popen[str], int]:
    """`build.py` started on one note of 6,000 formulas (~2 s, in one process), and the pid
    of the child it forked, once there (found through Linux's /proc)."""
    if not Path("/proc/self/task").is_dir():
        pytest.skip("finds the child through Linux's /proc")
    src = tmp_path / "src"
    src.mkdir()
    formulas = " ".join(f"$x_{{{n}}}^{{2}} + \\frac{{{n}}}{{y}}$" for n in range(6000))
    (src / "many.md").write_text(f"# Many\n\n{formulas}\n", encoding="utf-8")
    command = [sys.executable, "build.py", "--src", str(src), "--out", str(tmp_path / "out")]
    build = subprocess.Popen(
        [*command, "--cache-dir", str(tmp_path / "cache")],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )
    children = Path(f"/proc/{build.pid}/task/{build.pid}/children")
    deadline = time.monotonic() + 30
    while not children.read_text().split() and time.monotonic() < deadline:
        time.sleep(0.01)
    return build, int(children.read_text().split()[0])


def _wait_until_typesetting(child: int) -> None:
    """Until the child has used 0.3 s of CPU: it has ~0.06 s when V8 and KaTeX are ready, so
    it is typesetting then, however slow a loaded machine makes the parent's parsing."""
    ticks = os.sysconf("SC_CLK_TCK")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        if (int(fields[11]) + int(fields[12])) / ticks >= 0.3:  # utime + stime
            return
        time.sleep(0.01)
    pytest.fail("the child never started typesetting")


def _status_field(pid: int, name: str) -> str:
    """A field of Linux's /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key == name:
            return value.strip()
    raise AssertionError(f"no {name} in /proc/{pid}/status")


def test_ctrl_c_stops_a_cold_build_and_its_child_cleanly(tmp_path: Path) -> None:
    # Ctrl-C reaches the whole process group; the build must say it was interrupted, not
    # that KaTeX's process ended, and leave no child behind.
    build, child = _long_cold_build(
        tmp_path,
        start_new_session=True,  # a process group of its own, as a terminal gives
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # not ignored, as in `cmd &`
    )
    _wait_until_typesetting(child)
    # The child ignores Ctrl-C, and the parent stops it: were it to end first, the build
    # could report that KaTeX's process ended (a race the parent's own interrupt mostly wins).
    ignored = int(_status_field(child, "SigIgn"), 16)
    assert ignored & (1 << (signal.SIGINT - 1))
    os.killpg(build.pid, signal.SIGINT)
    _, stderr = build.communicate(timeout=60)
    assert (build.returncode, stderr) == (
        130,
        "notes-render: interrupted; pages already written are complete, none is half-written\n",
    )
    assert not Path(f"/proc/{child}").exists()


def test_a_process_forked_from_the_parent_does_not_take_its_child(tmp_path: Path) -> None:
    # A pool's worker is forked from the build: it must make its own V8, not share the
    # parent's pipes to the child.
    seen = tmp_path / "seen"
    answer = _run(f"""
from notes_render.typeset.katex import find_katex
assert forked.start(find_katex(None), trust_links=False)
worker = os.fork()
if worker == 0:
    Path({str(seen)!r}).write_text(json.dumps([forked.waiting(), forked.take() is None]))
    os._exit(0)
os.waitpid(worker, 0)
print(json.dumps({{"worker": json.loads(Path({str(seen)!r}).read_text()), "parent": forked.waiting()}}))
""")
    assert answer == {"worker": [False, True], "parent": True}


def test_a_child_killed_mid_build_stops_it_with_one_line(tmp_path: Path) -> None:
    # As a worker that dies: exit 1 and one line that says how, no traceback.
    build, child = _long_cold_build(tmp_path)
    # Killed while it typesets: a child killed before its first use would leave the build to
    # V8 in the parent instead.
    _wait_until_typesetting(child)
    os.kill(child, signal.SIGKILL)
    _, stderr = build.communicate(timeout=60)
    assert (build.returncode, stderr) == (
        1,
        "notes-render: error: KaTeX's process ended: killed by signal 9\n",
    )


def test_the_child_starts_v8_without_openssl() -> None:
    """asyncio, which mini-racer imports, would load OpenSSL for nothing: the child never
    opens a TLS connection."""
    if not Path("/proc/self/maps").is_file():
        pytest.skip("reads the child's libraries from Linux's /proc")
    answer = _run("""
from notes_render.typeset.katex import MathRequest, find_katex
assert "ssl" not in sys.modules
dist = find_katex(None)
assert forked.start(dist, trust_links=False)
engine = forked.take().open(dist, trust_links=False)
html = engine.render_batch([MathRequest("x^2", False)], {})[0].html
def ssl_in(pid):
    maps = Path(f"/proc/{pid}/maps").read_text()
    return "_ssl" in maps or "libssl" in maps
child = ssl_in(engine.pid)
import ssl  # a control: here, this Python's ssl shows in the maps
print(json.dumps({"typeset": b"<msup>" in html, "child": child, "here": ssl_in(os.getpid())}))
""")
    if not answer["here"]:
        pytest.skip("this Python's ssl module does not show as a library of its own")
    assert answer == {"typeset": True, "child": False, "here": True}


def test_a_mini_racer_that_needs_ssl_is_imported_with_it(tmp_path: Path) -> None:
    """What it imported without ssl (asyncio) is imported again with it."""
    fake = "import asyncio\nimport ssl\nSSL = ssl.OPENSSL_VERSION\n"
    (tmp_path / "py_mini_racer.py").write_text(fake, encoding="utf-8")
    answer = _run(f"""
assert "ssl" not in sys.modules and "asyncio" not in sys.modules
sys.path.insert(0, {str(tmp_path)!r})
forked._import_mini_racer()
import asyncio.base_events
imported, ssl = sys.modules["py_mini_racer"], sys.modules["ssl"]
print(json.dumps({{"imported": bool(imported.SSL), "asyncio's": asyncio.base_events.ssl is ssl is not None}}))
""")
    assert answer == {"imported": True, "asyncio's": True}


REBUILDS = """
from notes_render import cli
from notes_render.build.pipeline import build_site
from notes_render.config import make_config
src, out, cache, edits = {args}
note = Path(src, "sums.md")
seen = []
for edit in edits:
    if edit == "library":  # a caller of build_site, not the command line: never forks
        note.write_text(note.read_text(encoding="utf-8") + "\\nThen $z^3$.\\n", encoding="utf-8")
        build_site(make_config(src=Path(src), out=Path(out), cache_dir=Path(cache)))
        code = 0
    else:
        if edit.startswith("new "):  # a note the last build did not have
            Path(src, edit.removeprefix("new ")).write_text("# New\\n\\nThen $w^4$.\\n", encoding="utf-8")
        elif edit:
            note.write_text(note.read_text(encoding="utf-8") + edit, encoding="utf-8")
        code = cli.main(["--src", src, "--out", out, "--cache-dir", cache, "-q"])
    left = unreaped()
    seen.append([code, len(forked._started), "py_mini_racer" in sys.modules, left])
print(json.dumps(seen))
"""


def test_a_rebuild_forks_the_child_on_its_first_formula_the_cache_does_not_know(tmp_path: Path) -> None:
    src = _site(tmp_path)
    out, cache = tmp_path / "out", tmp_path / "cache"
    edits = ["", "\nA sentence.\n", "", "\nAnd $y_{2}$ too.\n", "new late.md", "library"]
    answer = _run(REBUILDS.format(args=repr((str(src), str(out), str(cache), edits))))
    # [exit code, children started so far, mini-racer imported here, a child left unreaped]
    assert answer == [
        [0, 1, False, False],  # cold: the child forked at the start
        [0, 1, False, False],  # prose edited: every formula cached, no child
        [0, 1, False, False],  # nothing changed
        [0, 2, False, False],  # a new formula: a child forked for it, V8 not loaded here
        [0, 3, False, False],  # a new note: a child forked before its parse
        [0, 3, True, False],  # build_site called by a library: V8 on a thread of this process
    ]
    page = (out / "sums.html").read_text(encoding="utf-8")
    assert "<mi>y</mi>" in page and "<mi>z</mi>" in page
    assert "<mi>w</mi>" in (out / "late.html").read_text(encoding="utf-8")
    assert page == _pages_with_a_thread(tmp_path, src)["sums.html"].decode("utf-8")


def test_a_child_stopped_before_it_answered_the_engine_leaves_no_v8_here(tmp_path: Path) -> None:
    # A cold build into a new output folder whose formulas are all in the cache: the build
    # stops the child forked for it, as nothing more is typeset, before the child answers
    # the engine's thread (held back here until then). That thread used to start V8 in
    # this process instead, which the build's end waited for.
    src = _site(tmp_path)
    answer = _run(f"""
import threading
from notes_render import cli
def build(out):
    return cli.main(["--src", {str(src)!r}, "--out", out, "--cache-dir", {str(tmp_path / "cache")!r}, "-q"])
codes = [build({str(tmp_path / "out")!r})]
stopped = threading.Event()
stop_all, open_child = forked.stop_all, forked.ForkedEngine.open
forked.stop_all = lambda: (stop_all(), stopped.set())[0]
held = []
def open_when_stopped(child, *args, **settings):
    held.append(stopped.wait(60))
    return open_child(child, *args, **settings)
forked.ForkedEngine.open = open_when_stopped
codes.append(build({str(tmp_path / "out2")!r}))
print(json.dumps({{"codes": codes, "children": len(forked._started), "held": held, "left": unreaped(),
                  "answered": [bool(child.version) for child in forked._started],
                  "mini_racer_here": "py_mini_racer" in sys.modules}}))
""")
    assert answer == {
        "codes": [0, 0],
        "children": 2,
        "held": [True],  # the engine's thread reached the child after the build stopped it
        "left": False,
        "answered": [True, False],
        "mini_racer_here": False,
    }
    assert _pages(tmp_path / "out2") == _pages(tmp_path / "out")


def test_a_rebuild_for_workers_forks_no_child(tmp_path: Path) -> None:
    src = _site_for_workers(tmp_path)
    answer = _run(f"""
from notes_render import cli
src = Path({str(src)!r})
arguments = ["--src", str(src), "--out", {str(tmp_path / "out")!r}, "--cache-dir",
             {str(tmp_path / "cache")!r}, "-q", "--jobs", "2"]
codes = [cli.main(arguments)]
for note in sorted(src.iterdir()):  # every note gets a formula the cache does not know
    note.write_text(note.read_text(encoding="utf-8") + "\\nThen $v^5$.\\n", encoding="utf-8")
codes.append(cli.main(arguments))
print(json.dumps({{"codes": codes, "started": len(forked._started), "here": "py_mini_racer" in sys.modules}}))
""")
    # the cold build's child, stopped unused; the rebuild's workers typeset with their own V8
    assert answer == {"codes": [0, 0], "started": 1, "here": False}
    assert "<mi>v</mi>" in (tmp_path / "out" / "n3.html").read_text(encoding="utf-8")


def _pages_with_a_thread(tmp_path: Path, src: Path) -> dict[str, bytes]:
    """The pages of src built cold with V8 on a thread (a second thread running forbids the fork)."""
    build = (str(src), str(tmp_path / "threaded"), str(tmp_path / "threaded-cache"), False, ())
    answer = _run(BUILD.format(args=repr(([build], True))))
    assert answer["opened"] == []
    return _pages(tmp_path / "threaded")
