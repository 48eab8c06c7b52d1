"""The demo's own folder: a fresh SQLite database, outbox and letters on every run."""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from nudge.config import Settings
from nudge.errors import ConfigError

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

    def settings(self, public_url: str) -> Settings:
        """The embedded defaults: this folder's SQLite file, the console provider with fake
        callbacks to the demo's own web app, and a secret made for this run."""
        return Settings(
            database_url=self.database_url,
            secret_key=secrets.token_hex(32),
            sms_provider="console",
            public_url=public_url,
            outbox_dir=self.outbox,
            fake_callbacks=True,
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
