"""Files that would hang a command or lose its output: refused before anything changes.

Every file a command reads must be a regular file (`experiments/files.py::input_problem`), and
every file it writes is checked before any work (`output_problem`); `enrol --skip-invalid`
checks its rejects file before importing and writes it before the commit.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from click.testing import Result

import nudge.cli.enrolment
from experiments.csvfile import read_header
from nudge.errors import ImportRejected
from tests.conftest import EXAMPLE, Cli
from tests.factories import person, write_people

TRIAL = "witness-reminders-2027"
NOT_REGULAR = "is not a regular file (a pipe, device or socket could wait forever or never end)"


def unblocked(cli: Cli, fifo: Path, *arguments: str) -> Result:
    """Run the command; should it wait on the pipe, a writer's EOF frees it and the test fails."""
    result: list[Result] = []
    worker = threading.Thread(target=lambda: result.append(cli(*arguments)), daemon=True)
    worker.start()
    worker.join(60)  # a guard, not a timing assertion: the refusal needs no reading at all
    hung = worker.is_alive()
    if hung and fifo.exists():
        os.close(os.open(fifo, os.O_WRONLY))
        worker.join()
    assert not hung, f"{arguments} waited on the pipe"
    return result[0]


def readers(tmp_path: Path, bad: str) -> dict[str, list[str]]:
    good_csv = write_people(tmp_path / "good.csv", [person(1)])
    return {
        "enrol": ["enrol", TRIAL, bad],
        "hearings update": ["hearings", "update", TRIAL, bad],
        "milestones update": ["milestones", "update", TRIAL, bad],
        "outcomes import": ["outcomes", "import", TRIAL, bad],
        "analyse --data": ["analyse", "--data", bad, "--trial", str(EXAMPLE)],
        "analyse --trial": ["analyse", "--data", str(good_csv), "--trial", bad],
        "trial validate": ["trial", "validate", bad],
        "trial create": ["trial", "create", bad],
        "trial amend": ["trial", "amend", TRIAL, bad, "--reason", "r"],
    }


COMMANDS = list(readers(Path("/"), "x"))


@pytest.mark.parametrize("kind", ["a named pipe", "a device"])
@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_that_reads_a_file_refuses_a_pipe_or_a_device_without_waiting(
    launched: Cli, tmp_path: Path, command: str, kind: str
) -> None:
    fifo = tmp_path / "export.csv"
    os.mkfifo(fifo)
    bad = str(fifo) if kind == "a named pipe" else os.devnull
    before = launched.row_counts()
    result = unblocked(launched, fifo, *readers(tmp_path, bad)[command])
    assert result.exit_code != 0
    assert f"{bad}: {NOT_REGULAR}" in result.output
    assert "Traceback" not in result.output
    assert launched.row_counts() == before


def test_a_letter_file_that_is_a_pipe_is_refused_where_the_definition_names_it(
    cli: Cli, tmp_path: Path
) -> None:
    folder = tmp_path / "example"
    shutil.copytree(EXAMPLE.parent, folder)
    letter = folder / "letters" / "social_norm.md"
    letter.unlink()
    os.mkfifo(letter)
    result = unblocked(cli, letter, "trial", "validate", str(folder / EXAMPLE.name))
    assert result.exit_code == 1
    assert f"'letters/social_norm.md' {NOT_REGULAR}" in result.output


def test_the_csv_reader_refuses_a_pipe_for_callers_other_than_the_command_line(
    tmp_path: Path,
) -> None:
    fifo = tmp_path / "list.csv"
    os.mkfifo(fifo)
    with pytest.raises(ImportRejected, match="is not a regular file"):
        read_header(fifo, {})


@pytest.mark.parametrize("where", ["below a regular file", "a folder"])
def test_assignments_export_to_a_path_it_cannot_write_is_refused_clearly(
    launched: Cli, tmp_path: Path, where: str
) -> None:
    (tmp_path / "report.csv").write_text("kept\n")
    out = tmp_path / "report.csv" / "assignments.csv" if where != "a folder" else tmp_path
    result = launched("assignments", "export", TRIAL, "--out", str(out))
    assert result.exit_code == 2
    expected = (
        f"{tmp_path / 'report.csv'} is a file, not a folder"
        if out != tmp_path
        else f"'{tmp_path}' is a directory"
    )
    assert expected in result.output and "Traceback" not in result.output
    assert (tmp_path / "report.csv").read_text() == "kept\n"


def rejected_rows_file(tmp_path: Path, name: str = "people.csv") -> Path:
    return write_people(tmp_path / name, [person(1), person(2, phone="0117 496 0000"), person(3)])


def test_enrol_skip_invalid_refuses_before_importing_when_the_rejects_file_cannot_be_written(
    launched: Cli, tmp_path: Path
) -> None:
    path = rejected_rows_file(tmp_path)
    (tmp_path / "people.rejects.csv").mkdir()  # where the rejected rows would go
    result = launched.unchanged("enrol", TRIAL, str(path), "--skip-invalid")
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"{tmp_path / 'people.rejects.csv'}: is a folder; give a file name; --skip-invalid "
        "lists the rejected rows there, so nothing was imported (move the file to a folder "
        "you can write to)"
    )


def test_enrol_skip_invalid_refuses_a_file_whose_rejects_name_would_be_too_long(
    launched: Cli, tmp_path: Path
) -> None:
    path = rejected_rows_file(tmp_path, "p" * 236 + ".csv")  # 240 bytes: fits; the rejects don't
    result = launched.unchanged("enrol", TRIAL, str(path), "--skip-invalid")
    assert result.exit_code == 1
    assert "File name too long; --skip-invalid lists the rejected rows there" in result.output


def test_a_rejects_file_that_fails_while_written_leaves_the_database_unchanged(
    launched: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(*args: object, **kwargs: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(nudge.cli.enrolment, "write_file", disk_full)
    path = rejected_rows_file(tmp_path)
    result = launched.unchanged("enrol", TRIAL, str(path), "--skip-invalid")
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"{tmp_path / 'people.rejects.csv'}: could not write the rejected rows (No space left "
        "on device), so nothing was imported"
    )


def test_enrol_skip_invalid_writes_the_rejects_and_keeps_the_good_rows(
    launched: Cli, tmp_path: Path
) -> None:
    path = rejected_rows_file(tmp_path)
    result = launched("enrol", TRIAL, str(path), "--skip-invalid")
    assert result.exit_code == 0, result.output
    rejects = (tmp_path / "people.rejects.csv").read_text().splitlines()
    assert rejects[0].startswith("line,reason,") and rejects[1].startswith("3,phone:")
    assert launched.row_counts()["participant"] == 2
