"""The schema comes only from migrations, on both engines; commands upgrade an empty database."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select

from nudge.accounts import web_session_ended
from nudge.db import (
    HEAD_REVISION,
    MIGRATIONS,
    _alembic_config,
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    upgrade,
)
from nudge.models import (
    Case,
    InboundMessage,
    LoginFailure,
    Membership,
    Organisation,
    Participant,
    Trial,
    TrialSite,
    User,
)
from nudge.scope import scope_of, visible_trials
from tests.conftest import (
    Cli,
    create_postgres_database,
    drop_postgres_database,
    postgres_server_or_fail,
)

CORE_TABLES = {
    "trial",
    "trial_version",
    "send_window",
    "arm",
    "case",
    "hearing",
    "hearing_change",
    "participant",
    "assignment",
    "message",
    "message_event",
    "inbound_message",
    "outcome",
    "audit_event",
    "user",
    "opt_out",
    "stratum_counter",
    "login_failure",
    "ended_web_session",
    "organisation",
    "membership",
    "trial_site",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, nothing migrated, on each engine in turn."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    server = postgres_server_or_fail()
    url = create_postgres_database(server)
    try:
        yield url
    finally:
        drop_postgres_database(server, url)


def test_migrations_build_the_whole_schema_on_an_empty_database(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        assert current_revision(engine) is None
        assert upgrade(engine) is True
        assert current_revision(engine) == head_revision()
        assert CORE_TABLES <= set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            drift = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
        assert drift == [], f"models and migrations disagree: {drift}"
        assert upgrade(engine) is False
    finally:
        engine.dispose()


def test_the_revision_every_command_checks_is_alembics_newest_migration() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION


def test_the_revision_is_read_as_alembic_reads_it(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        upgrade(engine)
        with engine.connect() as connection:
            alembics = MigrationContext.configure(connection).get_current_revision()
        assert current_revision(engine) == alembics == HEAD_REVISION
    finally:
        engine.dispose()


def test_any_command_upgrades_an_empty_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = Cli(url, tmp_path)("trial", "list")
    assert result.exit_code == 0, result.output
    engine = make_engine(url)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_db_upgrade_reports_whether_anything_changed(tmp_path: Path) -> None:
    cli = Cli(f"sqlite:///{tmp_path / 'fresh.db'}", tmp_path)
    assert cli("db", "upgrade").output.strip() == "database upgraded"
    assert cli("db", "upgrade").output.strip() == "database already up to date"


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_a_new_sqlite_database_has_16_kib_pages_and_an_old_one_keeps_its_own(
    tmp_path: Path,
) -> None:
    old = tmp_path / "old.db"
    connection = sqlite3.connect(old)
    connection.execute("CREATE TABLE kept (id INTEGER)")  # 4 KiB pages, SQLite's default
    connection.close()
    for path, size in ((tmp_path / "new.db", 16384), (old, 4096)):
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA page_size").scalar() == size
        engine.dispose()


@pytest.mark.parametrize("table", sorted(CORE_TABLES))
def test_each_core_table_exists_on_the_engine_under_test(engine, table: str) -> None:  # type: ignore[no-untyped-def]
    assert table in inspect(engine).get_table_names()


def test_upgrading_keeps_lockouts_and_logged_out_sessions(empty_url: str) -> None:
    """A database from before the login tables keeps its lockouts and logged-out sessions."""
    engine = make_engine(empty_url)
    try:
        with engine.begin() as connection:
            command.upgrade(_alembic_config(connection), "r6_reply_handled_by")
            connection.execute(
                text(
                    "INSERT INTO audit_event (at, actor, action, subject, details) VALUES "
                    "('2027-01-10 11:58:00', 'web:192.0.2.7', 'login.failed', 'rita@example.org',"
                    " '{}'), ('2027-01-10 11:59:00', 'web:192.0.2.7', 'session.ended', "
                    "'ended-session-id', '{}'), ('2027-01-10 11:59:30', 'web:192.0.2.7', "
                    "'login.succeeded', 'ada@example.org', '{}')"
                )
            )
        assert upgrade(engine) is True
        with Session(engine) as session:
            failures = session.exec(select(LoginFailure)).all()
            assert [(f.email, f.source) for f in failures] == [
                ("rita@example.org", "web:192.0.2.7")
            ]
            assert web_session_ended(session, "ended-session-id")
            assert not web_session_ended(session, "another-session-id")
            audit = session.execute(text("SELECT count(*) FROM audit_event")).scalar_one()
            assert audit == 3  # the audit log keeps its record
    finally:
        engine.dispose()


def test_upgrading_keeps_handled_replies_and_gives_them_no_note(empty_url: str) -> None:
    """Replies handled before notes existed keep who and when; their note is empty, not made up."""
    engine = make_engine(empty_url)
    try:
        with engine.begin() as connection:
            command.upgrade(_alembic_config(connection), "r8_accounts")
            connection.execute(
                text(
                    "INSERT INTO inbound_message (provider_id, from_number, to_number, body, kind,"
                    " received_at, handled_at, handled_by) VALUES ('SM1', '+447700900001', "
                    "'+447700900000', 'Where do I park?', 'other', '2027-01-10 11:00:00', "
                    "'2027-01-10 11:30:00', 'web:rita@example.org')"
                )
            )
        assert upgrade(engine) is True
        with Session(engine) as session:
            reply = session.exec(select(InboundMessage)).one()
            assert (reply.handled_by, reply.handled_note) == ("web:rita@example.org", None)
            assert reply.handled_at is not None
    finally:
        engine.dispose()


def test_upgrading_one_area_moves_its_trials_and_staff_into_one_organisation(
    empty_url: str,
) -> None:
    """A database from before organisations: every trial is owned by one `default`
    organisation, and every account is its member with the role it had; no one is national."""
    engine = make_engine(empty_url)
    before = ScriptDirectory.from_config(_script_config()).get_revision("r20_organisations")
    try:
        with engine.begin() as connection:
            command.upgrade(_alembic_config(connection), str(before.down_revision))
            connection.execute(
                text(
                    'INSERT INTO "user" (email, password_hash, role, active, created_at) VALUES '
                    "('ada@example.org', '!', 'admin', true, '2027-01-02 09:00:00'), "
                    "('rita@example.org', '!', 'researcher', true, '2027-01-03 09:00:00'), "
                    "('lee@example.org', '!', 'lead', false, '2027-01-04 09:00:00')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO trial (id, title, status, current_version, created_at) VALUES "
                    "('witness-reminders-2027', 'Witness reminders', 'live', 1, "
                    "'2027-01-05 09:00:00'), ('victim-letters', 'Victim letters', 'draft', 1, "
                    "'2027-01-06 09:00:00')"
                )
            )
        assert upgrade(engine) is True
        with Session(engine) as session:
            (organisation,) = session.exec(select(Organisation)).all()
            assert (organisation.slug, organisation.name) == ("default", "Default organisation")
            assert organisation.created_at == datetime(2027, 1, 2, 9, tzinfo=UTC)  # the oldest
            owners = session.exec(select(Trial.id, Trial.organisation_id).order_by(Trial.id))
            assert list(owners) == [
                ("victim-letters", organisation.id),
                ("witness-reminders-2027", organisation.id),
            ]
            members = session.exec(
                select(User.email, Membership.organisation_id, Membership.role, User.national)
                .join(Membership, col(Membership.user_id) == User.id)
                .order_by(User.email)
            )
            assert list(members) == [
                ("ada@example.org", organisation.id, "admin", False),
                ("lee@example.org", organisation.id, "lead", False),
                ("rita@example.org", organisation.id, "researcher", False),
            ]
            rita = session.exec(select(User).where(User.email == "rita@example.org")).one()
            assert rita.id is not None
            seen = visible_trials(session, scope_of(session, rita.id))
            assert [t.id for t in seen] == ["witness-reminders-2027", "victim-letters"]
    finally:
        engine.dispose()


def test_upgrading_to_sites_leaves_every_trial_in_one_area(
    empty_url: str,
) -> None:
    """A database from before multi-site trials: its people keep every field and belong to no
    site, and its trials have none."""
    engine = make_engine(empty_url)
    sites = ScriptDirectory.from_config(_script_config()).get_revision("r21_sites")
    try:
        with engine.begin() as connection:
            command.upgrade(_alembic_config(connection), str(sites.down_revision))
            connection.execute(
                text(
                    "INSERT INTO organisation (slug, name, created_at) VALUES "
                    "('avon-somerset', 'Avon and Somerset', '2027-01-02 09:00:00')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO trial (id, title, status, current_version, created_at, "
                    "organisation_id) VALUES ('witness-reminders-2027', 'Witness reminders', "
                    "'live', 1, '2027-01-05 09:00:00', (SELECT id FROM organisation))"
                )
            )
            connection.execute(
                text(
                    'INSERT INTO "case" (trial_id, case_ref) VALUES '
                    "('witness-reminders-2027', 'CASE-0001')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO participant (trial_id, participant_ref, case_id, role, "
                    "language, contact_sms, contact_letter, safeguarding_flag, address, "
                    "attributes, eligible, enrolled_at) VALUES ('witness-reminders-2027', "
                    "'P-0001', (SELECT id FROM \"case\"), 'witness', 'en', true, false, false, "
                    "'[]', '{\"court\": \"A\"}', true, '2027-01-06 09:00:00')"
                )
            )
        assert upgrade(engine) is True
        with Session(engine) as session:
            person = session.exec(select(Participant)).one()
            assert (person.participant_ref, person.site_id, person.attributes) == (
                "P-0001",
                None,
                {"court": "A"},
            )
            assert session.exec(select(Case.site_id)).all() == [None]
            assert session.exec(select(TrialSite)).all() == []
    finally:
        engine.dispose()


def test_reply_placement_upgrades_every_reply_unplaced_and_downgrades_keeping_them(
    empty_url: str,
) -> None:
    """0019 adds `inbound_message.organisation_id` (NULL: unplaced) to replies already stored,
    and going back down drops the column and keeps the replies."""
    engine = make_engine(empty_url)
    placement = ScriptDirectory.from_config(_script_config()).get_revision("r22_reply_placement")
    try:
        with engine.begin() as connection:
            command.upgrade(_alembic_config(connection), str(placement.down_revision))
            connection.execute(
                text(
                    "INSERT INTO inbound_message (provider_id, from_number, to_number, body, kind,"
                    " received_at) VALUES ('SM1', '+447700900001', '+447700900555', "
                    "'Is anyone there?', 'other', '2027-01-10 11:00:00')"
                )
            )
        assert upgrade(engine) is True
        with Session(engine) as session:
            reply = session.exec(select(InboundMessage)).one()
            assert (reply.body, reply.organisation_id) == ("Is anyone there?", None)
        downgrade(engine, str(placement.down_revision))
        columns = {c["name"] for c in inspect(engine).get_columns("inbound_message")}
        assert "organisation_id" not in columns and "handled_note" in columns
        with engine.connect() as connection:
            bodies = connection.execute(text("SELECT body FROM inbound_message")).scalars().all()
        assert bodies == ["Is anyone there?"]
        assert upgrade(engine) is True
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_an_empty_database_gets_no_organisation_until_something_needs_one(
    empty_url: str,
) -> None:
    engine = make_engine(empty_url)
    try:
        assert upgrade(engine) is True
        with Session(engine) as session:
            assert session.exec(select(Organisation)).all() == []
    finally:
        engine.dispose()


def _script_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


# Two trials, each with a case, its hearing, a person (two in the second), an arm, the
# person's assignment and allocated unit, and a message to the person: every table 0021
# changes, and one (message) that refers to two of them.
_TWO_TRIALS = [
    "INSERT INTO organisation (slug, name, created_at) VALUES "
    "('avon-somerset', 'Avon and Somerset', '2027-01-02 09:00:00')",
    "INSERT INTO trial (id, title, status, current_version, created_at, organisation_id) VALUES "
    "('trial-a', 'Trial A', 'live', 1, '2027-01-05 09:00:00', (SELECT id FROM organisation)), "
    "('trial-b', 'Trial B', 'live', 1, '2027-01-05 09:00:00', (SELECT id FROM organisation))",
    "INSERT INTO arm (id, trial_id, key, title, weight, is_control, position) VALUES "
    "(1, 'trial-a', 'control', 'Control', 1, true, 0), "
    "(2, 'trial-b', 'control', 'Control', 1, true, 0)",
    "INSERT INTO \"case\" (id, trial_id, case_ref) VALUES (1, 'trial-a', 'CASE-0001'), "
    "(2, 'trial-b', 'CASE-0001')",
    "INSERT INTO hearing (id, case_id, trial_id, court, court_name, starts_at, status, version, "
    "updated_at) VALUES (1, 1, 'trial-a', 'C01', 'Example Court', '2027-03-01 10:00:00', "
    "'listed', 1, '2027-01-06 09:00:00'), (2, 2, 'trial-b', 'C01', 'Example Court', "
    "'2027-03-01 10:00:00', 'listed', 1, '2027-01-06 09:00:00')",
    "INSERT INTO participant (id, trial_id, participant_ref, case_id, role, language, "
    "contact_sms, contact_letter, safeguarding_flag, address, attributes, eligible, "
    "enrolled_at) VALUES (1, 'trial-a', 'P-0001', 1, 'witness', 'en', true, false, false, "
    "'[]', '{}', true, '2027-01-06 09:00:00'), (2, 'trial-b', 'P-0001', 2, 'victim', 'cy', "
    "true, false, false, '[]', '{}', true, '2027-01-06 09:00:00'), (3, 'trial-b', 'P-0002', "
    "2, 'witness', 'en', false, true, false, '[]', '{}', false, '2027-01-06 09:00:00')",
    "INSERT INTO allocated_unit (trial_id, unit, stratum, slot, block, position, arm_id, "
    "assigned_at) VALUES ('trial-a', '1', 'all', 0, 0, 0, 1, '2027-01-06 09:00:00'), "
    "('trial-b', '2', 'all', 0, 0, 0, 2, '2027-01-06 09:00:00')",
    "INSERT INTO assignment (trial_id, participant_id, arm_id, unit, stratum, block, position, "
    "assigned_at) VALUES ('trial-a', 1, 1, '1', 'all', 0, 0, '2027-01-06 09:00:00'), "
    "('trial-b', 2, 2, '2', 'all', 0, 0, '2027-01-06 09:00:00')",
    "INSERT INTO message (trial_id, participant_id, hearing_id, hearing_version, slot, channel, "
    "template, language, due_at, expires_at, next_attempt_at, status, segments, cost, "
    "attempts, updated_at) VALUES ('trial-a', 1, 1, 1, 0, 'sms', 'reminder', 'en', "
    "'2027-02-27 09:00:00', '2027-03-01 09:00:00', '2027-02-27 09:00:00', 'scheduled', 1, 0, "
    "0, '2027-01-06 09:00:00')",
]
_KEPT = {
    "case": 'SELECT id, trial_id, case_ref FROM "case" ORDER BY id',
    "hearing": "SELECT id, case_id, trial_id, court FROM hearing ORDER BY id",
    "participant": "SELECT id, trial_id, case_id, role, language FROM participant ORDER BY id",
    "assignment": "SELECT participant_id, arm_id, trial_id FROM assignment ORDER BY id",
    "allocated_unit": "SELECT unit, arm_id, trial_id FROM allocated_unit ORDER BY id",
    "message": "SELECT participant_id, hearing_id, trial_id FROM message ORDER BY id",
}
# Each refers to a parent of the other trial, which 0021's keys refuse (nothing did before).
# Ids are given: PostgreSQL's sequences did not move for the rows above, which gave theirs.
_ACROSS_TRIALS = {
    "hearing": "INSERT INTO hearing (id, case_id, trial_id, court, court_name, starts_at, "
    "status, version, updated_at) VALUES (9, 2, 'trial-a', 'C01', 'Example Court', "
    "'2027-03-01 10:00:00', 'listed', 1, '2027-01-06 09:00:00')",
    "participant": "INSERT INTO participant (id, trial_id, participant_ref, case_id, role, "
    "language, contact_sms, contact_letter, safeguarding_flag, address, attributes, eligible, "
    "enrolled_at) VALUES (9, 'trial-a', 'P-0002', 2, 'witness', 'en', true, false, false, "
    "'[]', '{}', true, '2027-01-06 09:00:00')",
    "assignment (person)": "UPDATE assignment SET participant_id = 3 WHERE trial_id = 'trial-a'",
    "assignment (arm)": "UPDATE assignment SET arm_id = 2 WHERE trial_id = 'trial-a'",
    "allocated_unit": "UPDATE allocated_unit SET arm_id = 2 WHERE trial_id = 'trial-a'",
}

# A person whose case does not exist at all (case 9).
_MISSING_CASE = (
    "INSERT INTO participant (id, trial_id, participant_ref, case_id, role, language, "
    "contact_sms, contact_letter, safeguarding_flag, address, attributes, eligible, "
    "enrolled_at) VALUES (9, 'trial-a', 'P-0002', 9, 'witness', 'en', true, false, false, "
    "'[]', '{}', true, '2027-01-06 09:00:00')"
)


def _rows(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as connection:
        return {
            table: [tuple(row) for row in connection.exec_driver_sql(query)]
            for table, query in _KEPT.items()
        }


def _refused_across_trials(engine: Engine) -> dict[str, bool]:
    refused = {}
    for what, statement in _ACROSS_TRIALS.items():
        with engine.connect() as connection:
            try:
                connection.exec_driver_sql(statement)
                refused[what] = False
            except IntegrityError:
                refused[what] = True
            connection.rollback()
    return refused


def test_same_trial_keys_keep_every_row_and_refuse_a_parent_of_another_trial(
    empty_url: str,
) -> None:
    """0021 (issue 23): a populated database keeps every case, hearing, person, assignment,
    allocated unit and the messages referring to them, up and down again; once up, a row whose
    case, person or arm is in another trial is refused, which nothing refused before."""
    engine = make_engine(empty_url)
    keys = ScriptDirectory.from_config(_script_config()).get_revision("r24_same_trial_keys")
    try:
        with engine.begin() as connection:
            command.upgrade(_alembic_config(connection), str(keys.down_revision))
            for statement in _TWO_TRIALS:
                connection.exec_driver_sql(statement)
        before = _rows(engine)
        assert not any(_refused_across_trials(engine).values())  # each was allowed before
        downgrade(engine, str(keys.down_revision))  # ... and rolled back: the rows are as given
        assert upgrade(engine) is True
        assert _rows(engine) == before
        assert _refused_across_trials(engine) == dict.fromkeys(_ACROSS_TRIALS, True)
        with engine.connect() as connection:  # the keys are on again on SQLite after upgrading
            with pytest.raises(IntegrityError):
                connection.exec_driver_sql(_MISSING_CASE)
        downgrade(engine, str(keys.down_revision))
        assert _rows(engine) == before
        assert not any(_refused_across_trials(engine).values())
    finally:
        engine.dispose()
