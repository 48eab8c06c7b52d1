"""`nudge orgs`, and the organisation that `nudge users add` and `nudge trial create` put things
in: the only one by default, a clear refusal (and nothing written) when there are several."""

from __future__ import annotations

from sqlmodel import Session, col, select

from nudge.models import Membership, Organisation, Trial, User
from tests.conftest import EXAMPLE, EXAMPLE_TRIAL, Cli

PASSWORD = "a long enough password\n"


def two_areas(cli: Cli) -> None:
    assert cli("orgs", "add", "north", "--name", "Northshire Police").exit_code == 0
    assert cli("orgs", "add", "south", "--name", "Southshire  Victim Service").exit_code == 0


def test_orgs_add_then_list_shows_each_with_its_trials_and_staff(cli: Cli) -> None:
    assert cli("orgs", "list").output == (
        "no organisations yet: add one with nudge orgs add SLUG --name NAME\n"
    )
    added = cli("orgs", "add", "north", "--name", "Northshire Police")
    assert added.output.splitlines()[0] == "added organisation north (Northshire Police)"
    assert cli("orgs", "add", "south", "--name", "Southshire  Victim Service").exit_code == 0
    cli(
        "users", "add", "rita@example.org", "--role", "researcher", "--org", "south", input=PASSWORD
    )
    assert cli("trial", "create", str(EXAMPLE), "--org", "south").exit_code == 0
    assert cli("orgs", "list").output.splitlines() == [
        "ORGANISATION  TRIALS  STAFF  NAME",
        "north              0      0  Northshire Police",
        "south              1      1  Southshire Victim Service",
    ]


def test_a_bad_or_taken_short_name_is_refused_and_nothing_is_written(cli: Cli) -> None:
    assert cli("orgs", "add", "north", "--name", "Northshire Police").exit_code == 0
    for slug, says in (
        ("North Shire", "'North Shire' is not a short name for an organisation"),
        ("north--shire", "is not a short name"),
        ("north", "there is already an organisation 'north'"),
    ):
        result = cli.unchanged("orgs", "add", slug, "--name", "Somewhere")
        assert result.exit_code == 1 and says in result.output, result.output
        assert "Traceback" not in result.output
    blank = cli.unchanged("orgs", "add", "west", "--name", "   ")
    assert blank.exit_code == 1 and "give the organisation a name" in blank.output


def test_with_one_organisation_accounts_and_trials_go_into_it(cli: Cli, session: Session) -> None:
    assert cli("orgs", "add", "north", "--name", "Northshire Police").exit_code == 0
    assert cli(
        "users", "add", "rita@example.org", "--role", "researcher", input=PASSWORD
    ).output == ("added rita@example.org as researcher\n")
    assert cli("trial", "create", str(EXAMPLE)).exit_code == 0
    north = session.exec(select(Organisation).where(Organisation.slug == "north")).one()
    assert session.exec(select(Trial.organisation_id)).all() == [north.id]
    assert session.exec(select(Membership.organisation_id, Membership.role)).all() == [
        (north.id, "researcher")
    ]


def test_with_several_organisations_each_must_be_named(cli: Cli, session: Session) -> None:
    two_areas(cli)
    user = cli.unchanged("users", "add", "rita@example.org", "--role", "lead", input=PASSWORD)
    assert user.exit_code == 1
    assert "there are 2 organisations: say which with --org" in user.output
    assert "(organisations here: north, south)" in user.output
    trial = cli.unchanged("trial", "create", str(EXAMPLE))
    assert trial.exit_code == 1 and "say which with --org" in trial.output
    unknown = cli.unchanged("trial", "create", str(EXAMPLE), "--org", "west")
    assert unknown.exit_code == 1 and "no organisation 'west'" in unknown.output
    assert cli("trial", "create", str(EXAMPLE), "--org", "south").exit_code == 0
    owner = session.exec(
        select(Organisation.slug).join(Trial, col(Trial.organisation_id) == Organisation.id)
    ).one()
    assert (owner, session.exec(select(Trial.id)).one()) == ("south", EXAMPLE_TRIAL)


def test_a_role_in_a_second_organisation_and_a_national_account(cli: Cli, session: Session) -> None:
    two_areas(cli)
    add = ("users", "add", "rita@example.org", "--role", "researcher", "--org", "north")
    assert cli(*add, input=PASSWORD).output == "added rita@example.org as researcher in north\n"
    assert cli("users", "role", "rita@example.org", "lead", "--org", "south").output == (
        "rita@example.org is now lead in south\n"
    )
    ambiguous = cli.unchanged("users", "role", "rita@example.org", "admin")
    assert ambiguous.exit_code == 1 and "say which with --org" in ambiguous.output
    national = ("users", "add", "nat@example.org", "--role", "national")
    assert cli(*national, input=PASSWORD).exit_code == 0
    both = cli.unchanged(
        "users", "add", "nat2@example.org", "--role", "national", "--org", "north", input=PASSWORD
    )
    assert both.exit_code == 1 and "a national account belongs to no organisation" in both.output
    listed = cli("users", "list").output.splitlines()
    assert any(
        line.startswith("rita@example.org") and "researcher in north, lead in south" in line
        for line in listed
    )
    assert any(line.startswith("nat@example.org") and " national " in line for line in listed)
    nat = session.exec(select(User).where(User.email == "nat@example.org")).one()
    assert nat.national
    assert session.exec(select(Membership).where(Membership.user_id == nat.id)).all() == []


def test_users_list_for_one_organisation(cli: Cli) -> None:
    two_areas(cli)
    cli(
        "users", "add", "rita@example.org", "--role", "researcher", "--org", "north", input=PASSWORD
    )
    cli("users", "add", "sue@example.org", "--role", "lead", "--org", "south", input=PASSWORD)
    listed = cli("users", "list", "--org", "south").output
    assert "sue@example.org" in listed and "rita@example.org" not in listed
    unknown = cli("users", "list", "--org", "west")
    assert unknown.exit_code == 1 and "no organisation 'west'" in unknown.output
