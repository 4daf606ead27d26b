"""KaTeX started in a child process at the start of a cold build, before the build's own
imports, or by a rebuild on its first formula the cache does not know.

On a small site V8's chain is a cold build's critical path: mini-racer's import (~45 ms of
Python, asyncio with it), V8's start and KaTeX's evaluation (~55 ms), then the formulas on
a cold JIT. On a thread of this process the chain could only start once the pipeline was
imported, and its Python shared the GIL with markdown-it's import. A child forked by the
command line right after reading its settings runs it on the other core: the 2-note cold
build took 0.506 s with the thread and 0.426 s this way (medians of 21 alternating runs).

The child is forked only where fork is sound (not Windows, not macOS; no other thread yet,
no V8 in this process, children reaped by this process) and uses nothing of the build (one
forked by a rebuild inherits its objects and the cache's open files, never touches them and
leaves by os._exit; its collector is kept off what it inherited): it starts V8 and KaTeX
with the settings it was forked with (KaTeX's folder, trust-links), then reads batches from
a pipe, answers each on another, and ends when its pipe closes or it is stopped. A build
that turns out not to need it (a pool of workers, each with its own V8) stops it at once;
one whose child died before its first use, or that asks for other settings than it was
started with, typesets in-process; one that stopped it before it answered the engine's
thread (every formula came from the cache) starts no V8 at all.

A rebuild (the cache holds the last build's state) mostly finds its formulas cached, so
the command line only permits the child there: the build forks it on the first formula the
cache does not know, and mini-racer's import and V8's start (~85 ms) overlap the rest of
the note, the templates and the code instead of sharing the GIL with them on a thread. One
formula added to one note of corpus200: 397 ms with the thread, 329 ms this way (medians of
20 alternating runs); a rebuild whose formulas are all cached forks nothing (prose edited:
243 and 241 ms).
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..errors import BuildError

if TYPE_CHECKING:
    from .katex import MathRequest, MathResult


class ChildGone(BuildError):
    """The child ended or was stopped before it answered: the build stops with one line,
    as when a worker dies."""


class ForkedEngine:
    """The parent's side: KaTeX in the child, one batch at a time (MathEngine, once opened)."""

    def __init__(
        self, pid: int, commands: IO[bytes], answers: IO[bytes], settings: tuple[Path, bool]
    ) -> None:
        self.pid = pid
        self.parent = os.getpid()
        self.settings = settings
        """KaTeX's dist/ folder and trust-links, as the child was started with them."""
        self.version = ""
        self.stopped = False
        """Whether the build asked it to end (stop()): it typesets nothing more."""
        self._commands = commands
        self._answers = answers
        self._status: str | None = None  # how it ended, once it has
        self._ending = threading.Lock()

    @property
    def ended(self) -> bool:
        """Whether the child was stopped or found gone."""
        return self._status is not None

    def open(self, dist: Path, *, trust_links: bool) -> ForkedEngine | None:
        """This engine once the child's KaTeX is ready, if the child was started with these
        settings and did not die before its first use; else None, the child stopped, for the
        caller to typeset in-process. ChildGone if its build stopped it first (stop()): it
        typesets nothing more, so no V8 is to start instead. An error starting KaTeX there
        (a broken dist/ folder) is raised here."""
        if (dist, trust_links) != self.settings:
            self.end()
            return None
        try:
            self.version = str(self._ask(("version",)))
        except ChildGone:
            if self.stopped:  # every formula came from the cache; a V8 now would hold up the end
                raise ChildGone("KaTeX's process was stopped: its build typesets nothing more") from None
            return None  # killed, out of memory: V8 is started by the caller instead
        return self

    def render_batch(self, requests: Sequence[MathRequest], macros: Mapping[str, str]) -> list[MathResult]:
        """Typeset formulas in order, as MiniRacerEngine.render_batch does in the child."""
        if not requests:
            return []
        results: list[MathResult] = self._ask(("batch", list(requests), dict(macros)))
        return results

    def _ask(self, command: tuple[Any, ...]) -> Any:
        try:
            pickle.dump(command, self._commands, protocol=pickle.HIGHEST_PROTOCOL)
            self._commands.flush()
            kind, value = pickle.load(self._answers)
        # EOF, a broken pipe or a cut answer: the child is gone (killed, out of memory, V8
        # crashed); a closed file: the build stopped it meanwhile, on another thread.
        except (EOFError, OSError, ValueError, pickle.UnpicklingError) as exc:
            raise ChildGone(f"KaTeX's process ended: {self.end()}") from exc
        if kind == "error":
            raise value
        return value

    def stop(self) -> None:
        """Ask the child to end now, without waiting for it (end() reaps it): the build has
        typeset everything, and the child's exit, a few milliseconds of the kernel letting
        go of V8's memory, then overlaps the pages being written."""
        with self._ending:
            self.stopped = True
            if self._status is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGTERM)

    def end(self) -> str:
        """Stop the child (it holds nothing to save) and reap it; how it ended."""
        with self._ending:
            if self._status is not None:
                return self._status
            with contextlib.suppress(ProcessLookupError):
                # Its default action, which the child sets first (one stopped before that,
                # where this process ignores SIGTERM, ends when it finds its pipe closed).
                os.kill(self.pid, signal.SIGTERM)
            for stream in (self._commands, self._answers):
                with contextlib.suppress(OSError):  # a child gone mid-answer leaves a broken pipe
                    stream.close()
            try:
                _, status = os.waitpid(self.pid, 0)
            except ChildProcessError:  # reaped by someone else after all
                self._status = "reaped elsewhere"
            else:
                code = os.waitstatus_to_exitcode(status)
                self._status = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
            return self._status


