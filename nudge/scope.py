"""Who may see which trials, and as what: the one place every page's trial lookups go through.

A person's scope is their role in each organisation they belong to (nudge.organisations), or,
for a national account, every organisation read as a lead reads it: results only, rounded by
the disclosure rules, and no personal data. A trial outside someone's scope does not exist for
them: looking it up raises NotFound (a 404, never a 403 that would say it is there), and every
list of trials, or of what hangs off a trial (people, messages, replies, opt-outs, outcomes,
audit events), is cut to `trial_ids(scope)`.

The web app builds the scope once per request (nudge/web/access.py) and checks every route
that names a trial in its address before the view runs, so a new page is scoped by its URL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, false, literal, or_, true
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from nudge.errors import NotFound
from nudge.models import (
    ROLES,
    AuditEvent,
    InboundMessage,
    Membership,
    Organisation,
    Participant,
    Trial,
    TrialSite,
    TrialVersion,
    User,
)

# What a national account is, for every organisation's trials: a reader of results.
NATIONAL_READS_AS = "lead"
# When a person holds several roles, the one a page outside any trial shows them as.
PREFERENCE = ("researcher", "lead", "admin")
assert set(PREFERENCE) == set(ROLES)


@dataclass(frozen=True)
class Scope:
    """One person's reach: their role in each organisation (by id), or national."""

    roles: Mapping[int, str] = field(default_factory=dict)
    national: bool = False

    def role_in(self, organisation_id: int | None) -> str | None:
        """Their role for a trial of this organisation; None: the trial is not theirs to see."""
        if self.national:
            return NATIONAL_READS_AS
        return self.roles.get(organisation_id) if organisation_id is not None else None

    def held(self) -> tuple[str, ...]:
        """The roles they hold anywhere, most capable first."""
        have = {NATIONAL_READS_AS} if self.national else set(self.roles.values())
        return tuple(role for role in PREFERENCE if role in have)

    def organisation_ids(self, roles: Iterable[str] | None = None) -> set[int]:
        """The organisations where they hold one of `roles` (any role when None); not national."""
        wanted = set(ROLES if roles is None else roles)
        return {org for org, role in self.roles.items() if role in wanted}

    def sees_all(self, roles: Iterable[str] | None = None) -> bool:
        """True for a national account asked about a role national reads as."""
        return self.national and (roles is None or NATIONAL_READS_AS in set(roles))


NOBODY = Scope()


def scope_of(session: Session, user_id: int) -> Scope:
    """The scope of the account with this id (NOBODY for none, or a disabled one)."""
    user = session.get(User, user_id)
    if user is None or not user.active:
        return NOBODY
    if user.national:
        return Scope(national=True)
    rows = session.exec(
        select(Membership.organisation_id, Membership.role).where(Membership.user_id == user_id)
    ).all()
    return Scope(roles=dict(rows))


def trial_ids(scope: Scope, roles: Iterable[str] | None = None) -> SelectOfScalar[str]:
    """A subquery of the ids of the trials `scope` sees with one of `roles` (any when None):
    their organisations' own, and the multi-site trials one of their organisations is a site
    of (whose people they see only their own site's: `people_within`)."""
    query = select(Trial.id)
    if scope.sees_all(roles):
        return query
    organisations = scope.organisation_ids(roles)
    if not organisations:
        return query.where(false())
    sited = select(TrialSite.trial_id).where(col(TrialSite.organisation_id).in_(organisations))
    return query.where(or_(col(Trial.organisation_id).in_(organisations), col(Trial.id).in_(sited)))


def visible_trials(
    session: Session, scope: Scope, roles: Iterable[str] | None = None
) -> list[Trial]:
    """The trials `scope` sees (with one of `roles`), oldest first: every list of trials."""
    query = select(Trial).where(col(Trial.id).in_(trial_ids(scope, roles)))
    return list(session.exec(query.order_by(col(Trial.created_at), col(Trial.id))).all())


def trial_role(session: Session, scope: Scope, trial_id: str) -> tuple[Trial, str]:
    """The trial and the role `scope` sees it as; NotFound when there is no such trial or it is
    not theirs, with one message for both.

    In a multi-site trial a person's role is the one they hold in its owning organisation, or
    else the most capable they hold in one of its sites."""
    trial = session.get(Trial, trial_id)
    role = role_for(session, scope, trial) if trial is not None else None
    if trial is None or role is None:
        raise NotFound(f"no trial '{trial_id}'")
    return trial, role


def role_for(session: Session, scope: Scope, trial: Trial) -> str | None:
    """The role `scope` sees `trial` as (trial_role's rule), or None: not theirs to see."""
    role = scope.role_in(trial.organisation_id)
    if role is None and not scope.national:
        held = {scope.roles[org] for org in site_ids(session, trial.id) if org in scope.roles}
        role = next((r for r in PREFERENCE if r in held), None)
    return role


def runs_trial(scope: Scope, trial: Trial) -> bool:
    """Whether `scope` may change the trial itself (launch, amend, pause, resume): a researcher
    of the organisation that owns it. In a multi-site trial the other sites' researchers
    manage their own people; the design is the coordinating site's (docs/security.md)."""
    return not scope.national and scope.role_in(trial.organisation_id) == RESEARCHER


def site_ids(session: Session, trial_id: str) -> list[int]:
    """The organisations a multi-site trial runs in, in the definition's order; [] for a trial
    in one area."""
    query = select(TrialSite.organisation_id).where(TrialSite.trial_id == trial_id)
    return list(session.exec(query.order_by(col(TrialSite.position))).all())


RESEARCHER = "researcher"
# Who sees people at all: researchers (every person-level page and download allows them alone).
SEES_PEOPLE = (RESEARCHER,)


