"""Charts for the results page, drawn on the server as SVG: no JavaScript, nothing external.

Pure: numbers in, markup out. Every chart is an image with a title and a text description
(`role="img"`, `aria-labelledby`), and the page puts the same figures in a table beside it.

Readable at every width: each chart is drawn WIDTH units wide with no text under FONT units,
and the stylesheet shows it at most WIDTH CSS px wide (`.chart`), so text is FONT px on a wide
screen and, on a 320 px phone (290 px of content), FONT × 290 / WIDTH ≈ 13 px, never under 12.
Nothing is told by colour alone: arms by name and marker shape, the better side in words.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from markupsafe import Markup, escape

INK = "#0b0c0c"
MUTED = "#484949"
ACCENT = "#1d4f91"
BAND = "#c2d1e6"
GRID = "#b1b4b6"
WIDTH = 360
FONT = 16
CHAR = 0.56 * FONT  # a generous average width of one character, for laying out labels
MINUS = "\u2212"
Better = Literal["higher", "lower"]
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


@dataclass(frozen=True)
class ForestRow:
    label: str
    estimate: float | None  # in rate units (0.049 is 4.9 points)
    low: float | None
    high: float | None
    # A pooled estimate (evidence across trials) is drawn as a diamond spanning its interval,
    # the usual mark of a meta-analysis, so it never reads as one more trial.
    pooled: bool = False


def rows_in_words(rows: Sequence[ForestRow], say: Callable[[ForestRow], str | None]) -> str:
    """A forest plot's rows as its description reads them: "label: what `say` makes of the
    row", or "label: not shown" where `say` gives None (a figure withheld or not estimated)."""
    return "; ".join(
        f"{r.label}: {said}" if (said := say(r)) else f"{r.label}: not shown" for r in rows
    )


@dataclass(frozen=True)
class TimePoint:
    week: date
    estimate: float | None  # in rate units
    low: float | None
    high: float | None


def signed(points: float) -> str:
    """A difference in points with its sign and a true minus: "+11.2", "−3.0", "0.0"."""
    text = f"{points:+.1f}"
    if text in ("+0.0", "-0.0"):
        return "0.0"
    return text.replace("-", MINUS)


def _tick_text(value: float) -> str:
    text = f"{value:+g}"
    return "0" if value == 0 else text.replace("-", MINUS)


def _nice_step(span: float, count: int = 5) -> float:
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    step = _nice_step(high - low, count)
    first = math.ceil(low / step) * step
    number = int(math.floor((high - first) / step + 1e-9)) + 1
    return [round(first + i * step, 10) for i in range(number)]


def _svg(ident: str, height: float, title: str, description: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'width="{WIDTH}" viewBox="0 0 {WIDTH} {height:.0f}" '
        f'aria-labelledby="{ident}-title {ident}-desc" font-size="{FONT}">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(description)}</desc>',
    ]


def _text(
    x: float, y: float, text: str, *, anchor: str = "start", bold: bool = False, fill: str = INK
) -> str:
    """Text with a white halo, so a grid line behind it never cuts through the letters."""
    weight = ' font-weight="700"' if bold else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}"{weight} '
        f'stroke="#fff" stroke-width="4" stroke-linejoin="round" paint-order="stroke">'
        f"{escape(text)}</text>"
    )


def _range(values: Sequence[float], pad_share: float, least: float = 0.5) -> tuple[float, float]:
    """A value range covering the values and 0, padded on both sides (by at least `least`)."""
    low, high = min([*values, 0.0]), max([*values, 0.0])
    pad = max((high - low) * pad_share, least)
    return low - pad, high + pad


