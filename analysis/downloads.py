"""The results as a CSV to open in a spreadsheet, from the disclosed results JSON. Pure.

One row per outcome and arm, the control arm included with its rate, under headers a
programme lead reads ("Rate (%)", "Difference (percentage points)"), everything named by its
label (analysis/labels.py), never by an id. Figures are rounded as the page shows them: rates,
differences and intervals in percentage points to 1 decimal, p-values to 3 decimals or
"<0.001", money to 2 decimals. Numbers are written as numbers (a Decimal keeps "1.10" and a
minus sign is not taken for a formula), so a spreadsheet can sort and sum them.

Disclosure control happened before: the CSV is built from the JSON a person may see, so a
suppressed count reads "fewer than 5" exactly as on the page, and a suppressed rate or
difference is blank with a note saying why. The JSON download stays the complete,
machine-readable record (subgroups, balance, flow, power, enrolment).

An outcome followed from the charge (analysis/time_to_event.py) adds, after its own rows, one
row per day and arm ("withdrawal by 90 days after charge"): the people followed, the events by
then and the Kaplan–Meier share with its interval in the rate columns, and a note saying what
the figure is, with the arm's log-rank p against control.

A scale, count or measurement (analysis/measures.py) has its own columns after the note
(means, differences in means, Hedges' g, response rate, Lee bounds and the Imbens-Manski
interval for the effect they bound, in the outcome's units),
present only when the trial has such an outcome, so a yes/no trial's CSV is as it was; a
scale adds one row per answer and arm, its count in "Events" and its share in "Rate (%)".

A multi-site trial's primary outcome adds, after its rows, one row per site and arm
("attended at Gwent") with the site's own estimate (exploratory: the pre-registered model on
that site's people), then one row per arm across the sites with the pooled estimate, Cochran's
Q and I^2 and the test of heterogeneity in the note; a trial in one area has none of them.
A site hidden by disclosure control is blank with the note saying why.

The file starts with a UTF-8 byte order mark: Excel reads a CSV without one in the system's
legacy code page, so "£" would show as "Â£" and Welsh or other accented labels would break.
LibreOffice, Google Sheets, pandas (`encoding="utf-8-sig"`) and R (`fileEncoding="UTF-8-BOM"`)
read it too. Every cell goes through nudge/csvout.py, so a label that starts like a formula
("=...", "-...", "@...") is written as text, never run.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from analysis import measure_words
from analysis.labels import Labels
from analysis.text import primary_shown
from experiments.definition import TrialDefinition
from nudge.csvout import write_rows

CURRENCY_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}
SUPPRESSED_NOTE = (
    "Not shown: an arm has fewer than 5 people with (or without) this outcome, so the "
    "figures could reveal them (statistical disclosure control)"
)
RATE_SUPPRESSED_NOTE = (
    "Rate not shown: fewer than 5 people in this arm have (or have not) this outcome "
    "(statistical disclosure control)"
)
FALLBACK_NOTE = (
    "Not the pre-registered estimate: the pre-registered analysis could not be computed, so "
    "the difference is the unadjusted one (the results page says why)"
)
NOTHING_NOTE = "No estimate: the pre-registered analysis could not be computed (see the page)"
FOLLOWED_SUPPRESSED_NOTE = (
    "Not shown: fewer than 5 people in this arm had (or had not) the outcome by this day "
    "(statistical disclosure control)"
)
MEASURE_SUPPRESSED_NOTE = (
    "Not shown: fewer than 5 people gave an answer, so the figures could reveal them "
    "(statistical disclosure control)"
)
Row = tuple[Any, ...]


def header(definition: TrialDefinition) -> tuple[str, ...]:
    level = f"{100 * (1 - definition.analysis.alpha):g}%"
    currency = definition.costs.currency
    money = CURRENCY_SYMBOLS.get(currency, currency)
    return (
        "Outcome",
        "Primary outcome",
        "Arm",
        "Compared with",
        "Randomised",
        "Analysed",
        "Events",
        "Rate (%)",
        f"Rate {level} interval low (%)",
        f"Rate {level} interval high (%)",
        "Difference (percentage points)",
        f"Difference {level} interval low (percentage points)",
        f"Difference {level} interval high (percentage points)",
        "p (corrected)",
        "Pre-registered estimate",
        f"Cost per extra person with the better outcome ({money})",
        f"Cost {level} interval low ({money})",
        f"Cost {level} interval high ({money})",
        "Note",
        *(_measured_header(level) if _has_measured(definition) else ()),
        *(_savings_header(level, money) if _has_savings(definition) else ()),
    )


def _has_savings(definition: TrialDefinition) -> bool:
    return bool(definition.costs.cost_of_event)


def _savings_header(level: str, money: str) -> tuple[str, ...]:
    """Columns for the net saving per 1,000 people: only when an outcome has a cost of an event."""
    return (
        f"Net saving per 1,000 people, estimate ({money})",
        f"Net saving {level} interval low ({money})",
        f"Net saving {level} interval high ({money})",
        f"Cost of an event used ({money})",
        "Source of the cost of an event",
    )


def _has_measured(definition: TrialDefinition) -> bool:
    return any(outcome.type != "binary" for outcome in definition.outcomes)


def _measured_header(level: str) -> tuple[str, ...]:
    """Columns for scale, count and continuous outcomes, in the outcome's own units."""
    return (
        "Mean",
        f"Mean {level} interval low",
        f"Mean {level} interval high",
        "Difference in means",
        f"Difference in means {level} interval low",
        f"Difference in means {level} interval high",
        "Hedges' g",
        "Response rate (%)",
        "Lee bound low",
        "Lee bound high",
        f"Effect allowing for unequal response, {level} interval low (Imbens-Manski)",
        f"Effect allowing for unequal response, {level} interval high (Imbens-Manski)",
    )


