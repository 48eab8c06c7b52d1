"""`nudge users`: the admin pages' account changes from the command line, audited the same way;
a mistake is one line, exit 1, and the database unchanged."""

from __future__ import annotations

import pytest
from sqlmodel import Session, col, select

from nudge.accounts import MAX_FAILURES
from nudge.models import AuditEvent, LoginFailure, PasswordLink, User
from tests.conftest import PINNED, Cli
from tests.factories import row_counts
from tests.web_helpers import role_of

PASSWORD = "a long enough password\n"


@pytest.fixture
def staff(cli: Cli) -> None:
    assert cli("users", "add", "ada@example.org", "--role", "admin", input=PASSWORD).exit_code == 0
    assert (
        cli("users", "add", "rita@example.org", "--role", "researcher", input=PASSWORD).exit_code
        == 0
    )


def account(session: Session, email: str) -> User:
    session.expire_all()
    return session.exec(select(User).where(User.email == email)).one()


def last_event(session: Session) -> tuple[str, str, str | None]:
    event = session.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc())).first()
    assert event is not None
    return event.actor.split(":")[0], event.action, event.subject


def test_users_list_shows_role_state_and_last_login(
    cli: Cli, staff: None, session: Session
) -> None:
    for _ in range(MAX_FAILURES):
        session.add(LoginFailure(at=PINNED, email="rita@example.org", source="web:192.0.2.1"))
    session.commit()
    lines = cli("users", "list").output.splitlines()
    assert lines[0].split() == ["EMAIL", "ROLE", "STATE", "LAST", "LOGIN"]
    assert lines[1].split() == ["ada@example.org", "admin", "active", "never"]
    assert lines[2].split() == ["rita@example.org", "researcher", "locked", "never"]


def test_users_role_disable_enable_and_unlock_change_the_account_and_are_audited(
    cli: Cli, staff: None, session: Session
) -> None:
    assert (
        cli("users", "role", "Rita@Example.org", "lead").output == "rita@example.org is now lead\n"
    )
    assert (role_of(session, "rita@example.org"), last_event(session)[1]) == (
        "lead",
        "user.role_changed",
    )
    assert (
        cli("users", "disable", "rita@example.org").output == "rita@example.org is now disabled\n"
    )
    assert not account(session, "rita@example.org").active
    assert last_event(session) == ("cli", "user.disabled", "rita@example.org")
    assert cli("users", "enable", "rita@example.org").exit_code == 0
    assert account(session, "rita@example.org").active
    session.add(LoginFailure(at=PINNED, email="rita@example.org", source="web:192.0.2.1"))
    session.commit()
    unlocked = cli("users", "unlock", "rita@example.org")
    assert unlocked.output == "unlocked rita@example.org (1 failed logins forgotten)\n"
    assert session.exec(select(LoginFailure)).all() == []
    assert last_event(session) == ("cli", "user.unlocked", "rita@example.org")


def test_users_reset_prints_a_one_time_link_and_stores_only_its_hash(
    cli: Cli, staff: None, session: Session
) -> None:
    cli.env["NUDGE_PUBLIC_URL"] = "https://nudge.example"
    result = cli("users", "reset", "rita@example.org")
    first, link = result.output.splitlines()
    assert first == "set-password link for rita@example.org, works once until 2027-01-11 12:00 UTC:"
    assert link.startswith("https://nudge.example/set-password/")
    token = link.rsplit("/", 1)[1]
    stored = session.exec(select(PasswordLink)).one()
    assert stored.token_hash != token and len(stored.token_hash) == 64
    assert token not in str(session.exec(select(AuditEvent.details)).all())
    assert last_event(session) == ("cli", "user.link_issued", "rita@example.org")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("role", "nobody@example.org", "lead"), "no account with the email nobody@example.org"),
        (
            ("role", "rita@example.org", "boss"),
            "role must be one of admin, researcher, lead (got 'boss')",
        ),
        (("disable", "nobody@example.org"), "no account with the email nobody@example.org"),
        (("enable", "nobody@example.org"), "no account with the email nobody@example.org"),
        (("unlock", "nobody@example.org"), "no account with the email nobody@example.org"),
        (("reset", "nobody@example.org"), "no account with the email nobody@example.org"),
        (
            ("disable", "ada@example.org"),
            "ada@example.org cannot be disabled: it is the only active admin of default. "
            "Make another admin first.",
        ),
        (
            ("role", "ada@example.org", "lead"),
            "ada@example.org cannot stop being an admin: it is the only active admin of default. "
            "Make another admin first.",
        ),
    ],
)
def test_a_mistake_is_one_line_exit_1_and_changes_nothing(
    cli: Cli, staff: None, session: Session, args: tuple[str, ...], message: str
) -> None:
    before = row_counts(session)
    session.rollback()
    result = cli("users", *args)
    assert (result.exit_code, result.output) == (1, message + "\n")
    assert row_counts(session) == before
    assert role_of(session, "ada@example.org") == "admin"
    assert role_of(session, "rita@example.org") == "researcher"


def test_a_clock_pinned_by_nudge_now_dates_the_link(
    cli: Cli, staff: None, session: Session
) -> None:
    cli.env["NUDGE_NOW"] = "2027-03-01T09:30:00+00:00"
    cli("users", "reset", "rita@example.org")
    assert (
        session.exec(select(PasswordLink.expires_at)).one().isoformat()
        == "2027-03-02T09:30:00+00:00"
    )