def forest_plot(
    rows: Sequence[ForestRow],
    *,
    ident: str,
    title: str,
    description: str,
    better: Better,
    scale: float = 100.0,
    axis: str = "Difference, percentage points",
) -> Markup:
    """Effects with intervals on a percentage-point axis (or, with `scale` 1, in the outcome's
    own units for a difference in means, named by `axis`), a line at no difference.

    Each arm's name is on its own line above its interval, the estimate is printed beside
    the interval, and words under the axis say which side is better.
    """
    left, right, top = 8.0, WIDTH - 8.0, 4.0
    shown = [r for r in rows if r.estimate is not None and r.low is not None]
    ends = [scale * v for r in shown for v in (r.low, r.high) if v is not None]
    # Room on the right of every interval for its estimate ("+11.2" is about 45 units).
    low, high = _range(ends or [-1.0, 1.0], 0.2, 0.5 if scale == 100.0 else 0.05)
    plot_w = right - left

    def x(points: float) -> float:
        return left + (points - low) / (high - low) * plot_w

    body, y = [], top
    for row in rows:
        for line in textwrap.wrap(row.label, int(plot_w / CHAR)) or [""]:
            y += FONT + 4
            body.append(_text(left, y, line, bold=True))
        cy = y + 18
        if row.estimate is None or row.low is None or row.high is None:
            body.append(_text(left, cy + 5, "not shown (see the table)", fill=MUTED))
        else:
            x1, x2, cx = x(scale * row.low), x(scale * row.high), x(scale * row.estimate)
            body.append(
                f'<polygon points="{x1:.1f},{cy:.1f} {cx:.1f},{cy - 9:.1f} {x2:.1f},{cy:.1f} '
                f'{cx:.1f},{cy + 9:.1f}" fill="{ACCENT}"/>'
                if row.pooled
                else f'<line x1="{x1:.1f}" y1="{cy:.1f}" x2="{x2:.1f}" y2="{cy:.1f}" '
                f'stroke="{ACCENT}" stroke-width="3"/>'
                f'<rect x="{cx - 6:.1f}" y="{cy - 6:.1f}" width="12" height="12" fill="{ACCENT}"/>'
            )
            label = (
                signed(100 * row.estimate)
                if scale == 100.0
                else f"{scale * row.estimate:+.2f}".replace("-", MINUS)
            )
            body.append(_text(x2 + 6, cy + 5, label))
        y = cy + 14
    axis_y = y + 4
    parts = _svg(ident, axis_y + 76, title, description)
    for tick in _ticks(low, high):
        tx = x(tick)
        parts.append(
            f'<line x1="{tx:.1f}" y1="{top}" x2="{tx:.1f}" y2="{axis_y:.1f}" stroke="{GRID}"/>'
        )
        parts.append(_text(tx, axis_y + 20, _tick_text(tick), anchor="middle"))
    zero = x(0.0)
    parts.append(
        f'<line x1="{zero:.1f}" y1="{top}" x2="{zero:.1f}" y2="{axis_y:.1f}" stroke="{INK}" '
        'stroke-width="2"/>'
    )
    parts += body
    left_word, right_word = ("Worse", "Better") if better == "higher" else ("Better", "Worse")
    parts.append(_text(left, axis_y + 44, f"\u2190 {left_word}", bold=better == "lower"))
    parts.append(
        _text(right, axis_y + 44, f"{right_word} \u2192", anchor="end", bold=better == "higher")
    )
    parts.append(_text(WIDTH / 2, axis_y + 68, axis, anchor="middle"))
    parts.append("</svg>")
    return Markup("".join(parts))


def day_month(day: date) -> str:
    """A short date for an axis: "4 Jan"."""
    return f"{day.day} {MONTHS[day.month - 1]}"


def _date_labels(days: Sequence[date], x: Sequence[float], y: float) -> list[str]:
    """Dates under an axis, thinned so they never touch; the year under the first of each year."""
    gap = 6.5 * CHAR  # "30 Sep" and a space
    step = 1
    while any(x[i + step] - x[i] < gap for i in range(0, len(x) - step, step)):
        step += 1
    parts, year = [], None
    for i in range(0, len(days), step):
        parts.append(_text(x[i], y, day_month(days[i]), anchor="middle"))
        if days[i].year != year:
            year = days[i].year
            parts.append(_text(x[i], y + FONT + 2, str(year), anchor="middle"))
    return parts


