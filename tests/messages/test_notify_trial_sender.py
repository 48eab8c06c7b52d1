"""A trial names its own GOV.UK Notify text sender (`sending.notify_sms_sender_id`), checked at
validation with its location; its texts reach Notify from it, others from NOTIFY_SMS_SENDER_ID."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from messages.providers.notify import NotifyProvider
from nudge.clock import FixedClock
from tests.conftest import EXAMPLE, PINNED
from tests.experiments.test_definition_rules import BASE, assert_refused_at, problems_for
from tests.factories import enrol_due_texts, fast_example
from tests.fakes.notify_server import FakeNotifyServer
from tests.fakes.notify_state import (
    FAKE_API_KEY,
    FAKE_SENDER_ID,
    FAKE_TEMPLATE_ID,
    FAKE_TRIAL_SENDER_ID,
    FakeNotifyState,
)
from tests.messages.sending import FIRST_DUE, send_due


@pytest.fixture
def fake_notify(clock: FixedClock) -> Iterator[FakeNotifyServer]:
    with FakeNotifyServer(FakeNotifyState(now=clock.now)) as fake:
        yield fake


@pytest.mark.parametrize("given", ["Nudge", "3c4a3d5e-5b7a-4c0e-9d5f", "not-an-id-at-all"])
def test_a_notify_sender_that_is_not_a_notify_id_is_refused_where_it_is(
    tmp_path: Path, given: str
) -> None:
    assert_refused_at(
        tmp_path,
        BASE + f"sending:\n  notify_sms_sender_id: {given}\n",
        f"trial.yaml:18:25: sending.notify_sms_sender_id: '{given}' is not a Notify id; copy it "
        "from the text message sender's page in GOV.UK Notify",
    )


def test_a_notify_id_is_accepted_as_the_trials_sender(tmp_path: Path) -> None:
    text = BASE + f"sending:\n  notify_sms_sender_id: {FAKE_TRIAL_SENDER_ID}\n"
    assert problems_for(tmp_path, text) == []


@pytest.mark.parametrize(
    ("named", "expected"), [(FAKE_TRIAL_SENDER_ID, FAKE_TRIAL_SENDER_ID), (None, FAKE_SENDER_ID)]
)
def test_each_text_reaches_notify_from_the_trials_sender_or_else_the_setting(
    engine: Engine,
    session: Session,
    clock: FixedClock,
    tmp_path: Path,
    fake_notify: FakeNotifyServer,
    named: str | None,
    expected: str,
) -> None:
    definition = fast_example(tmp_path, EXAMPLE)
    if named is not None:
        text = definition.read_text(encoding="utf-8")
        definition.write_text(
            text.replace("sending:\n", f"sending:\n  notify_sms_sender_id: {named}\n", 1),
            encoding="utf-8",
        )
    due = enrol_due_texts(session, FixedClock(PINNED), definition, 12, FIRST_DUE)
    clock.set(FIRST_DUE)
    provider = NotifyProvider(
        FAKE_API_KEY, FAKE_TEMPLATE_ID, sender_id=FAKE_SENDER_ID, base_url=fake_notify.url
    )
    assert send_due(engine, clock, provider).sent == len(due) > 0  # type: ignore[arg-type]
    assert set(fake_notify.state.sent_from.values()) == {expected}
