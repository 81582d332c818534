"""A small SVG chart builder for the HTML report: axes with linear or log scales, ticks, labels, legend,
and the marks the report draws (filled stairs, lines, vertical rules, points, bands).

It writes SVG text directly (about 1 ms per three-panel figure, against half a second with matplotlib),
escapes every text it is given (layer names come from the model file), and clips the marks of each
panel to its plotting area.  Not a general plotting library: just what :mod:`.svg_figures` needs.

The figures are made to be read in a browser, inline in the page (:mod:`netspectra.report.html_assets`
adds the behaviour), and stay plain SVG without it:

* each panel's plotting area is a nested ``<svg class="plot">`` whose ``viewBox`` is the area itself (it
  clips the marks, with no ``id`` that two figures of one page could share) and whose ``data-*``
  attributes give its axes (limits, log scales, short names): the page's script zooms by narrowing the
  ``viewBox`` and redraws the ticks, strokes and points keep their width (``non-scaling-stroke``; a point
  is a zero-length round-capped stroke, a dot at any zoom);
* a point, a rule or a curve given a ``title`` carries it as an SVG ``<title>`` (a tooltip in any viewer;
  the page's script shows it at once), and a histogram carries its bins (``data-bins``) so that the
  value under the pointer can be read;
* the legend goes in the corner of the plotting area that covers no point, and where every corner
  would, the y axis gets the headroom that frees one: a legend never hides a point.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape as _escape

import numpy as np
from numpy.typing import ArrayLike

#: Font of all text (the report page's own sans-serif stack).
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
#: Strokes keep their width when the page's script zooms a plotting area.
_FIXED_STROKE = ' vector-effect="non-scaling-stroke"'
#: Legend geometry: row height, inner margin, distance to the plotting area's edge (pixels).
_LEGEND_ROW, _LEGEND_PAD, _LEGEND_GAP = 13.0, 4.0, 4.0


#: Characters XML 1.0 forbids (C0 controls but tab, newline, carriage return; lone surrogates).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def escape(text: str) -> str:
    """Text safe inside an SVG document: markup escaped, characters XML cannot hold replaced by U+FFFD (a
    layer name is whatever the model file says)."""
    return _escape(_NOT_XML.sub("\ufffd", text))


def _num(value: float) -> str:
    """A coordinate with two decimals (SVG pixels)."""
    return f"{value:.2f}"


def _title(text: str) -> str:
    return f"<title>{escape(text)}</title>" if text else ""


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round values (1, 2 or 5 times a power of ten apart) within [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(count, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    return [first + i * step for i in range(int(math.floor((hi - first) / step + 1e-9)) + 1)]


def tick_label(value: float) -> str:
    """A tick label: three significant digits, exponent notation for very small or large values."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e4 or magnitude < 1e-2:
        mantissa, exponent = f"{value:.2e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}×10" + str(int(exponent)).translate(_SUPERSCRIPT)
    return f"{value:.3g}"


def decade_label(value: float) -> str:
    """10ⁿ for a power of ten."""
    return "10" + str(round(math.log10(value))).translate(_SUPERSCRIPT)