def results_csv(shown: dict[str, Any], definition: TrialDefinition) -> str:
    """The disclosed results as spreadsheet rows (see the module docstring), BOM first."""
    stream = io.StringIO()
    labels = Labels.of(definition)
    width = len(header(definition)) - (SAVINGS_WIDTH if _has_savings(definition) else 0)
    rows: Iterator[Row] = ((*row, *(None,) * (width - len(row))) for row in _rows(shown, labels))
    if _has_savings(definition):
        rows = _with_savings(rows, _savings(shown, labels))
    write_rows(stream, header(definition), rows, byte_order_mark=True)
    return stream.getvalue()


SAVINGS_WIDTH = len(_savings_header("", ""))  # its columns, blank where an arm has none


def _savings(shown: dict[str, Any], labels: Labels) -> dict[tuple[str, str], Row]:
    """The savings cells of each (outcome, arm) row with a net saving, keyed by their labels
    (an outcome's label and an arm's title are unique within a trial)."""
    cells: dict[tuple[str, str], Row] = {}
    for outcome in shown["report"]["outcomes"]:
        for c in outcome["comparisons"]:
            saving = c.get("net_saving")
            if saving is None:
                continue
            cells[(labels.outcome(outcome["id"]), labels.arm(c["arm"]))] = (
                _money(saving["estimate"]),
                _money(saving["ci_low"]),
                _money(saving["ci_high"]),
                _money(saving["cost_of_event"]),
                saving["source"],
            )
    return cells


def _with_savings(rows: Iterator[Row], cells: dict[tuple[str, str], Row]) -> Iterator[Row]:
    blank = (None,) * SAVINGS_WIDTH
    for row in rows:
        yield (*row, *cells.get((row[0], row[2]), blank))


def _rows(shown: dict[str, Any], labels: Labels) -> Iterator[Row]:
    for outcome in shown["report"]["outcomes"]:
        if outcome.get("measures") is not None:
            yield from _measured(outcome, labels)
            continue
        missing = outcome.get("missing") or {}
        randomised = {row["arm"]: row["randomised"] for row in missing.get("by_arm", [])}
        comparisons = {c["arm"]: c for c in outcome["comparisons"]}
        for arm in outcome["arms"]:
            comparison = comparisons.get(arm["arm"])
            yield (
                labels.outcome(outcome["id"]),
                _yes_no(outcome["primary"]),
                labels.arm(arm["arm"]),
                labels.arm(comparison["versus"]) if comparison else None,
                randomised.get(arm["arm"]),
                arm["n"],
                arm["events"],
                _percent(arm["rate"]),
                _percent(arm["ci_low"]),
                _percent(arm["ci_high"]),
                *_comparison(comparison),
                _note(arm, comparison),
            )
        if outcome.get("sites"):
            yield from _sites(outcome, labels)
        if outcome.get("time_to_event"):
            yield from _followed(outcome["id"], outcome["time_to_event"], labels)


SITE_SUPPRESSED_NOTE = (
    "Not shown: an arm at this site has fewer than 5 people with (or without) this outcome, so "
    "the figures could reveal them (statistical disclosure control)"
)


