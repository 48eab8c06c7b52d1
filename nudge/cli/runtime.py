"""What every command shares: the runtime (settings, engine, clock) and error printing."""

from __future__ import annotations

import gc
import getpass
import importlib
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple

import click

from experiments.characters import unstorable_message
from experiments.files import input_problem, output_problem
from nudge.clock import Clock, clock_from_setting
from nudge.config import Settings, load_settings
from nudge.errors import NudgeError, printable

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlmodel import Session


class InputFile(click.Path):
    """A file to read: it must be a regular file, never a pipe or device that would hang."""

    def __init__(self, *, exists: bool = True) -> None:
        super().__init__(dir_okay=False, path_type=Path, exists=exists)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = Path(os.fsdecode(super().convert(value, param, ctx)))
        problem = input_problem(path)
        if problem and (path.exists() or self.exists):
            self.fail(f"{printable(str(path))}: {problem}", param, ctx)
        return path


class OutputFile(click.Path):
    """A file to write: checked before any work, so a bad --out changes nothing."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = Path(os.fsdecode(super().convert(value, param, ctx)))
        problem = output_problem(path)
        if problem:
            self.fail(f"{printable(str(path))}: {problem}", param, ctx)
        return path


class StorableText(click.ParamType):
    """Text for the database: refused when it holds NUL or a lone surrogate.

    A command line argument that is not UTF-8 arrives with lone surrogates (Python's
    surrogateescape), which neither database can store nor psycopg encode.
    """

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        message = unstorable_message(value) if isinstance(value, str) else None
        if message:
            self.fail(message, param, ctx)
        return value


TEXT = StorableText()


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


def import_for_good(name: str) -> ModuleType:
    """Import a command's module, and what it imports, with the cyclic garbage collector paused.

    The modules' objects live as long as the process, but the collector, run every few hundred
    allocations, walked the growing heap of them again and again: about 0.1 s of `nudge
    dispatch`'s 0.8 s start (BENCHMARKS.md, issue 23). Once imported they are frozen (the
    collector no longer walks them) and it runs again as before.
    """
    if not gc.isenabled():  # a module importing another command's: the outer import resumes it
        return importlib.import_module(name)
    gc.disable()
    try:
        return importlib.import_module(name)
    finally:
        gc.freeze()
        gc.enable()


class Lazy(NamedTuple):
    """A subcommand imported only when it is run or asked for its own help.

    `summary` is the first paragraph of its help, so that listing the subcommands imports none
    of them (pip lists its commands the same way); a test checks it against the command's own.
    """

    target: str  # "module:attribute"
    summary: str


class LazyGroup(NudgeGroup):
    """A group whose subcommands' modules, and what they import, load on first use.

    Importing every module up front made each command, even `--help`, wait seconds for the
    whole analysis stack (issue 23).
    """

    def __init__(self, *args: Any, lazy: Mapping[str, Lazy], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        module, attribute = self.lazy[cmd_name].target.split(":")
        command = getattr(import_for_good(module), attribute)
        assert isinstance(command, click.Command), self.lazy[cmd_name].target
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.NoSuchCommand as exc:  # click suggests only from self.commands
            raise click.NoSuchCommand(
                exc.command_name, possibilities=self.list_commands(ctx), ctx=ctx
            ) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        listed = click.Group(commands=self.commands)
        for name, lazy in self.lazy.items():
            listed.add_command(click.Command(name, help=lazy.summary))
        listed.format_commands(ctx, formatter)


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
            from nudge.db import make_engine, prepare_schema  # Alembic: only when a command asks

            engine = make_engine(self.settings.database_url)
            prepare_schema(engine, migrate=self.settings.migrates_at_start)
            self._engine = engine
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
        from nudge.db import session_scope

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
