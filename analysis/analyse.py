"""Run the report for a trial in the database or for a flat file with its definition."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from analysis.frame import frame_from_csv, frame_from_db
from analysis.report import TrialReport, build_report
from analysis.time_to_event import analysis_date
from experiments.definition import TrialDefinition
from experiments.loader import load_trial_file
from nudge.clock import Clock
from nudge.errors import DefinitionError

if TYPE_CHECKING:
    from sqlmodel import Session


@dataclass(frozen=True)
class Analysed:
    definition: TrialDefinition
    report: TrialReport


def analyse_trial(session: Session, trial_id: str, clock: Clock | None = None) -> Analysed:
    """The report on a trial's randomised participants, outcomes and messages as stored.

    With a clock, outcomes imported with dates are also followed in time up to the analysis
    date (analysis/time_to_event.py).
    """
    from experiments import trials  # the database models: not needed for a flat file

    trial = trials.get_trial(session, trial_id)
    definition = trials.current_definition(session, trial)
    as_of = None
    if clock is not None:
        as_of = analysis_date(clock.now(), definition.timezone, trial.closed_at)
    frame = frame_from_db(session, trial_id)
    names = None
    if definition.sites:  # named as the results page names them
        from analysis.results_cache import site_names

        names = site_names(session, trial_id)
    return Analysed(definition, build_report(frame, definition, as_of=as_of, site_names=names))


def analyse_file(data: Path, definition_file: Path) -> Analysed:
    """The report on a flat file, with costs planned from the definition's messages."""
    loaded = load_trial_file(definition_file)
    if isinstance(loaded, list):
        raise DefinitionError(
            f"{definition_file}: {len(loaded)} problem(s); fix them and run the command again",
            loaded,
        )
    frame = frame_from_csv(data, loaded.definition)
    planned = None
    if "cost" not in frame:  # only then are the messages (and their letter layout) needed
        from messages.checks import check_messages

        planned = {cost.arm: cost.cost for cost in check_messages(loaded).costs}
    return Analysed(
        loaded.definition, build_report(frame, loaded.definition, planned_costs=planned)
    )
