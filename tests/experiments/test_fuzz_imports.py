"""Participants, hearings and outcomes CSVs fuzzed: a located error or a clean import, no crash.

Random bytes, wrong encodings, NUL and other control characters, ragged rows, huge fields,
huge headers and formula prefixes in every cell, through the real commands (`nudge enrol`,
`nudge hearings update`, `nudge outcomes import`) on the engine under test. Whenever an
import is refused, every line it prints names the file, and the database is unchanged.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest
from click.testing import Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from nudge.clock import FixedClock
from tests.conftest import EXAMPLE, Cli
from tests.experiments.test_fuzz_definition import time_limit
from tests.factories import PEOPLE_COLUMNS, launch, person, row_counts, write_people

TRIAL = "witness-reminders-2027"
FUZZ = settings(
    max_examples=int(os.environ.get("NUDGE_FUZZ_EXAMPLES", "25")),
    deadline=None,
    derandomize=os.environ.get("CI", "").lower() == "true",
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
COMMANDS = {
    "enrol": ("enrol", TRIAL),
    "hearings": ("hearings", "update", TRIAL),
    "outcomes": ("outcomes", "import", TRIAL),
}
HEADERS = {
    "enrol": PEOPLE_COLUMNS,
    "hearings": ["case_ref", "hearing_start", "status"],
    "outcomes": ["participant_ref", "case_ref", "attended", "withdrew"],
}
GOOD_ROWS = {
    "enrol": [person(50)[c] for c in PEOPLE_COLUMNS],
    "hearings": ["C00001", "2027-03-05T10:00", "adjourned"],
    "outcomes": ["P00001", "C00001", "yes", ""],
}
FORMULAS = ['=HYPERLINK("http://x.example","y")', "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1"]
CELLS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(FORMULAS),
    st.sampled_from(["\x00", "a\x00b", "\x1b[31m", "\ufeff", "\u2028", "yes", "", " "]),
)


@pytest.fixture
def trial(session: Session, clock: FixedClock, tmp_path: Path) -> str:
    """A live trial with three people enrolled, so hearings and outcomes have cases to match."""
    launch(session, clock, EXAMPLE)
    path = write_people(tmp_path / "enrolled.csv", [person(i) for i in range(1, 4)])
    assert (
        Cli(session.get_bind().url.render_as_string(False), tmp_path)(
            "enrol", TRIAL, str(path)
        ).exit_code
        == 0
    )
    return TRIAL


def counts(session: Session) -> dict[str, int]:
    found = row_counts(session)
    session.rollback()  # end the read, so the command under test never waits on it
    return found


def assert_clean(cli: Cli, session: Session, kind: str, path: Path, content: bytes) -> Result:
    """Run one import of CONTENT: exit 0, or exit 1 with located lines and nothing changed."""
    path.write_bytes(content)
    before = counts(session)
    with time_limit(60):
        result = cli(*COMMANDS[kind], str(path))
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output
    if result.exit_code == 1:
        assert counts(session) == before, "a refused import changed the database"
        unlocated = [line for line in result.output.splitlines() if not line.startswith(f"{path}")]
        assert unlocated == [], result.output
    return result


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    stream = io.StringIO()
    csv.writer(stream).writerows(rows)
    return stream.getvalue().encode(encoding, errors="surrogatepass")


@FUZZ
@given(kind=st.sampled_from(list(COMMANDS)), content=st.binary(max_size=2000))
def test_random_bytes_get_a_located_refusal(
    cli: Cli, session: Session, trial: str, tmp_path: Path, kind: str, content: bytes
) -> None:
    assert_clean(cli, session, kind, tmp_path / "file.csv", content)


@FUZZ
@given(
    kind=st.sampled_from(list(COMMANDS)),
    rows=st.lists(st.lists(CELLS, max_size=24), max_size=6),
    keep_header=st.booleans(),
)
def test_rows_of_random_cells_get_located_messages_or_import(
    cli: Cli,
    session: Session,
    trial: str,
    tmp_path: Path,
    kind: str,
    rows: list[list[str]],
    keep_header: bool,
) -> None:
    header = HEADERS[kind] if keep_header else (rows[0] if rows else [])
    assert_clean(cli, session, kind, tmp_path / "file.csv", csv_bytes([header, *rows]))


@FUZZ
@given(
    kind=st.sampled_from(list(COMMANDS)),
    column=st.integers(0, 23),
    value=CELLS,
    ragged=st.integers(-2, 2),
)
def test_one_hostile_cell_in_a_good_file_gets_its_row_and_column(
    cli: Cli,
    session: Session,
    trial: str,
    tmp_path: Path,
    kind: str,
    column: int,
    value: str,
    ragged: int,
) -> None:
    row = list(GOOD_ROWS[kind])
    row[column % len(row)] = value
    row = row[: len(row) + ragged] if ragged < 0 else row + ["extra"] * ragged
    assert_clean(cli, session, kind, tmp_path / "file.csv", csv_bytes([HEADERS[kind], row]))


def broken_export(name: str, header: list[str], good: list[str]) -> bytes:
    if name == "UTF-16":
        return csv_bytes([header, good], "utf-16")
    if name == "Latin-1 odd bytes":
        return csv_bytes([header, good]).replace(b"0", b"\x81\x8d", 1)
    if name == "10 MB cell":
        return csv_bytes([header, ["x" * 10_000_000, *good[1:]]])
    if name == "100,000 columns":
        return csv_bytes([[f"c{i}" for i in range(100_000)], good])
    if name == "NUL in a cell":
        return csv_bytes([header, ["a\x00b", *good[1:]]])
    return b""


@pytest.mark.parametrize(
    "name",
    ["UTF-16", "Latin-1 odd bytes", "10 MB cell", "100,000 columns", "NUL in a cell", "empty"],
)
def test_a_broken_export_is_refused_with_a_message(
    cli: Cli, session: Session, trial: str, tmp_path: Path, name: str
) -> None:
    for kind in COMMANDS:
        content = broken_export(name, HEADERS[kind], GOOD_ROWS[kind])
        result = assert_clean(cli, session, kind, tmp_path / "file.csv", content)
        assert result.exit_code == 1, (kind, result.output)


def test_formula_prefixes_in_every_field_are_refused_or_imported_as_text(
    cli: Cli, session: Session, trial: str, tmp_path: Path
) -> None:
    for prefix in ("=", "+", "-", "@", "\t", "\r"):
        row = [prefix + value for value in GOOD_ROWS["enrol"]]
        assert_clean(cli, session, "enrol", tmp_path / "file.csv", csv_bytes([PEOPLE_COLUMNS, row]))
