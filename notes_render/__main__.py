"""`python -m notes_render`."""

from .cli import run

run()
