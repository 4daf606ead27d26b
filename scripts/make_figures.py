"""Draw the figures of the study notes as hand-written SVG files.

Only the standard library is used, so that building the site never needs a
plotting package.  The output is deterministic: running the script twice gives
byte-identical files, which keeps the committed SVGs reviewable in diffs.

Usage::

    python scripts/make_figures.py [OUTPUT_DIR]

OUTPUT_DIR defaults to ``notes/figures`` next to this script's parent folder.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from xml.sax.saxutils import escape

FONT = "sans-serif"
INK = "#1a1a1a"
MUTED = "#555555"
BLUE = "#1f5fa8"
ORANGE = "#c2550a"
GREEN = "#2b7a3d"
PURPLE = "#6a3d9a"

# The same figure in a dark colour scheme: each colour the drawings use, and its dark
# counterpart (the site's own dark palette). CSS in the SVG overrides the presentation
# attributes, so the drawing code names only the light colours.
DARK = {
    "#ffffff": "#16181b",
    INK: "#e3e5e8",
    MUTED: "#a0a6ad",
    BLUE: "#7cb7ff",
    ORANGE: "#f0955a",
    GREEN: "#5cc878",
    PURPLE: "#b48cf0",
    "#dddddd": "#3a3f45",
    "#999999": "#6b7178",
}


# --------------------------------------------------------------------------
# Small SVG helpers
# --------------------------------------------------------------------------


def _fmt(value: float) -> str:
    """Format a coordinate compactly and deterministically."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _dark_scheme() -> str:
    """A stylesheet that redraws the figure in DARK's colours when the reader's colour
    scheme is dark (an SVG shown as an image follows the page's scheme)."""
    rules = " ".join(
        f'[fill="{light}"] {{ fill: {dark}; }} [stroke="{light}"] {{ stroke: {dark}; }}'
        for light, dark in DARK.items()
    )
    return f"<style>@media (prefers-color-scheme: dark) {{ {rules} }}</style>"


def svg_document(width: int, height: int, title: str, desc: str, body: list[str]) -> str:
    """Wrap drawing elements in a standalone SVG with its own background, white, or dark
    in a dark colour scheme (the figure follows the page's scheme)."""
    head = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="title desc" '
            f'font-family="{FONT}" font-size="14" fill="{INK}">'
        ),
        f'<title id="title">{escape(title)}</title>',
        f'<desc id="desc">{escape(desc)}</desc>',
        _dark_scheme(),
        "<defs>",
        *(
            _arrow_marker(name, colour)
            for name, colour in (("ink", INK), ("blue", BLUE), ("orange", ORANGE), ("muted", MUTED))
        ),
        "</defs>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    return "\n".join([*head, *body, "</svg>", ""])


def _arrow_marker(name: str, colour: str) -> str:
    return (
        f'<marker id="arrow-{name}" viewBox="0 0 10 10" refX="9" refY="5" '
        f'markerWidth="8" markerHeight="8" orient="auto-start-reverse">'
        f'<path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
    )


def text(
    x: float,
    y: float,
    content: str,
    *,
    size: int = 14,
    anchor: str = "middle",
    colour: str = INK,
    weight: str = "normal",
    style: str = "normal",
) -> str:
    """Plain text; ``content`` may hold pre-built ``<tspan>`` markup."""
    return (
        f'<text x="{_fmt(x)}" y="{_fmt(y)}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="{colour}" font-weight="{weight}" font-style="{style}">{content}</text>'
    )


def sub(base: str, index: str, *, italic: bool = True) -> str:
    """A symbol with a subscript, e.g. x with index t-1, as tspans."""
    style = "italic" if italic else "normal"
    return (
        f'<tspan font-style="{style}">{escape(base)}</tspan>'
        f'<tspan font-size="0.72em" dy="0.35em">{escape(index)}</tspan>'
        f'<tspan dy="-0.35em"></tspan>'
    )


