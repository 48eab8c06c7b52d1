"""The walls between the sites of a multi-site trial, for lists that span trials and for
person-level actions: built on nudge.scope's rule (`people_within`), never a second rule.

A site's staff see a multi-site trial, and of its people only their own site's: a person of
another site, looked up by id or reference, is as missing as one who never was (a 404), and
an action on one changes nothing. A trial in one area is unchanged: all its people are its
organisation's staff's to see, as their role allows (docs/security.md, "Sites").
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import Session, col, select

from nudge.models import Participant, Trial, TrialSite
from nudge.scope import (
    RESEARCHER,
    Scope,
    imported_by,
    people_within,
    role_for,
    site_ids,
    trial_ids,
)


def people_seen(scope: Scope, roles: Iterable[str]) -> ColumnElement[bool]:
    """Which participants of any trial `scope` may see with one of `roles`: those of the
    trials it sees so (nudge.scope.trial_ids) and, of a multi-site trial, only those of the
    sites that are organisations where it holds one of `roles`; for the lists that span
    trials (opt-outs, the replies hub's counts). Per trial, `people_within` is the rule."""
    wanted = list(roles)
    sited = select(TrialSite.trial_id)
    own_site = imported_by(scope.organisation_ids(wanted))
    return and_(
        col(Participant.trial_id).in_(trial_ids(scope, wanted)),
        or_(col(Participant.trial_id).not_in(sited), own_site),
    )


def person_within(session: Session, scope: Scope, participant_id: int | None) -> bool:
    """Whether `scope` may see (and act on) this participant by the rule of their trial
    (`people_within`); False for no such participant."""
    if participant_id is None:
        return False
    trial_id = session.exec(
        select(Participant.trial_id).where(Participant.id == participant_id)
    ).first()
    if trial_id is None:
        return False
    seen = session.exec(
        select(Participant.id).where(
            Participant.id == participant_id, people_within(session, scope, trial_id)
        )
    ).first()
    return seen is not None


def multi_site(session: Session, trial_id: str) -> bool:
    """Whether a trial runs in several sites (its definition lists `sites`)."""
    return bool(site_ids(session, trial_id))


def may_take_rows(session: Session, scope: Scope, trial: Trial) -> bool:
    """Whether `scope` may download `trial`'s pseudonymised participant-level rows (the
    reproduction bundle): its researchers, for a trial in one area; for a multi-site trial,
    the researchers of the organisation that owns it (the coordinating site) alone, whose
    download holds every site's rows for the pooled analysis (docs/security.md, "Sites")."""
    if scope.national:
        return False
    if multi_site(session, trial.id):
        return scope.role_in(trial.organisation_id) == RESEARCHER
    return role_for(session, scope, trial) == RESEARCHER
