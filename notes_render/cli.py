"""The command line: the only place that turns errors into messages and exit codes."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, NoReturn

from . import options
from .errors import ConfigError, Diagnostic, NotesRenderError, file_error

if TYPE_CHECKING:
    from .config import Config

EXIT_OK = 0
EXIT_CONTENT = 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = options.parser().parse_args(
        options.with_default_command(list(sys.argv[1:] if argv is None else argv))
    )
    commands = {"build": _build, "check": _check, "preview": _preview, "serve": _serve, "cache": _prune}
    try:
        return commands[args.command](args)
    except NotesRenderError as exc:
        print(f"notes-render: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # the build's own folders or the system: full disk, no permission
        error = file_error(exc)
        print(f"notes-render: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(
            "notes-render: interrupted; pages already written are complete, none is half-written",
            file=sys.stderr,
        )
        return 130


def run() -> NoReturn:
    """The command line as a program (build.py, `python -m notes_render`, the
    `notes-render` script): main(), then the process ends.

    Ending it takes its exit handlers (what they save, coverage's data included) and its
    streams, flushed, and leaves out what a returning interpreter does next: taking apart
    every module and object it holds one by one, ~35 ms after a build that loaded
    markdown-it, Jinja, Pygments and V8, a tenth of a small site's cold build. Only when no
    other thread is left, which a returning interpreter would wait for, and no profiler or
    tracer watches (`python -m cProfile build.py` writes its figures once the script returns)."""
    code = main()
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if any(t.is_alive() for t in others) or _watched():
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:  # None: no console (pythonw), or started with it closed
            with contextlib.suppress(OSError, ValueError):  # a closed pipe, a closed stream
                stream.flush()
    os._exit(code)


def _watched() -> bool:
    """Whether a profiler, tracer or debugger watches this process: the old hooks, or from
    Python 3.12 a sys.monitoring tool (cProfile and profile use one there)."""
    if sys.getprofile() is not None or sys.gettrace() is not None:
        return True
    monitoring = getattr(sys, "monitoring", None)
    return monitoring is not None and any(monitoring.get_tool(tool) is not None for tool in range(6))


def _build(args: argparse.Namespace) -> int:
    from .config import make_config

    started = time.perf_counter()
    config = make_config(
        src=args.src,
        out=args.out,
        strict=args.strict,
        templates_dir=args.templates,
        katex_dir=args.katex_dir,
        cache_dir=args.cache_dir,
        use_cache=not args.no_cache,
        jobs=args.jobs,
        dialect=args.dialect,
    )
    katex_child = _start_katex(config)  # before the pipeline's imports, which it overlaps
    try:
        from .build.pipeline import build_site

        report = build_site(config)
    except OSError as exc:  # what failed decides: a file of the notes, or the build's own folders
        own = [config.out, config.templates_dir, *([config.cache_dir] if config.cache_dir else [])]
        raise file_error(exc, notes=config.src, own=own) from exc
    finally:
        if katex_child:
            from .typeset import forked

            forked.end_all()
    if args.verbose:
        for reason in report.reasons:
            print(reason, file=sys.stderr)
    if config.strict:
        report.diagnostics += _check_written(config.out, config.src, report.diagnostics)
    for diagnostic in report.diagnostics:
        print(diagnostic.format(), file=sys.stderr)
    errors = len(report.errors)
    warnings = len(report.diagnostics) - errors
    if not args.quiet:
        seconds = time.perf_counter() - started
        print(
            f"built {len(report.pages)} pages, {report.formulas} formulas into {config.out} "
            f"in {seconds:.2f} s; {errors} errors, {warnings} warnings "
            f"({len(report.built)} notes built, {len(report.rendered)} pages rendered)",
            file=sys.stderr,
        )
    if config.strict and errors:
        return EXIT_CONTENT
    return EXIT_OK


def _start_katex(config: Config) -> bool:
    """Start KaTeX in a child process now, for a build that has no state yet (a new site,
    an emptied cache, CI): every note is new, so its formulas will be typeset. A rebuild
    is only permitted to start it, on its first formula the cache does not know (neither
    forks where fork is unsound: typeset/forked.py). Whether the build leaves something
    for forked.end_all(): a child started, or the permission."""
    from .build.statefile import state_path
    from .typeset import forked

    state = state_path(config)
    try:
        if state is not None and state.exists():
            forked.permit()
            return True
    except OSError:  # an unreadable cache: the build warns and goes on without a state
        pass
    from .typeset.katex import find_katex

    try:
        dist = find_katex(config.katex_dir)
    except ConfigError:  # the build says so, at once
        return False
    return forked.start(dist, trust_links=config.trust_links)


def _check_written(out: Path, src: Path, known: list[Diagnostic]) -> list[Diagnostic]:
    """The checker's findings on the files a build just wrote; a link the build already
    found broken (a missing image) is not checked again."""
    from .site.check import check_site, note_sources, written_files

    return check_site(out, written_files(out), note_sources(src), judged=known)


def _prune(args: argparse.Namespace) -> int:
    from .config import default_cache_dir
    from .typeset.cache import DB_NAME, Store

    folder: Path = args.cache_dir or default_cache_dir(Path.cwd())
    if not ((folder / DB_NAME).is_file() or (folder / "builds").is_dir()):
        raise ConfigError(f"no cache at {folder} (a build makes {DB_NAME} and builds/ there)")
    from .build.state import prune

    removed = Store(folder).prune(max(0, args.max_age))
    states = prune(folder)
    print(
        f"removed {removed} cache entries and {states} states of builds whose folders are gone from {folder}",
        file=sys.stderr,
    )
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from .site.check import check_site, note_sources, site_files

    out: Path = args.out
    if not out.is_dir():
        raise ConfigError(f"--out {out} is not a folder; build the site first")
    files = site_files(out)
    if not any(rel.suffix != ".css" for rel in files):
        raise ConfigError(f"--out {out} holds no HTML pages; build the site first")
    diagnostics = check_site(out, files, note_sources(args.src))
    for diagnostic in diagnostics:
        print(diagnostic.format(), file=sys.stderr)
    errors = sum(1 for d in diagnostics if d.severity == "error")
    if not args.quiet:
        print(f"checked {len(files)} files in {out}; {errors} errors", file=sys.stderr)
    return EXIT_CONTENT if errors else EXIT_OK


def _preview(args: argparse.Namespace) -> int:
    note: Path = args.note
    if note.suffix != ".md" or not note.is_file():
        raise ConfigError(f"{note} is not a Markdown note (an existing .md file)")
    src: Path = args.src or (
        Path("notes") if note.resolve().is_relative_to(Path("notes").resolve()) else note.parent
    )
    try:
        rel = PurePosixPath(note.resolve().relative_to(src.resolve()).as_posix())
    except ValueError:
        raise ConfigError(f"{note} is not inside the notes folder {src} (see --src)") from None
    return _run_preview(args, src, rel)


def _serve(args: argparse.Namespace) -> int:
    return _run_preview(args, args.src, None)


def _run_preview(args: argparse.Namespace, src: Path, only: PurePosixPath | None) -> int:
    """Serve until Ctrl-C (or SIGTERM); the temporary output folder is removed on the way out."""
    from . import preview
    from .config import make_config

    def load(out: Path) -> Config:
        return make_config(
            src=src,
            out=out,
            templates_dir=args.templates,
            katex_dir=args.katex_dir,
            temporary_out=True,
            dialect=args.dialect,
        )

    preview.serve_until_stopped(
        load,
        shown=src / only if only else src,
        only=only,
        host=args.host,
        port=args.port,
        open_browser=args.open,
        quiet=args.quiet,
    )
    return EXIT_OK
