"""The Jinja environment and page rendering; templates live in templates/.

A `PageRenderer` renders the pages of one build from a `Site` (build/record.py): the little that
every page needs to know about the others (titles, dates, order). A Site is plain data, so
worker processes that built notes can render those notes' pages themselves.
"""

from __future__ import annotations

import contextlib
import traceback
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2 import meta, nodes
from markupsafe import Markup

from ..errors import ConfigError, display_path, not_utf8
from ..passes.previews import fill_note_references, stylesheet
from ..sources import HOME, Stat, relative_url, template_stats
from ..typeset.fonts import page_fonts
from .navigation import Navigation

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from ..build.record import NoteRecord, Site
    from .navigation import TocEntry


def make_environment(templates_dir: Path) -> jinja2.Environment:
    """Autoescaping Jinja environment over templates_dir; unknown variables are errors."""
    if not (templates_dir / "base.html").is_file():
        raise ConfigError(f"templates folder {templates_dir} has no base.html")
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@dataclass(frozen=True, slots=True)
class CompiledTemplates:
    """A build's page templates compiled, and what their use of `content` allows."""

    environment: jinja2.Environment
    splice_body: bool
    """The templates only print a note's body (see only_prints)."""
    stamps: list[tuple[str, Stat | None]]
    """sources.template_stats when splice_body was read."""

    def splices(self, templates_dir: Path) -> bool:
        """splice_body, read again if a template changed since (Jinja renders the new one)."""
        if template_stats(templates_dir) == self.stamps:
            return self.splice_body
        return only_prints(self.environment, "content", "note.html")


PAGE_TEMPLATES = ("note.html", "index.html")
"""The templates pages are rendered from (the rest are extended or included by them)."""


def compile_templates(templates_dir: Path) -> CompiledTemplates:
    """The environment of templates_dir with its page templates compiled, read for how they
    use the body (raises what make_environment and Jinja raise)."""
    environment = make_environment(templates_dir)
    stamps = template_stats(templates_dir)
    for page in PAGE_TEMPLATES:
        environment.get_template(page)
    # And the templates they extend or include: else the first page compiles base.html
    # (~2 ms, at the end of a small build's critical path). One that is broken or missing
    # may never be rendered (a branch not taken, `ignore missing`): reported if it is.
    parsed: dict[str, nodes.Template | None] = {}  # read once for both questions (~4 ms)
    for name, tree in _template_trees(environment, PAGE_TEMPLATES, parsed):
        if name is not None and name not in PAGE_TEMPLATES and tree is not None:
            with contextlib.suppress(jinja2.TemplateError, OSError, ValueError):
                environment.get_template(name)
    splice_body = only_prints(environment, "content", "note.html", parsed)
    return CompiledTemplates(environment, splice_body, stamps)


def prepared_environment(templates_dir: Path) -> CompiledTemplates | None:
    """compile_templates now, for a PageRenderer to come (a build does it while V8
    typesets, see build/work.py); None if they have a problem, which rendering then reports."""
    try:
        return compile_templates(templates_dir)
    except (ConfigError, jinja2.TemplateError, OSError, UnicodeDecodeError):
        return None


