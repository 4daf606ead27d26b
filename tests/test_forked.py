"""KaTeX started in a child process at the start of a cold build (typeset/forked.py).

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

import pytest
from conftest import REPO

pytestmark = pytest.mark.skipif(
    not hasattr(os, "fork") or sys.platform == "darwin", reason="the child is forked only where fork is sound"
)

NOTE = "# Sums\n\nInline $\\sum_{k=1}^n k = \\frac{n(n+1)}{2}$ and a display:\n\n$$\ne^{i\\pi} + 1 = 0\n$$\n"


def _run(code: str) -> dict[str, object]:
    """Run Python code in a new interpreter at the repository root; what it printed last, as JSON."""
    preamble = "import json, os, sys\nfrom pathlib import Path\nfrom notes_render.typeset import forked\n"
    done = subprocess.run(
        [sys.executable, "-c", preamble + code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def _site(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "sums.md").write_text(NOTE, encoding="utf-8")
    return src


def _pages(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.html"))}


BUILD = """
from notes_render import cli
import threading
src, out, cache, thread = sys.argv[1:] if len(sys.argv) > 1 else ({args})
if thread == "thread":  # a second thread running: this process may not fork
    threading.Thread(target=threading.Event().wait, daemon=True).start()
codes = [cli.main(["--src", src, "--out", out, "--cache-dir", cache, "-q"]) for _ in range(2)]
print(json.dumps({{"codes": codes, "children": len(forked._started),
                  "mini_racer_here": "py_mini_racer" in sys.modules}}))
"""


def _build(tmp_path: Path, name: str, thread: str) -> dict[str, object]:
    src = tmp_path / "src"
    args = (str(src), str(tmp_path / name), str(tmp_path / f"{name}-cache"), thread)
    return _run(BUILD.format(args=repr(args)))


def test_a_cold_build_typesets_in_the_child_and_writes_the_same_pages(tmp_path: Path) -> None:
    _site(tmp_path)
    forked_build = _build(tmp_path, "forked", "none")
    # Two builds in a row: the first, cold, forked one child; the second found its state.
    assert forked_build == {"codes": [0, 0], "children": 1, "mini_racer_here": False}
    threaded_build = _build(tmp_path, "threaded", "thread")
    assert threaded_build == {"codes": [0, 0], "children": 0, "mini_racer_here": True}
    pages = _pages(tmp_path / "forked")
    assert pages == _pages(tmp_path / "threaded")
    assert 'class="katex-display"' in pages["sums.html"].decode("utf-8")


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
except RuntimeError as exc:
    error = str(exc)
print(json.dumps({"first": first.error is None and b"katex" in first.html, "error": error}))
""")
    assert answer == {"first": True, "error": "KaTeX's process ended: killed by signal 9"}


def test_the_child_takes_the_settings_it_is_opened_with() -> None:
    answer = _run("""
from notes_render.typeset.katex import MathRequest, find_katex
dist = find_katex(None)
link = [MathRequest(r"\\href{https://example.org/}{x}", False)]
answers = {}
for started, opened in [(None, True), (dist, False), (dist, True)]:
    assert forked.start(started, trust_links=False)
    result = forked.take().open(dist, trust_links=opened).render_batch(link, {})[0]
    linked = b'href="https://example.org/"' in (result.html or b"")
    answers[f"{started is not None} {opened}"] = result.error or "link" * linked
    forked.end_all()
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
        "False True": "link",
        "True False": refused,
        "True True": "link",
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
print(json.dumps({**answers, "children": len(forked._started)}))
""")
    assert answer == {"darwin": False, "win32": False, "a thread": False, "children": 0}


def test_ctrl_c_stops_a_cold_build_and_its_child_cleanly(tmp_path: Path) -> None:
    # Ctrl-C reaches the whole process group; the build must say it was interrupted, not
    # that KaTeX's process ended, and leave no child behind.
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
        start_new_session=True,  # a process group of its own, as a terminal gives
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # not ignored, as in `cmd &`
    )
    children = Path(f"/proc/{build.pid}/task/{build.pid}/children")
    deadline = time.monotonic() + 30
    while not children.read_text().split() and time.monotonic() < deadline:
        time.sleep(0.01)
    child = int(children.read_text().split()[0])
    time.sleep(0.3)  # the child is typesetting by now
    os.killpg(build.pid, signal.SIGINT)
    _, stderr = build.communicate(timeout=60)
    assert (build.returncode, stderr) == (
        130,
        "notes-render: interrupted; pages already written are complete, none is half-written\n",
    )
    assert not Path(f"/proc/{child}").exists()
