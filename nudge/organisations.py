"""Organisations (force areas, victim services) and who belongs to which, with what role.

A platform serving one area needs no set-up: when there is no organisation at all, the first
trial or account made creates `default` (as the migration does for a database from before
organisations). With one organisation, everything defaults to it; with more, every trial and
every account must name its organisation, and is refused with the list when it does not.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from sqlmodel import Session, col, select

from nudge import audit
from nudge.clock import Clock
from nudge.errors import NudgeError
from nudge.models import ROLES, Membership, Organisation

DEFAULT_SLUG = "default"
DEFAULT_NAME = "Default organisation"
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
MAX_SLUG = 50
MAX_NAME = 200


class OrganisationError(NudgeError):
    """An organisation that cannot be made, found or chosen as asked."""


def all_organisations(session: Session) -> list[Organisation]:
    return list(session.exec(select(Organisation).order_by(col(Organisation.slug))).all())


def slug_problem(slug: str) -> str | None:
    """What is wrong with a new organisation's short name, or None."""
    if not SLUG.fullmatch(slug) or len(slug) > MAX_SLUG:
        return (
            f"'{slug}' is not a short name for an organisation: use lower-case letters, digits "
            f"and single hyphens, at most {MAX_SLUG} characters (such as avon-somerset)"
        )
    return None


def add_organisation(
    session: Session, clock: Clock, slug: str, name: str, actor: str, *, audited: bool = True
) -> Organisation:
    """A new organisation; refuses a bad or taken short name and an empty or long name.

    `audited=False` only for `default`, made as the platform sets itself up (as the migration
    makes it, unaudited): the first trial's or account's own record says who started it.
    """
    slug, name = slug.strip(), " ".join(name.split())
    problem = slug_problem(slug)
    if problem:
        raise OrganisationError(problem)
    if not name or len(name) > MAX_NAME:
        raise OrganisationError(f"give the organisation a name of 1 to {MAX_NAME} characters")
    if _by_slug(session, slug) is not None:
        raise OrganisationError(f"there is already an organisation '{slug}'")
    made = Organisation(slug=slug, name=name, created_at=clock.now())
    session.add(made)
    session.flush()
    if not audited:
        return made
    audit.record(
        session,
        clock,
        actor=actor,
        action="organisation.created",
        subject=slug,
        details={"name": name},
    )
    return made


def rename_organisation(
    session: Session, clock: Clock, slug: str, name: str, actor: str
) -> Organisation:
    """Give an organisation a new display name (its short name stays: links and logs use it)."""
    found = organisation_by_slug(session, slug)
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME:
        raise OrganisationError(f"give the organisation a name of 1 to {MAX_NAME} characters")
    before, found.name = found.name, name
    audit.record(
        session,
        clock,
        actor=actor,
        action="organisation.renamed",
        subject=found.slug,
        details={"from": before, "to": name},
    )
    return found


def organisation_by_slug(session: Session, slug: str) -> Organisation:
    found = _by_slug(session, slug.strip())
    if found is None:
        raise OrganisationError(f"no organisation '{slug.strip()}'{_known(session)}")
    return found


def organisation_for_new(
    session: Session, clock: Clock, slug: str | None, actor: str
) -> Organisation:
    """The organisation a new trial or account goes into: the one named, else the only one
    (made, as `default`, when there is none); refused when there are several to choose from."""
    if slug:
        return organisation_by_slug(session, slug)
    existing = all_organisations(session)
    if len(existing) == 1:
        return existing[0]
    if existing:
        raise OrganisationError(
            f"there are {len(existing)} organisations: say which with --org{_known(session)}"
        )
    return add_organisation(session, clock, DEFAULT_SLUG, DEFAULT_NAME, actor, audited=False)


def add_membership(
    session: Session, user_id: int, organisation: Organisation, role: str
) -> Membership:
    """Make an account a member of an organisation with a role (or change the role it has);
    the caller puts the change on the audit log (nudge.staff)."""
    if role not in ROLES:
        raise OrganisationError(f"role must be one of {', '.join(ROLES)} (got '{role}')")
    assert organisation.id is not None
    found = session.exec(
        select(Membership).where(
            Membership.user_id == user_id, Membership.organisation_id == organisation.id
        )
    ).first()
    if found is None:
        found = Membership(user_id=user_id, organisation_id=organisation.id, role=role)
        session.add(found)
    else:
        found.role = role
    session.flush()
    return found


def memberships(session: Session, user_id: int) -> list[tuple[Organisation, str]]:
    """The organisations an account belongs to, with its role in each, by short name."""
    return memberships_of(session, [user_id]).get(user_id, [])


def memberships_of(
    session: Session, user_ids: Collection[int]
) -> dict[int, list[tuple[Organisation, str]]]:
    """`memberships` of several accounts in one query, by account id (none: no entry)."""
    rows = session.exec(
        select(Membership.user_id, Organisation, Membership.role)
        .join(Membership, col(Membership.organisation_id) == Organisation.id)
        .where(col(Membership.user_id).in_(user_ids))
        .order_by(col(Organisation.slug))
    ).all()
    found: dict[int, list[tuple[Organisation, str]]] = {}
    for user_id, organisation, role in rows:
        found.setdefault(user_id, []).append((organisation, role))
    return found


def _by_slug(session: Session, slug: str) -> Organisation | None:
    return session.exec(select(Organisation).where(Organisation.slug == slug)).first()


def _known(session: Session) -> str:
    slugs = [o.slug for o in all_organisations(session)]
    return f" (organisations here: {', '.join(slugs)})" if slugs else " (no organisations yet)"