def line(
    x1: float,
    y1: float,
    x2: float,
    y2: float,
    *,
    colour: str = INK,
    width: float = 1.5,
    marker: str | None = None,
    dash: str | None = None,
) -> str:
    extra = f' marker-end="url(#arrow-{marker})"' if marker else ""
    extra += f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<line x1="{_fmt(x1)}" y1="{_fmt(y1)}" x2="{_fmt(x2)}" y2="{_fmt(y2)}" '
        f'stroke="{colour}" stroke-width="{width}"{extra}/>'
    )


def path(
    d: str, *, colour: str, width: float = 1.5, marker: str | None = None, dash: str | None = None
) -> str:
    extra = f' marker-end="url(#arrow-{marker})"' if marker else ""
    extra += f' stroke-dasharray="{dash}"' if dash else ""
    return f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="{width}"{extra}/>'


def box(
    x: float, y: float, w: float, h: float, *, stroke: str = INK, fill: str = "#ffffff", radius: float = 8
) -> str:
    return (
        f'<rect x="{_fmt(x)}" y="{_fmt(y)}" width="{_fmt(w)}" height="{_fmt(h)}" '
        f'rx="{_fmt(radius)}" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>'
    )


# --------------------------------------------------------------------------
# Noise schedules (n1)
# --------------------------------------------------------------------------


def linear_alpha_bar(steps: int = 1000, beta_1: float = 1e-4, beta_T: float = 0.02) -> list[float]:
    """Cumulative products alpha_bar_t, t = 0..T, for Ho et al.'s linear beta schedule."""
    values = [1.0]
    for t in range(1, steps + 1):
        beta = beta_1 + (beta_T - beta_1) * (t - 1) / (steps - 1)
        values.append(values[-1] * (1.0 - beta))
    return values


