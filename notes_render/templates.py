"""The Jinja environment and page rendering; templates live in templates/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from .errors import ConfigError


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


def render_page(environment: jinja2.Environment, name: str, context: dict[str, Any]) -> str:
    """Render one template, turning Jinja's errors into a ConfigError naming the template."""
    try:
        return environment.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"{exc.filename or name}:{exc.lineno}: template error: {exc.message}") from exc
    except jinja2.TemplateError as exc:
        raise ConfigError(f"{name}: template error: {exc}") from exc
