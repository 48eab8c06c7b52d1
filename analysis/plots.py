"""Charts for the results page, drawn on the server as SVG: no JavaScript, nothing external.

Pure: numbers in, markup out. Every chart is an image with a title and a text description
(`role="img"`, `aria-labelledby`), and the page puts the same figures in a table beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

INK = "#0b0c0c"
MUTED = "#484949"
ACCENT = "#1d4f91"
GRID = "#b1b4b6"


@dataclass(frozen=True)
class ForestRow:
    label: str
    estimate: float | None  # in rate units (0.049 is 4.9 points)
    low: float | None
    high: float | None


def _nice_step(span: float) -> float:
    raw = span / 5
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def _ticks(low: float, high: float) -> list[float]:
    step = _nice_step(high - low)
    first = math.ceil(low / step) * step
    count = int(math.floor((high - first) / step + 1e-9)) + 1
    return [round(first + i * step, 10) for i in range(count)]


def forest_plot(rows: Sequence[ForestRow], *, ident: str, title: str, description: str) -> Markup:
    """Effects with intervals on a percentage-point axis, a line at no difference."""
    label_w, plot_w, row_h, top = 230, 380, 34, 16
    shown = [r for r in rows if r.estimate is not None and r.low is not None and r.high is not None]
    ends = [100 * v for r in shown for v in (r.low, r.high) if v is not None] or [-1.0, 1.0]
    low, high = min(min(ends), 0.0), max(max(ends), 0.0)
    pad = max((high - low) * 0.08, 0.5)
    low, high = low - pad, high + pad
    height = top + row_h * len(rows) + 44

    def x(points: float) -> float:
        return label_w + (points - low) / (high - low) * plot_w

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {label_w + plot_w + 20} {height}" '
        f'aria-labelledby="{ident}-title {ident}-desc">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(description)}</desc>',
    ]
    axis_y = top + row_h * len(rows)
    for tick in _ticks(low, high):
        tx = x(tick)
        parts.append(
            f'<line x1="{tx:.1f}" y1="{top}" x2="{tx:.1f}" y2="{axis_y}" stroke="{GRID}" '
            'stroke-width="1"/>'
            f'<text x="{tx:.1f}" y="{axis_y + 18}" text-anchor="middle" font-size="13" '
            f'fill="{INK}">{tick:+g}</text>'
        )
    zero = x(0.0)
    parts.append(
        f'<line x1="{zero:.1f}" y1="{top - 6}" x2="{zero:.1f}" y2="{axis_y}" stroke="{INK}" '
        'stroke-width="2"/>'
        f'<text x="{label_w + plot_w / 2:.1f}" y="{axis_y + 38}" text-anchor="middle" '
        f'font-size="13" fill="{INK}">Difference from control, percentage points</text>'
    )
    for i, row in enumerate(rows):
        cy = top + row_h * i + row_h / 2
        parts.append(
            f'<text x="0" y="{cy + 5:.1f}" font-size="14" fill="{INK}">{escape(row.label)}</text>'
        )
        if row.estimate is None or row.low is None or row.high is None:
            parts.append(
                f'<text x="{label_w}" y="{cy + 5:.1f}" font-size="13" fill="{MUTED}">'
                "not shown</text>"
            )
            continue
        x1, x2, cx = x(100 * row.low), x(100 * row.high), x(100 * row.estimate)
        parts.append(
            f'<line x1="{x1:.1f}" y1="{cy:.1f}" x2="{x2:.1f}" y2="{cy:.1f}" stroke="{ACCENT}" '
            'stroke-width="3"/>'
            f'<rect x="{cx - 6:.1f}" y="{cy - 6:.1f}" width="12" height="12" fill="{ACCENT}"/>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(
    labels: Sequence[str], values: Sequence[int | None], *, ident: str, title: str, description: str
) -> Markup:
    """Vertical bars (one per label); a value of None is a hidden count, marked "<5"."""
    width, height, left, bottom, top = 640, 220, 44, 40, 12
    known = [v for v in values if v is not None]
    peak = max(known + [1])
    step = _nice_step(peak) if peak > 1 else 1
    ceiling = math.ceil(peak / step) * step
    slot = (width - left - 10) / max(len(values), 1)
    plot_h = height - bottom - top

    def y(value: float) -> float:
        return top + plot_h * (1 - value / ceiling)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" aria-labelledby="{ident}-title {ident}-desc">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(description)}</desc>',
    ]
    tick = 0.0
    while tick <= ceiling + 1e-9:
        parts.append(
            f'<line x1="{left}" y1="{y(tick):.1f}" x2="{width - 10}" y2="{y(tick):.1f}" '
            f'stroke="{GRID}"/><text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" '
            f'font-size="12" fill="{INK}">{tick:g}</text>'
        )
        tick += step
    every = max(1, math.ceil(len(labels) / 8))
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        bx = left + slot * i + slot * 0.15
        if value is None:
            parts.append(
                f'<text x="{bx + slot * 0.35:.1f}" y="{y(0) - 4:.1f}" text-anchor="middle" '
                f'font-size="11" fill="{MUTED}">&lt;5</text>'
            )
        else:
            parts.append(
                f'<rect x="{bx:.1f}" y="{y(value):.1f}" width="{slot * 0.7:.1f}" '
                f'height="{y(0) - y(value):.1f}" fill="{ACCENT}"/>'
            )
        if i % every == 0:
            parts.append(
                f'<text x="{bx + slot * 0.35:.1f}" y="{height - bottom + 16}" '
                f'text-anchor="middle" font-size="12" fill="{INK}">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
