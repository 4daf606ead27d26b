"""Which of KaTeX's fonts a page uses, so that its template can preload them.

A browser finds a web font only once it has the stylesheet and has laid out an element
that uses it, which on a slow phone is well after the first paint. The build knows the
page: KaTeX's stylesheet says which classes select which face, and the page's formulas say
which classes they use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

_FACE = re.compile(r"@font-face\{([^}]*)\}")
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_CLASS_ATTR = re.compile(rb'class="([^"]*)"')
BASE_FACE = ("KaTeX_Main", "normal", "400")
"""Every formula's own face (`.katex` is set in KaTeX_Main)."""


@lru_cache(maxsize=4)  # the build's one stylesheet, made into the map while V8 typesets
def font_map(css: str) -> tuple[tuple[tuple[str, ...], str], ...]:
    """From KaTeX's stylesheet: (classes an element must all have, woff2 file of the face
    they select), the base face first with no classes."""
    files: dict[tuple[str, str, str], str] = {}
    for body in _FACE.findall(css):
        props = _properties(body)
        woff2 = re.search(r"url\((fonts/[^)]+\.woff2)\)", props.get("src", ""))
        if woff2:
            files[_face(props)] = woff2.group(1).removeprefix("fonts/")
    rules: list[tuple[tuple[str, ...], str]] = [((), files[BASE_FACE])] if BASE_FACE in files else []
    for selectors, body in _RULE.findall(css):
        props = _properties(body)
        file = files.get(_face(props)) if {"font-family", "font-weight"} & props.keys() else None
        for selector in selectors.split(",") if file else ():
            compounds = selector.split()
            # ".katex .mathbb": one class (or several) inside a formula; descendant
            # selectors such as ".delimsizing.mult .delim-size1>span" select faces that
            # simpler rules select too.
            if (
                len(compounds) == 2
                and compounds[0] == ".katex"
                and re.fullmatch(r"(\.[\w-]+)+", compounds[1])
            ):
                rules.append((tuple(sorted(c for c in compounds[1].split(".") if c)), str(file)))
    return tuple(rules)


def page_fonts(html: Iterable[str | bytes], fonts: tuple[tuple[tuple[str, ...], str], ...]) -> list[str]:
    """The font files (woff2, under KaTeX's fonts/) the formulas in html (text or UTF-8) use,
    sorted."""
    attributes: set[bytes] = set()
    formulas = False
    for text in html:
        data = text.encode("utf-8") if isinstance(text, str) else text
        if b'class="katex' in data:
            formulas = True
            attributes.update(_CLASS_ATTR.findall(data))
    if not formulas:
        return []
    # The page's distinct class lists, once for all its pieces (a page holds thousands of
    # elements but a few hundred distinct lists); a rule of one class only asks whether any
    # element has it.
    classes = {frozenset(attribute.decode("utf-8").split()) for attribute in attributes}
    names: set[str] = set().union(*classes)
    used = {
        file
        for required, file in fonts
        if (
            names.issuperset(required) if len(required) <= 1 else any(c.issuperset(required) for c in classes)
        )
    }
    return sorted(used)


def _properties(body: str) -> dict[str, str]:
    pairs = (part.split(":", 1) for part in body.split(";") if ":" in part)
    return {name.strip(): value.strip() for name, value in pairs}


def _face(props: dict[str, str]) -> tuple[str, str, str]:
    family = props.get("font-family", "KaTeX_Main").split(",")[0].strip()
    weight = {"bold": "700", "normal": "400"}.get(
        props.get("font-weight", "400"), props.get("font-weight", "400")
    )
    return (family, props.get("font-style", "normal"), weight)
