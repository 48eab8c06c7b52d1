"""The analysis frame of a trial in the database (analysis/frame.py describes its columns).

Kept apart from analysis/frame.py, which imports it only when a frame is read from the
database: these queries load every table's model (SQLModel, SQLAlchemy), which the analysis of
a flat file does not need.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import and_, func, or_, select
from sqlmodel import Session

from analysis.columns import read_columns
from analysis.concurrent import OPEN_ARMS
from analysis.frame import has_messages, participant_columns, site_column
from analysis.outcome_dates import (
    CHARGED,
    CHARGED_FROM,
    FROM_FILE,
    FROM_MILESTONE,
    charged_days,
    date_column,
)
from experiments import trials
from experiments.columns import column_types
from experiments.definition import SITE_COLUMN
from experiments.outcome_store import observed
from messages.surveys import arm_message
from nudge.models import MessageStatus, Organisation
from nudge.models.tables import (
    ARMS,
    ASSIGNMENTS,
    CASES,
    HEARINGS,
    MESSAGES,
    OUTCOMES,
    PEOPLE,
    table_of,
)

ORGANISATIONS = table_of(Organisation)

# Statuses after which the provider has taken the message and charges for it, delivered or not.
# A returned letter was paid for too (it is not delivered: `_reached` leaves it out).
CHARGED_STATUSES = (
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.UNDELIVERED,
    MessageStatus.RETURNED,
)
# Participant fields stored as columns rather than in `attributes`.
PARTICIPANT_FIELDS = ("role", "language", "contact_sms", "contact_letter", "safeguarding_flag")
HEARING_FIELDS = ("court", "court_name")


def frame_from_db(session: Session, trial_id: str) -> pd.DataFrame:
    """The frame of a trial in the database: four set-based queries, none per participant."""
    trial = trials.get_trial(session, trial_id)
    definition = trials.current_definition(session, trial)
    names = participant_columns(definition)
    frame = _assigned(session, trial_id, names, sites=definition.site_slugs)
    outcome_ids = [o.id for o in definition.outcomes]
    binary = [o.id for o in definition.outcomes if o.type == "binary"]
    found = _outcome_rows(session, trial_id)
    for name, values in _outcomes(found, frame["participant_id"], binary).items():
        if name in outcome_ids:
            frame[name] = values
    for name in outcome_ids:
        if name not in frame:
            frame[name] = np.nan
    ids = frame["participant_id"]
    milestone = charged_days(session, trial_id, definition)
    for name, days in _outcome_dates(found, ids, binary, milestone).items():
        frame[name] = days
    if has_messages(definition):
        delivered = _participants_with(session, trial_id, _reached())
        frame["delivered"] = ids.isin(delivered).astype("float64")
    frame["cost"] = ids.map(_costs(session, trial_id)).fillna(0.0).astype("float64")
    frame = frame.drop(columns="participant_id")
    arm_order = [arm.id for arm in definition.arms]
    frame["arm"] = pd.Categorical(frame["arm"], categories=arm_order)
    frame["unit"] = pd.Categorical(frame["unit"])
    frame["stratum"] = pd.Categorical(frame["stratum"])
    return read_columns(frame.reset_index(drop=True), column_types(definition))


def _assigned(
    session: Session, trial_id: str, names: list[str], sites: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Randomised participants with their arm, unit, stratum and the named columns; in a
    multi-site trial (`sites`, the definition's slugs) also `site`, each person's site slug."""
    people = PEOPLE.c
    selected = [
        people.id.label("participant_id"),
        people.participant_ref,
        CASES.c.case_ref,
        ARMS.c.key.label("arm"),
        ASSIGNMENTS.c.unit,
        ASSIGNMENTS.c.stratum,
        ASSIGNMENTS.c.open_arms,
    ]
    for name in names:
        if name in PARTICIPANT_FIELDS:
            selected.append(people[name].label(name))
        elif name in HEARING_FIELDS:
            selected.append(HEARINGS.c[name].label(name))
        else:
            selected.append(people.attributes[name].as_string().label(name))
    query = (
        select(*selected)
        .select_from(ASSIGNMENTS)
        .join(PEOPLE, PEOPLE.c.id == ASSIGNMENTS.c.participant_id)
        .join(CASES, CASES.c.id == PEOPLE.c.case_id)
        .join(ARMS, ARMS.c.id == ASSIGNMENTS.c.arm_id)
        .where(ASSIGNMENTS.c.trial_id == trial_id)
        .order_by(ASSIGNMENTS.c.id)
    )
    if any(name in HEARING_FIELDS for name in names):
        query = query.outerjoin(HEARINGS, HEARINGS.c.case_id == CASES.c.id)
    if sites:
        # The import writes the site's slug into the attributes, as any other column; a
        # person without it falls back on the organisation that imported them (site_id).
        slug = func.coalesce(people.attributes[SITE_COLUMN].as_string(), ORGANISATIONS.c.slug)
        query = query.add_columns(slug.label(SITE_COLUMN)).outerjoin(
            ORGANISATIONS, ORGANISATIONS.c.id == people.site_id
        )
    rows = session.execute(query).all()
    columns = [
        "participant_id",
        "participant_ref",
        "case_ref",
        "arm",
        "unit",
        "stratum",
        OPEN_ARMS,
        *names,
        *([SITE_COLUMN] if sites else []),
    ]
    frame = pd.DataFrame.from_records(rows, columns=columns)
    if sites:
        frame[SITE_COLUMN] = site_column(frame[SITE_COLUMN], sites)
    if frame[OPEN_ARMS].isna().all():
        # No arm was ever excluded from enrolment: the frame is as it always was.
        frame = frame.drop(columns=OPEN_ARMS)
    for name in names:
        if name in PARTICIPANT_FIELDS and name != "role" and name != "language":
            frame[name] = frame[name].map({True: "yes", False: "no"})
    return frame