def bar_chart(
    weeks: Sequence[date],
    values: Sequence[int | None],
    *,
    ident: str,
    title: str,
    description: str,
) -> Markup:
    """Vertical bars, one per week; a hidden count (None, under 5) is a dashed outline."""
    height, left, right, bottom, top = 250, 58.0, WIDTH - 14.0, 52, 12
    known = [v for v in values if v is not None]
    peak = max(known + [5])
    step = _nice_step(peak, 4) if peak > 1 else 1
    step = max(step, 1)
    ceiling = math.ceil(peak / step) * step
    slot = (right - left) / max(len(values), 1)
    plot_h = height - bottom - top

    def y(value: float) -> float:
        return top + plot_h * (1 - value / ceiling)

    parts = _svg(ident, height, title, description)
    tick = 0.0
    while tick <= ceiling + 1e-9:
        parts.append(
            f'<line x1="{left}" y1="{y(tick):.1f}" x2="{right}" y2="{y(tick):.1f}" '
            f'stroke="{GRID}"/>'
        )
        parts.append(_text(left - 6, y(tick) + 5, f"{tick:,.0f}", anchor="end"))
        tick += step
    centres = []
    for i, value in enumerate(values):
        bx, bw = left + slot * i + slot * 0.15, slot * 0.7
        centres.append(bx + bw / 2)
        if value is None:
            parts.append(
                f'<rect x="{bx:.1f}" y="{y(5):.1f}" width="{bw:.1f}" height="{y(0) - y(5):.1f}" '
                f'fill="none" stroke="{INK}" stroke-dasharray="3 2"/>'
            )
        else:
            parts.append(
                f'<rect x="{bx:.1f}" y="{y(value):.1f}" width="{bw:.1f}" '
                f'height="{y(0) - y(value):.1f}" fill="{ACCENT}"/>'
            )
    parts += _date_labels(weeks, centres, height - bottom + 20)
    parts.append("</svg>")
    return Markup("".join(parts))


MARKERS = ("circle", "square", "triangle", "diamond")


def _marker(shape: str, cx: float, cy: float) -> str:
    if shape == "circle":
        return f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="{ACCENT}"/>'
    if shape == "square":
        return f'<rect x="{cx - 5:.1f}" y="{cy - 5:.1f}" width="10" height="10" fill="{ACCENT}"/>'
    points = (
        [(cx, cy - 6), (cx + 6, cy + 5), (cx - 6, cy + 5)]
        if shape == "triangle"
        else [(cx, cy - 6), (cx + 6, cy), (cx, cy + 6), (cx - 6, cy)]
    )
    joined = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
    return f'<polygon points="{joined}" fill="{ACCENT}"/>'


def over_time_range(
    series: Sequence[Sequence[TimePoint]], scale: float = 100.0
) -> tuple[float, float]:
    """One vertical range for every arm's chart, so their slopes compare fairly: in points
    (`scale` 100) for rates, in the outcome's units (`scale` 1) for differences in means."""
    values = [
        scale * v for s in series for p in s for v in (p.low, p.high, p.estimate) if v is not None
    ]
    return _range(values or [-1.0, 1.0], 0.08)


def over_time_chart(
    points: Sequence[TimePoint],
    *,
    ident: str,
    title: str,
    description: str,
    better: Better,
    span: tuple[float, float],
    marker: int = 0,
    scale: float = 100.0,
    places: int = 1,
) -> Markup:
    """One arm's cumulative difference by week (at least one week; times `scale`: 100 for
    points, 1 for a difference in means, labelled to `places` decimals): a line through the
    estimates in their interval band, the latest estimate printed, the better way in words."""
    height, left, right, top, bottom = 280, 58.0, WIDTH - 52.0, 30, 70
    low, high = span
    days = [p.week for p in points]
    first, last_day = days[0], (days[-1] - days[0]).days
    plot_h = height - top - bottom

    def x(day: date) -> float:
        if last_day == 0:
            return (left + right) / 2
        return left + (day - first).days / last_day * (right - left)

    def y(value: float) -> float:
        return top + (high - value) / (high - low) * plot_h

    parts = _svg(ident, height, title, description)
    for tick in _ticks(low, high):
        parts.append(
            f'<line x1="{left}" y1="{y(tick):.1f}" x2="{right}" y2="{y(tick):.1f}" '
            f'stroke="{GRID}"/>'
        )
        parts.append(_text(left - 6, y(tick) + 5, _tick_text(tick), anchor="end"))
    up, down = ("Better", "Worse") if better == "higher" else ("Worse", "Better")
    parts.append(_text(4, 18, f"\u2191 {up}", bold=up == "Better"))
    parts.append(_text(4, height - 6, f"\u2193 {down}", bold=down == "Better"))
    known = [(x(p.week), y(scale * p.estimate)) for p in points if p.estimate is not None]
    band = [
        (x(p.week), y(scale * p.high), y(scale * p.low))
        for p in points
        if p.low is not None and p.high is not None
    ]
    if len(band) > 1:
        edge = [f"{bx:.1f},{top_y:.1f}" for bx, top_y, _ in band]
        edge += [f"{bx:.1f},{low_y:.1f}" for bx, _, low_y in reversed(band)]
        parts.append(f'<polygon points="{" ".join(edge)}" fill="{BAND}"/>')
    parts += [
        f'<line x1="{bx:.1f}" y1="{top_y:.1f}" x2="{bx:.1f}" y2="{low_y:.1f}" stroke="{ACCENT}"/>'
        for bx, top_y, low_y in band
    ]
    parts.append(
        f'<line x1="{left}" y1="{y(0):.1f}" x2="{right}" y2="{y(0):.1f}" stroke="{INK}" '
        'stroke-width="2"/>'
    )
    if len(known) > 1:
        line = " ".join(f"{px:.1f},{py:.1f}" for px, py in known)
        parts.append(f'<polyline points="{line}" fill="none" stroke="{ACCENT}" stroke-width="2"/>')
    shape = MARKERS[marker % len(MARKERS)]
    parts += [_marker(shape, px, py) for px, py in known]
    latest = next((p for p in reversed(points) if p.estimate is not None), None)
    if latest is not None and latest.estimate is not None:
        px, py = known[-1]
        value = f"{scale * latest.estimate:+.{places}f}"
        shown = signed(scale * latest.estimate) if places == 1 else value.replace("-", MINUS)
        parts.append(_text(px + 9, py + 5, shown))
    parts += _date_labels(days, [x(d) for d in days], height - bottom + 20)
    parts.append("</svg>")
    return Markup("".join(parts))


