"""What the "What we know" page shows of each pooled group: words first, then the evidence. Pure.

The label follows the verdict's rule (analysis/verdict.py) on the pooled effect: "Likely helps"
(or "Likely harms") when the Hartung-Knapp interval leaves out no difference in the direction
that is better (or worse), otherwise "No clear effect". Figures are read from the pooled
results and never recomputed for the words, so the sentence, the chart and the tables agree.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from analysis.labels import humanise, listed
from analysis.numbers import MINUS, p_value, points
from analysis.plots import ForestRow, forest_plot
from analysis.pooled import ALPHA, Contribution, Evidence, PooledGroup
from analysis.stats.meta import PooledEffect
from analysis.verdict import HARMS, HELPS, TAG_COLOURS, UNCLEAR

LEVEL = f"{100 * (1 - ALPHA):g}%"


def evidence_view(evidence: Evidence) -> dict[str, Any]:
    """The page: one section per pooled group, and the tags tested by one closed trial so far."""
    return {
        "level": LEVEL,
        "groups": [group_view(group, index) for index, group in enumerate(evidence.groups, 1)],
        "single": [
            {"tag": tag_words(g.tag), "outcome": g.outcome_label, "trials": len(g.trials)}
            for g in evidence.single
        ],
    }


def tag_words(tag: str) -> str:
    """An arm tag read aloud: `practical_information` → "practical information"."""
    return humanise(tag)


def group_view(group: PooledGroup, index: int) -> dict[str, Any]:
    meta = group.meta
    label = _label(group)
    names = trial_names(group)
    view: dict[str, Any] = {
        "ident": f"pooled-{index}",
        "heading": f"{group.outcome_label[:1].upper()}{group.outcome_label[1:]}: arms tagged "
        f"“{tag_words(group.tag)}”",
        "tag": tag_words(group.tag),
        "outcome": group.outcome_label,
        "label": label,
        "colour": TAG_COLOURS[label],
        "sentences": sentences(group, label),
        "rows": [_row(c, names) for c in group.contributions],
        "left_out": [
            f"{names[left.trial_id]}, {left.arm_title}: {left.reason}" for left in group.left_out
        ],
        "notes": _notes(group, names),
        "methods": [],
        "chart": None,
        "k": meta.k if meta else 0,
    }
    if meta is None:
        return view
    view["methods"] = [_method(meta.reml), _method(meta.dl)]
    q = meta.heterogeneity
    view["heterogeneity"] = (
        None
        if q.q is None
        else f"Cochran's Q = {q.q:.2f} on {q.df} degree{'s' if q.df != 1 else ''} of freedom, "
        f"p = {q.p_value:.3f}"
    )
    pi = meta.prediction
    view["prediction"] = (
        f"{_pts(pi.low)} to {_pts(pi.high)} percentage points (t on {pi.df} degree"
        f"{'s' if pi.df != 1 else ''} of freedom)"
        if pi.low is not None
        else pi.reason
    )
    view["chart"] = _chart(group, view["ident"], names)
    return view


def _label(group: PooledGroup) -> str:
    meta = group.meta
    if meta is None or meta.k < 2:
        return UNCLEAR
    reml = meta.reml
    if reml.p_value is None or reml.estimate is None or reml.p_value >= ALPHA:
        return UNCLEAR
    good = reml.estimate > 0 if group.better == "higher" else reml.estimate < 0
    return HELPS if good else HARMS


def _pts(value: float | None) -> str:
    return points(value, 1)


def _about(value: float) -> str:
    """A size in whole points for a sentence: "about 4 percentage points"."""
    size = points(abs(value), 0, sign=False)
    return f"about {size} percentage point{'' if size == '1' else 's'}"


def sentences(group: PooledGroup, label: str) -> list[str]:
    """The plain words: what the trials found together, where a new trial would land, and how
    much the trials differ."""
    meta = group.meta
    tag, outcome = tag_words(group.tag), group.outcome_label
    trials = group.pooled_trials
    if meta is None:
        return [
            f"No closed trial's estimate of arms tagged “{tag}” on {outcome} can be shown, so "
            "there is nothing to pool (see below)."
        ]
    if meta.k < 2:
        return [
            f"Only one estimate of arms tagged “{tag}” on {outcome} can be pooled, so there is "
            "nothing to pool yet: its trial's own results are the evidence."
        ]
    reml = meta.reml
    assert reml.estimate is not None
    arms = f" ({meta.k} arms)" if meta.k != trials else ""
    across = f"Across {trials} closed trials{arms}"
    likely = (
        f"likely between {_pts(reml.ci_low)} and {_pts(reml.ci_high)}"
        if reml.ci_low is not None
        else "with no interval (see the table)"
    )
    if label in (HELPS, HARMS):
        verb = "raised" if reml.estimate > 0 else "reduced"
        said = [
            f"{across}, arms tagged “{tag}” {verb} {outcome} by {_about(reml.estimate)} against "
            f"each trial's own control ({likely})."
        ]
    else:
        said = [
            f"{across}, arms tagged “{tag}” made no clear difference to {outcome}: "
            f"{_pts(reml.estimate)} percentage points against each trial's own control "
            f"({likely})."
        ]
    pi = meta.prediction
    if pi.low is not None and pi.high is not None:
        said.append(
            f"A new trial like these would likely find between {_pts(pi.low)} and "
            f"{_pts(pi.high)} percentage points."
        )
    if reml.tau2 is not None and reml.i2 is not None:
        said.append(f"{_differ(reml.i2)} ({_i2(reml.i2)}).")
    return said


def _differ(i2: float) -> str:
    """I^2 in words, by the Cochrane Handbook's rough guide (section 10.10.2)."""
    if i2 < 30:
        return "The trials' results differ little beyond what chance would give"
    if i2 < 60:
        return "The trials' results differ moderately beyond what chance would give"
    return "The trials' results differ a lot beyond what chance would give"


