"""Concurrent comparisons: after an arm was excluded from enrolment, compare only people
allocated while both arms of a comparison were open.

Under `randomisation.paused_arm_enrolment: exclude`, people enrolled while an arm was paused
were allocated among the other arms only (experiments/allocation.py), and each records the
arms open when it was allocated (`open_arms`; missing when every arm was). Randomisation
protects a comparison of two arms only among people who could have gone to either: comparing
an arm with controls allocated while it was closed would compare people enrolled at different
times, which randomisation does not protect (time trends, a changed case mix). So each
comparison of an arm with control uses only its concurrent participants: those of the two
arms allocated while both were open (the "concurrent controls" of platform trials; Lee &
Wason 2020, *BMC Medical Research Methodology* 20:165; EMA, *Complex clinical trials*, 2022).
Every other figure of the outcome (each arm's rate, its missing outcomes, the participant
flow) counts everyone randomised, as before; the subgroups and the time to the event, which
compare all arms at once, use the people allocated while every arm was open. The report says
so in words, with how many each comparison left out and why.

A trial that never excluded an arm has no `open_arms` column in its frame, and its report is
exactly what it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from analysis.effects import ModelSpec
from analysis.labels import Labels, listed
from analysis.stats import adjust_p_values
from analysis.stats.multiplicity import Method

if TYPE_CHECKING:
    from analysis.report import OutcomeReport

OPEN_ARMS = "open_arms"
T = TypeVar("T")


@dataclass(frozen=True)
class ConcurrentComparison:
    """Who one comparison of an arm with control used, and who it left out."""

    arm: str
    versus: str
    arm_included: int  # randomised to the arm while both were open
    control_included: int
    arm_left_out: int  # randomised to it while the other arm was closed
    control_left_out: int
    # Of those included, the people analysed (the outcome observed, in its population), and
    # for a yes/no outcome their events: what disclosure control checks (analysis/disclosure.py).
    arm_analysed: int = 0
    control_analysed: int = 0
    arm_events: int | None = None
    control_events: int | None = None


def excluded_any(frame: pd.DataFrame) -> bool:
    """Whether anyone in the frame was allocated while an arm was excluded."""
    return OPEN_ARMS in frame and bool(frame[OPEN_ARMS].notna().any())


def both_open(frame: pd.DataFrame, arm: str, control: str) -> np.ndarray:
    """For each row, whether both arms were open when it was allocated (None: every arm)."""
    # Imported here: experiments.allocation loads the database models (SQLModel, every
    # table), which the report on a flat file, where no arm was ever excluded, does not need.
    from experiments.allocation import OPEN_SEPARATOR

    codes, sets = pd.factorize(frame[OPEN_ARMS], use_na_sentinel=True)
    wanted = {arm, control}
    open_in_set = np.array(
        [wanted <= set(str(text).split(OPEN_SEPARATOR)) for text in sets] + [True], dtype=bool
    )
    return open_in_set[codes]  # the sentinel -1 reads the last entry: every arm open


def every_arm_open(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.loc[frame[OPEN_ARMS].isna()]


def pair(frame: pd.DataFrame, arm: str, control: str) -> tuple[pd.DataFrame, ConcurrentComparison]:
    """The rows of one comparison (the two arms, allocated while both were open), and counts."""
    arms = frame["arm"].astype(str).to_numpy()
    in_arm, in_control = arms == arm, arms == control
    concurrent = both_open(frame, arm, control)
    counts = ConcurrentComparison(
        arm=arm,
        versus=control,
        arm_included=int((in_arm & concurrent).sum()),
        control_included=int((in_control & concurrent).sum()),
        arm_left_out=int((in_arm & ~concurrent).sum()),
        control_left_out=int((in_control & ~concurrent).sum()),
    )
    return frame.loc[(in_arm | in_control) & concurrent], counts


def concurrent_words(counts: ConcurrentComparison, labels: Labels) -> str | None:
    """The note a comparison carries when it left anyone out."""
    if not counts.arm_left_out and not counts.control_left_out:
        return None
    arm, control = labels.arm(counts.arm), labels.arm(counts.versus)
    left = []
    if counts.control_left_out:
        left.append(
            f"people in {control} allocated while {arm} was paused and closed to new "
            f"participants ({counts.control_left_out})"
        )
    if counts.arm_left_out:
        left.append(
            f"people in {arm} allocated while {control} was paused and closed to new "
            f"participants ({counts.arm_left_out})"
        )
    return (
        f"{arm} is compared with {control} using only the people allocated while both were "
        f"open to new participants ({arm} ({counts.arm_included}), {control} "
        f"({counts.control_included})): randomisation protects a comparison only among people "
        f"who could have been allocated to either arm. Left out of this comparison: "
        f"{listed(left)}"
    )


def concurrent_outcome(
    build: Callable[[pd.DataFrame, ModelSpec], OutcomeReport],
    frame: pd.DataFrame,
    spec: ModelSpec,
    labels: Labels,
    correction: Method,
) -> OutcomeReport:
    """One outcome's report with every comparison on its concurrent participants (see the
    module docstring); `build` is the report of one outcome on a frame and a model spec."""
    whole = build(frame, spec)
    if not excluded_any(frame):
        return whole
    parts: dict[str, OutcomeReport] = {}
    counts: dict[str, ConcurrentComparison] = {}
    for arm in spec.treatments:
        rows, included = pair(frame, arm, spec.control)
        parts[arm] = build(rows, replace(spec, treatments=(arm,)))
        counts[arm] = _analysed(included, parts[arm])
    # A comparison's own notes (those naming its arm first) come from its concurrent people.
    prefixes = tuple(f"{labels.arm(arm)}: " for arm in spec.treatments)
    notes = [n for n in whole.notes if not n.startswith(prefixes)]
    notes += [w for arm in spec.treatments if (w := concurrent_words(counts[arm], labels))]
    if whole.subgroups or whole.time_to_event is not None or whole.sites is not None:
        what = "subgroups, sites" if whole.sites is not None else "subgroups"
        notes.append(
            f"{what} and time to the event compare all arms at once: they use only the "
            f"people allocated while every arm was open ({len(every_arm_open(frame))})"
        )
    for arm, part in parts.items():
        notes += [n for n in part.notes if n.startswith(f"{labels.arm(arm)}: ")]
    everyone_open = whole
    if whole.subgroups or whole.time_to_event is not None or whole.sites is not None:
        everyone_open = build(every_arm_open(frame), spec)
    changes: dict[str, Any] = {
        "subgroups": everyone_open.subgroups,
        "sites": _sites_when_all_open(everyone_open, len(every_arm_open(frame))),
        "time_to_event": everyone_open.time_to_event,
        "concurrent": tuple(counts[arm] for arm in spec.treatments),
        "notes": tuple(dict.fromkeys(notes)),
        "primary_available": all(part.primary_available for part in parts.values()),
        "too_few_units": tuple(
            dict.fromkeys(a for part in parts.values() for a in part.too_few_units)
        ),
    }
    if whole.measures is not None:
        means = [_only(part.measures.comparisons) for part in parts.values() if part.measures]
        corrected = adjust_p_values(
            [c.adjusted_p_value for c in means], correction, family_size=len(spec.treatments)
        )
        measures = replace(
            whole.measures,
            comparisons=tuple(
                replace(c, p_value_corrected=p) for c, p in zip(means, corrected, strict=True)
            ),
        )
        return replace(whole, measures=measures, **changes)
    compared = [_only(part.comparisons) for part in parts.values()]
    raw = [c.adjusted_p_value for c in compared]
    corrected = adjust_p_values(raw, correction, family_size=len(spec.treatments))
    comparisons = tuple(
        replace(c, p_value_corrected=p) for c, p in zip(compared, corrected, strict=True)
    )
    return replace(whole, comparisons=comparisons, **changes)


def _sites_when_all_open(report: OutcomeReport, people: int) -> Any:
    """The sites block of the people allocated while every arm was open, saying so: its
    pooled estimate is theirs, not the concurrent comparisons' above."""
    if report.sites is None:
        return None
    note = (
        f"the sites compare all arms at once: the pooled and site estimates here use only the "
        f"people allocated while every arm was open ({people}), so the pooled estimate can "
        "differ from each arm's concurrent comparison above"
    )
    return replace(report.sites, notes=(*report.sites.notes, note))


def _analysed(counts: ConcurrentComparison, part: OutcomeReport) -> ConcurrentComparison:
    if part.measures is not None:
        means = {a.arm: a for a in part.measures.arms}
        return replace(
            counts,
            arm_analysed=means[counts.arm].n if counts.arm in means else 0,
            control_analysed=means[counts.versus].n if counts.versus in means else 0,
        )
    rates = {a.arm: a for a in part.arms}
    arm, control = rates.get(counts.arm), rates.get(counts.versus)
    return replace(
        counts,
        arm_analysed=arm.n if arm else 0,
        control_analysed=control.n if control else 0,
        arm_events=arm.events if arm else 0,
        control_events=control.events if control else 0,
    )


def _only(items: tuple[T, ...]) -> T:
    (item,) = items
    return item
