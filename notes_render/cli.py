"""The command line: the only place that turns errors into messages and exit codes."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .errors import ConfigError, Diagnostic, NotesRenderError

EXIT_OK = 0
EXIT_CONTENT = 1
EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="notes-render",
        description="Build a folder of math-heavy Markdown notes into a static site; "
        "formulas are typeset with KaTeX at build time, so pages need no JavaScript.",
        epilog="Exit status: 0 success; 1 content problems under --strict (a bad formula, link "
        "or anchor, a note that cannot be read), or notes whose pages would collide; 2 usage or "
        "configuration error, another build writing to the same folder, or an output folder that "
        "cannot be written; 130 interrupted.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    build = commands.add_parser("build", help="build the site (the default command)")
    _add_build_options(build)
    check = commands.add_parser(
        "check", help="check an already built site like a linter: broken links and anchors, "
        "missing files, anything loaded from outside the site")
    check.add_argument("--out", type=Path, default=Path("site"), metavar="DIR",
                       help="the built site to check (default: site)")
    check.add_argument("--src", type=Path, default=Path("notes"), metavar="DIR",
                       help="the notes it was built from, to report problems at their Markdown "
                       "lines (default: notes; optional)")
    check.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    return parser


def _add_build_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--src", type=Path, default=Path("notes"), metavar="DIR",
                        help="folder of Markdown notes, searched recursively (default: notes)")
    parser.add_argument("--out", type=Path, default=Path("site"), metavar="DIR",
                        help="folder to write the site to (default: site); files the build "
                        "did not write there are never removed")
    parser.add_argument("--strict", action="store_true",
                        help="check the pages just built like `check` does, and exit 1 if any "
                        "content problem (invalid formula, missing file, broken link or anchor, "
                        "...) was found, after reporting all of them")
    parser.add_argument("--katex-dir", type=Path, default=None, metavar="DIR",
                        help="KaTeX's dist/ folder (default: node_modules/katex/dist of the "
                        "project, installed by `npm ci`)")
    parser.add_argument("--templates", type=Path, default=None, metavar="DIR",
                        help="Jinja2 templates folder (default: the project's templates/)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only problems")


def _with_default_command(argv: list[str]) -> list[str]:
    """`notes-render --strict` means `notes-render build --strict`."""
    if argv and argv[0] in ("-h", "--help"):
        return argv
    if not argv or argv[0].startswith("-"):
        return ["build", *argv]
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(_with_default_command(list(sys.argv[1:] if argv is None else argv)))
    try:
        return _check(args) if args.command == "check" else _build(args)
    except NotesRenderError as exc:
        print(f"notes-render: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # the output folder cannot be written: full disk, no permission
        print(f"notes-render: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("notes-render: interrupted; pages already written are complete, none is half-written",
              file=sys.stderr)
        return 130


def _build(args: argparse.Namespace) -> int:
    from .config import make_config
    from .pipeline import build_site

    started = time.perf_counter()
    config = make_config(
        src=args.src,
        out=args.out,
        strict=args.strict,
        templates_dir=args.templates,
        katex_dir=args.katex_dir,
    )
    report = build_site(config)
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
            f"in {seconds:.2f} s; {errors} errors, {warnings} warnings",
            file=sys.stderr,
        )
    if config.strict and errors:
        return EXIT_CONTENT
    return EXIT_OK


def _check_written(out: Path, src: Path, known: list[Diagnostic]) -> list[Diagnostic]:
    """The checker's findings on the files a build just wrote, except where the build itself
    already reported a problem (a missing image is found by both: say it once)."""
    from .check import check_site, note_sources, written_files

    reported = {diagnostic.position for diagnostic in known}
    found = check_site(out, written_files(out), note_sources(src))
    return [diagnostic for diagnostic in found if diagnostic.position not in reported]


def _check(args: argparse.Namespace) -> int:
    from .check import check_site, note_sources, site_files

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
