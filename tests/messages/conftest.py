"""Fixtures for sending through the fake Twilio server (helpers in tests/messages/sending.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from messages.providers.twilio import TwilioProvider
from nudge.clock import FixedClock
from tests.conftest import EXAMPLE
from tests.factories import enrol_due_texts, fast_example
from tests.fakes.twilio_server import FakeTwilioServer
from tests.messages.sending import FIRST_DUE, twilio_provider


@pytest.fixture
def texts(session: Session, clock: FixedClock, tmp_path: Path) -> list[int]:
    """Twelve people enrolled in the example trial; the ids of the texts due first, with the
    clock at FIRST_DUE."""
    due = enrol_due_texts(session, clock, fast_example(tmp_path, EXAMPLE), 12, FIRST_DUE)
    clock.set(FIRST_DUE)
    return due


@pytest.fixture
def twilio(fake_twilio: FakeTwilioServer, clock: FixedClock) -> TwilioProvider:
    """The real twilio client against the fake, on the pinned clock."""
    return twilio_provider(fake_twilio, clock)
