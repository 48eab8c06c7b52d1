"""People who log in: creating them, checking passwords, and slowing down guessing."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from nudge import audit
from nudge.clock import Clock
from nudge.errors import NudgeError
from nudge.models import NATIONAL, ROLES, EndedWebSession, LoginFailure, Membership, User
from nudge.organisations import OrganisationError, organisation_for_new

MIN_PASSWORD = 12
MAX_PASSWORD = 1000  # what the login form accepts
# A user added in the browser has no password until they follow their set-password link; no
# argon2 hash looks like this, so it never verifies.
NO_PASSWORD = "!"
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
# Failed logins from one address (any emails) before it is refused for LOCKOUT: guessing one
# common password against many accounts (spraying) never trips the per-account limit. High
# enough that a police station's staff behind one address do not lock each other out.
MAX_SOURCE_FAILURES = 50
SESSION_ENDED = "session.ended"
_HASHER = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verifying against this when the email is unknown makes both failures take the same time.

    Made on first use, not at import: hashing takes about a quarter of a second, which every
    command and web worker importing this module paid at start (issue 23).
    """
    return _HASHER.hash("not-a-real-password-used-for-timing-only")


class AccountError(NudgeError):
    """A user that cannot be created as asked."""


class LoginThrottled(NudgeError):
    """Too many failed logins from one address: every login from it waits out the window."""


def add_user(
    session: Session,
    clock: Clock,
    email: str,
    role: str,
    password: str,
    actor: str,
    organisation: str | None = None,
) -> User:
    """Create a user; refuses an unknown role, a short password, or an email already used."""
    problem = password_problem(password)
    if problem:
        raise AccountError(problem)
    return new_user(session, clock, email, role, _HASHER.hash(password), actor, organisation)


def new_user(
    session: Session,
    clock: Clock,
    email: str,
    role: str,
    password_hash: str,
    actor: str,
    organisation: str | None = None,
) -> User:
    """Create a user with this hash (NO_PASSWORD until a set-password link is used): `national`,
    in no organisation, or a member of `organisation` (its short name; the only one if None)."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 255:
        raise AccountError(f"'{email}' is not an email address")
    check_role(role, national=True)
    if role == NATIONAL and organisation:
        raise AccountError("a national account belongs to no organisation: leave out --org")
    if session.exec(select(User).where(User.email == email)).first() is not None:
        raise AccountError(f"a user with the email {email} already exists")
    try:
        home = (
            None if role == NATIONAL else organisation_for_new(session, clock, organisation, actor)
        )
    except OrganisationError as refused:
        raise AccountError(str(refused)) from None
    user = User(
        email=email, password_hash=password_hash, national=role == NATIONAL, created_at=clock.now()
    )
    session.add(user)
    session.flush()
    details = {"role": role, **({"organisation": home.slug} if home else {})}
    audit.record(session, clock, actor=actor, action="user.created", subject=email, details=details)
    if home is not None:
        assert user.id is not None and home.id is not None
        session.add(Membership(user_id=user.id, organisation_id=home.id, role=role))
        session.flush()
    return user


def check_role(role: str, *, national: bool = False) -> None:
    allowed = (*ROLES, NATIONAL) if national else ROLES
    if role not in allowed:
        raise AccountError(f"role must be one of {', '.join(allowed)} (got '{role}')")


def password_problem(password: str) -> str | None:
    """What is wrong with a new password, or None: the one rule for the CLI and the web."""
    if len(password) < MIN_PASSWORD:
        return f"the password must be at least {MIN_PASSWORD} characters long"
    if len(password) > MAX_PASSWORD:
        return f"the password must be at most {MAX_PASSWORD} characters long"
    return None


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def authenticate(
    session: Session, clock: Clock, email: str, password: str, source: str
) -> User | None:
    """The user when the password is right and the account is not locked; None otherwise.

    Failures are kept in the database (LoginFailure), so the limit holds across every web
    worker; after MAX_FAILURES in LOCKOUT even the right password is refused until it passes.
    After MAX_SOURCE_FAILURES from one `source` (the client's address) in LOCKOUT, every login
    from it raises LoginThrottled, whatever the email. Every outcome is also on the audit log.
    """
    email = email.strip().lower()
    dummy = _dummy_hash()  # before the lookup: the first login pays for it, known email or not
    if _recent_failures(session, clock, LoginFailure.source, source) >= MAX_SOURCE_FAILURES:
        audit.record(session, clock, actor=source, action="login.throttled", subject=email)
        raise LoginThrottled("Too many failed logins from this network: try again in 15 minutes.")
    user = session.exec(select(User).where(User.email == email)).first()
    if _recent_failures(session, clock, LoginFailure.email, email) >= MAX_FAILURES:
        audit.record(session, clock, actor=source, action="login.locked", subject=email)
        return None
    try:
        _HASHER.verify(user.password_hash if user else dummy, password)
    except (VerificationError, InvalidHashError):
        _record_failure(session, clock, email, source)
        return None
    if user is None or not user.active:
        _record_failure(session, clock, email, source)
        return None
    user.last_login_at = clock.now()
    audit.record(session, clock, actor=source, action="login.succeeded", subject=email)
    return user


def end_web_session(session: Session, clock: Clock, session_id: str, actor: str) -> None:
    """Revoke one web session for good: its cookie, even if copied, logs no one in again.

    Flask keeps the session in a signed cookie, so logging out cannot delete it on the
    server; instead the session's random id goes on this list, which every request checks.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # Nothing if already ended: a second click on "Log out" may race the first.
    ended = insert(EndedWebSession).values(session_id=session_id, ended_at=clock.now())
    session.execute(ended.on_conflict_do_nothing(index_elements=["session_id"]))
    audit.record(session, clock, actor=actor, action=SESSION_ENDED, subject=session_id)


def web_session_ended(session: Session, session_id: str) -> bool:
    return session.get(EndedWebSession, session_id) is not None


def locked_emails(session: Session, clock: Clock) -> set[str]:
    """The emails locked out now: MAX_FAILURES or more failed logins in the last LOCKOUT."""
    query = (
        select(LoginFailure.email)
        .where(col(LoginFailure.at) >= clock.now() - LOCKOUT)
        .group_by(col(LoginFailure.email))
        .having(func.count() >= MAX_FAILURES)
    )
    return set(session.exec(query).all())


def clear_failures(session: Session, email: str) -> int:
    """Forget an email's failed logins (an admin unlocked it); how many there were."""
    result = session.execute(delete(LoginFailure).where(col(LoginFailure.email) == email))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _record_failure(session: Session, clock: Clock, email: str, source: str) -> None:
    """Count a failed login (forgetting those too old to count) and put it on the audit log."""
    now = clock.now()
    session.execute(delete(LoginFailure).where(col(LoginFailure.at) < now - LOCKOUT))
    session.add(LoginFailure(at=now, email=email, source=source))
    audit.record(session, clock, actor=source, action="login.failed", subject=email)


def _recent_failures(session: Session, clock: Clock, column: Any, value: str) -> int:
    """Failed logins in the last LOCKOUT whose `column` (email or source) is `value`."""
    since = clock.now() - LOCKOUT
    query = (
        select(func.count())
        .select_from(LoginFailure)
        .where(col(column) == value, col(LoginFailure.at) >= since)
    )
    return int(session.exec(query).one())
