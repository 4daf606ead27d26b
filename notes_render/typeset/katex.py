"""The KaTeX engine: one embedded V8 (mini-racer) per build, called once per batch of formulas.

Everything else talks to the `MathEngine` protocol, so the engine can be swapped,
cached or run in several worker processes without the pipeline knowing.
"""

from __future__ import annotations

import atexit
import dataclasses
import hashlib
import json
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..config import PACKAGE_ROOT
from ..errors import ConfigError
from .katexglue import GLUE
from .texdefs import defines_macros

if TYPE_CHECKING:
    from py_mini_racer import MiniRacer

FORMULA_TIME_LIMIT_S = 2.0
"""Longest one formula may take to render (when retried alone) before it is an error."""

BATCH_TIME_BASE_S = 5.0
"""A batch may take this long plus FORMULA_BATCH_SHARE_S per formula before it is split."""
FORMULA_BATCH_SHARE_S = 0.01

V8_FLAGS = ("--max-semi-space-size=64", "--no-memory-protection-keys")
"""A young generation (MB) big enough for KaTeX's many short-lived objects: about 10 % less
CPU on a 15,000-formula corpus. No memory protection keys: on a CPU that has them (x86-64
with `pku`, most current servers) V8 guards its code memory with a key that only the thread
that started V8, and the threads it starts later, may use (Chromium issue 360909072); V8
is started on the engine's thread (background.py) and let go on the main thread at exit
(_close_engine), which took SIGSEGV there. The typesetting time is the same (bench/README,
round 25).

Unlike mini-racer's default (`--single-threaded`), V8 may compile and collect on threads of
its own: 5 % less CPU and wall time for corpus200 on two cores, 12 % less for notes/ (fork
is safe: workers are forked before V8 starts, see workers.py). V8 takes flags once per
process, so they apply only if this engine is the first V8 of the process."""

BUSY_CORES_V8_FLAGS = ("--efficiency-mode",)
"""Added where the build's own threads keep every core busy (see use_busy_cores): V8's
efficiency mode, "for situations with no latency requirements", compiles and collects on
the isolate's own thread and optimizes later, where its helper threads only took CPU from
the other workers: corpus200 cold on two cores with two workers, 0.3 s less CPU and 4 %
less wall time. A lone engine keeps its helpers, which use a core that is free (notes/
cold was 5 % slower with the flag)."""

_flags: tuple[str, ...] = V8_FLAGS
"""The flags this process's V8 starts with."""


def v8_flags() -> tuple[str, ...]:
    """The flags this process's V8 starts with: set before its first engine (V8 takes
    flags once per process; use_busy_cores after that would not reach it)."""
    return _flags


def use_busy_cores() -> None:
    """Say, before this process's first engine, that the build's threads keep every core
    busy (a pool's worker, see workers.py): its V8 starts with BUSY_CORES_V8_FLAGS too."""
    global _flags  # noqa: PLW0603 - V8's flags are the process's, set once before it starts
    _flags = V8_FLAGS + BUSY_CORES_V8_FLAGS


PART_SIZE = 500
"""Formulas typeset per V8 call. A note's batch is sent in parts, so V8 holds a part's
HTML (about 2 MB) rather than the whole note's: one call for a 20 MB note held 5 GB."""

MEMORY_LIMIT_BYTES = 1 << 30
"""V8 heap ceiling, so an exploding formula fails instead of exhausting the machine."""


@dataclass(frozen=True, slots=True)
class TimeLimits:
    """How long V8 may typeset, in seconds, before it is stopped."""

    formula_s: float = FORMULA_TIME_LIMIT_S
    """Longest one formula may take, retried alone, before it is an error."""
    batch_base_s: float = BATCH_TIME_BASE_S
    """A batch may take this long, plus `share_s` per formula, before it is split."""
    share_s: float = FORMULA_BATCH_SHARE_S
    """Time each formula adds to its batch's limit (and each replayed definition to a retry's)."""


@dataclass(frozen=True, slots=True)
class MathRequest:
    """One formula to typeset."""

    tex: str
    """The TeX to typeset: as written, with labels, tags and references rewritten for KaTeX."""
    display: bool
    """Display (block) style rather than inline."""


