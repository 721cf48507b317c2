"""Inline SVG plots drawn here, so the page needs no plotting script and fetches nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

import numpy as np

__all__ = ["bars", "histogram", "reliability", "scatter"]

_W, _H = 560, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 16, 14, 40
_BAR = "#4a78b5"
_INK = "#333"


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def _frame(kind: str, title: str, body: list[str], width: int = _W, height: int = _H) -> str:
    return (
        f'<svg class="plot" data-plot="{kind}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def _axes(
    x0: float, x1: float, y0: float, y1: float, width: int, height: int
) -> tuple[list[str], Callable[[float], float], Callable[[float], float]]:
    """Axis lines, ticks and the data-to-pixel maps for a linear x and y."""
    plot_w = width - _LEFT - _RIGHT
    plot_h = height - _TOP - _BOTTOM

    def sx(x: float) -> float:
        return _LEFT + (x - x0) / ((x1 - x0) or 1.0) * plot_w

    def sy(y: float) -> float:
        return _TOP + plot_h - (y - y0) / ((y1 - y0) or 1.0) * plot_h

    parts = [
        f'<line x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{_LEFT + plot_w}" y2="{_TOP + plot_h}" stroke="{_INK}"/>',
        f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{_TOP + plot_h}" stroke="{_INK}"/>',
    ]
    for y in np.linspace(y0, y1, 5):
        parts.append(
            f'<text x="{_LEFT - 4}" y="{sy(y) + 4:.1f}" text-anchor="end" font-size="11">{y:.2g}</text>'
        )
    return parts, sx, sy


def histogram(scores: Sequence[float], title: str = "Sample scores", bins: int = 20) -> str:
    """Counts of per-sample scores over [min(0, lowest), max(1, highest)]."""
    values = np.array(scores, dtype=float)
    low = min(0.0, float(values.min())) if values.size else 0.0
    high = max(1.0, float(values.max())) if values.size else 1.0
    counts, edges = np.histogram(values, bins=bins, range=(low, high))
    top = int(counts.max()) if counts.size and counts.max() > 0 else 1
    parts, sx, sy = _axes(low, high, 0, top, _W, _H)
    for count, left, right in zip(counts, edges[:-1], edges[1:], strict=True):
        x, w = sx(left), sx(right) - sx(left)
        parts.append(
            f'<rect x="{x + 0.5:.1f}" y="{sy(count):.1f}" width="{max(w - 1, 0.5):.1f}" '
            f'height="{sy(0) - sy(count):.1f}" fill="{_BAR}"><title>{left:.2f}–{right:.2f}: '
            f"{int(count)}</title></rect>"
        )
    for x in np.linspace(low, high, 6):
        parts.append(
            f'<text x="{sx(x):.1f}" y="{_H - _BOTTOM + 16}" text-anchor="middle" font-size="11">{x:.2g}</text>'
        )
    parts.append(
        f'<text x="{_W / 2}" y="{_H - 6}" text-anchor="middle" font-size="12">score (n = {values.size})</text>'
    )
    return _frame("histogram", title, parts)


def bars(
    rows: Sequence[tuple[str, float | None, tuple[float, float] | None, int]],
    title: str,
    domain: tuple[float, float] = (0.0, 1.0),
) -> str:
    """Horizontal bars (label, value, 95% interval, n) from 0 with interval whiskers.

    ``domain`` (-1, 1) draws differences: bars go left or right of a zero line.
    """
    row_h = 22
    label_w = 190
    width = _W
    height = _TOP + row_h * len(rows) + 30
    plot_w = width - label_w - _RIGHT - 40

    low, high = domain

    def sx(x: float) -> float:
        return label_w + (min(max(x, low), high) - low) / (high - low) * plot_w

    zero = sx(0.0)
    parts = [
        f'<line x1="{zero:.1f}" y1="{_TOP}" x2="{zero:.1f}" y2="{height - 26}" stroke="{_INK}"/>'
    ]
    for x in np.linspace(low, high, 5):
        parts.append(
            f'<line x1="{sx(x):.1f}" y1="{_TOP}" x2="{sx(x):.1f}" y2="{height - 26}" stroke="#ddd"/>'
            f'<text x="{sx(x):.1f}" y="{height - 12}" text-anchor="middle" font-size="11">{_fmt(x)}</text>'
        )
    for i, (label, mean, ci, n) in enumerate(rows):
        y = _TOP + i * row_h
        short = label if len(label) <= 28 else label[:27] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="11">'
            f"{escape(short)}<title>{escape(label)} (n = {n})</title></text>"
        )
        if mean is None:
            continue
        parts.append(
            f'<rect x="{min(zero, sx(mean)):.1f}" y="{y + 4}" width="{abs(sx(mean) - zero):.1f}" height="{row_h - 8}" '
            f'fill="{_BAR}"><title>{escape(label)}: {mean:.3f} (n = {n})</title></rect>'
        )
        if ci is not None:
            lo, hi = sx(ci[0]), sx(ci[1])
            mid = y + row_h / 2
            parts.append(
                f'<path class="whisker" d="M{lo:.1f},{mid}H{hi:.1f}M{lo:.1f},{mid - 5}V{mid + 5}'
                f'M{hi:.1f},{mid - 5}V{mid + 5}" stroke="{_INK}" fill="none"/>'
            )
        parts.append(
            f'<text x="{width - _RIGHT}" y="{y + 15}" text-anchor="end" font-size="11">{mean:.3f}</text>'
        )
    return _frame("bars", title, parts, width, height)


def reliability(bins: Sequence[dict[str, float]], title: str = "Reliability of P(met)") -> str:
    """Observed met rate per P(met) bin against the diagonal; dot area follows the bin's count."""
    size = 300
    parts, sx, sy = _axes(0.0, 1.0, 0.0, 1.0, size + _LEFT, size)
    parts.append(
        f'<line x1="{sx(0):.1f}" y1="{sy(0):.1f}" x2="{sx(1):.1f}" y2="{sy(1):.1f}" '
        'stroke="#aaa" stroke-dasharray="4 3"/>'
    )
    most = max((b["n"] for b in bins), default=1)
    points = []
    for b in bins:
        x, y = sx(b["mean_p"]), sy(b["met_rate"])
        points.append(f"{x:.1f},{y:.1f}")
        radius = 2.5 + 5.5 * (b["n"] / most) ** 0.5
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius:.1f}" fill="{_BAR}">'
            f"<title>P(met) {b['low']:.1f}–{b['high']:.1f}: n = {int(b['n'])}, "
            f"met rate {b['met_rate']:.3f}</title></circle>"
        )
    parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{_BAR}"/>')
    for x in (0.0, 0.5, 1.0):
        parts.append(
            f'<text x="{sx(x):.1f}" y="{size - _BOTTOM + 16}" text-anchor="middle" font-size="11">{_fmt(x)}</text>'
        )
    parts.append(
        f'<text x="{sx(0.5):.1f}" y="{size - 6}" text-anchor="middle" font-size="12">mean P(met) in bin</text>'
    )
    return _frame("reliability", title, parts, size + _LEFT, size)


