"""The text of inline tokens as words, formulas reduced to their letters: what heading ids,
page titles and a figure's alt text are made of."""

from __future__ import annotations

import re

from markdown_it.token import Token


def plain_text(inline: Token, *, readable: bool = False) -> str:
    """The text of an inline token, with formulas reduced to their letters.

    By default a formula keeps its command names without backslashes (`\\mathbf{x}_t` ->
    `mathbf{x}_t`), which is what heading ids are made of; `readable` gives the text a
    reader sees in a page title instead (`x_t`, `α`).
    """
    parts = []
    for child in inline.children or ():
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("math_inline", "math_inline_display"):
            tex = child.content
            parts.append(
                readable_tex(tex) if readable else re.sub(r"\\([a-zA-Z]+)", r"\1", tex).replace("\\", "")
            )
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts).strip()


_GREEK_LETTERS = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho "
    "varsigma sigma tau upsilon phi chi psi omega"
)
"""Greek letter names in Unicode order from U+03B1 (capitals from U+0391, no final sigma)."""


_READABLE = (
    {name: chr(0x3B1 + index) for index, name in enumerate(_GREEK_LETTERS.split())}
    | {
        name.capitalize(): chr(0x391 + index)
        for index, name in enumerate(_GREEK_LETTERS.split())
        if name != "varsigma"
    }
    | {
        "varepsilon": "ε",
        "vartheta": "ϑ",
        "varphi": "φ",
        "ell": "ℓ",
        "infty": "∞",
        "nabla": "∇",
        "mid": " | ",
        "cdot": "·",
        "times": "×",
        "sim": " ~ ",
        "to": " → ",
        "leq": " ≤ ",
        "le": " ≤ ",
        "geq": " ≥ ",
        "ge": " ≥ ",
        "approx": " ≈ ",
        "neq": " ≠ ",
        "in": " ∈ ",
        "sum": "∑",
        "prod": "∏",
        "int": "∫",
        "partial": "∂",
        "dots": "…",
        "ldots": "…",
        "cdots": "⋯",
        "quad": " ",
        "qquad": " ",
    }  # fmt: skip
)
"""TeX commands a page title shows as a character; every other command is dropped."""


def readable_tex(tex: str) -> str:
    """TeX as plain text for titles: Greek letters as letters, other commands and braces dropped."""
    text = re.sub(r"\\[,;:! ]", " ", tex)
    text = re.sub(r"\\([a-zA-Z]+)\s*", lambda m: _READABLE.get(m.group(1), ""), text)
    return re.sub(r"\s+", " ", text.replace("{", "").replace("}", "").replace("\\", "")).strip()