@dataclass(frozen=True, slots=True)
class MathResult:
    """KaTeX's answer for one formula: HTML, or an error with its offset in the TeX."""

    html: bytes | None
    """The typeset formula (HTML + MathML) as UTF-8, None when KaTeX refused it. Bytes, not
    text, from the moment it leaves V8 to the page: KaTeX's zero-width spaces make a str two
    bytes a character, and a big note's formulas are held until its body is rendered."""
    error: str | None = None
    """KaTeX's message without its position suffix."""
    position: int | None = None
    """0-based offset in the TeX where KaTeX located the error, if it did."""
    warnings: tuple[tuple[str, int | None], ...] = ()
    """(message, offset) for each construct KaTeX's strict mode complains about."""
    transient: bool = False
    """The answer depends on the moment (a time-out), so it must not be cached."""
    fitted: bool = False
    """html is a display already fitted for breaking (mathlayout.fit_display), not to refit."""
    may_scroll: bool | None = None
    """mathlayout.may_scroll of html; None when the engine did not say (nor last_piece)."""
    last_piece: tuple[int, int] | None = None
    """An inline formula's last piece, which mathlayout.hold_last_piece wraps: (start, end)
    in bytes back from the end of html; None when there is none to wrap (or not said)."""


class MathEngine(Protocol):
    """What the pipeline needs from a TeX engine."""

    version: str

    def render_batch(self, requests: Sequence[MathRequest], macros: Mapping[str, str]) -> list[MathResult]:
        """Typeset formulas in order; definitions made by one stay for the next ones."""
        ...


def engine_id(version: str, *, trust_links: bool) -> str:
    """What identifies this engine's answers: KaTeX's version and every option it is given.

    The options live in GLUE, so its text is part of the identity: changing an option
    there changes the id, and cached answers made with the old options are not reused.
    """
    glue = hashlib.sha256(GLUE.encode("utf-8")).hexdigest()[:16]
    return f"katex {version}; glue {glue}; trust-links {trust_links}"


def find_katex(katex_dir: Path | None, project_dir: Path | None = None) -> Path:
    """KaTeX's dist/ folder, or a ConfigError that says how to install it."""
    if katex_dir is not None:
        candidates = [katex_dir]
    else:
        roots = [project_dir or Path.cwd(), PACKAGE_ROOT]
        candidates = [root / "node_modules" / "katex" / "dist" for root in roots]
    for candidate in candidates:
        if (candidate / "katex.min.js").is_file() and (candidate / "katex.min.css").is_file():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise ConfigError(
        f"KaTeX not found (looked in {looked}). Run `npm ci` in {PACKAGE_ROOT} "
        "to install the pinned version from package-lock.json."
    )


def katex_version(dist: Path) -> str:
    """The installed KaTeX version, read from its package.json without starting V8."""
    package = json.loads((dist.parent / "package.json").read_text(encoding="utf-8"))
    return str(package["version"])


