"""The analysis file of a reproduction bundle, from hand-made frames: ids, types and levels."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.pseudonymise import pseudonymised_file, random_ids
from experiments.definition import TrialDefinition


def definition(**population: object) -> TrialDefinition:
    return TrialDefinition.model_validate(
        {
            "id": "made-up",
            "title": "Made up",
            "timezone": "Europe/London",
            "population": population,
            "arms": [
                {"id": "sms", "title": "SMS"},
                {"id": "control", "title": "Control", "control": True},
            ],
            "outcomes": [{"id": "attended"}],
            "analysis": {"covariates": ["age", "band", "phone", "postcode"], "subgroups": ["band"]},
        }
    )


def frame(unit: list[str], **columns: list[str]) -> pd.DataFrame:
    n = len(unit)
    data = pd.DataFrame(
        {
            "participant_ref": [f"P{i:05d}" for i in range(n)],
            "case_ref": ["C00001", "C00001", "C00002", "C00003"][:n],
            "arm": pd.Categorical(["sms", "control"] * (n // 2), categories=["sms", "control"]),
            "unit": pd.Categorical(unit),
            "stratum": pd.Categorical(["a"] * n),
            "age": [40.5, np.nan, 1e-300, 20270101.0][:n],
            "band": pd.Categorical(["young", None, "old", "old"][:n], categories=["young", "old"]),
            "phone": ["+447700900001"] * n,
            "postcode": ["BS1 1AA"] * n,
            "attended": [1.0, 0.0, np.nan, 1.0][:n],
        }
    )
    for name, values in columns.items():
        data[name] = values
    return data


def test_people_in_one_case_share_one_case_id_which_is_their_unit() -> None:
    made = frame(["C00001", "C00001", "C00002", "C00003"])
    rows = pseudonymised_file(made, definition(unit="case")).rows
    by_person = rows.set_index("age")  # a column that tells the rows apart, as written
    assert str(by_person.loc["40.5", "case_ref"]) == str(by_person.loc["", "case_ref"])
    assert len(set(rows["case_ref"])) == 3 and (rows["unit"] == rows["case_ref"]).all()
    assert len(set(rows["participant_ref"])) == 4


def test_numbers_are_written_exactly_and_levels_keep_the_analysis_order() -> None:
    made = frame(["P0", "P1", "P2", "P3"])
    analysis_file = pseudonymised_file(made, definition())
    rows = analysis_file.rows
    assert sorted(rows["age"]) == sorted(["40.5", "", "1e-300", "20270101"])
    assert {float(v) for v in rows["age"] if v} == {40.5, 1e-300, 20270101.0}
    band = analysis_file.column("band")
    assert (band.kind, band.levels) == ("categorical", ("young", "old"))
    assert analysis_file.column("arm").levels == ("sms", "control")
    assert analysis_file.column("age").kind == "numeric"
    assert sorted(rows["attended"]) == ["", "0", "1", "1"]


def test_contact_details_are_never_written_even_when_the_plan_names_them() -> None:
    analysis_file = pseudonymised_file(frame(["P0", "P1", "P2", "P3"]), definition())
    assert "phone" not in analysis_file.rows and "postcode" not in analysis_file.rows
    cells = set(analysis_file.rows.to_numpy().ravel())
    assert not any("7700" in str(c) or "BS1" in str(c) for c in cells)


def test_a_unit_that_is_an_identifier_gets_random_ids_and_so_do_strata_on_it() -> None:
    officers = ["OFFICER-7", "OFFICER-7", "OFFICER-9", "OFFICER-9"]
    made = frame(officers, officer=officers)
    made["stratum"] = pd.Categorical([f"officer={o}" for o in officers])
    analysis_file = pseudonymised_file(made, definition(unit="officer", strata=["officer"]))
    rows = analysis_file.rows
    assert rows["unit"].str.fullmatch(r"U-[0-9a-f]{12}").all()
    assert (rows["officer"] == rows["unit"]).all() and rows["unit"].nunique() == 2
    assert analysis_file.column("officer").kind == "id"
    assert analysis_file.column("stratum").levels == ("stratum-1", "stratum-2")
    assert not rows.apply(lambda c: c.astype(str).str.contains("OFFICER")).any().any()


def test_random_ids_are_distinct_and_differ_between_draws() -> None:
    first, second = random_ids(5000, "P-"), random_ids(5000, "P-")
    assert len(set(first)) == 5000 and set(first).isdisjoint(second)
    assert all(len(i) == 14 for i in first)
