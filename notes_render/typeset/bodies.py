"""Note bodies in the cache, kept without the formulas' HTML the cache already holds.

A note's body is mostly its formulas' HTML (for corpus200, 60 of its 62 MB), which the
formula cache stores too. So a body goes to the cache as a *recipe*: its own bytes with
each formula that came from the cache (or went to it) cut out, and the place and key of
each. Reading it back takes those formulas from the cache and puts them in again: the same
bytes, or nothing if one is gone (then its note is built again, see build/pipeline.py).
A cold build of corpus200 thus writes half the data, and its cache file is half the size.

Formula HTML is recognised by identity: a formula's piece of the body is the very bytes
object of its cached result (`Recipe.add`), or the one made by holding its last piece to
the punctuation after it (`Recipe.know_held`), which the recipe does again when read. One
changed otherwise on the way (its TeX annotation restored, a display fitted in Python) is
another object and stays in the recipe's own bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from .cache import BODIES, FORMULAS, Store
from .katex import MathResult
from .mathlayout import hold_piece_at

_MAGIC = b"\x00recipe1\n"
"""How a recipe starts; a body as HTML (what earlier builds stored) never starts with NUL."""


@dataclass(slots=True)
class Recipe:
    """A body being rendered, as it will be stored: its own bytes and its formulas' keys."""

    known: dict[int, tuple[bytes, list[int | str]]] = field(default_factory=dict)
    """The HTML of each formula the cache holds, by id (with the object, which keeps the
    id its own), with its key and the place of its last piece if it was held."""
    own: list[bytes] = field(default_factory=list)
    places: list[list[int | str]] = field(default_factory=list)
    """Where each formula goes in the own bytes: [at, key] or [at, key, start, end]."""
    _size: int = 0

    def know(self, html: bytes, key: str) -> None:
        """html is a formula's result as the cache holds it, under key."""
        self.known[id(html)] = (html, [key])

    def know_results(self, results: Sequence[MathResult], keys: Sequence[str | None]) -> None:
        """A batch's results, with the key the cache holds each under (None: not kept)."""
        for result, key in zip(results, keys, strict=True):
            if key is not None and result.html is not None:
                self.know(result.html, key)

    def know_held(self, held: Sequence[tuple[bytes, bytes, tuple[int, int]]]) -> None:
        """Formulas whose last piece was held: (HTML known, mathlayout.hold_piece_at of it,
        the place held), as formulas.join_trailing_punctuation gives them."""
        for original, after, piece in held:
            found = self.known.get(id(original))
            if found is not None and found[0] is original:
                self.known[id(after)] = (after, [*found[1], *piece])

    def add(self, piece: bytes) -> None:
        """The body's next piece."""
        found = self.known.get(id(piece))
        if found is not None and found[0] is piece:
            self.places.append([self._size, *found[1]])
        else:
            self.own.append(piece)
            self._size += len(piece)

    def encode(self) -> bytes:
        """The recipe as the cache stores it."""
        index = json.dumps(self.places, separators=(",", ":")).encode("ascii")
        return b"".join([_MAGIC, b"%d\n" % len(index), index, *self.own])


def load_bodies(store: Store, keys: Sequence[str]) -> dict[str, bytes]:
    """The bodies under keys that the cache can give whole, by key."""
    from .cached import decode_html

    stored = store.get_many(BODIES, keys)
    recipes = {key: _parse(value) for key, value in stored.items() if value.startswith(_MAGIC)}
    wanted = sorted({place[1] for recipe in recipes.values() if recipe for place in recipe[1]})
    formulas = {key: decode_html(value) for key, value in store.get_many(FORMULAS, wanted).items()}
    bodies = {key: value for key, value in stored.items() if key not in recipes}
    for key, recipe in recipes.items():
        body = _assemble(recipe, formulas) if recipe is not None else None
        if body is not None:
            bodies[key] = body
    return bodies


_Place = tuple[int, str, tuple[int, int] | None]
"""Where a formula goes in a recipe's own bytes, its key, and where its last piece is held."""


def _parse(value: bytes) -> tuple[bytes, list[_Place]] | None:
    """A stored recipe's own bytes and places; None if it is not one."""
    try:
        length, _, rest = value[len(_MAGIC) :].partition(b"\n")
        size = int(length)
        places: list[_Place] = []
        for place in json.loads(rest[:size]):
            at, key, *held = place
            piece = (int(held[0]), int(held[1])) if held else None
            places.append((int(at), str(key), piece))
    except (ValueError, TypeError, IndexError):
        return None
    return rest[size:], places


def _assemble(recipe: tuple[bytes, list[_Place]], formulas: dict[str, bytes | None]) -> bytes | None:
    """The body a recipe makes, or None if a formula it needs is missing or its places
    do not fit its bytes."""
    own, places = recipe
    pieces, done = [], 0
    for at, key, held in places:
        html = formulas.get(key)
        if html is None or not done <= at <= len(own):
            return None
        if held is not None:
            if not 0 <= held[1] <= held[0] <= len(html):
                return None
            html = hold_piece_at(html, held)
        pieces += [own[done:at], html]
        done = at
    pieces.append(own[done:])
    return b"".join(pieces)
