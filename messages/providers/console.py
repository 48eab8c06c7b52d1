"""The embedded default: texts go to a JSON-lines file per day, not to phones.

The log line names only our message id and the provider id: never the number or the text.
With a CallbackPoster (NUDGE_FAKE_CALLBACKS=1) each text is followed by signed status
callbacks, as a real provider would post them (see fake_callbacks.py).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from datetime import datetime
from pathlib import Path

from messages.providers.base import OutgoingSms, SendReceipt, SentRecord
from messages.providers.fake_callbacks import CallbackPoster
from nudge.clock import Clock

log = logging.getLogger(__name__)


class ConsoleProvider:
    name = "console"

    def __init__(
        self, outbox_dir: Path, clock: Clock, callbacks: CallbackPoster | None = None
    ) -> None:
        self.outbox_dir, self.clock, self.callbacks = outbox_dir, clock, callbacks

    def send(self, sms: OutgoingSms) -> SendReceipt:
        now = self.clock.now()
        provider_id = "SM" + secrets.token_hex(16)
        record = {
            "message_id": sms.message_id,
            "provider_id": provider_id,
            "to": sms.to,
            "from": sms.sender,
            "body": sms.body,
            "sent_at": now.isoformat(),
        }
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        # One write of one line with O_APPEND: concurrent workers never interleave a record.
        descriptor = os.open(self._file(now), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(descriptor, line)
        finally:
            os.close(descriptor)
        log.info("console SMS for message %s written as %s", sms.message_id, provider_id)
        if self.callbacks is not None:
            self.callbacks.queue_for(sms, provider_id)
        return SendReceipt(provider_id, "sent")

    def drain(self) -> None:
        """Wait until the fake callbacks for every text written so far have been posted."""
        if self.callbacks is not None:
            self.callbacks.drain()

    def close(self) -> None:
        if self.callbacks is not None:
            self.callbacks.close()

    def find_sent(self, to: str, since: datetime) -> list[SentRecord]:
        found = []
        for path in sorted(self.outbox_dir.glob("sms-*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                record = json.loads(line)
                sent_at = datetime.fromisoformat(record["sent_at"])
                if record["to"] == to and sent_at >= since:
                    found.append(
                        SentRecord(record["provider_id"], to, record["body"], "sent", sent_at)
                    )
        return found

    def _file(self, now: datetime) -> Path:
        return self.outbox_dir / f"sms-{now:%Y-%m-%d}.jsonl"
