"""The results as a PDF a programme lead can attach to a board paper. Pure: the page's view in,
PDF bytes out.

Built from the same view dict as the results page (analysis/results_view.py), which comes from
the disclosed results JSON, and formatted by the page's own number filters: so the PDF, the
page and the downloads show the same figures, with the same disclosure control. Nothing is
recomputed here.

reportlab cannot write a tagged PDF (no structure tree), so the report does what it can for
people using assistive technology: the document's title, language (en-GB), subject and author
are set; the title is shown in the reader's title bar; every heading is a bookmark; the text is
real text in an embedded Unicode font; and each chart is followed by its text alternative.
"""

from __future__ import annotations

import io
import itertools
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.shapes import Drawing, Group, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from svglib.svglib import svg2rlg

from analysis import numbers
from messages.letter_layout import BOLD, REGULAR, register_fonts

MARGIN = 18 * mm
WIDTH = A4[0] - 2 * MARGIN
INK = colors.HexColor("#0b0c0c")
RULE = colors.HexColor("#b1b4b6")
SHADE = colors.HexColor("#f3f2f1")
HEADINGS = {"h1": 0, "h2": 1, "h3": 2}  # outline levels
SVG = "{http://www.w3.org/2000/svg}"
NO_RESULTS = (
    "Nobody has been randomised in this trial yet, so there are no results. Once people are "
    "enrolled and their outcomes are imported, this report will show each arm's rate, the "
    "effect of each message against the control arm with its likely range, the cost per extra "
    "event, the forest plots and how they were computed."
)


@dataclass(frozen=True)
class Numbers:
    """How the page writes each kind of figure (its template filters), so the PDF matches."""

    figure: Callable[[Any], str]
    pct: Callable[[Any], str]
    points: Callable[..., str]
    pvalue: Callable[[Any], str]
    decimal: Callable[..., str]


def _styles() -> dict[str, ParagraphStyle]:
    body = ParagraphStyle("body", fontName=REGULAR, fontSize=10.5, leading=14, textColor=INK)
    return {
        "body": body,
        "muted": ParagraphStyle("muted", parent=body, fontSize=9.5, leading=12.5),
        "cell": ParagraphStyle("cell", parent=body, fontSize=9.5, leading=12),
        "head": ParagraphStyle("head", parent=body, fontName=BOLD, fontSize=9.5, leading=12),
        "h1": ParagraphStyle(
            "h1", parent=body, fontName=BOLD, fontSize=20, leading=24, spaceAfter=6
        ),
        "h2": ParagraphStyle(
            "h2",
            parent=body,
            fontName=BOLD,
            fontSize=14,
            leading=18,
            spaceBefore=12,
            spaceAfter=4,
            keepWithNext=True,
        ),
        "h3": ParagraphStyle(
            "h3",
            parent=body,
            fontName=BOLD,
            fontSize=11.5,
            leading=15,
            spaceBefore=8,
            spaceAfter=3,
            keepWithNext=True,
        ),
    }


class _Report(SimpleDocTemplate):
    """A4 pages that bookmark each heading, so a reader can move between sections, dated when
    the results were computed (not when the file was made: the same results, the same bytes)."""

    computed_at: datetime

    def beforeDocument(self) -> None:
        stamp = _pdf_date(self.computed_at)
        self.canv.setDateFormatter(lambda *_: stamp)

    def afterFlowable(self, flowable: Flowable) -> None:
        if not isinstance(flowable, Paragraph) or flowable.style.name not in HEADINGS:
            return
        key = f"heading-{next(self._bookmarks)}"
        self.canv.bookmarkPage(key)
        self.canv.addOutlineEntry(flowable.getPlainText(), key, level=HEADINGS[flowable.style.name])

    _bookmarks = itertools.count()