def _sites(outcome: dict[str, Any], labels: Labels) -> Iterator[Row]:
    """A multi-site trial's primary outcome by site, then across sites (module docstring)."""
    block, name = outcome["sites"], labels.outcome(outcome["id"])
    measured = outcome.get("measures") is not None
    p = block["p_value"]
    tested = (
        f"test of heterogeneity between sites {_p_is(p)}"
        if p is not None
        else "no test of heterogeneity between sites (the page says why)"
    )

    def figures(estimate: Any, low: Any, high: Any) -> tuple[Any, ...]:
        if measured:  # in the outcome's units, in the note: these columns are in points
            return (None, None, None)
        return (_percent(estimate), _percent(low), _percent(high))

    def in_units(estimate: Any, low: Any, high: Any) -> str:
        if not measured or estimate is None:
            return ""
        difference = measure_words.difference
        return (
            f"difference in means {difference(estimate)} ({difference(low)} to "
            f"{difference(high)}); "
        )

    for site in block["sites"]:
        for c in site["comparisons"]:
            if site.get("suppressed"):
                note = SITE_SUPPRESSED_NOTE
            elif c["adjusted_risk_difference"] is None:
                why = "; ".join(site["notes"]) or "no estimate"
                note = f"No estimate at this site: {why}"
            else:
                p_site = c["adjusted_p_value"]
                note = (
                    f"Exploratory: the pre-registered model on this site's people only "
                    f"({site['n']} analysed); {in_units(*_three(c))}"
                    f"{_p_is(p_site)} (not corrected); {tested}"
                )
            yield (
                f"{name} at {site['name']}",
                _yes_no(False),
                labels.arm(c["arm"]),
                labels.arm(c["versus"]),
                *(None,) * 6,  # the site's count analysed is in the note
                *figures(*_three(c)),
                None,
                _yes_no(False),
                None,
                None,
                None,
                note,
            )
    for arm in block["arms"]:
        pooled = (arm["pooled_estimate"], arm["pooled_ci_low"], arm["pooled_ci_high"])
        if arm["cochran_q"] is not None:
            spread = (
                f"Cochran's Q = {arm['cochran_q']:.2f} on {arm['q_df']} df "
                f"({_p_is(arm['q_p_value'])}), I\u00b2 = {arm['i2']:.0f}%"
            )
        else:
            spread = f"no Cochran's Q ({arm['note']})"
        yield (
            f"{name} across sites",
            _yes_no(False),
            labels.arm(arm["arm"]),
            labels.arm(arm["versus"]),
            *(None,) * 6,
            *figures(*pooled),
            None,
            _yes_no(arm["pooled_estimate"] is not None),
            None,
            None,
            None,
            f"Pooled over sites (the pre-registered estimate, as above); {in_units(*pooled)}"
            f"{spread}; {tested}",
        )


def _p_is(value: float | None) -> str:
    """A p-value in a note: "p = 0.041", "p < 0.001"."""
    if value is None:
        return "no p-value"
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def _three(c: dict[str, Any]) -> tuple[Any, Any, Any]:
    return c["adjusted_risk_difference"], c["adjusted_ci_low"], c["adjusted_ci_high"]


def _measured(outcome: dict[str, Any], labels: Labels) -> Iterator[Row]:
    """A scale, count or measurement: one row per arm with its mean and, for a treatment
    arm, the difference in means (the columns after the note); then, for a scale, one row per
    point and arm with how many gave that answer and their share in the rate columns."""
    measures, name = outcome["measures"], labels.outcome(outcome["id"])
    comparisons = {c["arm"]: c for c in measures["comparisons"]}
    rates = {a["arm"]: a.get("response_rate") for a in measures["arms"]}
    for arm in measures["arms"]:
        c = comparisons.get(arm["arm"])
        shown = c is not None and measure_words.primary_measured(c)
        if c is not None and c.get("suppressed"):
            note: str | None = MEASURE_SUPPRESSED_NOTE
        elif c is not None and not shown:
            note = NOTHING_NOTE
        else:
            note = None
        yield (
            name,
            _yes_no(outcome["primary"]),
            labels.arm(arm["arm"]),
            labels.arm(c["versus"]) if c else None,
            arm["randomised"],
            arm["n"],
            *(None,) * 7,  # events, rates and differences in percentage points
            _p(c["p_value_corrected"]) if c and shown else None,
            None if c is None or c.get("suppressed") else _yes_no(shown),
            *(None,) * 3,  # no cost per event
            note,
            _fixed(arm.get("mean"), 3),
            _fixed(arm.get("ci_low"), 3),
            _fixed(arm.get("ci_high"), 3),
            _fixed(c["adjusted_difference"], 3) if c else None,
            _fixed(c["adjusted_ci_low"], 3) if c else None,
            _fixed(c["adjusted_ci_high"], 3) if c else None,
            _fixed(c["hedges_g"], 3) if c else None,
            _percent(rates.get(arm["arm"])),
            _fixed(c["lee_lower"], 3) if c and c.get("lee_trimmed_arm") else None,
            _fixed(c["lee_upper"], 3) if c and c.get("lee_trimmed_arm") else None,
            _fixed(c.get("lee_ci_low"), 3) if c and c.get("lee_trimmed_arm") else None,
            _fixed(c.get("lee_ci_high"), 3) if c and c.get("lee_trimmed_arm") else None,
        )
    words = measures.get("scale_labels") or {}
    for row in measures["distribution"]:
        for point, count, share in zip(row["points"], row["counts"], row["shares"], strict=True):
            meaning = f" ({words[str(point)]})" if str(point) in words else ""
            yield (
                f"{name}: answered {point}{meaning}",
                _yes_no(False),
                labels.arm(row["arm"]),
                None,
                None,
                sum(c for c in row["counts"] if isinstance(c, int))
                if not row.get("suppressed")
                else None,
                count,
                _percent(share),
                *(None,) * 10,
                MEASURE_SUPPRESSED_NOTE
                if share is None and row.get("suppressed")
                else "Share of this arm's answers; not an effect",
            )


