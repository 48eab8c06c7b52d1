"""Whose a text from a number in no trial is (nudge.scope.unmatched_replies_within): the
organisations whose trials send from the number it was sent to, however the trial's YAML
writes that number; with one organisation, that one's; otherwise, when no trial sends from
it, no one's."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlmodel import Session, col, select

from experiments import trials
from experiments.loader import LoadedTrial, load_trial_file
from messages.replies import handle_reply
from nudge.clock import FixedClock
from nudge.models import InboundMessage
from nudge.organisations import add_organisation
from nudge.scope import Scope, sender_organisations, unmatched_replies_within
from tests.conftest import EXAMPLE
from tests.trial_factories import TRIAL

EXAMPLE_FROM = 'sms_from: "+447700900000"'


def _trial(
    session: Session, clock: FixedClock, folder: Path, trial_id: str, org: str, sender: str
) -> None:
    folder.mkdir()
    shutil.copytree(EXAMPLE.parent / "letters", folder / "letters")
    text = EXAMPLE.read_text(encoding="utf-8").replace(TRIAL, trial_id)
    assert EXAMPLE_FROM in text
    (folder / "trial.yaml").write_text(text.replace(EXAMPLE_FROM, f'sms_from: "{sender}"'))
    loaded = load_trial_file(folder / "trial.yaml")
    assert isinstance(loaded, LoadedTrial), loaded
    trials.create_trial(session, clock, loaded, trials.Actor("test"), organisation=org)


def _stranger(session: Session, clock: FixedClock, sid: str, to: str) -> None:
    handle_reply(
        session, clock, provider_id=sid, from_number="+447700900777", to_number=to, body=sid
    )


def _seen(session: Session, scope: Scope) -> list[str]:
    within = unmatched_replies_within(session, scope, ["researcher"])
    query = select(InboundMessage.body).where(within).order_by(col(InboundMessage.body))
    return list(session.exec(query).all())


def test_an_unknown_numbers_text_belongs_to_the_area_whose_trials_send_from_where_it_went(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    north = add_organisation(session, clock, "north", "Northshire Police", "test")
    _stranger(session, clock, "to-anyone", "+447700900444")
    session.flush()
    assert north.id is not None
    alone = Scope(roles={north.id: "researcher"})
    assert _seen(session, alone) == ["to-anyone"]  # one organisation: every such text is its

    south = add_organisation(session, clock, "south", "Southshire Victim Service", "test")
    assert south.id is not None
    _trial(session, clock, tmp_path / "n", "north-trial", "north", "+447700900111")
    _trial(session, clock, tmp_path / "s", "south-trial", "south", "07700 900222")  # as written
    _trial(session, clock, tmp_path / "b", "shared-trial", "south", "+447700900111")
    for sid, to in (("to-north", "+447700900111"), ("to-south", "+447700900222")):
        _stranger(session, clock, sid, to)
    session.flush()
    assert sender_organisations(session) == {
        "+447700900111": {north.id, south.id},
        "+447700900222": {south.id},
    }
    assert _seen(session, alone) == ["to-north"]
    assert _seen(session, Scope(roles={south.id: "researcher"})) == ["to-north", "to-south"]
    assert _seen(session, Scope(roles={south.id: "lead"})) == []  # a lead reads no replies
    assert _seen(session, Scope(national=True)) == []  # national reads no personal data