def results_pdf(
    view: dict[str, Any], *, trial_title: str, computed_at: datetime, numbers: Numbers
) -> bytes:
    """The report: status, verdicts, outcome, effect and cost tables, forest plots, methods."""
    register_fonts()
    s = _styles()
    title = f"Results: {trial_title}"
    story: list[Flowable] = [
        Paragraph(escape(title), s["h1"]),
        Paragraph(
            f"Computed {computed_at.strftime('%-d %B %Y at %H:%M')} from the data as it then "
            "stood.",
            s["muted"],
        ),
    ]
    story += _status(view, s)
    if view.get("disclosure", {}).get("applied"):
        story.append(_panel([f"Statistical disclosure control: {view['disclosure']['rule']}."], s))
    if not view.get("enrolment"):
        story += [Paragraph("No results yet", s["h2"]), Paragraph(NO_RESULTS, s["body"])]
    else:
        story += _verdicts(view, s)
        story += _outcome(view["primary"], view, numbers, s)
        story += _sites(view["primary"], view, numbers, s)
        story += _costs(view, numbers, s)
        story += _savings(view, s)
        for outcome in view.get("secondary", []):
            story += _outcome(outcome, view, numbers, s)
    story += _methods(view, s)
    buffer = io.BytesIO()
    doc = _Report(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 4 * mm,
        title=title,
        author="Nudge",
        creator="Nudge",
        subject=f"Aggregate results of the randomised trial {trial_title!r}, computed "
        f"{computed_at.strftime('%-d %B %Y at %H:%M')}",
        lang="en-GB",
        displayDocTitle=True,
        invariant=True,
    )
    doc.computed_at = computed_at
    footer = _footer(title)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def _pdf_date(moment: datetime) -> str:
    """A PDF date string (ISO 32000-1, 7.9.4): D:YYYYMMDDHHmmSS+HH'mm'."""
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{moment.strftime('D:%Y%m%d%H%M%S')}{sign}{hours:02d}'{rest:02d}'"


def _footer(title: str) -> Callable[[Any, Any], None]:
    def draw(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.showOutline()
        canvas.setFont(REGULAR, 8.5)
        canvas.setFillColor(INK)
        canvas.drawString(MARGIN, MARGIN - 2 * mm, title)
        canvas.drawRightString(A4[0] - MARGIN, MARGIN - 2 * mm, f"Page {doc.page}")
        canvas.restoreState()

    return draw


def _status(view: dict[str, Any], s: dict[str, ParagraphStyle]) -> list[Flowable]:
    status = view.get("status") or {}
    if not status.get("tag"):
        return []
    shown: list[Flowable] = [Paragraph(f"<b>Status: {escape(status['tag'])}</b>", s["body"])]
    if status.get("warning"):
        shown.append(_panel([f"Warning: {status['warning']}"], s))
    return shown


def _panel(lines: Sequence[str], s: dict[str, ParagraphStyle], *, marked: bool = False) -> Table:
    """A boxed block, kept on one page; text is escaped here."""
    rows = [[Paragraph(escape(line), s["body"])] for line in lines]
    table = Table(rows, colWidths=[WIDTH], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 1.5 if marked else 0.75, INK),
                ("BACKGROUND", (0, 0), (-1, -1), SHADE),
                ("TOPPADDING", (0, 0), (-1, -1), 5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
            ]
        )
    )
    return KeepTogether([Spacer(1, 4), table, Spacer(1, 4)])


def _verdicts(view: dict[str, Any], s: dict[str, ParagraphStyle]) -> list[Flowable]:
    verdicts = view.get("verdicts") or []
    if not verdicts:
        return []
    rows = [
        [Paragraph(f"<b>{escape(v.get('label', ''))}</b>", s["cell"]), _cell(v.get("sentence"), s)]
        for v in verdicts
    ]
    return [
        Paragraph("What the trial shows so far", s["h2"]),
        _table([["Verdict", "What we found"], *rows], [0.22, 0.78], s, numeric=()),
    ]


def _outcome(
    outcome: dict[str, Any], view: dict[str, Any], n: Numbers, s: dict[str, ParagraphStyle]
) -> list[Flowable]:
    """One outcome: its rates and effects, then its time to the event where followed."""
    return _rates_and_effects(outcome, view, n, s) + _followed(outcome, view, n, s)