def _followed(outcome_id: str, block: dict[str, Any], labels: Labels) -> Iterator[Row]:
    """One row per day and arm of an outcome followed from the charge."""
    name, control = labels.outcome(outcome_id), labels.definition.control_arm.id
    tests = {c["arm"]: c["p_value"] for c in block["comparisons"]}
    method = (
        f"Kaplan–Meier estimate from the charge, followed to {block['as_of']} or "
        f"{block['follow_up_days']} days; not the pre-registered estimate"
    )
    for index, days in enumerate(block["horizons"]):
        for arm in block["arms"]:
            by, treated = arm["by"][index], arm["arm"] != control
            if by.get("suppressed"):
                note = FOLLOWED_SUPPRESSED_NOTE
            elif by["share"] is None:
                note = "Not yet known: nobody in this arm has been followed this long"
            else:
                p = tests.get(arm["arm"]) if treated else None
                tested = f"; log-rank p = {_p(p)} against {labels.arm(control)}" if p else ""
                note = method + tested
            yield (
                f"{name} by {days} days after charge",
                _yes_no(False),
                labels.arm(arm["arm"]),
                labels.arm(control) if treated else None,
                None,
                arm["n"],
                by["events"],
                _percent(by["share"]),
                _percent(by["ci_low"]),
                _percent(by["ci_high"]),
                *(None,) * 4,  # difference, its interval and p: the note gives the test
                _yes_no(False),
                *(None,) * 3,  # no cost per event
                note,
            )


def _comparison(c: dict[str, Any] | None) -> tuple[Any, ...]:
    """Difference, interval, p, whether pre-registered, and cost: blank for the control arm."""
    if c is None:
        return (None,) * 8
    shown = primary_shown(c)
    if shown:
        estimate, low, high = (
            c["adjusted_risk_difference"],
            c["adjusted_ci_low"],
            c["adjusted_ci_high"],
        )
    else:
        estimate, low, high = c["risk_difference"], c["rd_ci_low"], c["rd_ci_high"]
    return (
        _percent(estimate),
        _percent(low),
        _percent(high),
        _p(c["p_value_corrected"]) if shown else None,
        None if c.get("suppressed") else _yes_no(shown),
        _money(c["cost_per_extra_event"]),
        _money(c["cost_ci_low"]),
        _money(c["cost_ci_high"]),
    )


def _note(arm: dict[str, Any], c: dict[str, Any] | None) -> str | None:
    if c is not None and c.get("suppressed"):
        return SUPPRESSED_NOTE
    if arm.get("suppressed"):
        return RATE_SUPPRESSED_NOTE
    if c is not None and not primary_shown(c):
        return FALLBACK_NOTE if c["risk_difference"] is not None else NOTHING_NOTE
    return None


def _fixed(value: float | None, places: int) -> Decimal | None:
    if value is None:
        return None
    rounded = Decimal(f"{value:.{places}f}")
    return rounded if rounded else Decimal(f"{0:.{places}f}")  # no "-0.0"


def _percent(value: float | None) -> Decimal | None:
    """A proportion as percentage points to 1 decimal: 0.8234 → 82.3."""
    return None if value is None else _fixed(100 * value, 1)


def _money(value: float | None) -> Decimal | None:
    return _fixed(value, 2)


def _p(value: float | None) -> Decimal | str | None:
    if value is None:
        return None
    return "<0.001" if value < 0.001 else _fixed(value, 3)


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"
