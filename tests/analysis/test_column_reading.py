"""Columns are read by their declared type, never guessed from what the values look like."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pandas as pd
import pytest
from sqlmodel import Session

from analysis.columns import column_notes, read_column, subgroup_labels
from analysis.effects import design_for
from analysis.frame import frame_from_csv, frame_from_db
from analysis.report import build_report, model_spec, report_json
from experiments import trials
from experiments.definition import Column
from experiments.enrol import enrol_file
from nudge.clock import FixedClock
from tests.analysis.test_frame import flat_definition, write_flat
from tests.conftest import EXAMPLE
from tests.factories import launch, person, write_people

TYPED_YAML = """
id: typed-trial
title: Declared column types
timezone: Europe/London
population: {unit: participant}
arms:
  - {id: control, title: Business as usual, control: true}
  - {id: sms, title: SMS reminder}
outcomes:
  - {id: attended, primary: true}
analysis:
  covariates: [age, site]
  subgroups: [age, prior_fta]
  missing: MISSING
  columns:
    age: {type: numeric, bins: [25, 40]}
    site: categorical
    prior_fta: flag
"""
HEADER = ["participant_ref", "arm", "age", "site", "prior_fta", "attended"]


def typed_definition(tmp_path: Path, missing: str = "drop"):  # type: ignore[no-untyped-def]
    return flat_definition(tmp_path, TYPED_YAML.replace("MISSING", missing))


def rows(age_of_row_7: str = "31") -> list[list[str]]:
    """Eighty made-up participants: ages 18-70, sites coded 1-3 and 10, a prior-FTA flag."""
    chance = random.Random(15)
    made = []
    for i in range(80):
        age = str(chance.randrange(18, 71)) if i != 7 else age_of_row_7
        site = chance.choice(["1", "2", "3", "10"])
        prior = chance.choice(["yes", "no", "no"])
        attended = "yes" if chance.random() < 0.55 + 0.01 * (i % 3) else "no"
        made.append([f"P{i:03d}", "sms" if i % 2 else "control", age, site, prior, attended])
    return made


def flat_frame(tmp_path: Path, age_of_row_7: str, missing: str = "drop") -> pd.DataFrame:
    path = write_flat(tmp_path / f"flat-{missing}.csv", rows(age_of_row_7), HEADER)
    return frame_from_csv(path, typed_definition(tmp_path, missing))


@pytest.mark.parametrize("missing", ["drop", "indicator"])
def test_one_na_in_a_numeric_covariate_is_one_missing_value_not_a_new_type(
    tmp_path: Path, missing: str
) -> None:
    with_na = flat_frame(tmp_path, "NA", missing)
    assert with_na["age"].dtype == "float64" and with_na["age"].isna().sum() == 1
    assert with_na.attrs["unreadable"] == {"age": 1}
    blank = flat_frame(tmp_path, "", missing)
    assert blank.attrs["unreadable"] == {}
    definition = typed_definition(tmp_path, missing)
    report = report_json(build_report(with_na, definition))
    expected = report_json(build_report(blank, definition))
    said = "column age: 1 value(s) could not be read as numbers and are treated as missing"
    assert report["notes"] == [*expected["notes"][:1], said, *expected["notes"][1:]]
    assert {**report, "notes": []} == {**expected, "notes": []}
    assert report["outcomes"][0]["covariates_used"] == ["age", "site"]


def test_the_count_of_unreadable_values_becomes_a_sentence_for_the_report(
    tmp_path: Path,
) -> None:
    frame = flat_frame(tmp_path, "n/a")
    assert column_notes(frame) == [
        "column age: 1 value(s) could not be read as numbers and are treated as missing"
    ]


def test_number_coded_categories_enter_the_model_as_levels_not_a_line(tmp_path: Path) -> None:
    frame = flat_frame(tmp_path, "31")
    assert list(frame["site"].cat.categories) == ["1", "2", "3", "10"]
    design = design_for(frame, "attended", model_spec(typed_definition(tmp_path)))
    assert [t for t in design.terms if t.startswith("site")] == ["site[2]", "site[3]", "site[10]"]
    assert "age" in design.terms


def test_a_numeric_subgroup_is_cut_at_its_declared_bins(tmp_path: Path) -> None:
    frame = flat_frame(tmp_path, "31")
    report = report_json(build_report(frame, typed_definition(tmp_path)))
    age, prior = report["outcomes"][0]["subgroups"]
    ages = frame["age"]
    assert {level["level"]: level["n"] for level in age["levels"]} == {
        "under 25": int((ages < 25).sum()),
        "25 to 39": int(((ages >= 25) & (ages < 40)).sum()),
        "40 and over": int((ages >= 40).sum()),
    }
    assert age["interaction_df"] == 2
    assert sorted(level["level"] for level in prior["levels"]) == ["no", "yes"]


def labelled(values: list[object] | pd.Series, column: Column | None) -> pd.Series:
    frame = pd.DataFrame({"x": values})
    if column is not None:
        frame.attrs["column_types"] = {"x": column}
    return subgroup_labels(frame, "x")


def test_bins_give_levels_in_order_with_clear_names() -> None:
    labels = labelled([18.0, 25.0, 39.0, 40.0, math.nan], Column(type="numeric", bins=[25, 40]))
    assert list(labels.cat.categories) == ["under 25", "25 to 39", "40 and over"]
    assert labels.tolist()[:4] == ["under 25", "25 to 39", "25 to 39", "40 and over"]
    assert pd.isna(labels.tolist()[4])


def test_bins_over_values_that_are_not_whole_say_up_to_under_the_next_cut() -> None:
    labels = labelled([2.5, 39.5, 41.0], Column(type="numeric", bins=[25, 40, 41]))
    assert list(labels.cat.categories) == [
        "under 25",
        "25 to under 40",
        "40 to under 41",
        "41 and over",
    ]
    assert labels.tolist() == ["under 25", "25 to under 40", "41 and over"]


def test_a_numeric_subgroup_without_bins_is_split_at_the_median_and_says_so() -> None:
    labels = labelled([20.0, 30.0, 40.0, 50.0], Column(type="numeric"))
    assert labels.tolist() == [
        "below the median (35)",
        "below the median (35)",
        "the median (35) and over",
        "the median (35) and over",
    ]


def test_flag_subgroups_read_yes_and_no_and_categories_stay_as_written() -> None:
    assert labelled([1.0, 0.0, math.nan], Column(type="flag")).tolist()[:2] == ["yes", "no"]
    categorical = Column(type="categorical")
    levels = read_column(pd.Series(["b", "10", "", "2"]), categorical)[0]
    labels = labelled(levels, categorical)
    assert labels.tolist()[:2] == ["b", "10"] and pd.isna(labels.tolist()[2])
    assert list(labels.cat.categories) == ["2", "10", "b"]


def test_flags_read_yes_no_words_in_any_case_and_count_the_rest() -> None:
    values = pd.Series(["Y", "n", "TRUE", "0", "1.0", "maybe", ""])
    read, unreadable = read_column(values, Column(type="flag"))
    assert read.tolist()[:5] == [1.0, 0.0, 1.0, 0.0, 1.0]
    assert read.isna().tolist()[5:] == [True, True] and unreadable == 1


def test_numbers_that_do_not_fit_are_missing_and_counted_never_a_new_type() -> None:
    values = pd.Series([" 40 ", "NA", "n/a", "-", "unknown", "", "inf", None, "33.5"])
    read, unreadable = read_column(values, Column(type="numeric"))
    assert read.dtype == "float64"
    assert read.tolist()[0] == 40.0 and read.tolist()[-1] == 33.5
    assert read.isna().sum() == 7 and unreadable == 5


def test_a_column_of_nothing_but_unreadable_numbers_still_gives_a_report(tmp_path: Path) -> None:
    frame = flat_frame(tmp_path, "31")
    frame["age"] = math.nan
    frame.attrs["unreadable"] = {"age": len(frame)}
    report = report_json(build_report(frame, typed_definition(tmp_path)))
    assert report["outcomes"][0]["subgroups"][0]["notes"] == ["not observed"]


def test_a_trial_launched_before_column_types_has_them_inferred_the_same_way(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    launch(session, clock, EXAMPLE)
    trial = trials.get_trial(session, "witness-reminders-2027")
    version = trials.current_version(session, trial)
    data = json.loads(version.canonical_json)
    data["analysis"]["columns"] = {}  # as a version frozen before analysis.columns existed
    version.canonical_json = json.dumps(data)
    people = [person(i, prior_fta="yes" if i % 3 else "no") for i in range(1, 13)]
    enrol_file(session, clock, trial.id, write_people(tmp_path / "people.csv", people), "t")
    session.commit()
    frame = frame_from_db(session, trial.id)
    assert set(frame.attrs["inferred_types"]) == {
        "court",
        "age_band",
        "vulnerable",
        "prior_fta",
        "role",
    }
    assert isinstance(frame["prior_fta"].dtype, pd.CategoricalDtype)  # inferred: categorical
    build_report(frame, trials.current_definition(session, trial))