def _i2(i2: float) -> str:
    return f"I² = {i2:.0f}%"


def trial_names(group: PooledGroup) -> dict[str, str]:
    """Each trial of the group by id, named by its title; a title two of the group's trials
    share is followed by the trial's id, so the chart and the notes tell them apart."""
    titles = {c.trial_id: c.trial_title for c in group.contributions}
    titles.update({left.trial_id: left.trial_title for left in group.left_out})
    shared = Counter(titles.values())
    return {
        trial_id: title if shared[title] == 1 else f"{title} ({trial_id})"
        for trial_id, title in titles.items()
    }


def _row(c: Contribution, names: dict[str, str]) -> dict[str, Any]:
    return {
        "trial": names[c.trial_id],
        "trial_id": c.trial_id,
        "arm": c.arm_title,
        "control": c.control_title,
        "closed_on": c.closed_on,
        "n_arm": c.n_arm,
        "n_control": c.n_control,
        "estimate": _pts(c.estimate),
        "interval": (f"{_pts(c.ci_low)} to {_pts(c.ci_high)}" if c.ci_low is not None else "–"),
        "weight": f"{100 * c.weight:.0f}%" if c.weight is not None else "–",
    }


def _method(effect: PooledEffect) -> dict[str, Any]:
    return {
        "name": effect.method.replace("-", "–"),
        "estimate": _pts(effect.estimate),
        "interval": (
            f"{_pts(effect.ci_low)} to {_pts(effect.ci_high)}" if effect.ci_low is not None else "–"
        ),
        "tau2": _squared_points(effect.tau2),
        "tau": points(math.sqrt(effect.tau2), 1, sign=False) if effect.tau2 is not None else "–",
        "i2": f"{effect.i2:.1f}%" if effect.i2 is not None else "–",
        "p": p_value(effect.p_value),
        "test": "t" if effect.df is not None else "z",
        "reason": effect.reason,
    }


def _squared_points(tau2: float | None) -> str:
    """tau^2 in squared percentage points (rate units times 10,000), as a table shows it."""
    if tau2 is None:
        return "–"
    value = 1e4 * tau2
    return "0" if value == 0 else f"{value:.2f}".replace("-", MINUS)


def _notes(group: PooledGroup, names: dict[str, str]) -> list[str]:
    notes = []
    meta = group.meta
    if meta is not None and meta.note:
        notes.append(meta.note[:1].upper() + meta.note[1:] + ".")
    if group.shared_control:
        named = [names[trial_id] for trial_id in group.shared_control]
        notes.append(
            f"{listed(named)} gave more than one estimate against the same control arm: "
            "those estimates are not independent, so the pooled interval is somewhat too narrow."
        )
    return notes


def _chart(group: PooledGroup, ident: str, names: dict[str, str]) -> Any:
    meta = group.meta
    assert meta is not None
    rows = [
        ForestRow(f"{names[c.trial_id]}: {c.arm_title}", c.estimate, c.ci_low, c.ci_high)
        for c in group.contributions
    ]
    reml, pi = meta.reml, meta.prediction
    if meta.k >= 2:
        rows.append(
            ForestRow(f"Pooled ({LEVEL} interval)", reml.estimate, reml.ci_low, reml.ci_high, True)
        )
        rows.append(
            ForestRow("A new trial like these (prediction)", reml.estimate, pi.low, pi.high)
        )
    described = "; ".join(
        f"{row.label}: {_pts(row.estimate)} points, "
        + (f"{_pts(row.low)} to {_pts(row.high)}" if row.low is not None else "no interval")
        for row in rows
    )
    return forest_plot(
        rows,
        ident=ident,
        title=f"Each trial's effect and the pooled effect of {tag_words(group.tag)} on "
        f"{group.outcome_label}",
        description=f"Differences in percentage points against each trial's control, with "
        f"{LEVEL} intervals. {described}.",
        better="higher" if group.better == "higher" else "lower",
    )
