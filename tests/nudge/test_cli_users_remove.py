"""`nudge users remove EMAIL --org SLUG`: the platform operator takes an account out of one
organisation (its sessions end, its other organisations stay), audited; a mistake is one line,
exit 1 and the database unchanged. `nudge users disable` stays platform-wide."""

from __future__ import annotations

import pytest
from sqlmodel import Session, col, select

from nudge.models import AuditEvent, Membership, Organisation, User
from tests.conftest import Cli
from tests.factories import row_counts

PASSWORD = "a long enough password\n"
RITA = "rita@example.org"


@pytest.fixture
def shared(cli: Cli) -> None:
    """North and South, each with an admin; Rita a researcher in North and a lead in South."""
    for slug, name in (("north", "Northshire Police"), ("south", "Southshire Victim Service")):
        assert cli("orgs", "add", slug, "--name", name).exit_code == 0
        added = cli(
            "users",
            "add",
            f"{slug}.admin@example.org",
            "--role",
            "admin",
            "--org",
            slug,
            input=PASSWORD,
        )
        assert added.exit_code == 0, added.output
    assert (
        cli(
            "users", "add", RITA, "--role", "researcher", "--org", "north", input=PASSWORD
        ).exit_code
        == 0
    )
    assert cli("users", "role", RITA, "lead", "--org", "south").exit_code == 0


def organisations_of(session: Session, email: str) -> list[tuple[str, str]]:
    session.expire_all()
    return list(
        session.exec(
            select(Organisation.slug, Membership.role)
            .join(Membership, col(Membership.organisation_id) == Organisation.id)
            .join(User, col(User.id) == Membership.user_id)
            .where(User.email == email)
            .order_by(col(Organisation.slug))
        ).all()
    )


def account(session: Session, email: str) -> User:
    session.expire_all()
    return session.exec(select(User).where(User.email == email)).one()


@pytest.mark.usefixtures("shared")
def test_users_remove_takes_the_account_out_of_one_organisation_and_ends_its_sessions(
    cli: Cli, session: Session
) -> None:
    epoch = account(session, RITA).session_epoch
    result = cli("users", "remove", RITA, "--org", "north")
    assert (result.exit_code, result.output) == (
        0,
        f"removed {RITA} from north: its sessions have ended\n",
    )
    assert organisations_of(session, RITA) == [("south", "lead")]
    rita = account(session, RITA)
    assert (rita.active, rita.session_epoch) == (True, epoch + 1)
    event = session.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc())).first()
    assert event is not None
    assert (event.actor.split(":")[0], event.action, event.subject, event.details) == (
        "cli",
        "user.removed",
        "north",
        {"account": RITA, "role": "researcher"},
    )
    # The operator may take it out of its last organisation too: it then sees no trial.
    assert cli("users", "remove", RITA, "--org", "south").exit_code == 0
    assert organisations_of(session, RITA) == []


@pytest.mark.usefixtures("shared")
def test_users_disable_stays_platform_wide(cli: Cli, session: Session) -> None:
    assert cli("users", "disable", RITA).output == f"{RITA} is now disabled\n"
    assert account(session, RITA).active is False
    assert organisations_of(session, RITA) == [("north", "researcher"), ("south", "lead")]


@pytest.mark.usefixtures("shared")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nobody@example.org", "--org", "north"), "no account with the email nobody@example.org"),
        ((RITA, "--org", "west"), "no organisation 'west' (organisations here: north, south)"),
        (
            ("north.admin@example.org", "--org", "south"),
            "north.admin@example.org is not a member of south",
        ),
        (
            ("north.admin@example.org", "--org", "north"),
            "north.admin@example.org cannot be removed from north: it is the only active admin "
            "of north. Make another admin first.",
        ),
    ],
)
def test_a_bad_removal_is_one_line_exit_1_and_changes_nothing(
    cli: Cli, session: Session, args: tuple[str, ...], message: str
) -> None:
    before = row_counts(session)
    session.rollback()
    result = cli.unchanged("users", "remove", *args)
    assert (result.exit_code, result.output) == (1, message + "\n")
    assert row_counts(session) == before
    assert organisations_of(session, RITA) == [("north", "researcher"), ("south", "lead")]


@pytest.mark.usefixtures("shared")
def test_users_remove_needs_the_organisation(cli: Cli) -> None:
    result = cli.unchanged("users", "remove", RITA)
    assert result.exit_code == 2 and "Missing option '--org'" in result.output
    assert "Traceback" not in result.output
