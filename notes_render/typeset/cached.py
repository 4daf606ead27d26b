"""The engine behind the cache: `CachedEngine` wraps the real engine behind the same
`MathEngine` protocol and answers from the Store, so a batch whose formulas are all known
never starts V8; each formula's key is everything that decides KaTeX's answer for it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence

from .background import Done, PendingResults, start_batch
from .cache import FORMULAS, Store
from .katex import MathEngine, MathRequest, MathResult
from .texdefs import defines_macros

_CONTROL_SEQUENCE = re.compile(r"\\(?:[A-Za-z@]+|.)", re.S)
# With these a formula can reach a macro whose name it never spells out.
_INDIRECT = re.compile(r"\\(?:csname|expandafter)")


def macros_used(text: str, macros: Mapping[str, str]) -> dict[str, str]:
    """The macros text can expand, directly or through other macros' expansions."""
    if _INDIRECT.search(text):
        return dict(macros)
    used: dict[str, str] = {}
    pending = [text]
    while pending:
        for name in _CONTROL_SEQUENCE.findall(pending.pop()):
            if name in macros and name not in used:
                used[name] = macros[name]
                pending.append(macros[name])
    return used


def formula_keys(requests: Sequence[MathRequest], macros: Mapping[str, str], engine_id: str) -> list[str]:
    """One key per formula: everything that decides KaTeX's answer for it.

    That is the engine (KaTeX version and options), display mode, the TeX, the global and
    front-matter macros it can reach, and every earlier formula of the batch that defines
    macros, since those definitions stay in effect for it.
    """
    keys = []
    context = hashlib.sha256(engine_id.encode("utf-8"))  # grows with each definition
    definitions: list[str] = []
    for request in requests:
        key = context.copy()
        # The TeX's length makes the material unambiguous without quoting it (json.dumps
        # of every formula cost a build as much as hashing it).
        material = f"{int(request.display)}:{len(request.tex)}:{request.tex}"
        if macros:
            reachable = macros_used("\n".join([*definitions, request.tex]), macros)
            material += json.dumps(sorted(reachable.items()))
        key.update(material.encode("utf-8"))
        keys.append(key.hexdigest())
        if defines_macros(request.tex):
            definitions.append(request.tex)
            context.update(json.dumps(request.tex).encode("utf-8"))
    return keys


class CachedEngine:
    """A MathEngine that answers from the store and asks the real engine only for misses.

    The real engine is made on the first miss, so a build whose formulas are all cached
    never loads V8.
    """

    def __init__(
        self, store: Store, make_engine: Callable[[], MathEngine], *, version: str, engine_id: str
    ) -> None:
        self.version = version
        self._store = store
        self._make_engine = make_engine
        self._engine: MathEngine | None = None
        self._engine_id = engine_id

    def render_batch(self, requests: Sequence[MathRequest], macros: Mapping[str, str]) -> list[MathResult]:
        """Typeset requests like the real engine would, typesetting only unknown formulas."""
        return self.start_batch(requests, macros).result()

    def start_batch(self, requests: Sequence[MathRequest], macros: Mapping[str, str]) -> PendingResults:
        """Answer what the cache knows now and start typesetting the rest (in the background
        if the real engine can); the results are stored when they are waited for, by the
        thread that waits, which is the one that owns the store."""
        keys = formula_keys(requests, macros, self._engine_id)
        results: list[MathResult | None] = [None] * len(requests)
        for index, value in self._lookup(keys).items():
            results[index] = value
        missing = [index for index, result in enumerate(results) if result is None]
        if not missing:
            return _Found([result for result in results if result is not None], keys)
        if self._engine is None:
            self._engine = self._make_engine()
        send = _to_send(requests, missing)
        return _Completion(
            self._store,
            keys,
            results,
            send,
            set(missing),
            start_batch(self._engine, [requests[i] for i in send], macros),
        )

    def _lookup(self, keys: Sequence[str]) -> dict[int, MathResult]:
        stored = self._store.get_many(FORMULAS, keys)
        found = {}
        for index, key in enumerate(keys):
            if key in stored:
                result = _decode(stored[key])
                if result is not None:
                    found[index] = result
        return found


def _to_send(requests: Sequence[MathRequest], missing: list[int]) -> list[int]:
    """The formulas to typeset for the missing ones: those, and every earlier one that
    defines macros, replayed so that the missing ones see the same definitions."""
    wanted = set(missing)
    return [i for i in range(missing[-1] + 1) if i in wanted or defines_macros(requests[i].tex)]


def stored_keys(pending: PendingResults) -> list[str | None] | None:
    """For a batch CachedEngine started, once its results are in: the key under which the
    cache holds each result (None: one it does not keep, typeset at a time-out); None for
    a batch from elsewhere."""
    return pending.stored if isinstance(pending, _Found | _Completion) else None