def cosine_alpha_bar(steps: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> list[float]:
    """alpha_bar_t, t = 0..T, for Nichol & Dhariwal's cosine schedule.

    As in their paper, alpha_bar_t = f(t)/f(0) with f(t) = cos^2(((t/T + s)/(1 + s)) pi/2),
    and each beta_t = 1 - alpha_bar_t/alpha_bar_{t-1} is clipped at 0.999 so that
    the last step does not become singular.
    """

    def f(t: int) -> float:
        return math.cos((t / steps + s) / (1 + s) * math.pi / 2) ** 2

    values = [1.0]
    for t in range(1, steps + 1):
        beta = min(1.0 - f(t) / f(t - 1), max_beta)
        values.append(values[-1] * (1.0 - beta))
    return values


def noise_schedules_svg() -> str:
    width, height = 640, 400
    left, right, top, bottom = 70, 610, 30, 330
    steps = 1000

    def px(t: float) -> float:
        return left + (right - left) * t / steps

    def py(v: float) -> float:
        return bottom - (bottom - top) * v

    body: list[str] = []
    # Grid and ticks.
    for k in range(0, 11, 2):
        v = k / 10
        body.append(line(left, py(v), right, py(v), colour="#dddddd", width=1))
        body.append(line(left - 5, py(v), left, py(v), colour=INK, width=1))
        body.append(text(left - 9, py(v) + 5, f"{v:.1f}", size=13, anchor="end"))
    for t in range(0, steps + 1, 200):
        body.append(line(px(t), top, px(t), bottom, colour="#dddddd", width=1))
        body.append(line(px(t), bottom, px(t), bottom + 5, colour=INK, width=1))
        body.append(text(px(t), bottom + 21, str(t), size=13))
    # Axes.
    body.append(line(left, bottom, right, bottom, colour=INK, width=1.5))
    body.append(line(left, bottom, left, top, colour=INK, width=1.5))
    body.append(text((left + right) / 2, bottom + 46, "diffusion step " + sub("t", ""), size=15))
    body.append(
        f'<text x="20" y="{_fmt((top + bottom) / 2)}" font-size="15" text-anchor="middle" '
        f'transform="rotate(-90 20 {_fmt((top + bottom) / 2)})">'
        f'<tspan font-style="italic">ᾱ</tspan><tspan font-size="0.72em" dy="0.35em">t</tspan>'
        f'<tspan dy="-0.35em">\u00a0\u00a0(share of signal variance)</tspan></text>'
    )
    # Curves.
    for values, colour, dash in (
        (linear_alpha_bar(steps), BLUE, None),
        (cosine_alpha_bar(steps), ORANGE, "8 5"),
    ):
        points = " ".join(
            f"{'M' if t == 0 else 'L'}{_fmt(px(t))},{_fmt(py(v))}"
            for t, v in enumerate(values)
            if t % 5 == 0 or t == steps
        )
        body.append(path(points, colour=colour, width=2.5, dash=dash))
    # Legend.
    lx, ly = 330, 52
    body.append(box(lx, ly, 270, 66, stroke="#999999", radius=4))
    body.append(line(lx + 12, ly + 22, lx + 48, ly + 22, colour=BLUE, width=2.5))
    body.append(text(lx + 58, ly + 27, "linear β from 10⁻⁴ to 0.02", size=13, anchor="start"))
    body.append(path(f"M{lx + 12},{ly + 47} L{lx + 48},{ly + 47}", colour=ORANGE, width=2.5, dash="8 5"))
    body.append(text(lx + 58, ly + 52, "cosine, s = 0.008", size=13, anchor="start"))
    body.append(text(right, top - 10, "T = 1000", size=13, anchor="end", colour=MUTED))

    return svg_document(
        width,
        height,
        "Cumulative signal fraction under two noise schedules",
        "Plot of alpha-bar t against t from 0 to 1000. The linear beta schedule "
        "falls quickly and is close to zero after about step 600; the cosine "
        "schedule falls almost linearly in the middle and reaches zero only at t = 1000.",
        body,
    )


# --------------------------------------------------------------------------
# Forward / reverse Markov chain (n1)
# --------------------------------------------------------------------------


def ddpm_chain_svg() -> str:
    width, height = 760, 280
    cy = 140
    nodes = [(70, "0"), (230, "t−1"), (400, "t"), (560, ""), (690, "T")]
    r = 30
    body: list[str] = []
    for x, idx in nodes:
        if idx == "":
            body.append(text(x, cy + 6, "⋯", size=24))
            continue
        body.append(f'<circle cx="{x}" cy="{cy}" r="{r}" fill="#ffffff" stroke="{INK}" stroke-width="1.8"/>')
        body.append(text(x, cy + 6, sub("x", idx), size=18, weight="bold"))
    # Dots between x_0 and x_{t-1}.
    body.append(text(150, cy + 6, "⋯", size=24))

    def arc(x1: float, x2: float, above: bool, colour: str, marker: str) -> str:
        sign = -1 if above else 1
        y = cy + sign * (r - 6)
        mid = (x1 + x2) / 2
        return path(
            f"M{_fmt(x1)},{_fmt(y)} Q{_fmt(mid)},{_fmt(cy + sign * 85)} {_fmt(x2)},{_fmt(y)}",
            colour=colour,
            width=2,
            marker=marker,
        )

    # Forward process q: left to right, drawn below the nodes.
    body.append(arc(230 + r - 4, 400 - r + 4, False, BLUE, "blue"))
    body.append(
        text(
            315,
            cy + 92,
            '<tspan font-style="italic">q</tspan>(' + sub("x", "t") + " ∣ " + sub("x", "t−1") + ")",
            size=16,
            colour=BLUE,
        )
    )
    # Reverse process p_theta: right to left, drawn above the nodes.
    body.append(arc(400 - r + 4, 230 + r - 4, True, ORANGE, "orange"))
    body.append(
        text(
            315,
            cy - 78,
            sub("p", "θ") + "(" + sub("x", "t−1") + " ∣ " + sub("x", "t") + ")",
            size=16,
            colour=ORANGE,
        )
    )
    # Captions at the ends of the chain.
    body.append(text(70, cy + 58, "data", size=13, colour=MUTED))
    body.append(text(690, cy + 58, "≈ 𝒩(0, I)", size=13, colour=MUTED))
    body.append(text(width / 2, 24, "←  reverse process: remove noise (learned)", size=13, colour=ORANGE))
    body.append(text(width / 2, height - 12, "forward process: add noise (fixed)  →", size=13, colour=BLUE))
    return svg_document(
        width,
        height,
        "The DDPM Markov chain",
        "Nodes x0, ..., x t-1, x t, ..., xT in a row. A blue arrow below the chain "
        "points from x t-1 to x t and is labelled q of x t given x t-1 (the fixed "
        "noising step); an orange arrow above points back from x t to x t-1 and is "
        "labelled p theta of x t-1 given x t (the learned denoising step).",
        body,
    )


# --------------------------------------------------------------------------
# Families of generative models (n0)
# --------------------------------------------------------------------------


def model_families_svg() -> str:
    width, height = 900, 540
    body: list[str] = []

    def node(cx: float, cy: float, w: float, label: str, note: str, colour: str) -> None:
        body.append(box(cx - w / 2, cy - 26, w, 52, stroke=colour))
        body.append(text(cx, cy - 4, escape(label), size=15, weight="bold", colour=colour))
        body.append(text(cx, cy + 16, escape(note), size=12, colour=MUTED))

    def edge(x1: float, y1: float, x2: float, y2: float) -> None:
        body.append(line(x1, y1, x2, y2, colour=MUTED, width=1.4, marker="muted"))

    node(450, 45, 300, "Deep generative models", "learn p(x) from samples", INK)
    node(290, 145, 260, "Explicit density", "write down (a bound on) p(x)", INK)
    node(760, 145, 230, "Implicit density", "only a sampler x = G(z)", INK)
    edge(400, 71, 320, 119)
    edge(500, 71, 730, 119)

    node(165, 245, 210, "Tractable", "exact log p(x)", INK)
    node(495, 245, 230, "Approximate", "bound or unnormalised", INK)
    edge(250, 171, 190, 219)
    edge(330, 171, 470, 219)

    node(85, 355, 150, "Autoregressive", "chain rule", BLUE)
    node(245, 355, 150, "Flows", "change of variables", BLUE)
    node(410, 355, 150, "VAE", "ELBO on log p(x)", GREEN)
    node(590, 355, 180, "Energy-based", "p ∝ exp(−E), Z unknown", GREEN)
    node(760, 245, 200, "GAN", "adversarial game", ORANGE)
    edge(140, 271, 95, 329)
    edge(190, 271, 235, 329)
    edge(470, 271, 420, 329)
    edge(520, 271, 580, 329)
    edge(760, 171, 760, 219)

    # Diffusion models sit below the approximate branch they borrow from, well away from the
    # implicit (GAN) column, so that the layout does not read them as implicit models.
    node(500, 468, 190, "Diffusion models", "ELBO + score matching", PURPLE)
    body.append(path("M410,381 C410,415 440,430 455,440", colour=PURPLE, width=1.4, dash="5 4", marker="ink"))
    body.append(path("M590,381 C590,415 560,430 545,440", colour=PURPLE, width=1.4, dash="5 4", marker="ink"))
    body.append(
        text(500, 522, "diffusion models borrow from VAEs and energy-based models", size=12, colour=PURPLE)
    )
    return svg_document(
        width,
        height,
        "A taxonomy of deep generative models",
        "Tree diagram. Deep generative models split into explicit-density and "
        "implicit-density models. Explicit ones are either tractable (autoregressive "
        "models, normalising flows) or approximate (VAEs with an evidence lower bound, "
        "energy-based models with an unknown normaliser). GANs alone are the implicit-density "
        "branch. Below the approximate branch, dashed arrows lead from VAEs and from "
        "energy-based models to diffusion models, which combine a variational bound with "
        "score matching.",
        body,
    )


FIGURES = {
    "ddpm-chain.svg": ddpm_chain_svg,
    "noise-schedules.svg": noise_schedules_svg,
    "model-families.svg": model_families_svg,
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out_dir = Path(args[0]) if args else Path(__file__).resolve().parent.parent / "notes" / "figures"
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, draw in FIGURES.items():
        (out_dir / name).write_text(draw(), encoding="utf-8")
        print(f"wrote {out_dir / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