def render_page(environment: jinja2.Environment, name: str, context: dict[str, Any]) -> bytes:
    """Render one template as UTF-8, turning Jinja's errors into a ConfigError naming the
    template. Each piece Jinja yields is encoded as it comes, so a big page is never held
    as one string (two bytes a character once a formula holds a zero-width space) as well
    as its bytes."""
    try:
        return b"".join([part.encode("utf-8") for part in environment.get_template(name).generate(context)])
    except jinja2.TemplateSyntaxError as exc:
        where = display_path(Path(exc.filename)) if exc.filename else name
        raise ConfigError(f"{where}:{exc.lineno}: template error: {exc.message}") from exc
    except jinja2.TemplateError as exc:
        raise ConfigError(f"{_failed_at(environment, exc, name)}: template error: {exc}") from exc
    except OSError as exc:  # a template that cannot be read (no permission)
        raise ConfigError(f"{name}: template cannot be read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:  # Jinja does not say which file
        raise ConfigError(_not_utf8(environment, name)) from exc


def _not_utf8(environment: jinja2.Environment, name: str) -> str:
    """`file:line:column: …` of the first byte that is not UTF-8 in the template name or in
    one it extends or includes."""
    for current, tree in _template_trees(environment, [name]):
        found = _template_file(environment, current) if tree is None else None
        if found is None:
            continue
        data = found.read_bytes()
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            position, message = not_utf8(display_path(found), data, exc)
            return f"{position}: template is {message}"
    return f"{name}: a template it uses is not valid UTF-8"


def _template_file(environment: jinja2.Environment, name: str | None) -> Path | None:
    """The file the environment's loader reads for the template name, if it reads files."""
    files = [folder / name for folder in _template_folders(environment)] if name is not None else []
    return next((path for path in files if path.is_file()), None)


def _template_folders(environment: jinja2.Environment) -> list[Path]:
    """The folders the environment's loader reads templates from, in its order."""
    loader = environment.loader
    return [Path(p) for p in loader.searchpath] if isinstance(loader, jinja2.FileSystemLoader) else []


def _failed_at(environment: jinja2.Environment, exc: BaseException, name: str) -> str:
    """`file:line` of the template line that raised exc at render time (an undefined name, a
    failing filter): Jinja rewrites the traceback so that a template's frames carry its file
    and line; the innermost one is where it failed (in an included or parent template too)."""
    folders = _template_folders(environment)
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.lineno and any(Path(frame.filename).is_relative_to(folder) for folder in folders):
            return f"{display_path(Path(frame.filename))}:{frame.lineno}"
    return name


_CONTENT_MARK = "\x00notes-render-content\x00"
"""Printed where a note's body goes when the templates only print it (see only_prints)."""


def only_prints(
    environment: jinja2.Environment,
    name: str,
    template: str,
    parsed: dict[str, nodes.Template | None] | None = None,
) -> bool:
    """True when the template, and every template it extends, includes or imports, uses the
    variable `name` only to print it as it is (`{{ content }}`): no filter, test, condition
    or assignment sees its value.

    Then a page can be rendered around a marker and the note's body joined in as bytes,
    which is the same page without the body ever being text (see build.note.BuiltNote.body); a template
    that looks at its content (`{{ content|striptags|wordcount }}`) gets the real text.
    `parsed` as _template_trees'.
    """
    for current, tree in _template_trees(environment, [template], parsed):
        if current is None or tree is None:
            return False  # chosen at render time, or broken (reported when rendered): unread
        printed = {
            id(node)
            for output in tree.find_all(nodes.Output)
            for node in output.nodes
            if isinstance(node, nodes.Name)
        }
        if any(node.name == name and id(node) not in printed for node in tree.find_all(nodes.Name)):
            return False
    return True


def _template_trees(
    environment: jinja2.Environment,
    names: Sequence[str],
    parsed: dict[str, nodes.Template | None] | None = None,
) -> Iterator[tuple[str | None, nodes.Template | None]]:
    """Each template named and every one they extend, include or import, once, parsed: a
    tree of None for one that does not parse, a name of None for one chosen at render time.
    `parsed`: trees read earlier, by name, taken from and added to (for several questions)."""
    loader = environment.loader
    assert loader is not None
    known = {} if parsed is None else parsed
    seen: set[str] = set()
    todo = list(names)
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        if current not in known:
            try:
                known[current] = environment.parse(loader.get_source(environment, current)[0])
            except (jinja2.TemplateError, UnicodeDecodeError):
                known[current] = None
        tree = known[current]
        yield current, tree
        if tree is None:
            continue
        for referenced in meta.find_referenced_templates(tree):
            if referenced is None:
                yield None, None
            else:
                todo.append(referenced)


class PageRenderer:
    """Renders the pages of one site; the environment and navigation are made once."""

    def __init__(self, site: Site, compiled: CompiledTemplates | None = None) -> None:
        """`compiled`: the templates of site.templates_dir compiled earlier in this build (their
        files' modification times are checked again on use), else they are compiled now."""
        self._site = site
        if compiled is None:
            self._environment = make_environment(site.templates_dir)
            self._splice_body = only_prints(self._environment, "content", "note.html")
        else:
            self._environment = compiled.environment
            self._splice_body = compiled.splices(site.templates_dir)
        self._navigation = Navigation([(n.output, n.title) for n in site.notes], site.title)
        self._listings: dict[PurePosixPath, list[dict[str, Any]]] = {}
        self._labels = {n.output: (n.title, dict(n.labels)) for n in site.notes}

    def note(self, page: NoteRecord, body: list[bytes]) -> list[bytes]:
        """The page of a note (UTF-8) around its rendered body (UTF-8 in pieces), as pieces to
        write one after the other: the body's own, never copied into the page (for a 20 MB
        note that copy was half a gigabyte)."""
        output = page.source.output
        body = [fill_note_references(piece, output, self._labels) for piece in body]
        context = self._context(output)
        context.update(
            title=page.title,
            date=page.date,
            description=page.description,
            content=Markup(_CONTENT_MARK if self._splice_body else b"".join(body).decode("utf-8")),
            preview_css=Markup(stylesheet(body)),
            headings=page.headings,
            toc=page.toc,
            notes=self._listing(output),
            fonts=page_fonts(
                [*body, *(str(entry.html) for entry in _entries(page.toc))], self._site.katex_fonts
            ),
            **self._navigation.links(output),
        )
        rendered = render_page(self._environment, "note.html", context)
        if not self._splice_body:
            return [rendered]
        around = rendered.split(_CONTENT_MARK.encode("utf-8"))
        pieces = [around[0]]
        for piece in around[1:]:
            pieces += [*body, piece]
        return pieces

    def home(self) -> bytes:
        """The home page (UTF-8) listing every note, for a site without index.md."""
        context = self._context(HOME)
        context.update(title=self._site.title, description=None, notes=self._listing(HOME))
        return render_page(self._environment, "index.html", context)

    def _context(self, output: PurePosixPath) -> dict[str, Any]:
        root = relative_url(output, HOME)[: -len(HOME.name)]
        return {
            "site_title": self._site.title,
            "katex_version": self._site.katex_version,
            "root": root,
            "assets": root + "assets/",
            "lang": "en",
            "fonts": [],
        }

    def _listing(self, output: PurePosixPath) -> list[dict[str, Any]]:
        """The notes as the templates list them, with URLs relative to output: the same for
        every page of a folder, so made once per folder."""
        listing = self._listings.get(output.parent)
        if listing is None:
            listing = self._listings[output.parent] = [
                {
                    "title": note.title,
                    "url": relative_url(output, note.output),
                    "date": note.date,
                    "description": note.description,
                }
                for note in self._site.notes
                if note.output != HOME  # the home note lists the others, not itself
            ]
        return listing


def _entries(toc: list[TocEntry]) -> Iterator[TocEntry]:
    for entry in toc:
        yield entry
        yield from _entries(entry.children)