class _Found(Done):
    """A batch the cache answered whole."""

    def __init__(self, results: list[MathResult], keys: list[str]) -> None:
        super().__init__(results)
        self.stored: list[str | None] = list(keys)


class _Completion:
    """A batch of which the cache answered some formulas and the engine is typesetting the
    others: all results once the engine's are in, which are then stored."""

    def __init__(
        self,
        store: Store,
        keys: list[str],
        results: list[MathResult | None],
        sent: list[int],
        wanted: set[int],
        pending: PendingResults,
    ) -> None:
        self._store, self._keys, self._results = store, keys, results
        self._sent, self._wanted, self._pending = sent, wanted, pending
        self.stored: list[str | None] = list(keys)
        self._done: list[MathResult] | None = None

    def done(self) -> bool:
        return self._pending.done()

    def result(self) -> list[MathResult]:
        """All results; the engine's are stored the first time (later calls only return them)."""
        if self._done is None:
            results, to_store = self._results, []
            for index, answer in zip(self._sent, self._pending.result(), strict=True):
                if index in self._wanted:
                    results[index] = answer
                    if answer.transient:
                        self.stored[index] = None
                    else:
                        to_store.append((self._keys[index], _encode(answer)))
            self._store.put_many(FORMULAS, to_store)
            self._done = [result for result in results if result is not None]
        return self._done


# A formula that typeset without warnings (nearly all) is stored as its HTML behind a short
# header: a one-byte tag, and with the layout facts the engine gave (`L`), them in ASCII up
# to a colon; anything else as JSON. Each decodes to exactly the MathResult that was stored.
_HTML_TAG = b"H"
_LAID_OUT_TAG = b"L"
_JSON_TAG = b"J"


def _encode(result: MathResult) -> bytes:
    if result.html is not None and result.error is None and not result.warnings:
        if result.may_scroll is None:
            return _HTML_TAG + result.html
        start, end = result.last_piece or (-1, -1)
        facts = f"{int(result.fitted)},{int(result.may_scroll)},{start},{end}:"
        return _LAID_OUT_TAG + facts.encode("ascii") + result.html
    data = {
        "html": None if result.html is None else result.html.decode("utf-8"),
        "error": result.error,
        "position": result.position,
        "warnings": [list(w) for w in result.warnings],
        "fitted": result.fitted,
        "may_scroll": result.may_scroll,
        "last_piece": result.last_piece,
    }
    return _JSON_TAG + json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode_html(value: bytes) -> bytes | None:
    """The typeset HTML of a stored result (None: not a result, or one without HTML)."""
    result = _decode(value)
    return None if result is None else result.html


def _decode(value: bytes) -> MathResult | None:
    """The result stored in value, or None when it is not one (then it is typeset again)."""
    if value.startswith(_HTML_TAG):
        return _checked(MathResult(html=value[1:]))
    if value.startswith(_LAID_OUT_TAG):
        facts, colon, html = value[1:].partition(b":")
        try:
            fitted, scroll, start, end = map(int, facts.split(b","))
        except ValueError:
            return None
        piece = None if start < 0 else (start, end)
        return _checked(MathResult(html=html, fitted=fitted == 1, may_scroll=scroll == 1, last_piece=piece))
    try:
        if not value.startswith(_JSON_TAG):
            return None
        data = json.loads(value[1:])
        html, error, position = data["html"], data["error"], data["position"]
        warnings = tuple((str(m), p) for m, p in data["warnings"])
        fitted, scroll = data.get("fitted", False), data.get("may_scroll")
        said = data.get("last_piece")
        piece = None if said is None else (int(said[0]), int(said[1]))
    except (ValueError, KeyError, TypeError, IndexError):
        return None
    if not (isinstance(html, str) or (html is None and isinstance(error, str))):
        return None
    if position is not None and not isinstance(position, int):
        return None
    encoded = None if html is None else html.encode("utf-8")
    result = MathResult(
        html=encoded, error=error, position=position, warnings=warnings,
        fitted=fitted is True, may_scroll=scroll if isinstance(scroll, bool) else None, last_piece=piece,
    )  # fmt: skip
    return _checked(result)


def _checked(result: MathResult) -> MathResult | None:
    """The result if its HTML is UTF-8 and its last piece lies inside it, else None."""
    html = result.html
    if html is None:
        return result
    try:
        html.decode("utf-8")  # only checked: it goes to the page as it is
    except UnicodeDecodeError:
        return None
    piece = result.last_piece
    if piece is not None and not (0 <= piece[1] <= piece[0] <= len(html)):
        return None
    return result
