"""The command line's commands and options, as argparse reads them (cli.py runs them)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TypeAlias

from .markdown.dialects import DIALECTS


def parser() -> argparse.ArgumentParser:
    """Every command and option of `notes-render`."""
    parser = argparse.ArgumentParser(
        prog="notes-render",
        description="Build a folder of math-heavy Markdown notes into a static site; "
        "formulas are typeset with KaTeX at build time, so pages need no JavaScript.",
        epilog="Exit status: 0 success; 1 content problems under --strict (a bad formula, link "
        "or anchor, a note that cannot be read), or notes whose pages would collide, or a file the "
        "notes link to that cannot be read; 2 usage or configuration error, a template that fails, "
        "another build writing to the same folder, an output folder that cannot be written or that "
        "holds files the build did not write where it would write its own; 130 interrupted.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_build_options(commands.add_parser("build", help="build the site (the default command)"))
    _add_check_command(commands)
    _add_preview_commands(commands)
    _add_cache_command(commands)
    return parser


_Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""What add_subparsers gives: each command is a parser added to it."""


def _add_check_command(commands: _Commands) -> None:
    """`check [--out DIR] [--src DIR]`: lint a site that is already built."""
    check = commands.add_parser(
        "check",
        help="check an already built site like a linter: broken links and anchors, "
        "missing files, anything loaded from outside the site",
    )
    _folder_option(check, "--out", "site", "the built site to check (default: site)")
    _folder_option(
        check,
        "--src",
        "notes",
        "the notes it was built from, to report problems at their Markdown lines (default: notes; optional)",
    )
    check.add_argument("-q", "--quiet", action="store_true", help="print only problems")


def _add_preview_commands(commands: _Commands) -> None:
    """`preview NOTE` and `serve`: build into a temporary folder, serve, rebuild on save."""
    preview = commands.add_parser(
        "preview",
        help="serve one note and rebuild it on every save",
        description="Build one note into a temporary folder, serve it on this machine and rebuild it "
        "whenever the note, an image it uses, the templates, the stylesheet or pyproject.toml is "
        "saved; the open page reloads by itself and shows build errors in an overlay.",
    )
    preview.add_argument("note", type=Path, help="the Markdown note to preview")
    _folder_option(
        preview,
        "--src",
        None,
        "the notes folder the note belongs to, for its links and images "
        "(default: notes if the note is inside it, else the note's folder)",
    )
    _add_server_options(preview)
    serve = commands.add_parser(
        "serve",
        help="serve the whole site and rebuild it on every save",
        description="Build the site into a temporary folder, serve it on this machine and rebuild "
        "it whenever a note, a file in the notes folder, the templates or pyproject.toml is saved.",
    )
    _folder_option(serve, "--src", "notes", "folder of Markdown notes, searched recursively (default: notes)")
    _add_server_options(serve)


def _add_cache_command(commands: _Commands) -> None:
    """`cache prune [--max-age DAYS]`: forget what no build has used lately."""
    cache = commands.add_parser("cache", help="manage the cache of typeset formulas and pages")
    cache_commands = cache.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    prune = cache_commands.add_parser("prune", help="remove entries no build has used lately")
    _folder_option(
        prune, "--cache-dir", None, "the cache folder (default: .notes-render-cache in the working folder)"
    )
    prune.add_argument(
        "--max-age",
        type=int,
        default=30,
        metavar="DAYS",
        help="remove entries unused for this many days; 0 empties the cache (default: 30)",
    )


def _folder_option(parser: argparse.ArgumentParser, name: str, default: str | None, help: str) -> None:
    """An option naming a folder (`--src DIR`), with its default folder if it has one."""
    parser.add_argument(
        name, type=Path, default=None if default is None else Path(default), metavar="DIR", help=help
    )


def _port(text: str) -> int:
    """A TCP port number, 0 (any free port) to 65535."""
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return int(text)


def _add_server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only; any "
        "other address lets other machines read the preview and prints a warning)",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=None,
        metavar="N",
        help="port to listen on (default: 8000, or a free one if 8000 is taken; "
        "0: any free one); a port given here that is taken is an error",
    )
    parser.add_argument(
        "--open", action="store_true", help="open the page in the default web browser (default: open nothing)"
    )
    _add_template_options(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the address and problems")


def _add_template_options(parser: argparse.ArgumentParser) -> None:
    """--katex-dir, --templates and --dialect, which build, preview and serve share."""
    _folder_option(
        parser,
        "--katex-dir",
        None,
        "KaTeX's dist/ folder (default: node_modules/katex/dist of the project, installed by `npm ci`)",
    )
    _folder_option(
        parser,
        "--templates",
        None,
        "Jinja2 templates folder (default: the project's templates/, or the one pyproject.toml names)",
    )
    parser.add_argument(
        "--dialect",
        default=None,
        metavar="NAME",
        help=f"how math is found: {', '.join(DIALECTS)} (default: `dialect` in pyproject.toml, "
        "else pandoc; a note's front matter may name its own)",
    )


def _add_build_options(parser: argparse.ArgumentParser) -> None:
    _folder_option(
        parser, "--src", "notes", "folder of Markdown notes, searched recursively (default: notes)"
    )
    _folder_option(
        parser,
        "--out",
        "site",
        "folder to write the site to (default: site); files the build "
        "did not write there are never replaced or removed: a build that would "
        "overwrite one stops with exit 2 and names it",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="check the pages just built like `check` does, and exit 1 if any "
        "content problem (invalid formula, missing file, broken link or anchor, "
        "...) was found, after reporting all of them",
    )
    _add_template_options(parser)
    _folder_option(
        parser,
        "--cache-dir",
        None,
        "keep typeset formulas and the build state here, so a rebuild "
        "only redoes what changed (default: .notes-render-cache in the "
        "working folder); a cache that is locked or cannot be written costs one "
        "warning, never the build",
    )
    parser.add_argument(
        "--no-cache", action="store_true", help="build everything from scratch and leave the cache alone"
    )
    parser.add_argument(
        "-j",
        "--jobs",
        type=_positive,
        default=None,
        metavar="N",
        help="worker processes for a big build (default: the CPUs of its affinity; small builds use one)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="say why each note was built and each page rendered again (`a.md: content changed`)",
    )


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def with_default_command(argv: list[str]) -> list[str]:
    """`notes-render --strict` means `notes-render build --strict`."""
    if argv and argv[0] in ("-h", "--help"):
        return argv
    if not argv or argv[0].startswith("-"):
        return ["build", *argv]
    return argv