@dataclass
class Panel:
    """One set of axes placed at (``left``, ``top``) with a plotting area of ``width`` x ``height`` pixels.

    Marks are kept as drawing functions and drawn by :meth:`render`, once the y limits are final (the
    legend may ask for headroom).  ``xname`` and ``yname`` name the axes in the page's hover read-out.
    """

    left: float
    top: float
    width: float
    height: float
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    xlog: bool = False
    ylog: bool = False
    title: str = ""
    xlabel: str = ""
    ylabel: str = ""
    ident: str = "p"
    xname: str = "x"
    yname: str = "y"
    marks: list[Callable[[], str]] = field(default_factory=list)
    legend_entries: list[tuple[str, str, str, str]] = field(default_factory=list)
    message: str = ""
    #: Data points a legend must not cover (x, y, radius in pixels), and the vertices of lines and bars it
    #: had better not cover.
    points_drawn: list[tuple[np.ndarray, np.ndarray, float]] = field(default_factory=list)
    vertices_drawn: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def _scale(self, values: ArrayLike, lim: tuple[float, float], log: bool) -> np.ndarray:
        v = np.asarray(values, dtype=np.float64)
        lo, hi = lim
        if log:
            with np.errstate(divide="ignore", invalid="ignore"):
                return (np.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
        return (v - lo) / (hi - lo)

    def px(self, x: ArrayLike) -> np.ndarray:
        """Pixel column of data x."""
        return self.left + self.width * self._scale(x, self.xlim, self.xlog)

    def py(self, y: ArrayLike) -> np.ndarray:
        """Pixel row of data y (up is larger y)."""
        return self.top + self.height * (1.0 - self._scale(y, self.ylim, self.ylog))

    def stairs(
        self, values: ArrayLike, edges: ArrayLike, *, baseline: float, color: str, opacity: float = 0.55, label: str = ""
    ) -> None:
        """A filled histogram: ``values`` between consecutive ``edges``, down to ``baseline``; its bins go in
        ``data-bins`` (edges, then values) for the page's hover read-out."""
        e, v = np.asarray(edges, dtype=np.float64), np.asarray(values, dtype=np.float64)
        bins = " ".join(f"{x:.4g}" for x in e) + ";" + " ".join(f"{x:.4g}" for x in v)

        def draw() -> str:
            xs, ys = self.px(e), self.py(v)
            base = float(self.py(baseline))
            points = [f"{_num(xs[0])},{_num(base)}"]
            for i in range(v.size):
                points += [f"{_num(xs[i])},{_num(ys[i])}", f"{_num(xs[i + 1])},{_num(ys[i])}"]
            points.append(f"{_num(xs[-1])},{_num(base)}")
            return (
                f'<polygon class="bins" data-bins="{bins}" points="{" ".join(points)}" fill="{color}" '
                f'fill-opacity="{opacity}" stroke="none"/>'
            )

        self.marks.append(draw)
        self.vertices_drawn.append((np.repeat(e, 2)[1:-1], np.repeat(v, 2)))
        if label:
            self.legend_entries.append(("box", color, "", label))

    def line(
        self, x: ArrayLike, y: ArrayLike, *, color: str, width: float = 1.8, dash: str = "", label: str = "", title: str = ""
    ) -> None:
        """A polyline through the finite points (``title``: its tooltip)."""
        xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

        def draw() -> str:
            xs, ys = self.px(xa), self.py(ya)
            ok = np.isfinite(xs) & np.isfinite(ys)
            if ok.sum() < 2:
                return ""
            points = " ".join(f"{_num(a)},{_num(b)}" for a, b in zip(xs[ok], ys[ok]))
            dashing = f' stroke-dasharray="{dash}"' if dash else ""
            return (
                f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="{width}"{dashing}{_FIXED_STROKE}>'
                f"{_title(title)}</polyline>"
            )

        self.marks.append(draw)
        self.vertices_drawn.append((xa, ya))
        if label:
            self.legend_entries.append(("line", color, dash, label))

    def vline(
        self,
        x: float,
        *,
        color: str,
        dash: str = "",
        width: float = 1.2,
        label: str = "",
        fraction: float = 1.0,
        title: str = "",
    ) -> None:
        """A vertical rule at data x, over the whole height (or its bottom ``fraction``)."""

        def draw() -> str:
            column = float(self.px(x))
            top = self.top + self.height * (1.0 - fraction)
            dashing = f' stroke-dasharray="{dash}"' if dash else ""
            return (
                f'<line x1="{_num(column)}" x2="{_num(column)}" y1="{_num(top)}" y2="{_num(self.top + self.height)}" '
                f'stroke="{color}" stroke-width="{width}"{dashing}{_FIXED_STROKE}>{_title(title)}</line>'
            )

        self.marks.append(draw)
        if label:
            self.legend_entries.append(("line", color, dash, label))

    def hband(self, y0: float, y1: float, *, color: str, label: str = "") -> None:
        """A horizontal band between data y0 and y1 (either may be infinite: to the edge of the plotting
        area), behind the other marks."""

        def draw() -> str:
            lo, hi = self.ylim
            a, b = (float(self.py(min(max(v, lo), hi))) for v in (y0, y1))
            top, bottom = max(min(a, b), self.top), min(max(a, b), self.top + self.height)
            if bottom <= top:
                return ""
            return (
                f'<rect x="{_num(self.left)}" y="{_num(top)}" width="{_num(self.width)}" '
                f'height="{_num(bottom - top)}" fill="{color}"/>'
            )

        self.marks.insert(0, draw)
        if label:
            self.legend_entries.append(("box", color, "", label))

    def points(
        self, x: ArrayLike, y: ArrayLike, colors: Sequence[str], *, radius: float = 3.2, titles: Sequence[str] = ()
    ) -> None:
        """Dots with a white rim, one colour each, and each its ``titles`` entry as tooltip when given."""
        xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        labels = list(titles) or [""] * xa.size

        def draw() -> str:
            out = []
            for a, b, c, text in zip(self.px(xa), self.py(ya), colors, labels):
                if math.isfinite(a) and math.isfinite(b):
                    at = f'd="M{_num(a)},{_num(b)}h0" stroke-linecap="round"{_FIXED_STROKE}'
                    out.append(
                        f'<g class="point">{_title(text)}<path {at} stroke="white" stroke-width="{2 * radius + 1.2:.1f}"/>'
                        f'<path {at} stroke="{c}" stroke-width="{2 * radius:.1f}"/></g>'
                    )
            return "".join(out)

        self.marks.append(draw)
        self.points_drawn.append((xa, ya, radius))

    def _ticks(self, lim: tuple[float, float], log: bool) -> list[tuple[float, str]]:
        lo, hi = lim
        if log and hi / lo >= 10.0:
            decades = range(math.ceil(math.log10(lo) - 1e-9), math.floor(math.log10(hi) + 1e-9) + 1)
            step = max(1, math.ceil(len(decades) / 6))
            return [(10.0**d, decade_label(10.0**d)) for d in decades if (d - decades[0]) % step == 0]
        values = nice_ticks(lo, hi)
        return [(v, tick_label(v)) for v in values if (not log or v > 0)]

    def render(self) -> str:
        """The panel's SVG: background grid, clipped marks, frame, ticks, labels, title and legend, in one
        ``<g class="panel">``."""
        right, bottom = self.left + self.width, self.top + self.height
        parts = [
            f'<text x="{_num(self.left + self.width / 2)}" y="{_num(self.top - 8)}" text-anchor="middle" '
            f'font-size="12" font-weight="600">{escape(self.title)}</text>'
        ]
        if self.message:
            parts.append(
                f'<rect x="{_num(self.left)}" y="{_num(self.top)}" width="{_num(self.width)}" '
                f'height="{_num(self.height)}" fill="#fafafa" stroke="#ddd"/>'
            )
            parts.append(
                f'<text x="{_num(self.left + self.width / 2)}" y="{_num(self.top + self.height / 2)}" '
                f'text-anchor="middle" font-size="11" fill="#666">{escape(self.message)}</text>'
            )
            return f'<g class="panel" data-panel="{escape(self.ident)}">{"".join(parts)}</g>'
        legend_box = self._place_legend()  # may widen the y limits: before anything is drawn
        grid, labels = [], []
        for value, text in self._ticks(self.xlim, self.xlog):
            x = float(self.px(value))
            if self.left - 0.5 <= x <= right + 0.5:
                grid.append(f'<line x1="{_num(x)}" x2="{_num(x)}" y1="{_num(self.top)}" y2="{_num(bottom)}"/>')
                labels.append(f'<text x="{_num(x)}" y="{_num(bottom + 13)}" text-anchor="middle">{escape(text)}</text>')
        for value, text in self._ticks(self.ylim, self.ylog):
            y = float(self.py(value))
            if self.top - 0.5 <= y <= bottom + 0.5:
                grid.append(f'<line x1="{_num(self.left)}" x2="{_num(right)}" y1="{_num(y)}" y2="{_num(y)}"/>')
                labels.append(f'<text x="{_num(self.left - 4)}" y="{_num(y + 3.5)}" text-anchor="end">{escape(text)}</text>')
        parts.append(f'<g class="grid" stroke="#e3e3e3" stroke-width="0.7">{"".join(grid)}</g>')
        box = f"{_num(self.left)} {_num(self.top)} {_num(self.width)} {_num(self.height)}"
        axes = (
            f'data-xlim="{self.xlim[0]!r} {self.xlim[1]!r}" data-ylim="{self.ylim[0]!r} {self.ylim[1]!r}" '
            f'data-log="{"x" if self.xlog else ""}{"y" if self.ylog else ""}" '
            f'data-names="{escape(self.xname)}|{escape(self.yname)}"'
        )
        parts.append(
            f'<svg class="plot" x="{_num(self.left)}" y="{_num(self.top)}" width="{_num(self.width)}" '
            f'height="{_num(self.height)}" viewBox="{box}" preserveAspectRatio="none" {axes}>'
            f'<rect class="area" x="{_num(self.left)}" y="{_num(self.top)}" width="{_num(self.width)}" '
            f'height="{_num(self.height)}" fill="none" pointer-events="all"/>'
            f"{''.join(draw() for draw in self.marks)}</svg>"
        )
        parts.append(
            f'<path d="M{_num(self.left)},{_num(self.top)} V{_num(bottom)} H{_num(right)}" fill="none" '
            'stroke="#444" stroke-width="0.8"/>'
        )
        parts.append(f'<g class="ticks" font-size="10" fill="#333">{"".join(labels)}</g>')
        parts.append(
            f'<text x="{_num(self.left + self.width / 2)}" y="{_num(bottom + 28)}" text-anchor="middle" '
            f'font-size="11">{escape(self.xlabel)}</text>'
        )
        middle = self.top + self.height / 2
        parts.append(
            f'<text transform="translate({_num(self.left - 40)},{_num(middle)}) rotate(-90)" '
            f'text-anchor="middle" font-size="11">{escape(self.ylabel)}</text>'
        )
        if legend_box is not None:
            parts.append(self._legend(*legend_box))
        return f'<g class="panel" data-panel="{escape(self.ident)}">{"".join(parts)}</g>'

    def _legend_size(self) -> tuple[float, float]:
        width = max(len(label) for *_, label in self.legend_entries) * 5.6 + 26
        return width, _LEGEND_ROW * len(self.legend_entries) + _LEGEND_PAD

    def _corners(self, width: float, height: float) -> list[tuple[float, float]]:
        """Top-left pixel of the legend in each corner of the plotting area: top right first."""
        x_right, x_left = self.left + self.width - width - _LEGEND_GAP, self.left + _LEGEND_GAP
        y_top, y_bottom = self.top + _LEGEND_GAP, self.top + self.height - height - _LEGEND_GAP
        return [(x_right, y_top), (x_left, y_top), (x_right, y_bottom), (x_left, y_bottom)]

    def _pixels(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Pixel positions of the points (x, y, radius) and of the line and bar vertices (x, y)."""

        def joined(arrays: list[np.ndarray]) -> np.ndarray:
            return np.concatenate(arrays) if arrays else np.empty(0)

        points, vertices = self.points_drawn, self.vertices_drawn
        return (
            joined([self.px(xs) for xs, _, _ in points]),
            joined([self.py(ys) for _, ys, _ in points]),
            joined([np.full(xs.size, radius) for xs, _, radius in points]),
            joined([self.px(xs) for xs, _ in vertices]),
            joined([self.py(ys) for _, ys in vertices]),
        )

    @staticmethod
    def _covered(pixels: tuple[np.ndarray, ...], x: float, y: float, width: float, height: float) -> tuple[int, int]:
        """(points, line and bar vertices) of ``pixels`` (:meth:`_pixels`) inside the legend box at (x, y)."""
        a, b, r, c, d = pixels
        with np.errstate(invalid="ignore"):
            hidden = int(np.sum((a > x - r) & (a < x + width + r) & (b > y - r) & (b < y + height + r)))
            crossed = int(np.sum((c > x) & (c < x + width) & (d > y) & (d < y + height)))
        return hidden, crossed

    def _place_legend(self) -> tuple[float, float, float, float] | None:
        """The legend's box (x, y, width, height): the first corner covering no point and fewest other
        marks; where every corner covers a point, the top limit is raised until the better top corner is free."""
        if not self.legend_entries:
            return None
        width, height = self._legend_size()
        corners = self._corners(width, height)
        pixels = self._pixels()
        scores = [self._covered(pixels, x, y, width, height) for x, y in corners]
        best = min(range(len(corners)), key=lambda i: scores[i])
        if scores[best][0] == 0:
            return (*corners[best], width, height)
        raised = [self._headroom(x, width, height) for x, _ in corners[:2]]
        pick = 0 if raised[0] <= raised[1] else 1
        self.ylim = (self.ylim[0], raised[pick])
        return (*self._corners(width, height)[pick], width, height)

    def _headroom(self, x: float, width: float, height: float) -> float:
        """The top y limit that puts every point under a top legend at column ``x`` below it."""
        lo, hi = self.ylim
        room = (height + _LEGEND_GAP + 2.0) / self.height  # the share of the height the legend takes
        tops = []
        for xs, ys, radius in self.points_drawn:
            a = self.px(xs)
            with np.errstate(invalid="ignore"):
                under = (a > x - radius) & (a < x + width + radius) & np.isfinite(ys)
            scaled = self._scale(ys[under], self.ylim, self.ylog)
            if scaled.size:
                tops.append(float(np.max(scaled)) + radius / self.height)
        need = max(tops, default=0.0) / max(1.0 - room, 0.1)  # the highest point's share of the new range
        if need <= 1.0:
            return hi
        if self.ylog:
            return 10.0 ** (math.log10(lo) + (math.log10(hi) - math.log10(lo)) * need)
        return lo + (hi - lo) * need

    def _legend(self, x: float, y: float, width: float, height: float) -> str:
        rows = []
        for i, (kind, color, dash, label) in enumerate(self.legend_entries):
            row = y + 6 + _LEGEND_ROW * i
            if kind == "box":
                rows.append(
                    f'<rect x="{_num(x + 4)}" y="{_num(row - 4)}" width="12" height="8" fill="{color}" fill-opacity="0.6"/>'
                )
            else:
                dashing = f' stroke-dasharray="{dash}"' if dash else ""
                rows.append(
                    f'<line x1="{_num(x + 3)}" x2="{_num(x + 17)}" y1="{_num(row)}" y2="{_num(row)}" '
                    f'stroke="{color}" stroke-width="1.8"{dashing}/>'
                )
            rows.append(f'<text x="{_num(x + 21)}" y="{_num(row + 3.5)}">{escape(label)}</text>')
        box = (
            f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(width)}" height="{_num(height)}" fill="white" '
            'fill-opacity="0.85" stroke="#ccc" stroke-width="0.6"/>'
        )
        return f'<g class="legend" font-size="9.5" fill="#222" pointer-events="none">{box}{"".join(rows)}</g>'


def figure(width: int, height: int, panels: Sequence[Panel], *, title: str = "", key: Sequence[tuple[str, str]] = ()) -> str:
    """An SVG document of ``width`` x ``height`` pixels holding the panels, a title and a colour key
    (``(label, colour)`` pairs, a dot each) along the bottom."""
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="ns-figure" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{escape(FONT)}">'
    )
    parts = [head, f'<rect width="{width}" height="{height}" fill="white"/>']
    if title:
        parts.append(f'<text x="{width / 2:.1f}" y="16" text-anchor="middle" font-size="13">{escape(title)}</text>')
    parts += [panel.render() for panel in panels]
    if key:
        widths = [14 + 5.9 * len(label) + 16 for label, _ in key]  # dot, label, gap (estimated text widths)
        x, y = (width - sum(widths)) / 2, height - 10
        items = []
        for (label, color), item_width in zip(key, widths):
            items.append(
                f'<circle cx="{_num(x + 5)}" cy="{_num(y - 3.5)}" r="4" fill="{color}"/>'
                f'<text x="{_num(x + 14)}" y="{_num(y)}">{escape(label)}</text>'
            )
            x += item_width
        parts.append(f'<g font-size="10.5" fill="#333">{"".join(items)}</g>')
    parts.append("</svg>")
    return "".join(parts)
