"""`nudge replies`: the platform operator lists the replies no organisation can be told (the
sender's number masked, the text's length, never the text), reads one (audited, the text kept
off the audit log) and places it with an organisation, whose researchers alone then see it in
their *Replies from numbers in no trial* queue. A mistake is one line, exit 1, nothing changed;
nothing is logged that holds a number or a text."""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

import pytest
from flask import Flask
from sqlmodel import Session, col, select

from experiments import trials
from experiments.loader import LoadedTrial, load_trial_file
from messages.replies import handle_reply
from nudge.clock import FixedClock
from nudge.models import AuditEvent, InboundMessage
from nudge.organisations import add_organisation
from nudge.scope import Scope, unmatched_replies_within
from tests.conftest import EXAMPLE, PINNED, Cli
from tests.web_helpers import add_staff, csrf_token, post_login

RECEIVED = PINNED.isoformat()  # every text arrives on the pinned clock
EXAMPLE_FROM = 'sms_from: "+447700900000"'
NORTH_NUMBER = "+447700900111"
POOL = "+447700900555"  # a number no trial sends from (a messaging service's pool, say)
LOST = ("SMlost", "+447700900777", POOL, "I am frightened to go to court. Please call me.")
ALSO_LOST = ("SMalso", "+447700900778", "+447700900556", "Wrong number?")
TO_NORTH = ("SMnorth", "+447700900779", NORTH_NUMBER, "Where do I park?")
SOUTH = {"researcher": "sue.researcher@example.org"}
NORTH = {"researcher": "nat.researcher@example.org"}


@pytest.fixture
def areas(session: Session, clock: FixedClock, tmp_path: Path) -> dict[str, int]:
    """North, whose trial sends from NORTH_NUMBER, and South; three strangers' texts. The ids of
    the replies, by provider id."""
    add_organisation(session, clock, "north", "Northshire Police", "test")
    add_organisation(session, clock, "south", "Southshire Victim Service", "test")
    add_staff(session, clock, "north", NORTH)
    add_staff(session, clock, "south", SOUTH)
    folder = tmp_path / "north-trial"
    folder.mkdir()
    shutil.copytree(EXAMPLE.parent / "letters", folder / "letters")
    text = EXAMPLE.read_text(encoding="utf-8")
    assert EXAMPLE_FROM in text
    (folder / "trial.yaml").write_text(text.replace(EXAMPLE_FROM, f'sms_from: "{NORTH_NUMBER}"'))
    loaded = load_trial_file(folder / "trial.yaml")
    assert isinstance(loaded, LoadedTrial), loaded
    trials.create_trial(session, clock, loaded, trials.Actor("test"), organisation="north")
    for sid, sender, to, body in (LOST, ALSO_LOST, TO_NORTH):
        handle_reply(session, clock, provider_id=sid, from_number=sender, to_number=to, body=body)
    session.commit()
    return dict(session.exec(select(InboundMessage.provider_id, InboundMessage.id)).all())


def seen_by(session: Session, organisation_slug: str) -> list[str]:
    """The bodies of the unmatched replies a researcher of the organisation sees."""
    from nudge.organisations import organisation_by_slug

    session.expire_all()
    found = organisation_by_slug(session, organisation_slug)
    assert found.id is not None
    within = unmatched_replies_within(
        session, Scope(roles={found.id: "researcher"}), ["researcher"]
    )
    query = select(InboundMessage.body).where(within).order_by(col(InboundMessage.id))
    return list(session.exec(query).all())


def test_unplaced_lists_them_with_the_sender_masked_and_no_text(
    cli: Cli, areas: dict[str, int]
) -> None:
    result = cli("replies", "unplaced")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["ID", "RECEIVED", "(UTC)", "SENT", "TO", "FROM", "LENGTH"]
    assert [line.split() for line in lines[1:3]] == [
        [
            str(areas["SMlost"]),
            RECEIVED,
            POOL,
            "**********777",
            str(len(LOST[3])),
        ],
        [str(areas["SMalso"]), RECEIVED, ALSO_LOST[2], "**********778", "13"],
    ]
    assert "+447700900777" not in result.output and "frightened" not in result.output
    assert "Where do I park" not in result.output  # North's by its number: not unplaced
    listed = json.loads(cli("replies", "unplaced", "--json").stdout)
    assert listed == [
        {
            "id": areas["SMlost"],
            "received_at": RECEIVED,
            "to_number": POOL,
            "from_masked": "**********777",
            "length": len(LOST[3]),
        },
        {
            "id": areas["SMalso"],
            "received_at": RECEIVED,
            "to_number": ALSO_LOST[2],
            "from_masked": "**********778",
            "length": len(ALSO_LOST[3]),
        },
    ]


def test_show_prints_the_text_and_audits_the_look_without_it(
    cli: Cli, areas: dict[str, int], session: Session
) -> None:
    reply_id = areas["SMlost"]
    result = cli("replies", "show", str(reply_id))
    assert result.exit_code == 0, result.output
    assert result.output == (f"reply {reply_id}, received {RECEIVED}, sent to {POOL}:\n{LOST[3]}\n")
    event = session.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc())).first()
    assert event is not None
    assert (event.actor.split(":")[0], event.action, event.subject, event.details) == (
        "cli",
        "reply.read_unplaced",
        None,
        {"reply_id": reply_id},
    )