def _outcome_rows(session: Session, trial_id: str) -> pd.DataFrame:
    """The outcomes in force with their dates, in the order they were recorded."""
    outcomes = OUTCOMES.c
    query = (
        select(
            outcomes.participant_id,
            outcomes.outcome_key,
            outcomes.value,
            outcomes.number,
            outcomes.occurred_on,
            outcomes.charged_on,
        )
        .where(outcomes.trial_id == trial_id, outcomes.replaced_at.is_(None), observed())
        .order_by(outcomes.id)
    )
    return pd.DataFrame.from_records(
        session.execute(query).all(),
        columns=["participant_id", "key", "value", "number", "occurred_on", "charged_on"],
    )


def _outcomes(found: pd.DataFrame, ids: pd.Series, binary: list[str]) -> dict[str, pd.Series]:
    """Each outcome in force as a float aligned with `ids`, NaN where not observed: 1.0/0.0
    for the `binary` outcomes (their `value`), the recorded number for the others."""
    columns = {}
    for key, group in found.groupby("key", sort=True):
        recorded = group["value"] if key in binary else group["number"]
        values = pd.Series(
            pd.to_numeric(recorded, errors="coerce").astype("float64").to_numpy(),
            index=group["participant_id"],
        )
        columns[str(key)] = ids.map(values).astype("float64")
    return columns


def _outcome_dates(
    found: pd.DataFrame,
    ids: pd.Series,
    outcome_ids: list[str],
    milestone: dict[int, date] | None = None,
) -> dict[str, pd.Series]:
    """`<outcome>_on` for each of `outcome_ids` with a date in force and `charged_on`, aligned
    with `ids`; nothing at all when no outcome has a date. `milestone` (each participant's day
    of the `charged` milestone; None when the trial declares none) is preferred to the file's
    charge, and then `charged_from` says which each person's came from."""
    dates = found["occurred_on"].notna() | found["charged_on"].notna()
    dated = found[dates & found["key"].isin(outcome_ids)]
    if dated.empty:
        return {}
    columns = {}
    for key, group in dated.groupby("key", sort=True):
        if key in outcome_ids:
            days = pd.Series(group["occurred_on"].to_numpy(), index=group["participant_id"])
            columns[date_column(str(key))] = pd.to_datetime(ids.map(days))
    charged = dated[dated["charged_on"].notna()].drop_duplicates("participant_id", keep="last")
    by_person = pd.Series(charged["charged_on"].to_numpy(), index=charged["participant_id"])
    from_file = pd.to_datetime(ids.map(by_person))
    if milestone is None:
        columns[CHARGED] = from_file
        return columns
    from_milestone = pd.to_datetime(ids.map(pd.Series(milestone, dtype=object)))
    columns[CHARGED] = from_milestone.where(from_milestone.notna(), from_file)
    source = np.where(from_milestone.notna(), FROM_MILESTONE, FROM_FILE)
    columns[CHARGED_FROM] = pd.Series(source, index=ids.index, dtype=object).where(
        columns[CHARGED].notna(), None
    )
    return columns


def _reached() -> object:
    """An arm's SMS the network delivered, or its letter posted: the intervention reached the
    person (a survey's question, asked of every arm alike, is not the intervention)."""
    return and_(
        arm_message(),
        or_(
            and_(MESSAGES.c.channel == "sms", MESSAGES.c.status == MessageStatus.DELIVERED),
            and_(MESSAGES.c.channel == "letter", MESSAGES.c.status == MessageStatus.SENT),
        ),
    )


def _participants_with(session: Session, trial_id: str, condition: object) -> set[int]:
    query = (
        select(MESSAGES.c.participant_id)
        .where(MESSAGES.c.trial_id == trial_id, condition)  # type: ignore[arg-type]
        .distinct()
    )
    return set(session.execute(query).scalars())


def _costs(session: Session, trial_id: str) -> dict[int, float]:
    """What each participant's arm messages cost; survey texts are measurement, paid alike in
    every arm, so they are not the intervention's cost."""
    query = (
        select(MESSAGES.c.participant_id, func.sum(MESSAGES.c.cost))
        .where(
            MESSAGES.c.trial_id == trial_id,
            MESSAGES.c.status.in_(CHARGED_STATUSES),
            arm_message(),
        )
        .group_by(MESSAGES.c.participant_id)
    )
    return {participant_id: float(total or 0.0) for participant_id, total in session.execute(query)}
