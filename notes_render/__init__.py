"""notes-render: math-heavy Markdown notes to a static site, KaTeX rendered at build time."""

__version__ = "0.1.0"