def _rates_and_effects(
    outcome: dict[str, Any], view: dict[str, Any], n: Numbers, s: dict[str, ParagraphStyle]
) -> list[Flowable]:
    titles, level = view["titles"], view["level"]
    kind = "Primary" if outcome.get("primary") else "Secondary"
    if outcome.get("measured"):
        return _measured(outcome, view, n, s, kind)
    arms = [
        [
            titles.get(a["arm"], a["arm"]),
            n.figure(a.get("n")),
            n.figure(a.get("events")),
            n.pct(a.get("rate")),
            _interval(a.get("ci_low"), a.get("ci_high"), n.pct)
            if a.get("rate") is not None
            else "–",
        ]
        for a in outcome.get("arms", [])
    ]
    shown: list[Flowable] = [
        Paragraph(escape(f"{kind} outcome: {outcome.get('description', outcome['id'])}"), s["h2"]),
        _table(
            [["Arm", "Analysed", "Events", "Rate", f"{level} interval"], *arms],
            [0.31, 0.16, 0.16, 0.13, 0.24],
            s,
            caption="Participants analysed, events and rate by arm",
        ),
    ]
    comparisons = outcome.get("comparisons") or []
    if not comparisons:
        return shown
    shown.append(Paragraph(escape(f"Effects against {titles[view['control']]}"), s["h3"]))
    shown += [_bullet(c["sentence"], s["body"]) for c in comparisons if c.get("sentence")]
    drawn = view.get("forests", {}).get(outcome["id"]) or {}
    shown += _chart(drawn.get("chart", outcome.get("forest")), s)
    effects = [
        [
            titles.get(c["arm"], c["arm"]),
            n.points(c.get("adjusted_risk_difference"), True),
            _interval(
                c.get("adjusted_ci_low"), c.get("adjusted_ci_high"), lambda v: n.points(v, True)
            ),
            n.pvalue(c.get("p_value_corrected")),
        ]
        for c in comparisons
    ]
    shown.append(
        _table(
            [["Arm", "Difference", f"{level} interval", "p (corrected)"], *effects],
            [0.4, 0.18, 0.24, 0.18],
            s,
            caption="Adjusted difference from control in percentage points",
        )
    )
    if outcome.get("adjusted_for"):
        shown.append(Paragraph(escape(outcome["adjusted_for"]), s["muted"]))
    return shown


def _followed(
    outcome: dict[str, Any], view: dict[str, Any], n: Numbers, s: dict[str, ParagraphStyle]
) -> list[Flowable]:
    """Time to the event after charge, as the page shows it: words, the table, the method."""
    followed = outcome.get("followed")
    if not followed:
        return []
    name = view["labels"].outcome(outcome["id"])
    # A row an arm and day, not the page's wide table: an A4 column has no room for one.
    rows = [
        [
            row["arm"] if i == 0 else "",
            n.figure(row["n"]) if i == 0 else "",
            n.figure(row["events"]) if i == 0 else "",
            str(days),
            cell,
            ("control" if row["control"] else n.pvalue(row["p"])) if i == 0 else "",
        ]
        for row in followed["rows"]
        for i, (days, cell) in enumerate(zip(followed["horizons"], row["cells"], strict=True))
    ]
    shown: list[Flowable] = [
        Paragraph(escape(f"Time to {name} after charge"), s["h3"]),
        *(_bullet(sentence, s["body"]) for sentence in followed["sentences"]),
        _table(
            [["Arm", "Followed", "Events", "Days", "Share by then", "Log-rank p"], *rows],
            [0.22, 0.12, 0.1, 0.08, 0.34, 0.14],
            s,
            caption=f"Share with {name} by each number of days after charge, by arm, with "
            f"{view['level']} intervals, and the log-rank test over "
            f"{followed['follow_up_days']} days",
        ),
        Paragraph(escape(followed["method"]), s["muted"]),
    ]
    shown += [_bullet(note, s["muted"]) for note in followed.get("notes", [])]
    return shown


def _measured(
    outcome: dict[str, Any],
    view: dict[str, Any],
    n: Numbers,
    s: dict[str, ParagraphStyle],
    kind: str,
) -> list[Flowable]:
    """A scale, count or measurement, as the page shows it (results_view.measured_view)."""
    titles, level, m = view["titles"], view["level"], outcome["measured"]
    arms = [
        [
            titles.get(a["arm"], a["arm"]),
            n.figure(a.get("n")),
            n.pct(a.get("response_rate")),
            a["mean_text"],
            a["interval_text"],
        ]
        for a in m["arms"]
    ]
    shown: list[Flowable] = [
        Paragraph(escape(f"{kind} outcome: {outcome.get('description', outcome['id'])}"), s["h2"]),
        _table(
            [["Arm", "Answered", "Response rate", "Mean", f"{level} interval"], *arms],
            [0.31, 0.15, 0.16, 0.14, 0.24],
            s,
            caption=f"People who answered, the response rate and the mean{m['scale']} by arm",
        ),
    ]
    if m.get("warning"):
        shown.append(_panel([m["warning"]], s, marked=True))
    if m.get("chart"):
        shown += _chart(m["chart"], s)
    shown.append(Paragraph(escape(f"Effects against {titles[view['control']]}"), s["h3"]))
    shown += [_bullet(sentence, s["body"]) for sentence in m["sentences"]]
    shown += _chart((view.get("forests", {}).get(outcome["id"]) or {}).get("chart"), s)
    effects = [
        [
            titles.get(c["arm"], c["arm"]),
            c["difference_text"],
            c["interval_text"],
            n.pvalue(c.get("p_value_corrected")),
        ]
        for c in m["comparisons"]
    ]
    shown.append(
        _table(
            [["Arm", "Difference in means", f"{level} interval", "p (corrected)"], *effects],
            [0.34, 0.22, 0.26, 0.18],
            s,
            caption=f"Adjusted difference in means from control{m['scale']}",
        )
    )
    shown += [_bullet(line, s["muted"]) for line in m["supporting"]]
    if outcome.get("adjusted_for"):
        shown.append(Paragraph(escape(outcome["adjusted_for"]), s["muted"]))
    return shown


