"""The columnar flat-file reader gives the frame the cell-by-cell reading gave, whatever the file.

polars reads the file; cells are trimmed, references normalised (experiments/keys.py) and
outcomes read by their type. Files polars reads differently from Python's csv module (a blank
line, a short row, Windows-1252 text) go the exact way, so the frame and the problems are the
same either way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analysis.frame import frame_from_csv
from nudge.errors import ImportRejected
from tests.analysis.test_frame import FLAT_HEADER, FLAT_ROWS, flat_definition, write_flat

TYPED_OUTCOMES = """
id: typed-outcomes
title: Outcomes of each type
timezone: Europe/London
population: {unit: participant}
arms:
  - {id: control, title: Business as usual, control: true}
  - {id: sms, title: SMS reminder}
outcomes:
  - {id: attended, primary: true}
  - {id: visits, type: count}
  - {id: minutes, type: continuous}
"""


def test_an_outcome_is_read_by_its_type_binary_as_flags_others_as_numbers(tmp_path: Path) -> None:
    rows = [
        ["P1", "control", "yes", "3", "12.5"],
        ["P2", "sms", "0", "0", ""],
        ["P3", "sms", "", "11", "-4"],
    ]
    header = ["participant_ref", "arm", "attended", "visits", "minutes"]
    path = write_flat(tmp_path / "typed.csv", rows, header)
    frame = frame_from_csv(path, flat_definition(tmp_path, TYPED_OUTCOMES))
    assert frame["attended"].tolist()[:2] == [1.0, 0.0] and np.isnan(frame["attended"][2])
    assert frame["visits"].tolist() == [3.0, 0.0, 11.0]
    assert frame["minutes"].tolist()[::2] == [12.5, -4.0] and np.isnan(frame["minutes"][1])


def test_an_outcome_that_is_not_a_number_is_located(tmp_path: Path) -> None:
    rows = [["P1", "control", "yes", "three", "1"], ["P2", "sms", "no", "2", "inf"]]
    header = ["participant_ref", "arm", "attended", "visits", "minutes"]
    path = write_flat(tmp_path / "typed.csv", rows, header)
    with pytest.raises(ImportRejected) as refused:
        frame_from_csv(path, flat_definition(tmp_path, TYPED_OUTCOMES))
    said = [(p.line, p.message) for p in refused.value.problems]
    assert said == [
        (2, "visits: 'three' is not a number (blank if not observed)"),
        (3, "minutes: 'inf' is not a number (blank if not observed)"),
    ]


def test_padded_cells_are_trimmed_and_references_normalised(tmp_path: Path) -> None:
    rows = [[cell for cell in row] for row in FLAT_ROWS]
    rows[0][0] = " P\u00a0\u00a01 "  # no-break spaces inside, spaces around
    rows[0][2] = "control "
    rows[2][3] = " CDF"
    rows[1][1] = "C1\u200b"  # a zero-width space: the same case as C1
    frame = frame_from_csv(write_flat(tmp_path / "flat.csv", rows), flat_definition(tmp_path))
    plain = frame_from_csv(write_flat(tmp_path / "plain.csv", FLAT_ROWS), flat_definition(tmp_path))
    assert frame["participant_ref"].tolist() == ["P 1", "P2", "P3"]
    assert frame["case_ref"].tolist() == ["C1", "C1", "C2"]
    assert frame["unit"].tolist() == plain["unit"].tolist()
    for name in ("arm", "stratum", "age", "vulnerable", "role", "attended", "withdrew"):
        assert frame[name].equals(plain[name]), name


def test_blank_lines_and_blank_last_cells_read_as_the_exact_reading_does(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    lines = [",".join(FLAT_HEADER), ",".join(FLAT_ROWS[0]), "", "   ", ",".join(FLAT_ROWS[1])]
    path.write_text("\n".join([*lines, ",".join(FLAT_ROWS[2]), ""]))
    frame = frame_from_csv(path, flat_definition(tmp_path))
    plain = frame_from_csv(write_flat(tmp_path / "plain.csv", FLAT_ROWS), flat_definition(tmp_path))
    assert frame["participant_ref"].tolist() == ["P1", "P2", "P3"]
    assert frame["withdrew"].tolist()[::2] == plain["withdrew"].tolist()[::2]
    assert np.isnan(frame["withdrew"][1])


def test_a_short_row_after_a_blank_line_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    short = ",".join(FLAT_ROWS[1][:-2])
    lines = [",".join(FLAT_HEADER), ",".join(FLAT_ROWS[0]), "", short, ",".join(FLAT_ROWS[2])]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ImportRejected) as refused:
        frame_from_csv(path, flat_definition(tmp_path))
    assert [(p.line, p.message) for p in refused.value.problems] == [
        (4, "row: has 7 cells but the header has 9 columns")
    ]


def test_a_windows_1252_file_is_read_the_same(tmp_path: Path) -> None:
    rows = [[cell for cell in row] for row in FLAT_ROWS]
    rows[0][6] = "t\u00e9moin"  # é, one byte in Windows-1252
    path = tmp_path / "cp1252.csv"
    lines = [",".join(FLAT_HEADER), *(",".join(row) for row in rows)]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    frame = frame_from_csv(path, flat_definition(tmp_path))
    assert frame["role"].astype(object).tolist() == ["t\u00e9moin", "witness", "victim"]
    assert frame["participant_ref"].tolist() == ["P1", "P2", "P3"]