def own_sites(
    session: Session, scope: Scope, trial_id: str, roles: Iterable[str] = SEES_PEOPLE
) -> list[int] | None:
    """The sites of a trial whose people `scope` may see and manage: None for every person (a
    trial in one area), else those of its sites where they hold one of `roles` ([] for none: a
    national account, which reads no personal data, or a lead there). A researcher of one site
    who is a lead of another sees the first's people only."""
    sites = site_ids(session, trial_id)
    if not sites:
        return None
    wanted = set(roles)
    return [site for site in sites if scope.roles.get(site) in wanted]


def people_within(session: Session, scope: Scope, trial_id: str) -> ColumnElement[bool]:
    """Which of a trial's participants `scope` may see: all of a trial in one area; in a
    multi-site trial, those of the sites where the person is a researcher. Every query of a
    trial's people (and of their messages, replies, outcomes and answers, through the
    participant) adds it."""
    mine = own_sites(session, scope, trial_id)
    return true() if mine is None else imported_by(mine)


def imported_by(organisations: Collection[int]) -> ColumnElement[bool]:
    """Participants a multi-site trial's file brought from one of these organisations (its
    sites); none when the list is empty. The site condition of `people_within` and
    nudge.site_walls.people_seen."""
    return col(Participant.site_id).in_(organisations) if organisations else false()


def reply_trial_id(session: Session, reply_id: int) -> tuple[bool, str | None]:
    """(whether the reply exists, the trial of the participant it came from or None)."""
    found = session.exec(
        select(InboundMessage.id, Participant.trial_id)
        .outerjoin(Participant, col(Participant.id) == InboundMessage.participant_id)
        .where(InboundMessage.id == reply_id)
    ).first()
    return (False, None) if found is None else (True, found[1])


def sender_organisations(
    session: Session, among: Collection[int] | None = None
) -> dict[str, set[int]]:
    """Each number trials send texts from (`sending.sms_from` in any version of a trial, as a
    number may be amended), with the organisations of the trials that send from it: those
    `among` these organisations' trials when given, else every organisation's."""
    found: dict[str, set[int]] = {}
    query = select(Trial.organisation_id, TrialVersion.canonical_json).join(
        TrialVersion, col(TrialVersion.trial_id) == Trial.id
    )
    if among is not None:
        query = query.where(col(Trial.organisation_id).in_(among))
    for organisation_id, canonical in session.exec(query).all():
        sending = json.loads(canonical).get("sending") or {}
        sender = sending.get("sms_from") if isinstance(sending, dict) else None
        if organisation_id is not None and isinstance(sender, str) and (number := _number(sender)):
            found.setdefault(number, set()).add(organisation_id)
    return found


def _number(sender: str) -> str:
    """A sending number as replies name it (+447700900000); "" for a sender id (letters)."""
    digits = re.sub(r"[\s()-]", "", sender)
    if not re.fullmatch(r"\+?\d+", digits):
        return ""
    if digits.startswith("00"):
        return "+" + digits[2:]
    if digits.startswith("0"):
        return "+44" + digits[1:]
    return digits if digits.startswith("+") else "+" + digits


def unmatched_replies_within(
    session: Session, scope: Scope, roles: Iterable[str]
) -> ColumnElement[bool]:
    """Which replies from numbers that match no participant `scope` may read with one of `roles`.

    Such a reply is the organisations' whose trials send from the number it was sent to (its
    `to_number`): someone who may be one area's witness is never shown to another area. With
    one organisation on the platform, every such reply is that organisation's. When no
    organisation can be told (a number no trial sends from, such as a messaging service's pool
    or a Notify inbound number no trial names as `sms_from`), it is no organisation's: no one
    sees it, national accounts included, who read no personal data (docs/security.md), until
    the platform operator places it (`nudge replies place`, its `organisation_id`): then it is
    that organisation's alone, whatever number it was sent to.
    """
    organisations = scope.organisation_ids(roles)
    if not organisations:
        return false()
    unmatched = col(InboundMessage.participant_id).is_(None)
    everyone = set(session.exec(select(Organisation.id)).all())
    if len(everyone) == 1 and everyone <= organisations:
        return unmatched
    placed = col(InboundMessage.organisation_id)
    given = and_(unmatched, placed.in_(organisations))
    # Only their own trials' senders: a number is theirs when any of its trials is.
    numbers = list(sender_organisations(session, organisations))
    if not numbers:
        return given
    by_number = and_(unmatched, placed.is_(None), col(InboundMessage.to_number).in_(numbers))
    return or_(given, by_number)


def audit_events_within(scope: Scope, roles: Iterable[str]) -> ColumnElement[bool]:
    """Which audit events `scope` may read with one of `roles` (an admin: their organisations').

    Those of their organisations' trials; and of the events about no trial, those that name no
    one outside their organisations: not done by or to another organisation's (or a national)
    account, nor about another organisation. Events of the platform itself that name no
    account (a failed login for an unknown email, an opt-out) are every admin's to see.
    """
    organisations = scope.organisation_ids(roles)
    if not organisations:
        return false()
    members = select(Membership.user_id).where(col(Membership.organisation_id).in_(organisations))
    outsiders = select(User.email).where(col(User.id).not_in(members))
    outside_actors = select(literal("web:") + col(User.email)).where(col(User.id).not_in(members))
    other_slugs = select(Organisation.slug).where(col(Organisation.id).not_in(organisations))
    subject = col(AuditEvent.subject)
    return or_(
        col(AuditEvent.trial_id).in_(trial_ids(scope, roles)),
        and_(
            col(AuditEvent.trial_id).is_(None),
            or_(subject.is_(None), and_(subject.not_in(outsiders), subject.not_in(other_slugs))),
            col(AuditEvent.actor).not_in(outside_actors),
        ),
    )
