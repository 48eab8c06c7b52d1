"""A command loads what it uses and no more: `nudge --help`, `nudge dispatch` (a cron job, every
minute) and the web app start without the analysis stack, which took them seconds (issue 23).

Each probe runs in a fresh interpreter, since this one has long since imported everything. The
command line imports each subcommand's module on first use, so the rest checks that this
laziness hides no command: every one is listed, with its own words, and answers `--help`.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import nudge.cli
from nudge.cli import COMMANDS, main
from nudge.cli.runtime import import_for_good
from tests.conftest import ROOT

ANALYSIS_STACK = ("pandas", "scipy", "statsmodels")
ANALYSIS_COMMANDS = {"analyse", "interim"}  # the commands that are the analysis


def loaded_after(
    code: str, packages: tuple[str, ...], env: dict[str, str] | None = None
) -> list[str]:
    """Which of `packages` are loaded once `code` has run in a fresh interpreter."""
    probe = (
        "\nimport json, sys\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(packages)!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code + probe], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout.splitlines()[-1]))


def analysis_stack_after(code: str, env: dict[str, str] | None = None) -> list[str]:
    """The analysis stack's packages loaded once `code` has run in a fresh interpreter."""
    return loaded_after(code, ANALYSIS_STACK, env)


def env_for(db_url: str, tmp_path: Path) -> dict[str, str]:
    """This environment on the test's database with the console provider, no other NUDGE_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUDGE_")}
    env.update(
        NUDGE_DATABASE_URL=db_url,
        NUDGE_SMS_PROVIDER="console",
        NUDGE_OUTBOX_DIR=str(tmp_path / "outbox"),
    )
    return env


def test_importing_the_command_line_and_its_help_load_no_analysis_stack() -> None:
    code = "from nudge.cli import main\nmain(['--help'], standalone_mode=False)"
    assert analysis_stack_after(code) == []


def test_dispatch_with_nothing_due_loads_no_analysis_stack(db_url: str, tmp_path: Path) -> None:
    code = "from nudge.cli import main\nmain(['dispatch'], standalone_mode=False)"
    assert analysis_stack_after(code, env_for(db_url, tmp_path)) == []


def test_only_the_analysis_commands_load_the_analysis_stack() -> None:
    others = sorted(set(COMMANDS) - ANALYSIS_COMMANDS)
    code = (
        "import click\nfrom nudge.cli import main\n"
        f"for name in {others!r}:\n    main.get_command(click.Context(main), name)"
    )
    assert analysis_stack_after(code) == []


def test_the_probe_sees_the_analysis_stack_when_it_is_loaded() -> None:
    assert analysis_stack_after("import scipy.stats") == ["scipy"]


def test_building_the_web_app_loads_no_analysis_stack(db_url: str, tmp_path: Path) -> None:
    code = "from nudge.web import create_app\ncreate_app()"
    assert analysis_stack_after(code, env_for(db_url, tmp_path)) == []


@pytest.mark.parametrize(
    "code",
    [
        "from nudge.cli import main\nmain(['dispatch'], standalone_mode=False)",
        "from nudge.web import create_app\ncreate_app()",
    ],
    ids=["dispatch", "web app"],
)
def test_a_current_schema_is_checked_without_loading_the_migrations(
    code: str, db_url: str, tmp_path: Path
) -> None:
    """Whether the database is at this release's revision is one query (nudge.db's
    HEAD_REVISION): Alembic and the migration scripts are loaded only to migrate."""
    assert loaded_after(code, ("alembic",), env_for(db_url, tmp_path)) == []


def test_validating_a_definition_loads_no_database_stack() -> None:
    """`nudge trial validate` checks a file: SQLAlchemy and the models are not needed."""
    example = ROOT / "experiments" / "examples" / "witness-reminders.yaml"
    code = (
        "from nudge.cli import main\n"
        f"main(['trial', 'validate', {str(example)!r}], standalone_mode=False)"
    )
    assert loaded_after(code, ("sqlalchemy", "sqlmodel", "alembic")) == []


def test_the_probe_sees_alembic_when_a_command_migrates(tmp_path: Path) -> None:
    env = env_for(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path) | {"NUDGE_AUTO_MIGRATE": "1"}
    code = "from nudge.cli import main\nmain(['dispatch'], standalone_mode=False)"
    assert loaded_after(code, ("alembic",), env) == ["alembic"]


def defined_commands() -> dict[str, click.Command]:
    """Every top-level command the nudge.cli modules define: not a subcommand of a group."""
    found: dict[int, click.Command] = {}
    for module in pkgutil.iter_modules(nudge.cli.__path__, "nudge.cli."):
        names = vars(importlib.import_module(module.name)).values()
        found.update({id(c): c for c in names if isinstance(c, click.Command)})
    nested = {
        id(sub) for c in found.values() if isinstance(c, click.Group) for sub in c.commands.values()
    }
    return {c.name: c for key, c in found.items() if key not in nested and c.name}


def test_help_lists_every_command_the_modules_define_with_its_own_summary() -> None:
    defined = defined_commands()
    listed = CliRunner().invoke(main, ["--help"]).output.split("Commands:\n", 1)[1]
    assert sorted(line.split()[0] for line in listed.splitlines()) == sorted(
        set(defined) | set(main.commands)
    )
    for name, lazy in COMMANDS.items():
        command = defined[name]
        assert command.callback is not None
        assert lazy.target == f"{command.callback.__module__}:{command.callback.__name__}"
        written = click.Command(name, help=lazy.summary).get_short_help_str(limit=1000)
        assert written == command.get_short_help_str(limit=1000), f"COMMANDS[{name!r}].summary"


def command_paths(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command's words after `nudge`, groups and their subcommands alike."""
    context = click.Context(group)
    paths = []
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None, name
        paths.append((*path, name))
        if isinstance(command, click.Group):
            paths += command_paths(command, (*path, name))
    return paths


@pytest.mark.parametrize("path", command_paths(main), ids=" ".join)
def test_every_command_answers_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"], prog_name="nudge")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: nudge {' '.join(path)} ")


def test_a_mistyped_command_is_offered_the_lazily_loaded_one() -> None:
    result = CliRunner().invoke(main, ["dispach"], prog_name="nudge")
    assert result.exit_code == 2
    assert "No such command 'dispach'. Did you mean 'dispatch'?" in result.output


def test_a_command_module_is_imported_with_the_collector_paused_then_frozen_and_resumed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The collector walking the import's objects again and again was a tenth of dispatch's
    # start; the command itself (dispatch's loop, an import) must run with it on.
    (tmp_path / "gc_probe_module.py").write_text(
        "import gc\nCOLLECTING_DURING_IMPORT = gc.isenabled()\n", encoding="utf-8"
    )
    (tmp_path / "gc_probe_broken.py").write_text("raise RuntimeError('broken')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        module = import_for_good("gc_probe_module")
        assert module.COLLECTING_DURING_IMPORT is False
        assert gc.isenabled() and gc.get_freeze_count() > 0
        with pytest.raises(RuntimeError, match="broken"):
            import_for_good("gc_probe_broken")
        assert gc.isenabled()
    finally:
        gc.unfreeze()
        sys.modules.pop("gc_probe_module", None)
        gc.enable()
