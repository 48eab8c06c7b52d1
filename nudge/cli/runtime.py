"""What every command shares: the runtime (settings, engine, clock) and error printing."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import click
from sqlalchemy import Engine
from sqlmodel import Session

from nudge.clock import Clock, clock_from_setting
from nudge.config import Settings, load_settings
from nudge.db import ensure_schema, make_engine, session_scope
from nudge.errors import NudgeError


class UserMistake(click.ClickException):
    """A NudgeError on its way to the terminal: message only, exit status 1."""

    def format_message(self) -> str:
        return self.message

    def show(self, file: Any = None) -> None:
        click.echo(self.format_message(), err=True)


class NudgeGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NudgeError as exc:
            raise UserMistake(str(exc)) from None


@dataclass
class Runtime:
    """What every command needs, built on first use so `--help` touches no database."""

    _settings: Settings | None = None
    _engine: Engine | None = None
    _clock: Clock | None = None
    actor: str = field(default_factory=lambda: f"cli:{_user()}")

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings.database_url)
            ensure_schema(self._engine)
        return self._engine

    @property
    def clock(self) -> Clock:
        if self._clock is None:
            self._clock = clock_from_setting(self.settings.now)
        return self._clock

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    @contextmanager
    def session(self) -> Iterator[Session]:
        with session_scope(self.engine) as session:
            yield session


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


pass_runtime = click.make_pass_decorator(Runtime, ensure=True)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