def _shade(index: int, count: int) -> str:
    """The index-th of `count` blues from light (lowest answer) to dark (highest)."""
    light, dark = (0xD2, 0xE2, 0xF1), (0x12, 0x32, 0x5E)
    t = index / max(count - 1, 1)
    return "#" + "".join(f"{round(a + (b - a) * t):02x}" for a, b in zip(light, dark, strict=True))


def answer_chart(
    arms: Sequence[tuple[str, Sequence[float | None]]],
    points: Sequence[int],
    *,
    ident: str,
    title: str,
    description: str,
    meanings: dict[int, str] | None = None,
) -> Markup:
    """One bar per arm split by the share giving each answer, lowest answer on the left.

    Each part wide enough carries its answer in figures, so nothing is told by shade alone;
    shares hidden by disclosure control (None) are one dashed part at the end of the bar,
    "not shown", the shown answers before it in order. A key under the bars gives each
    answer's shade and meaning.
    """
    left, right, top = 8.0, WIDTH - 8.0, 8.0
    label_h, bar_h, gap, key_h = 22.0, 28.0, 14.0, 24.0
    words = meanings or {}
    height = top + len(arms) * (label_h + bar_h + gap) + key_h * len(points) + 8
    parts = _svg(ident, height, title, description)
    y = top
    span = right - left
    for name, shares in arms:
        parts.append(_text(left, y + 16, name, bold=True))
        y += label_h
        x = left
        for i, share in enumerate(shares):
            if share is None or share <= 0:
                continue
            w = span * share
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{bar_h:.0f}" '
                f'fill="{_shade(i, len(points))}" stroke="#fff" stroke-width="1"/>'
            )
            if w >= CHAR * len(str(points[i])) + 8:
                colour = "#fff" if i >= len(points) / 2 else INK
                parts.append(
                    f'<text x="{x + w / 2:.1f}" y="{y + bar_h / 2 + 5.5:.1f}" '
                    f'text-anchor="middle" fill="{colour}">{points[i]}</text>'
                )
            x += w
        if x < right - 0.5:
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{right - x:.1f}" height="{bar_h:.0f}" '
                f'fill="none" stroke="{INK}" stroke-dasharray="3 2"/>'
            )
            if right - x >= CHAR * 9 + 8 and any(share is None for share in shares):
                parts.append(
                    _text((x + right) / 2, y + bar_h / 2 + 5.5, "not shown", anchor="middle")
                )
        y += bar_h + gap
    for i, point in enumerate(points):
        meaning = f" {words[point]}" if point in words else ""
        parts.append(
            f'<rect x="{left:.1f}" y="{y + 4:.1f}" width="16" height="16" '
            f'fill="{_shade(i, len(points))}" stroke="{INK}" stroke-width="0.5"/>'
        )
        parts.append(_text(left + 24, y + 17, f"{point}{meaning}"))
        y += key_h
    parts.append("</svg>")
    return Markup("".join(parts))
