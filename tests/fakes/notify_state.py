"""The fake GOV.UK Notify's state, kept in the product (nudge/fakes/notify_state.py) since the
demo runs against it too; re-exported here so tests import their fakes from one place."""

from __future__ import annotations

from nudge.fakes.notify_state import (
    FAKE_API_KEY,
    FAKE_CALLBACK_TOKEN,
    FAKE_SECRET,
    FAKE_SENDER_ID,
    FAKE_SERVICE_ID,
    FAKE_TEMPLATE_ID,
    FAKE_TRIAL_SENDER_ID,
    FakeNotifyState,
    NotifyError,
    NotifyFaults,
)

__all__ = [
    "FAKE_API_KEY",
    "FAKE_CALLBACK_TOKEN",
    "FAKE_SECRET",
    "FAKE_SENDER_ID",
    "FAKE_SERVICE_ID",
    "FAKE_TEMPLATE_ID",
    "FAKE_TRIAL_SENDER_ID",
    "FakeNotifyState",
    "NotifyError",
    "NotifyFaults",
]
