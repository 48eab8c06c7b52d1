"""The analysis frame: one row per randomised participant, from the database or a flat CSV.

Columns: `participant_ref`, `arm`, `unit`, `stratum`, `open_arms` (only when an arm was ever
excluded from enrolment while paused: the arms open when each was allocated, None when every
arm was; analysis/concurrent.py; from a flat file, its optional `open_arms` column, as a
reproduction bundle writes it), the participant columns the definition
names (covariates, subgroups, strata and outcome populations), one float column per outcome
named by its id (a binary outcome's 1.0/0.0; a scale's, count's or continuous outcome's number
as recorded; NaN where not observed; the definition's `type` says which), `delivered` (0/1;
only when some arm sends messages) and `cost` (money spent on the participant's messages); both
count the arm's own messages only, never a survey's questions (the same in every arm).
From the database, a binary outcome imported with dates adds `<outcome>_on` (the day of its
event) and `charged_on` (the charge: the case's `charged` milestone where the trial declares
one and the case has it, else the outcome file's, the latest recorded where a person's outcomes
differ), as datetime64 days, NaT where not known; a trial without dates has neither. A trial
declaring a `charged` milestone also gets `charged_from` beside them ("milestone", "outcome
file", or None), for the report's note on where the charge came from. The day a number was
measured stays in the database, out of the frame: time to an event is followed for yes/no
outcomes only. A flat file's outcomes are read as yes/no (analysis/flatfile.py).
A multi-site trial's frame (the definition has `sites`) also has `site`: each person's site,
the organisation's short name, as a categorical in the definition's order of sites. From the
database it is the import's `attributes["site"]`, else the slug of the organisation that
imported the person (`participant.site_id`); a flat file gives it in an optional `site`
column (without one the frame has no `site`, and the report says there are no site results).
Both builders read the participant columns with `read_columns`, by the types the definition
declares (or infers without data: experiments/columns.py), so the report downstream sees the
same types whichever way the data came. `frame.attrs` carries
those types (`column_types`), the values per column that did not fit their type and became
missing (`unreadable`) and why undeclared columns got their type (`inferred_types`); see
analysis/columns.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.columns import read_columns
from analysis.concurrent import OPEN_ARMS
from analysis.flatfile import (
    as_codes,
    as_text,
    parse_flags,
    parse_numbers,
    parse_outcome,
    read_flat_file,
    unit_column,
)
from analysis.stats.cells import unique_first
from experiments.columns import analysed_columns, column_types
from experiments.definition import SITE_COLUMN, TrialDefinition
from experiments.randomise import stratum_key

if TYPE_CHECKING:
    from sqlmodel import Session


def participant_columns(definition: TrialDefinition) -> list[str]:
    """Participant columns the analysis needs, in a stable order."""
    return analysed_columns(definition)


def site_column(values: pd.Series, sites: tuple[str, ...]) -> pd.Series:
    """Each person's site slug as a categorical in the definition's order; a slug the
    definition does not list (none should be) comes after, so no one is dropped unseen."""
    text = values.astype(object).where(values.notna(), None)
    text = text.map(lambda v: str(v).strip() or None, na_action="ignore")
    others = sorted({str(v) for v in text.dropna()} - set(sites))
    return pd.Series(pd.Categorical(text, categories=[*sites, *others]), index=values.index)


def has_messages(definition: TrialDefinition) -> bool:
    return any(arm.messages for arm in definition.arms)


def frame_from_db(session: Session, trial_id: str) -> pd.DataFrame:
    """The frame of a trial in the database: four set-based queries, none per participant.

    The queries live in analysis/frame_db.py, imported here: they load the database models
    (SQLModel, SQLAlchemy), which the analysis of a flat file does not need.
    """
    from analysis.frame_db import frame_from_db as from_db

    return from_db(session, trial_id)


def frame_from_csv(path: Path, definition: TrialDefinition) -> pd.DataFrame:
    """The frame of a flat file: one row per randomised participant (see module docstring).

    Raises ImportRejected with located problems for a missing column or a bad cell.
    """
    names = participant_columns(definition)
    cells, columns = read_flat_file(path, definition, names)
    frame = pd.DataFrame({"participant_ref": as_text(cells["participant_ref"])})
    if "case_ref" in columns:
        frame["case_ref"] = as_text(cells["case_ref"])
    frame["arm"] = pd.Categorical(cells["arm"], categories=[arm.id for arm in definition.arms])
    frame["unit"] = as_codes(cells[unit_column(definition)])
    frame["stratum"] = _strata(cells, definition.population.strata)
    for name in names:
        frame[name] = cells[name]
    for outcome in definition.outcomes:
        frame[outcome.id] = parse_outcome(cells[outcome.id], outcome)
    if "delivered" in columns:
        frame["delivered"] = parse_flags(cells["delivered"])
    if "cost" in columns:
        frame["cost"] = parse_numbers(cells["cost"])
    if definition.sites and SITE_COLUMN in columns:
        frame[SITE_COLUMN] = site_column(as_text(cells[SITE_COLUMN]), definition.site_slugs)
    if "open_arms" in columns:
        # A reproduction bundle's: blank when every arm was open (analysis/concurrent.py).
        opened = as_text(cells[OPEN_ARMS]).astype(object)
        if (opened != "").any():
            frame[OPEN_ARMS] = opened.where(opened != "", None)
    return read_columns(frame, column_types(definition))


def _strata(cells: pd.DataFrame, strata: list[str]) -> pd.Series:
    """The stratum key randomisation gave each row (`court=BRS`), worked out per combination."""
    if not strata:
        return pd.Series(pd.Categorical([stratum_key({}, [])] * len(cells)), index=cells.index)
    # Each row's combination of levels as one integer code, then each combination's key
    # from the first row that has it.
    columns = [pd.factorize(cells[name]) for name in strata]
    combined = np.zeros(len(cells), dtype=np.int64)
    for codes, text in columns:
        joined = combined * (len(text) + 1) + (np.asarray(codes, dtype=np.int64) + 1)
        combined = np.asarray(pd.factorize(joined)[0], dtype=np.int64)
    codes = combined
    first = unique_first(codes)[1]
    keys = [
        stratum_key({n: str(t[c[i]]) for n, (c, t) in zip(strata, columns, strict=True)}, strata)
        for i in first
    ]
    levels = pd.Index(sorted(set(keys)))
    position = levels.get_indexer(pd.Index(keys))
    return pd.Series(pd.Categorical.from_codes(position[codes], categories=levels), cells.index)
