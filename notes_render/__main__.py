"""`python -m notes_render`."""

from .cli import main

raise SystemExit(main())