def _costs(view: dict[str, Any], n: Numbers, s: dict[str, ParagraphStyle]) -> list[Flowable]:
    primary = view["primary"]
    if not primary.get("comparisons"):
        return []
    currency = view.get("currency", "GBP")

    def money(value: float | None) -> str:
        return numbers.money(value, currency)

    rows = [
        [
            view["titles"].get(c["arm"], c["arm"]),
            money(c.get("incremental_cost")),
            "no extra cost"
            if c.get("cost_status") == "dominant"
            else money(c.get("cost_per_extra_event")),
            _interval(c.get("cost_ci_low"), c.get("cost_ci_high"), money),
        ]
        for c in primary["comparisons"]
    ]
    labels = view.get("labels")
    name = labels.outcome(primary["id"]) if labels else primary["id"]
    per = f"extra {name}" if view.get("primary_better", "higher") == "higher" else f"{name} avoided"
    return [
        Paragraph(escape(f"Cost per {per}"), s["h2"]),
        _table(
            [["Arm", "Extra cost per person", f"Cost per {per}", "Likely between"], *rows],
            [0.31, 0.21, 0.24, 0.24],
            s,
            caption=f"The extra cost of each arm's messages for each {per}, against control",
        ),
    ]


def _savings(view: dict[str, Any], s: dict[str, ParagraphStyle]) -> list[Flowable]:
    """The net saving per 1,000 people, labelled an estimate with its cost's source, only for
    an outcome with a cost of an event (analysis/savings_view.py gives the page the same)."""
    shown: list[Flowable] = []
    for saving in view.get("savings") or []:
        event = saving["event"]
        rows = [
            [row["arm"], row["events"], row["message_cost"], row["estimate"], row["interval"]]
            for row in saving["rows"]
        ]
        source = f"Cost of each {event}: {saving['cost']}. Source: {saving['source']}"
        notes = [row for row in saving["rows"] if row["note"]]
        shown += [
            Paragraph(escape(saving["heading"]), s["h2"]),
            Paragraph(escape(saving["intro"]), s["body"]),
            Paragraph(escape(source), s["body"]),
            _table(
                [
                    [
                        "Arm",
                        f"{event[:1].upper()}{event[1:]} avoided per 1,000",
                        "Extra message cost per 1,000",
                        "Net saving per 1,000 (estimate)",
                        "Likely between",
                    ],
                    *rows,
                ],
                [0.24, 0.17, 0.17, 0.18, 0.24],
                s,
                caption="Estimated net saving per 1,000 people against control, from the "
                f"pre-registered effect on {saving['name']}",
            ),
            *(_bullet(f"{row['arm']}: {row['note']}", s["muted"]) for row in notes),
            Paragraph(escape(saving["range_note"]), s["muted"]),
        ]
    return shown


def _methods(view: dict[str, Any], s: dict[str, ParagraphStyle]) -> list[Flowable]:
    shown: list[Flowable] = [Paragraph("Methods", s["h2"])]
    if view.get("methods_short"):
        shown += [
            Paragraph(escape(view["methods_short"]), s["body"]),
            Paragraph("The full method", s["h3"]),
        ]
    shown.append(Paragraph(escape(view.get("methods", "")), s["body"]))
    shown += [_bullet(note, s["muted"]) for note in view.get("notes") or []]
    return shown


