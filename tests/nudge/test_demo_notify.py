"""`nudge demo --provider notify`: the whole demo with texts and letters through GOV.UK Notify's
official client to the local fake Notify (nudge/fakes), whose receipts and the people's replies
reach the demo's app with the bearer token. Small (60 people), so it stays quick."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from pathlib import Path

from click.testing import CliRunner
from sqlmodel import Session, col, select

from nudge.cli import main
from nudge.db import make_engine
from nudge.models import InboundMessage, Message, MessageEvent

SIZE = 60


def test_the_demo_through_notify_sends_each_text_and_letter_once_and_hears_back(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "demo"
    result = CliRunner().invoke(
        main,
        ["demo", "--no-serve", "--size", str(SIZE), "--provider", "notify", "--dir", str(folder)],
    )
    assert result.exit_code == 0, result.output
    assert re.search(r"randomised", result.output)
    engine = make_engine(f"sqlite:///{folder / 'nudge-demo.db'}")
    with Session(engine) as session:
        went = session.exec(select(Message).where(col(Message.provider_id).is_not(None))).all()
        by_channel = Counter(m.channel for m in went)
        statuses = Counter((m.channel, m.status) for m in went)
        letter_events = session.exec(
            select(MessageEvent.provider_status).where(
                col(MessageEvent.message_id).in_([m.id for m in went if m.channel == "letter"])
            )
        ).all()
        inbound = session.exec(select(InboundMessage)).all()
    assert by_channel["sms"] > SIZE and by_channel["letter"] > 0
    for message in went:  # Notify's own ids, one notification each
        assert uuid.UUID(message.provider_id or "")
    assert len({m.provider_id for m in went}) == len(went)
    # Notify's receipts came back through /webhooks/notify/status with the bearer token.
    assert statuses[("sms", "delivered")] > 0
    assert statuses[("letter", "sent")] == by_channel["letter"]
    assert "received" in letter_events  # the printer posted them
    # Replies went through Notify's received-text callback into the same inbox.
    assert inbound and all(uuid.UUID(i.provider_id) for i in inbound)
    assert not list((folder / "letters").glob("*.pdf"))  # no print run: Notify posted them
