"""The embedded default: texts go to a JSON-lines file per day, not to phones.

The log line names only our message id and the provider id: never the number or the text.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from datetime import datetime
from pathlib import Path

from messages.providers.base import OutgoingSms, SendReceipt, SentRecord
from nudge.clock import Clock

log = logging.getLogger(__name__)


class ConsoleProvider:
    name = "console"

    def __init__(self, outbox_dir: Path, clock: Clock) -> None:
        self.outbox_dir, self.clock = outbox_dir, clock

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
        return SendReceipt(provider_id, "sent")

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
