"""The live site: builds the previewed notes on request, one build at a time, and keeps
the outcome of the latest (its generation and errors) for the server to show."""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import watchfiles

from ..build import pipeline
from ..config import Config
from ..errors import ConfigError, NotesRenderError, file_error
from ..sources import discover_notes
from ..typeset.katex import MathEngine


@dataclass(frozen=True, slots=True)
class PageError:
    """An error of the last build, shown in the overlay."""

    page: PurePosixPath | None
    """The page it concerns (relative to the output folder); None: every page."""
    text: str
    """`file:line:col: message` with the excerpt, as the build prints it."""


class LatestBuild:
    """The generation and problems of the latest build; event streams wait on it."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.generation = 0
        """How many builds have finished; pages carry the number they were served with."""
        self.problems: tuple[PageError, ...] = ()
        """Errors of the latest build."""
        self.closed = False
        """Set when the server stops, so waiting event streams end."""

    def publish(self, problems: Collection[PageError]) -> None:
        """Record a finished build and wake every event stream."""
        with self._changed:
            self.generation += 1
            self.problems = tuple(problems)
            self._changed.notify_all()

    def snapshot(self) -> tuple[int, tuple[PageError, ...]]:
        """Generation and problems, read together."""
        with self._changed:
            return self.generation, self.problems

    def wait_newer(self, generation: int, timeout: float | None) -> int:
        """The generation once it differs from `generation`, or the same one after timeout."""
        with self._changed:
            self._changed.wait_for(lambda: self.generation != generation or self.closed, timeout)
            return self.generation

    def close(self) -> None:
        """End every event stream."""
        with self._changed:
            self.closed = True
            self._changed.notify_all()


class _EngineCache:
    """Keeps KaTeX running between rebuilds: starting it costs more than typesetting a note."""

    def __init__(self) -> None:
        self._key: tuple[Path, bool] | None = None
        self._engine: MathEngine | None = None

    def __call__(self, dist: Path, config: Config) -> MathEngine:
        key = (dist, config.trust_links)
        if self._engine is None or key != self._key:
            self._key, self._engine = key, pipeline.default_engine(dist, config)
        return self._engine


class LiveSite:
    """The previewed notes, built on request into the output folder of the config."""

    def __init__(
        self,
        load_config: Callable[[], Config],
        *,
        project_dir: Path,
        only: PurePosixPath | None = None,
        quiet: bool = False,
    ) -> None:
        self._load_config = load_config
        self._only = only
        self._quiet = quiet
        self._engines = _EngineCache()
        self._config: Config | None = None
        self._templates = Path()
        self._preamble: Path | None = None
        self._bibliography: Path | None = None
        self._own: tuple[Path, ...] = ()
        config = self._load()
        self.src = config.src.resolve()
        """The notes folder (it comes from the command line, so it never changes)."""
        self.out = config.out.resolve()
        """The folder the site is built into and served from."""
        self.pyproject = project_dir.resolve() / "pyproject.toml"
        """The configuration file; a change to it reloads the config."""
        self.latest = LatestBuild()
        """The outcome of the latest build, read by the server."""
        self.inputs: frozenset[Path] = frozenset()
        """For a one-note preview: the note and every path it points at, there or not, as
        the last build saw them."""
        self.read: frozenset[Path] = frozenset()
        """Files other than notes the last build's pages were made from (a .bib), resolved."""

    def _load(self) -> Config:
        """Read the config again (pyproject.toml may have changed)."""
        config = self._config = self._load_config()
        self._templates = config.templates_dir.resolve()
        self._preamble = config.preamble.resolve() if config.preamble is not None else None
        self._bibliography = config.bibliography.resolve() if config.bibliography is not None else None
        # What the build itself writes: were these inside the notes, every build would
        # cause the next one.
        self._own = tuple(folder.resolve() for folder in (config.out, config.cache_dir) if folder is not None)
        return config

    @property
    def entry(self) -> PurePosixPath | None:
        """The page `/` leads to: the previewed note's, or None for the whole site."""
        return None if self._only is None else self._only.with_suffix(".html")

    def watch_roots(self) -> tuple[Path, ...]:
        """Folders watched recursively: the notes and the templates (with their assets), and the
        folders of the preamble and the bibliography unless it is the project's (watched on its
        own, not recursively)."""
        folders = [self.src, self._templates]
        for file in (self._preamble, self._bibliography):
            if file is not None and file.parent != self.pyproject.parent:
                folders.append(file.parent)
        return _outermost(folders)

    def wants(self, change: watchfiles.Change, path: str) -> bool:
        """Whether a change to path can alter the preview."""
        changed = Path(path)
        if any(changed.is_relative_to(folder) for folder in self._own):
            return False
        if changed in (self.pyproject, self._preamble, self._bibliography) or changed in self.read:
            return True  # settings, and the .bib a one-note preview's note cites
        if changed.is_relative_to(self._templates):
            return True
        if not changed.is_relative_to(self.src):
            return False
        # One note: only what it names counts (an image it names may appear later); the
        # rest of its folder, however busy (`preview /tmp/n.md`), does not.
        return self._only is None or changed in self.inputs

    def build(self, changed: Collection[Path] = ()) -> None:
        """Rebuild and publish the outcome; bad content or settings never raise."""
        started = time.perf_counter()
        problems: list[PageError]
        try:
            settings = {self.pyproject, self._preamble}  # the preamble's macros are in the config
            config = (
                self._load() if self._config is None or not settings.isdisjoint(changed) else self._config
            )
            only = None if self._only is None else [self._only]
            report = pipeline.build_site(config, self._engines, only=only)
            problems = self._report(config, report, time.perf_counter() - started)
            self.read = frozenset(path.resolve() for path in report.read)
            if self._only is not None:
                self.inputs = frozenset({self.src / self._only, *(self.src / t for t in report.targets)})
        except (NotesRenderError, OSError) as exc:
            error = exc if isinstance(exc, NotesRenderError) else self._file_error(exc)
            if isinstance(error, ConfigError):
                self._config = None  # load it again next time: the problem may be in pyproject.toml
            self._log(f"notes-render: error: {error}")
            problems = [PageError(None, str(error))]
        except Exception as exc:  # a bug must not take the server down; say where it is
            traceback.print_exc()
            problems = [PageError(None, f"internal error: {exc!r} (see the terminal)")]
        self.latest.publish(problems)

    def _file_error(self, exc: OSError) -> NotesRenderError:
        """A failed file operation as `build` reports it: a file of the notes that cannot be
        read is the notes' problem, anything else (the output folder, the templates) is not."""
        return file_error(exc, notes=self.src, own=(*self._own, self._templates))

    def _report(self, config: Config, report: pipeline.BuildReport, seconds: float) -> list[PageError]:
        """Print the build's diagnostics; return its errors, each tied to its page."""
        for diagnostic in report.diagnostics:
            self._log(diagnostic.format())
        errors = report.errors
        if not self._quiet:
            self._log(
                f"built {len(report.pages)} pages in {seconds * 1000:.0f} ms; "
                f"{len(errors)} errors, {len(report.diagnostics) - len(errors)} warnings"
            )
        if self._only is not None:
            return [PageError(None, d.format()) for d in errors]  # all about the one page there is
        if not errors:
            return []  # no need to walk the notes folder to find whose errors they are
        # In the whole site, each page shows its own errors.
        pages = {str(note.display_path): note.output for note in discover_notes(config.src)}
        return [PageError(pages.get(str(d.position.path)), d.format()) for d in errors]

    def _log(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)


def _outermost(folders: list[Path]) -> tuple[Path, ...]:
    """The folders without those inside another (watching those twice is pointless)."""
    return tuple(
        f
        for f in dict.fromkeys(folders)
        if not any(f != other and f.is_relative_to(other) for other in folders)
    )


class Rebuilder:
    """Runs builds one at a time on its own thread.

    Changes that arrive while a build runs are merged into a single follow-up build, so
    builds never interleave and a burst of saves never queues a build per save.
    """

    def __init__(self, build: Callable[[frozenset[Path]], None]) -> None:
        self._build = build
        self._wake = threading.Condition()
        self._pending: set[Path] | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="notes-render-rebuild", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def request(self, changed: Collection[Path] = ()) -> None:
        """Ask for a build that sees these changes; merged with any build not yet started."""
        with self._wake:
            self._pending = (self._pending or set()) | set(changed)
            self._wake.notify()

    def stop(self, timeout: float) -> None:
        """Let a running build finish (up to timeout seconds) and start no other."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._pending is not None or self._stopping)
                if self._stopping:
                    return
                changed, self._pending = frozenset(self._pending or ()), None
            self._build(changed)