def scatter(
    pairs: Sequence[tuple[float, float]], x_label: str, y_label: str, title: str = "Paired scores"
) -> str:
    """Per-sample score in one run (x) against another (y), with the diagonal."""
    size = 340
    values = np.array(pairs, dtype=float).reshape(-1, 2)
    low = min(0.0, float(values.min())) if values.size else 0.0
    high = max(1.0, float(values.max())) if values.size else 1.0
    parts, sx, sy = _axes(low, high, low, high, size + _LEFT, size)
    parts.append(
        f'<line x1="{sx(low):.1f}" y1="{sy(low):.1f}" x2="{sx(high):.1f}" y2="{sy(high):.1f}" '
        'stroke="#aaa" stroke-dasharray="4 3"/>'
    )
    # One path of tiny squares instead of a circle element per sample: a fifth of the bytes.
    dots = "".join(f"M{sx(x):.1f} {sy(y):.1f}h3v3h-3z" for x, y in values)
    parts.append(f'<path d="{dots}" fill="{_BAR}" fill-opacity="0.55"/>')
    for x in np.linspace(low, high, 5):
        parts.append(
            f'<text x="{sx(x):.1f}" y="{size - _BOTTOM + 16}" text-anchor="middle" font-size="11">{x:.2g}</text>'
        )
    parts.append(
        f'<text x="{sx((low + high) / 2):.1f}" y="{size - 6}" text-anchor="middle" font-size="12">{escape(x_label)}</text>'
        f'<text x="12" y="{size / 2}" transform="rotate(-90 12 {size / 2})" text-anchor="middle" '
        f'font-size="12">{escape(y_label)}</text>'
    )
    return _frame("scatter", title, parts, size + _LEFT, size)