_early: ForkedEngine | None = None
"""The child started in this process, until it is taken."""
_started: list[ForkedEngine] = []
"""Every child started in this process, stopped by end_all() and at its exit."""
_permitted: int | None = None
"""The process whose command line permitted its build to start the child itself (permit())."""


def start(dist: Path, *, trust_links: bool) -> bool:
    """Fork the child now, where fork is sound, to start V8 and KaTeX from dist (KaTeX's
    dist/ folder); whether it was."""
    global _early
    fork = getattr(os, "fork", None)  # None on Windows
    if fork is None or not _can_fork() or waiting():
        return False
    pipes: list[int] = []
    try:
        pipes += os.pipe()
        pipes += os.pipe()
        pid = fork()
    except OSError:  # no descriptor or process to spare (a container's limits): V8 starts here
        for fd in pipes:
            os.close(fd)
        return False
    commands_in, commands_out, answers_in, answers_out = pipes
    if pid == 0:  # the child: never returns to the caller
        # What it inherited is never collected here: a finalizer (a file object's flush) run
        # by this copy would act on the parent's files. It costs nothing (two lists moved).
        gc.freeze()
        code = 1
        try:
            os.close(commands_out)
            os.close(answers_in)
            code = _serve(os.fdopen(commands_in, "rb"), os.fdopen(answers_out, "wb"), dist, trust_links)
        finally:
            os._exit(code)  # no exit handler or stream of the parent's may run here
    os.close(commands_in)
    os.close(answers_out)
    pipes_here = os.fdopen(commands_out, "wb"), os.fdopen(answers_in, "rb")
    _early = ForkedEngine(pid, *pipes_here, (dist, trust_links))
    if not _started:
        import atexit

        atexit.register(end_all)
    _started.append(_early)
    return True


def permit() -> None:
    """Let this process's build start the child itself, once, when it first needs V8
    (start_if_permitted). Forking stays the command line's choice: a library caller, a test
    or the preview server typesets in-process."""
    global _permitted
    _permitted = os.getpid()


def start_if_permitted(dist: Path, *, trust_links: bool) -> bool:
    """Start the child now if this process's command line permitted it and the permission
    is unused (start()'s conditions apply too); whether it was."""
    global _permitted
    if _permitted != os.getpid():  # none given, used already, or given to the parent of a worker
        return False
    _permitted = None
    return start(dist, trust_links=trust_links)


def take() -> ForkedEngine | None:
    """The child started in this process, if it is still there and unused; only its first
    taker gets it."""
    global _early
    early, _early = _early, None
    if early is None or early.parent != os.getpid() or early.ended:  # a worker forked from its parent
        return None
    return early


def waiting() -> bool:
    """Whether a child started in this process waits to be taken."""
    return _early is not None and _early.parent == os.getpid() and not _early.ended


def discard() -> None:
    """Stop the unused child: this build typesets in workers."""
    early = take()
    if early is not None:
        early.end()


