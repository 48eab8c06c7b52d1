"""The status callback's lookup table of ranks, checked as a table."""

from __future__ import annotations

from messages.callbacks import RANK
from nudge.models import MessageStatus


def test_every_status_a_message_can_have_has_a_rank() -> None:
    assert set(RANK) == set(MessageStatus)
