"""Staff accounts as an admin manages them: roles, disabling, unlocking, set-password links.

The browser and `nudge users` call the same functions, so both refuse the same things and put
the same events on the audit log: who did it (`actor`), to which account (`subject`, the
email) and when. A link's token is shown once and never stored or logged; only its sha256 is.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from nudge import audit
from nudge.accounts import (
    NO_PASSWORD,
    AccountError,
    check_role,
    clear_failures,
    hash_password,
    locked_emails,
    new_user,
    password_problem,
)
from nudge.clock import Clock
from nudge.errors import NotFound
from nudge.models import NATIONAL, Membership, Organisation, PasswordLink, User
from nudge.organisations import (
    OrganisationError,
    add_membership,
    memberships,
    memberships_of,
    organisation_by_slug,
)

LINK_LIFETIME = timedelta(hours=24)
ADMIN = "admin"


class AccountState(StrEnum):
    """What an account can do now, in the order an admin should look at it."""

    LOCKED = "locked"  # too many failed logins: it waits out the lockout, or an admin unlocks
    DISABLED = "disabled"
    INVITED = "invited"  # added in the browser; no password set yet
    ACTIVE = "active"


@dataclass(frozen=True)
class Account:
    """One account as the accounts list and the command line show it."""

    id: int
    email: str
    role: str  # for people: "researcher", "national", or "lead in avon, admin in wilts"
    state: AccountState
    last_login_at: datetime | None
    created_at: datetime
    memberships: tuple[tuple[str, str], ...] = ()  # (organisation's short name, role)


@dataclass(frozen=True)
class IssuedLink:
    """A set-password link just made: the token exists only here, for showing once."""

    email: str
    token: str
    expires_at: datetime

    def url(self, base: str) -> str:
        return f"{base.rstrip('/')}/set-password/{self.token}"


def accounts(
    session: Session, clock: Clock, organisation_ids: set[int] | None = None
) -> list[Account]:
    """Every account, by email, with its state now; only members of `organisation_ids` (and
    only those memberships shown) when given: an organisation's admin sees its own staff."""
    locked = locked_emails(session, clock)
    query = select(User).order_by(col(User.email))
    if organisation_ids is not None:
        query = query.where(col(User.id).in_(_members(organisation_ids)))
    users = session.exec(query).all()
    held = memberships_of(session, [user.id for user in users if user.id is not None])
    return [_account(user, held.get(user.id or 0, []), locked, organisation_ids) for user in users]


def account(
    session: Session, clock: Clock, user: User, organisation_ids: set[int] | None = None
) -> Account:
    assert user.id is not None
    held = memberships(session, user.id)
    return _account(user, held, locked_emails(session, clock), organisation_ids)


def is_member(session: Session, user: User, organisation_ids: set[int]) -> bool:
    """Whether the account belongs to one of these organisations."""
    found = session.exec(
        select(Membership.id).where(
            Membership.user_id == user.id, col(Membership.organisation_id).in_(organisation_ids)
        )
    ).first()
    return found is not None


def _members(organisation_ids: set[int]) -> Any:
    return select(Membership.user_id).where(col(Membership.organisation_id).in_(organisation_ids))


def _account(
    user: User,
    belongs: list[tuple[Organisation, str]],
    locked: set[str],
    organisation_ids: set[int] | None,
) -> Account:
    if not user.active:
        state = AccountState.DISABLED
    elif user.email in locked:
        state = AccountState.LOCKED
    elif user.password_hash == NO_PASSWORD:
        state = AccountState.INVITED
    else:
        state = AccountState.ACTIVE
    assert user.id is not None
    held = tuple(
        (organisation.slug, role)
        for organisation, role in belongs
        if organisation_ids is None or organisation.id in organisation_ids
    )
    if user.national:
        role = NATIONAL
    elif len(held) == 1:
        role = held[0][1]
    else:
        role = ", ".join(f"{r} in {slug}" for slug, r in held) or "no organisation"
    return Account(user.id, user.email, role, state, user.last_login_at, user.created_at, held)


