"""Every CSV Nudge writes is safe to open in a spreadsheet, and is never left half-written.

Hostile values (=HYPERLINK(...), +, -, @, tab and CR prefixes) go in through a real import
and come out of the assignments export and the rejects file as text, never as formulas.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from experiments.keys import normalise_key
from nudge.csvout import FORMULA_STARTS, safe_cell, write_file
from tests.conftest import Cli
from tests.factories import person, write_people

TRIAL = "witness-reminders-2027"
HOSTILE = [
    '=HYPERLINK("http://x.example","y")',
    "+SUM(1)",
    "-2+3",
    "@cmd",
    "\t=2",
    "\r=3",
    "=4",
    "x\r=5",
    "y\n=6",
]


def cells(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def assert_no_formula(rows: list[list[str]]) -> None:
    live = [c for row in rows for c in row if c.startswith(FORMULA_STARTS) and not is_number(c)]
    assert live == [], "a cell a spreadsheet would run as a formula"


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_value_is_written_as_text_and_reads_back_unchanged(
    tmp_path: Path, value: str
) -> None:
    path = tmp_path / "out.csv"
    write_file(path, ["a", value], [[value, 1], [-5, value]])
    rows = cells(path)
    assert_no_formula(rows)
    assert [c.removeprefix("'") for c in rows[1]] == [value, "1"] and rows[2][0] == "-5"
    assert safe_cell(-5) == -5 and safe_cell(None) == ""


def test_a_write_that_fails_half_way_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("the previous export\n")

    def rows() -> Iterator[list[str]]:
        yield ["one"]
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        write_file(path, ["a"], rows())
    assert path.read_text() == "the previous export\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


@pytest.fixture
def hostile_trial(cli: Cli, tmp_path: Path) -> Path:
    """A live trial whose people carry hostile references, names and courts."""
    cli.launch_example()
    rows = [
        person(i, participant_ref=value, case_ref=value, court=value, first_name=value)
        for i, value in enumerate(HOSTILE)
    ]
    rows += [person(90 + i, phone="not a phone", last_name=v) for i, v in enumerate(HOSTILE)]
    return write_people(tmp_path / "people.csv", rows)


def test_the_assignments_export_and_the_rejects_file_escape_every_hostile_value(
    cli: Cli, tmp_path: Path, hostile_trial: Path
) -> None:
    result = cli("enrol", TRIAL, str(hostile_trial), "--skip-invalid")
    assert result.exit_code == 0, result.output
    rejects = cells(tmp_path / "people.rejects.csv")
    assert len(rejects) == 1 + len(HOSTILE)
    assert_no_formula(rejects)
    out = tmp_path / "assignments.csv"
    assert cli("assignments", "export", TRIAL, "--out", str(out)).exit_code == 0
    exported = cells(out)
    assert len(exported) == 1 + len(HOSTILE)
    assert_no_formula(exported)
    refs = {row[0].removeprefix("'") for row in exported[1:]}
    # Imports normalise each reference (trimmed, a run of spaces or line breaks one space).
    assert refs == {normalise_key(v) for v in HOSTILE}
    stdout = cli("assignments", "export", TRIAL).output
    assert_no_formula(list(csv.reader(stdout.splitlines())))


def test_a_spreadsheet_csv_starts_with_the_byte_order_mark_and_others_do_not() -> None:
    import io
    from decimal import Decimal

    from nudge.csvout import write_rows

    for mark in (True, False):
        stream = io.StringIO()
        write_rows(stream, ["Cost (£)"], [[Decimal("-1.10")]], byte_order_mark=mark)
        text = stream.getvalue()
        assert text.startswith("\ufeff") is mark
        # A negative number stays a number: only text is escaped.
        assert text.removeprefix("\ufeff") == "Cost (£)\r\n-1.10\r\n"