class MiniRacerEngine:
    """KaTeX running in an embedded V8; start-up (~70 ms) is paid once per instance."""

    def __init__(
        self,
        dist: Path,
        *,
        trust_links: bool = False,
        limits: TimeLimits = TimeLimits(),
        clock: Callable[[], float] = time.monotonic,
        layout: bool = True,
    ) -> None:
        """`limits` bound each V8 call; `clock` is what a batch's parts share their deadline by;
        without `layout`, KaTeX's HTML comes as it is, for Python to lay out (the same page)."""
        from py_mini_racer import MiniRacer, init_mini_racer  # heavy: only when math is rendered

        init_mini_racer(flags=v8_flags(), ignore_duplicate_init=True)

        self.version = katex_version(dist)
        self.limits = limits
        self._clock = clock
        self._layout = layout
        self.timeouts = 0
        """How many V8 calls ran out of time: each cost a whole limit."""
        self._context: MiniRacer = MiniRacer()
        self._context.set_hard_memory_limit(MEMORY_LIMIT_BYTES)
        self._context.eval((dist / "katex.min.js").read_text(encoding="utf-8"))
        self._context.eval(GLUE)
        self._context.eval(f"notesRender.setTrustLinks({'true' if trust_links else 'false'})")
        # Closed at exit, while mini-racer's threads still run: left to the garbage collector
        # at interpreter shutdown, its teardown can wait forever for a thread already gone.
        atexit.register(_close_engine, weakref.ref(self))

    def close(self) -> None:
        """Let go of V8; the engine cannot be used after this."""
        self._context.close()

    def render_batch(self, requests: Sequence[MathRequest], macros: Mapping[str, str]) -> list[MathResult]:
        """Typeset all requests in one V8 call; split the batch if it runs out of time."""
        if not requests:
            return []
        limits = self.limits
        limit = limits.batch_base_s + limits.share_s * len(requests)
        deadline = self._clock() + limit
        results: list[MathResult] = []
        try:
            for start in range(0, len(requests), PART_SIZE):
                left = max(deadline - self._clock(), 0.001)
                results += self._call(requests[start : start + PART_SIZE], macros, left, more=start > 0)
            return results
        except _Timeout:
            if len(requests) == 1:
                return [_timeout_result(limit)]
        # Retry the rest one by one so only the slow formula fails. Earlier formulas that
        # define macros are replayed before each one; a formula that timed out is never
        # replayed, so one slow formula costs one time limit, not one per formula after it.
        definitions = [request for request in requests[: len(results)] if defines_macros(request.tex)]
        for request in requests[len(results) :]:
            try:
                own_limit = limits.formula_s + limits.share_s * len(definitions)
                results.append(self._call([*definitions, request], macros, own_limit)[-1])
            except _Timeout:
                results.append(_timeout_result(limits.formula_s))
                continue
            if defines_macros(request.tex):
                definitions.append(request)
        return results

    def _call(
        self, requests: Sequence[MathRequest], macros: Mapping[str, str], limit: float, *, more: bool = False
    ) -> list[MathResult]:
        """Typeset requests in one V8 call; with `more`, after the previous call's formulas,
        under the macros they defined."""
        from py_mini_racer import JSTimeoutException

        items = [{"tex": r.tex, "display": r.display} for r in requests]
        payload = json.dumps({"macros": dict(macros), "more": more, "layout": self._layout, "items": items})
        # eval, not call: call would JSON-quote the answer (60 MB of HTML on a big site) to
        # parse it again in Python; a string comes back from eval as it is.
        try:
            answer = self._context.eval(f"notesRender.render({json.dumps(payload)})", timeout_sec=limit)
        except JSTimeoutException as exc:
            self.timeouts += 1
            raise _Timeout from exc
        # UTF-8 from here on (see MathResult.html); it has no NUL byte but NUL's own (JSON
        # escapes one), so the answer splits the same once encoded, in one pass.
        special, facts, *htmls = str(answer).encode("utf-8").split(b"\0")
        numbers = json.loads(b"[" + facts + b"]")
        flags, starts, ends = numbers[0::3], numbers[1::3], numbers[2::3]
        results = list(map(_laid_out, htmls, flags, starts, ends))
        for key, item in json.loads(special).items():
            index = int(key)
            results[index] = _math_result(item, flags[index], starts[index], ends[index])
        return results


def _close_engine(engine: weakref.ref[MiniRacerEngine]) -> None:
    alive = engine()
    if alive is not None:
        alive.close()


class _Timeout(Exception):
    pass


def _timeout_result(seconds: float) -> MathResult:
    return MathResult(
        html=None, error=f"formula took longer than {seconds:g} s to render; giving up", transient=True
    )


def _laid_out(html: bytes, flags: int, start: int, end: int) -> MathResult:
    """A formula's result with the layout facts the glue gave (see layoutglue.py)."""
    if not flags:
        return MathResult(html=html)
    piece = None if start < 0 else (start, end)
    return MathResult(html=html, fitted=flags & 4 != 0, may_scroll=flags & 2 != 0, last_piece=piece)


def _math_result(item: dict[str, object], flags: int, start: int, end: int) -> MathResult:
    warnings = tuple(
        (str(message), position if isinstance(position, int) else None)
        for message, position in item.get("warnings", [])  # type: ignore[attr-defined]
    )
    if "html" in item:
        laid = _laid_out(str(item["html"]).encode("utf-8"), flags, start, end)
        return dataclasses.replace(laid, warnings=warnings)
    position = item.get("position")
    return MathResult(
        html=None,
        error=str(item.get("error")),
        position=position if isinstance(position, int) else None,
        warnings=warnings,
    )
