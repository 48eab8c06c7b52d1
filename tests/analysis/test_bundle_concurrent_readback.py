"""A bundle of a trial that excluded an arm while paused: its analysis file carries each
person's open arms, and read back as a flat file (`nudge analyse --data`) it gives the report's
concurrent comparisons again; a wrong `open_arms` cell is refused where it is."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from analysis.bundle import FrozenVersion, assemble_bundle
from analysis.concurrent import OPEN_ARMS
from analysis.frame import frame_from_csv
from analysis.report import build_report, report_json
from experiments.loader import LoadedTrial, load_trial_file
from nudge.errors import ImportRejected
from tests.analysis.test_concurrent_controls import OPEN_TWO, paused_letter_frame
from tests.analysis.test_report import definition

ESTIMATES = ("adjusted_risk_difference", "adjusted_std_error", "adjusted_p_value")


def unpacked(tmp_path: Path) -> tuple[Path, Path, dict[str, bytes]]:
    """The bundle of the paused-letter trial, its analysis file and definition on disk."""
    frozen = FrozenVersion(1, "0" * 64, seed_concealed=False)
    bundle = assemble_bundle(
        paused_letter_frame(), definition(), frozen, built_at=datetime(2027, 1, 10, tzinfo=UTC)
    )
    for name in ("analysis.csv", "trial.yaml"):
        (tmp_path / name).write_bytes(bundle.files[name])
    return tmp_path / "analysis.csv", tmp_path / "trial.yaml", bundle.files


def test_the_analysis_file_carries_the_open_arms_and_the_model_says_so(tmp_path: Path) -> None:
    _, _, files = unpacked(tmp_path)
    rows = list(csv.DictReader(io.StringIO(files["analysis.csv"].decode())))
    assert list(rows[0])[-1] == OPEN_ARMS
    # 30 allocated while every arm was open, 20 while letter was closed; quoted as CSV.
    assert sorted({r[OPEN_ARMS] for r in rows}) == ["", OPEN_TWO]
    assert sum(r[OPEN_ARMS] == OPEN_TWO for r in rows) == 20
    assert f'"{OPEN_TWO}"' in files["analysis.csv"].decode()
    assert {r["arm"] for r in rows if r[OPEN_ARMS]} == {"control", "sms"}
    model = json.loads(files["model.json"])
    assert model["concurrent"] is True and model["columns"][OPEN_ARMS] == {"type": "text"}
    shipped = {e["arm"]: e for e in json.loads(files["nudge_primary.json"])["estimates"]}
    assert (shipped["sms"]["analysed"], shipped["letter"]["analysed"]) == (40, 20)
    readme = files["README.txt"].decode()
    assert "open_arms: the arms open to new participants when the participant was" in readme
    assert "each arm is compared with control in a model" in " ".join(readme.split())


def test_without_an_exclusion_the_bundle_has_no_open_arms(tmp_path: Path) -> None:
    frame = paused_letter_frame().drop(columns=OPEN_ARMS)
    frozen = FrozenVersion(1, "0" * 64, seed_concealed=False)
    bundle = assemble_bundle(frame, definition(), frozen, built_at=datetime.now(UTC))
    assert OPEN_ARMS not in bundle.files["analysis.csv"].decode().splitlines()[0]
    assert json.loads(bundle.files["model.json"])["concurrent"] is False
    assert all(
        "analysed" not in e for e in json.loads(bundle.files["nudge_primary.json"])["estimates"]
    )


def test_read_back_the_bundle_gives_the_concurrent_comparisons_again(tmp_path: Path) -> None:
    data, trial, _ = unpacked(tmp_path)
    loaded = load_trial_file(trial)
    assert isinstance(loaded, LoadedTrial), loaded
    again = report_json(build_report(frame_from_csv(data, loaded.definition), loaded.definition))
    first = report_json(build_report(paused_letter_frame(), definition()))
    (ours,), (theirs,) = again["outcomes"], first["outcomes"]
    assert ours["concurrent"] == theirs["concurrent"]
    for mine, original in zip(ours["comparisons"], theirs["comparisons"], strict=True):
        for key in ESTIMATES:
            assert mine[key] == pytest.approx(original[key], abs=1e-12)
    letter = next(c for c in ours["comparisons"] if c["arm"] == "letter")
    assert letter["risk_difference"] == pytest.approx(6 / 10 - 5 / 10)


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("control,post", "'control,post' names 'post', not an arm of the trial"),
        ("control", "'control' names fewer than two arms"),
        ("letter,sms", "'letter,sms' does not name the row's own arm, control"),
    ],
)
def test_a_wrong_open_arms_cell_is_refused_on_its_line(
    tmp_path: Path, cell: str, reason: str
) -> None:
    data, trial, _ = unpacked(tmp_path)
    lines = data.read_text().splitlines()
    header = lines[0].split(",")
    line = next(i for i, text in enumerate(lines) if ",control," in f",{text},")
    cells = next(csv.reader([lines[line]]))
    cells[header.index(OPEN_ARMS)] = cell
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    lines[line] = buffer.getvalue()
    data.write_text("\n".join(lines) + "\n")
    before = data.read_bytes()
    loaded = load_trial_file(trial)
    assert isinstance(loaded, LoadedTrial), loaded
    with pytest.raises(ImportRejected) as refused:
        frame_from_csv(data, loaded.definition)
    (problem,) = refused.value.problems
    assert problem.line == line + 1
    assert problem.message.startswith(f"{OPEN_ARMS}: {reason}")
    assert data.read_bytes() == before