def test_placing_gives_it_to_that_organisations_researchers_alone(
    cli: Cli, areas: dict[str, int], session: Session
) -> None:
    reply_id = areas["SMlost"]
    assert seen_by(session, "south") == []  # no one's, before
    assert seen_by(session, "north") == [TO_NORTH[3]]
    result = cli("replies", "place", str(reply_id), "--org", "south")
    assert (result.exit_code, result.output) == (
        0,
        f"reply {reply_id} placed with south: its researchers see it at /replies\n",
    )
    assert seen_by(session, "south") == [LOST[3]]
    assert seen_by(session, "north") == [TO_NORTH[3]]  # and not North's
    within = unmatched_replies_within(session, Scope(national=True), ["researcher", "lead"])
    assert session.exec(select(InboundMessage.id).where(within)).all() == []
    event = session.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc())).first()
    assert event is not None
    assert (event.actor.split(":")[0], event.action, event.subject, event.details) == (
        "cli",
        "reply.placed",
        "south",
        {"reply_id": reply_id},
    )
    assert [r["id"] for r in json.loads(cli("replies", "unplaced", "--json").stdout)] == [
        areas["SMalso"]
    ]


def test_a_placed_reply_is_in_the_organisations_queue_and_another_area_cannot_handle_it(
    cli: Cli, areas: dict[str, int], app: Flask
) -> None:
    assert cli("replies", "place", str(areas["SMlost"]), "--org", "south").exit_code == 0
    south, north = app.test_client(), app.test_client()
    assert post_login(south, SOUTH["researcher"]).status_code == 302
    assert post_login(north, NORTH["researcher"]).status_code == 302
    assert "I am frightened to go to court" in south.get("/replies").get_data(as_text=True)
    assert "frightened" not in north.get("/replies").get_data(as_text=True)
    form = {"csrf_token": csrf_token(north, "/"), "note": "Called back", "show": "open"}
    assert north.post(f"/replies/{areas['SMlost']}/handled", data=form).status_code == 404
    form["csrf_token"] = csrf_token(south, "/")
    assert south.post(f"/replies/{areas['SMlost']}/handled", data=form).status_code == 302


def test_with_one_organisation_no_reply_is_unplaced(
    cli: Cli, session: Session, clock: FixedClock
) -> None:
    add_organisation(session, clock, "north", "Northshire Police", "test")
    handle_reply(
        session, clock, provider_id=LOST[0], from_number=LOST[1], to_number=LOST[2], body=LOST[3]
    )
    session.commit()
    assert cli("replies", "unplaced").output == "no unplaced replies\n"
    assert json.loads(cli("replies", "unplaced", "--json").stdout) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", "999999"), "no reply 999999: `nudge replies unplaced` lists them"),
        (
            ("place", "999999", "--org", "south"),
            "no reply 999999: `nudge replies unplaced` lists them",
        ),
        (
            ("show", "{SMnorth}"),
            "reply {SMnorth} is not unplaced: an organisation's researchers see it already (a "
            "trial sends from the number it was sent to, or there is only one organisation)",
        ),
        (
            ("place", "{SMnorth}", "--org", "south"),
            "reply {SMnorth} is not unplaced: an organisation's researchers see it already (a "
            "trial sends from the number it was sent to, or there is only one organisation)",
        ),
        (
            ("place", "{SMlost}", "--org", "west"),
            "no organisation 'west' (organisations here: north, south)",
        ),
        (
            ("place", "{SMplaced}", "--org", "north"),
            "reply {SMplaced} is not unplaced: it was placed with south already",
        ),
        (
            ("show", "{SMplaced}"),
            "reply {SMplaced} is not unplaced: it was placed with south already",
        ),
    ],
)
def test_a_mistake_is_one_line_exit_1_and_changes_nothing(
    cli: Cli, areas: dict[str, int], args: tuple[str, ...], message: str
) -> None:
    assert cli("replies", "place", str(areas["SMalso"]), "--org", "south").exit_code == 0
    ids = {**areas, "SMplaced": areas["SMalso"]}
    result = cli.unchanged("replies", *(a.format(**ids) for a in args))
    assert (result.exit_code, result.output) == (1, message.format(**ids) + "\n")


@pytest.mark.usefixtures("areas")
def test_an_id_that_is_not_a_number_or_a_missing_org_is_a_usage_error(cli: Cli) -> None:
    for args in (("show", "twelve"), ("place", "1")):
        result = cli.unchanged("replies", *args)
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output


def test_nothing_logged_holds_a_number_or_a_text(
    cli: Cli, areas: dict[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        cli("replies", "unplaced")
        cli("replies", "unplaced", "--json")
        cli("replies", "show", str(areas["SMlost"]))
        cli("replies", "place", str(areas["SMlost"]), "--org", "south")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert not re.search(r"7700\s?900", logged), logged
    assert "frightened" not in logged and "Wrong number" not in logged
