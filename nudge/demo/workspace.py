"""The demo's own folder: a fresh SQLite database, outbox and letters on every run."""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from nudge.config import Settings
from nudge.errors import ConfigError

if TYPE_CHECKING:
    from nudge.fakes.notify_server import FakeNotifyServer

MARKER = ".nudge-demo"
DATABASE = "nudge-demo.db"


@dataclass(frozen=True)
class Workspace:
    """Where one demo run keeps everything it writes."""

    root: Path

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.root / DATABASE}"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def letters(self) -> Path:
        return self.root / "letters"

    @property
    def files(self) -> Path:
        """The CSV files the demo imports, as staff would: export, court lists, outcomes."""
        return self.root / "files"

    def settings(self, public_url: str, notify: FakeNotifyServer | None = None) -> Settings:
        """The embedded defaults: this folder's SQLite file, the console provider with fake
        callbacks to the demo's own web app, and a secret made for this run; or, given a local
        fake Notify, texts and letters through Notify with its test key and callback token."""
        settings = Settings(
            database_url=self.database_url,
            secret_key=secrets.token_hex(32),
            sms_provider="console",
            public_url=public_url,
            outbox_dir=self.outbox,
            fake_callbacks=True,
        )
        if notify is None:
            return settings
        from nudge.fakes.notify_state import FAKE_API_KEY, FAKE_SENDER_ID, FAKE_TEMPLATE_ID

        assert notify.callbacks is not None
        return replace(
            settings,
            sms_provider="notify",
            letter_provider="notify",
            notify_api_key=FAKE_API_KEY,
            notify_sms_template_id=FAKE_TEMPLATE_ID,
            notify_sms_sender_id=FAKE_SENDER_ID,
            notify_base_url=notify.url,
            notify_callback_token=notify.callbacks.token,
            fake_callbacks=False,
        )


def fresh_workspace(root: Path) -> Workspace:
    """Empty `root` for a new run; refuse a folder that an earlier demo did not make."""
    root = root.resolve()
    if root.exists():
        if not root.is_dir() or (any(root.iterdir()) and not (root / MARKER).exists()):
            raise ConfigError(
                f"{root} exists and was not made by `nudge demo`, so it is left alone: "
                "remove it or choose another folder with --dir"
            )
        shutil.rmtree(root)
    for folder in (root, root / "outbox", root / "letters", root / "files"):
        folder.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text(
        "Made by `nudge demo`; the next run deletes and remakes this folder.\n", encoding="utf-8"
    )
    return Workspace(root)