def _sites(
    outcome: dict[str, Any], view: dict[str, Any], n: Numbers, s: dict[str, ParagraphStyle]
) -> list[Flowable]:
    """A multi-site trial's Sites section, as the page has it (analysis/sites_view.py)."""
    sites = outcome.get("sites_view")
    if not sites:
        return []
    shown: list[Flowable] = [
        Paragraph("Sites", s["h2"]),
        Paragraph(f"<b>{escape(sites['verdict'])}</b>", s["body"]),
    ]
    units = f"in means{sites['units']}" if sites["measured"] else "in percentage points"
    share = 0.62 / max(1, len(sites["arms"]))
    rows = [[row["name"], n.figure(row["n"]), *row["cells"]] for row in sites["rows"]] + [
        ["All sites (pooled)", "", *sites["pooled"]]
    ]
    shown.append(
        _table(
            [["Site", "Analysed", *sites["arms"]], *rows],
            [0.26, 0.12, *[share] * len(sites["arms"])],
            s,
            caption=f"Adjusted differences from {view['titles'][view['control']]} {units} at "
            f"each site, with {sites['level']} intervals (exploratory)",
        )
    )
    for row in sites["rows"]:
        shown += [_bullet(f"{row['name']}: {note}", s["muted"]) for note in row["notes"]]
    for drawn in sites["forests"]:
        shown += _chart(drawn["chart"], s)
    shown.append(Paragraph("How much the sites' estimates differ", s["h3"]))
    shown += [_bullet(line, s["body"]) for line in sites["spread"]]
    shown += [_bullet(note, s["muted"]) for note in sites["notes"]]
    return shown


def _bullet(text: str, style: ParagraphStyle) -> Paragraph:
    indented = ParagraphStyle(
        "bullet", parent=style, leftIndent=12, bulletIndent=2, bulletFontName=REGULAR, spaceAfter=2
    )
    return Paragraph(escape(text), indented, bulletText="•")


def _interval(low: Any, high: Any, form: Callable[[Any], str]) -> str:
    return "–" if low is None else f"{form(low)} to {form(high)}"


def _cell(text: Any, s: dict[str, ParagraphStyle], style: str = "cell") -> Paragraph:
    return Paragraph(escape("" if text is None else str(text)), s[style])


def _table(
    rows: list[list[Any]],
    shares: Sequence[float],
    s: dict[str, ParagraphStyle],
    *,
    caption: str | None = None,
    numeric: Sequence[int] | None = None,
) -> Flowable:
    """A table whose cells wrap, header repeated on each page; no row is ever split."""
    numeric = range(1, len(shares)) if numeric is None else numeric
    cells = [
        [
            cell
            if isinstance(cell, Flowable)
            else Paragraph(
                escape(str(cell)),
                ParagraphStyle(
                    "cell", parent=s["head" if i == 0 else "cell"], alignment=2 * (j in numeric)
                ),
            )
            for j, cell in enumerate(row)
        ]
        for i, row in enumerate(rows)
    ]
    table = Table(cells, colWidths=[share * WIDTH for share in shares], repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (0, 0), (-1, -1), 0.5, RULE),
                ("LINEBELOW", (0, 0), (-1, 0), 1, INK),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    parts: list[Flowable] = [Spacer(1, 4)]
    if caption:
        parts.append(Paragraph(escape(caption), s["muted"]))
    return KeepTogether([*parts, table, Spacer(1, 6)])


def _chart(svg: Any, s: dict[str, ParagraphStyle]) -> list[Flowable]:
    """The page's SVG chart scaled to the page width, then its text alternative as a caption."""
    if not svg:
        return []
    text = str(svg)
    root = ET.fromstring(text)
    title = root.findtext(f"{SVG}title") or ""
    description = root.findtext(f"{SVG}desc") or ""
    drawing = svg2rlg(io.BytesIO(text.encode("utf-8")))
    shown: list[Flowable] = []
    if drawing is not None:
        _use_font(drawing)
        scale = min(1.0, WIDTH / drawing.width)
        drawing.scale(scale, scale)
        drawing.width, drawing.height = drawing.width * scale, drawing.height * scale
        shown.append(drawing)
    caption = f"{title}. {description}" if title else description
    shown.append(Paragraph(escape(caption), s["muted"]))
    return [KeepTogether([Spacer(1, 6), *shown, Spacer(1, 6)])]


def _use_font(node: Drawing | Group) -> None:
    """Set the charts' text in the report's font, which has every letter an arm title may use."""
    for child in node.contents:
        if isinstance(child, String):
            child.fontName = REGULAR
        elif isinstance(child, Group):
            _use_font(child)