def user_by_id(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no account {user_id}")
    return user


def user_by_email(session: Session, email: str) -> User:
    found = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if found is None:
        raise AccountError(f"no account with the email {email.strip().lower()}")
    return found


def invite(
    session: Session,
    clock: Clock,
    email: str,
    role: str,
    actor: str,
    organisation: str | None = None,
) -> IssuedLink:
    """Add an account with no password, and the link its owner sets one with."""
    user = new_user(session, clock, email, role, NO_PASSWORD, actor, organisation)
    return issue_link(session, clock, user, actor)


def change_role(
    session: Session,
    clock: Clock,
    user: User,
    role: str,
    actor: str,
    organisation: str | None = None,
) -> bool:
    """Give the account another role in an organisation (the only one it belongs to when None;
    joining it, if it was not a member): at once, as roles are read on every request."""
    check_role(role)
    if user.national:
        raise AccountError(f"{user.email} is a national account: it has no organisation roles")
    assert user.id is not None
    held = memberships(session, user.id)
    try:
        if organisation:
            where = organisation_by_slug(session, organisation)
        elif len(held) == 1:
            where = held[0][0]
        else:
            named = ", ".join(o.slug for o, _ in held) or "none"
            raise AccountError(
                f"{user.email} belongs to organisations {named}: say which with --org"
            )
    except OrganisationError as refused:
        raise AccountError(str(refused)) from None
    before = next((r for o, r in held if o.id == where.id), None)
    if role == before:
        return False
    if before == ADMIN:
        _keep_an_admin(session, user, where, f"{user.email} cannot stop being an admin")
    add_membership(session, user.id, where, role)
    details = {"from": before or "not a member", "to": role, "organisation": where.slug}
    _record(session, clock, actor, "user.role_changed", user, details)
    return True


def disable(
    session: Session,
    clock: Clock,
    user: User,
    actor: str,
    administered: set[int] | None = None,
) -> bool:
    """Stop the account logging in and end every session it has open, at once.

    Disabling is platform-wide, so an admin (`administered`: their organisations' ids) may
    disable only an account all of whose organisations they administer; the command line (the
    platform operator, `administered` None) may disable any."""
    _check_wholly_administered(session, user, administered, "disable")
    if not user.active:
        return False
    assert user.id is not None
    for organisation, role in memberships(session, user.id):
        if role == ADMIN:
            _keep_an_admin(session, user, organisation, f"{user.email} cannot be disabled")
    user.active = False
    user.session_epoch += 1
    _record(session, clock, actor, "user.disabled", user)
    return True


def enable(
    session: Session,
    clock: Clock,
    user: User,
    actor: str,
    administered: set[int] | None = None,
) -> bool:
    """Let a disabled account log in again (its old sessions stay ended); by an admin, only an
    account all of whose organisations they administer (as `disable`)."""
    _check_wholly_administered(session, user, administered, "enable")
    if user.active:
        return False
    user.active = True
    _record(session, clock, actor, "user.enabled", user)
    return True


def outside_organisations(
    session: Session, user: User, administered: set[int]
) -> list[Organisation]:
    """The organisations the account belongs to that these (an admin's) are not, by short name:
    while there is one, that admin may not disable or enable it, only remove it from theirs."""
    assert user.id is not None
    return [o for o, _ in memberships(session, user.id) if o.id not in administered]


# What an admin may do only to an account wholly theirs: how to say it, what it would do to the
# other organisations, and what to ask their admin for instead.
_PLATFORM_WIDE = {
    "disable": ("disable", "lock it out of", "to disable it"),
    "enable": ("enable", "let it back into", "to enable it"),
    "reset": (
        "make a set-password link for",
        "give whoever holds the link its access to",
        "for a set-password link",
    ),
}


def _check_wholly_administered(
    session: Session, user: User, administered: set[int] | None, change: str
) -> None:
    """Refuse an admin's platform-wide change to an account another organisation shares."""
    if administered is None:
        return  # the platform operator
    outside = outside_organisations(session, user, administered)
    if user.national and not outside:
        raise AccountError(f"{user.email} is a national account: ask the platform operator")
    if outside:
        verb, effect, ask = _PLATFORM_WIDE[change]
        names = ", ".join(o.name for o in outside)
        admins = " or ".join(f"{o.name}'s admin" for o in outside)
        raise AccountError(
            f"You cannot {verb} {user.email}: it also belongs to {names}, and that would "
            f"{effect} {names} too. Remove it from your organisation instead, or ask "
            f"{admins} or the platform operator {ask}."
        )


def remove_from(
    session: Session, clock: Clock, user: User, organisation: Organisation, actor: str
) -> None:
    """Take the account out of one organisation, and end every session it has open (its role
    there stops at once); refused when it is not a member, or is that organisation's only
    active admin. The account stays, as do its other organisations."""
    assert user.id is not None and organisation.id is not None
    found = session.exec(
        select(Membership).where(
            Membership.user_id == user.id, Membership.organisation_id == organisation.id
        )
    ).first()
    if found is None:
        raise AccountError(f"{user.email} is not a member of {organisation.slug}")
    if found.role == ADMIN and user.active:
        _keep_an_admin(
            session, user, organisation, f"{user.email} cannot be removed from {organisation.slug}"
        )
    session.delete(found)
    user.session_epoch += 1
    # The organisation is the subject, not the account: the account is no longer its member,
    # and its admins' audit log shows events about their organisation (scope.audit_events_within).
    details = {"account": user.email, "role": found.role}
    audit.record(
        session,
        clock,
        actor=actor,
        action="user.removed",
        subject=organisation.slug,
        details=details,
    )
    session.flush()


def unlock(session: Session, clock: Clock, user: User, actor: str) -> int:
    """Forget the account's failed logins, ending a lockout now; how many were forgotten."""
    cleared = clear_failures(session, user.email)
    _record(session, clock, actor, "user.unlocked", user, {"failures_cleared": cleared})
    return cleared


def issue_link(
    session: Session,
    clock: Clock,
    user: User,
    actor: str,
    administered: set[int] | None = None,
) -> IssuedLink:
    """A new one-time set-password link for the account; any older unused link stops working.

    Whoever holds the link logs in as the account in every organisation it belongs to, so an
    admin (`administered`) may make one only for an account all of whose organisations they
    administer, as for `disable`."""
    _check_wholly_administered(session, user, administered, "reset")
    now = clock.now()
    _retire_links(session, user, now)
    token = secrets.token_urlsafe(32)
    assert user.id is not None
    link = PasswordLink(
        user_id=user.id,
        token_hash=_digest(token),
        created_at=now,
        expires_at=now + LINK_LIFETIME,
    )
    session.add(link)
    details = {"expires_at": link.expires_at.isoformat()}
    _record(session, clock, actor, "user.link_issued", user, details)
    return IssuedLink(user.email, token, link.expires_at)


def link_holder(session: Session, clock: Clock, token: str) -> User | None:
    """The account a link sets the password of, or None when it is unknown, used or expired."""
    link = _usable_link(session, clock, token)
    return session.get(User, link.user_id) if link else None


def set_password(session: Session, clock: Clock, token: str, password: str) -> User:
    """Set the password through a link, once: it also ends the account's sessions and lockout."""
    link = _usable_link(session, clock, token, lock=True)
    user = session.get(User, link.user_id) if link else None
    if link is None or user is None:
        raise AccountError("This link does not work: it has been used, or it has expired.")
    problem = password_problem(password)
    if problem:
        raise AccountError(problem[0].upper() + problem[1:] + ".")
    link.used_at = clock.now()
    user.password_hash = hash_password(password)
    user.session_epoch += 1
    clear_failures(session, user.email)
    _record(session, clock, f"web:{user.email}", "user.password_set", user)
    return user


def _usable_link(
    session: Session, clock: Clock, token: str, lock: bool = False
) -> PasswordLink | None:
    if not token or len(token) > 100:
        return None
    query = select(PasswordLink).where(
        PasswordLink.token_hash == _digest(token),
        col(PasswordLink.used_at).is_(None),
        col(PasswordLink.expires_at) > clock.now(),
    )
    # Locked, so two submissions of one link cannot both set a password.
    return session.exec(query.with_for_update() if lock else query).first()


def _retire_links(session: Session, user: User, now: datetime) -> None:
    unused = update(PasswordLink).where(
        col(PasswordLink.user_id) == user.id, col(PasswordLink.used_at).is_(None)
    )
    session.execute(unused.values(used_at=now))


def _keep_an_admin(session: Session, user: User, organisation: Organisation, refusal: str) -> None:
    """Refuse a change that would leave an organisation with no active admin (locking its
    admins' rows meanwhile)."""
    query = (
        select(User.id)
        .join(Membership, col(Membership.user_id) == User.id)
        .where(
            Membership.organisation_id == organisation.id,
            Membership.role == ADMIN,
            col(User.active).is_(True),
        )
    )
    others = [i for i in session.exec(query.with_for_update()).all() if i != user.id]
    if not others:
        raise AccountError(
            f"{refusal}: it is the only active admin of {organisation.slug}. "
            "Make another admin first."
        )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _record(
    session: Session,
    clock: Clock,
    actor: str,
    action: str,
    user: User,
    details: Mapping[str, Any] | None = None,
) -> None:
    shown = dict(details) if details else None
    audit.record(session, clock, actor=actor, action=action, subject=user.email, details=shown)