def stop_all() -> None:
    """Ask every child this process started to end, without waiting (see ForkedEngine.stop):
    nothing more is typeset in this build. One not taken yet ends too; a later taker finds
    it stopped and starts no V8 (ForkedEngine.open)."""
    for engine in _started:
        if engine.parent == os.getpid():
            engine.stop()


def end_all() -> None:
    """Stop and reap every child this process started: its build is over."""
    global _early, _permitted
    _early = _permitted = None
    for engine in _started:
        if engine.parent == os.getpid():
            engine.end()


def fork_is_sound(platform: str = sys.platform) -> bool:
    """Whether this process may fork a child that uses V8 (or another `platform` may):
    Windows has no fork, on macOS the system's own libraries may break a forked child
    (Python itself starts processes by "spawn" there), and V8 does not survive a fork, so
    this process must not have loaded it."""
    return platform not in ("win32", "cygwin", "darwin") and "py_mini_racer" not in sys.modules


def _can_fork() -> bool:
    # Also from one thread only, as no other thread can be left half-way in the child; and
    # not where this process does not reap its children (SIGCHLD ignored): the kernel would,
    # and the pid stopped at the end could be another process's by then.
    sigchld = getattr(signal, "SIGCHLD", None)  # None on Windows
    return (
        fork_is_sound(sys.platform)
        and threading.active_count() == 1
        and sigchld is not None
        and signal.getsignal(sigchld) is not signal.SIG_IGN
    )


def _serve(commands: IO[bytes], answers: IO[bytes], dist: Path, trust_links: bool) -> int:
    """The child: start V8 and KaTeX from dist, then answer commands until the pipe closes."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # how the parent stops it, even if it ignores it
    # Ctrl-C reaches the whole process group: the parent says it was interrupted and stops
    # this child; a child ending first would make that an error about KaTeX instead.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # stdin and stdout let go, so that a caller reading the build's output to its end does
    # not wait for this child; stderr kept, for V8's own message if it dies.
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(devnull, fd)
    from .katex import MiniRacerEngine  # imported before the fork, for find_katex

    engine = None
    failure: Exception | None = None
    try:
        _import_mini_racer()
        engine = MiniRacerEngine(dist, trust_links=trust_links)
    except Exception as exc:  # told when the parent first asks, where it can report it
        failure = exc
    while True:
        try:
            command = pickle.load(commands)
        except EOFError:
            return 0
        try:
            if failure is not None:
                raise failure
            assert engine is not None
            value = engine.version if command[0] == "version" else engine.render_batch(command[1], command[2])
            answer: tuple[str, Any] = ("ok", value)
        except Exception as exc:
            answer = ("error", _portable(exc))
        pickle.dump(answer, answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()


def _import_mini_racer() -> None:
    """mini-racer, without OpenSSL where it can do without. It imports asyncio, which
    loads the ssl module only to offer TLS, which this child never uses: ~5 ms of a small
    cold build's critical path (2-note corpus: 284.8 against 290.0 ms, medians of 40
    alternating runs). A None in sys.modules makes `import ssl` fail, which asyncio takes
    for a Python built without ssl; the block is lifted once mini-racer is in. If it fails
    without ssl, whatever it imported meanwhile is dropped and imported again with ssl."""
    if "ssl" in sys.modules:  # loaded already (fork copied it): nothing to save
        import py_mini_racer  # noqa: F401

        return
    before = set(sys.modules)
    sys.modules["ssl"] = None  # type: ignore[assignment]
    try:
        import py_mini_racer  # noqa: F401
    except ImportError:
        for name in set(sys.modules) - before:
            del sys.modules[name]  # the block too: what saw it is imported again, with ssl
        import py_mini_racer  # noqa: F401, F811
    finally:
        if "ssl" in sys.modules and sys.modules["ssl"] is None:
            del sys.modules["ssl"]


def _portable(exc: Exception) -> Exception:
    """exc as the parent can unpickle it without importing the child's modules (mini-racer's)."""
    if type(exc).__module__ == "builtins" or type(exc).__module__.startswith("notes_render."):
        try:
            pickle.loads(pickle.dumps(exc))
            return exc
        except Exception:
            pass
    return RuntimeError(f"{type(exc).__name__}: {exc}")
