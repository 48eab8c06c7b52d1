"""A multi-site trial's primary outcome by site: pooled, each site's, heterogeneity.

Reference values: reference/sites/make_reference.R (estimatr lm_robust, metafor rma FE) on
sites.csv (randomised by person, HC2) and sites_cases.csv (randomised by case, CR2), read
here through the flat-file path with its `site` column.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from analysis.disclosure import disclose
from analysis.frame import frame_from_csv
from analysis.labels import Labels
from analysis.report import build_report, report_json
from analysis.sites_view import sites_view, verdict
from analysis.text import render_text
from experiments.definition import TrialDefinition
from nudge.errors import ImportRejected
from tests.analysis.test_report import definition, small_frame

HERE = Path(__file__).parent / "reference" / "sites"
EMPTY_BODY: dict[str, Any] = {"flow": {}, "enrolment": []}
TOLERANCE = 1e-6
SITES = ["gwent", {"organisation": "dyfed-powys", "name": "Dyfed-Powys"}, "north-wales"]


def sites_definition(unit: str = "participant", **overrides: Any) -> TrialDefinition:
    return definition(population={"unit": unit}, sites=SITES, **overrides)


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    return json.loads((HERE / "reference.json").read_text())


@pytest.fixture(scope="module", params=[("by_person", "participant"), ("by_case", "case")])
def analysed(request: pytest.FixtureRequest, reference: dict[str, Any]) -> tuple[Any, Any]:
    version, unit = request.param
    trial = sites_definition(unit)
    name = "sites.csv" if unit == "participant" else "sites_cases.csv"
    report = report_json(build_report(frame_from_csv(HERE / name, trial), trial))
    (outcome,) = report["outcomes"]
    return outcome, reference[version]


def close(value: float | None, expected: float) -> bool:
    return value is not None and abs(value - expected) <= TOLERANCE


def test_the_pooled_estimate_is_the_trials_own_adjusted_for_site(analysed: Any) -> None:
    outcome, r = analysed
    by_arm = {c["arm"]: c for c in outcome["comparisons"]}
    for arm in outcome["sites"]["arms"]:
        expected = r["pooled"][arm["arm"]]
        main = by_arm[arm["arm"]]
        for key in ("estimate", "std_error", "ci_low", "ci_high", "p_value"):
            assert close(arm[f"pooled_{key}"], expected[key]), (arm["arm"], key)
        assert arm["pooled_estimate"] == main["adjusted_risk_difference"]
        assert arm["pooled_ci_low"] == main["adjusted_ci_low"]


def test_each_sites_estimate_is_the_same_model_on_its_people(analysed: Any) -> None:
    outcome, r = analysed
    sites = outcome["sites"]["sites"]
    assert [s["site"] for s in sites] == ["gwent", "dyfed-powys", "north-wales"]
    assert [s["name"] for s in sites] == ["gwent", "Dyfed-Powys", "north-wales"]
    for site in sites:
        expected = r["by_site"][site["site"]]
        assert site["n"] == expected["n"]
        assert site["notes"] == []
        for c in site["comparisons"]:
            e = expected[c["arm"]]
            assert close(c["adjusted_risk_difference"], e["estimate"])
            assert close(c["adjusted_std_error"], e["std_error"])
            assert close(c["adjusted_ci_low"], e["ci_low"])
            assert close(c["adjusted_ci_high"], e["ci_high"])
            assert close(c["adjusted_p_value"], e["p_value"])


def test_heterogeneity_is_the_joint_wald_test_of_arm_by_site(analysed: Any) -> None:
    outcome, r = analysed
    sites, expected = outcome["sites"], r["heterogeneity"]
    assert sites["df"] == expected["df"] == 4
    assert close(sites["statistic"], expected["statistic"])
    assert close(sites["p_value"], expected["p_value"])


def test_cochrans_q_and_i2_match_metafor(analysed: Any) -> None:
    outcome, r = analysed
    for arm in outcome["sites"]["arms"]:
        expected = r["spread"][arm["arm"]]
        assert arm["sites_estimated"] == 3
        assert arm["q_df"] == expected["df"]
        assert close(arm["cochran_q"], expected["q"])
        assert close(arm["q_p_value"], expected["p_value"])
        assert close(arm["i2"], expected["i2"])
        assert arm["note"] is None


def test_a_trial_without_sites_has_the_report_it_always_had() -> None:
    """No `sites` key, and the same numbers as the same data analysed without the column."""
    data = pd.read_csv(HERE / "sites.csv")
    frame = small_frame({"control": (0, 0), "sms": (0, 0), "letter": (0, 0)})
    frame = pd.DataFrame(
        {
            "participant_ref": data["participant_ref"],
            "arm": pd.Categorical(data["arm"], categories=["control", "sms", "letter"]),
            "unit": data["participant_ref"],
            "stratum": "all",
            "attended": data["attended"].astype("float64"),
        }
    )
    plain = report_json(build_report(frame, definition()))
    with_column = report_json(build_report(frame.assign(site=data["site"]), definition()))
    assert "sites" not in plain["outcomes"][0]
    assert with_column == plain
    # The same rows as a multi-site trial: the site enters the model as a stratum.
    multi = report_json(build_report(frame.assign(site=data["site"]), sites_definition()))
    assert multi["outcomes"][0]["comparisons"] != plain["outcomes"][0]["comparisons"]


def test_a_flat_file_site_that_is_not_a_site_of_the_trial_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "flat.csv"
    path.write_text("participant_ref,site,arm,attended\nP1,gwent,control,1\nP2,dyfed,sms,0\n")
    with pytest.raises(ImportRejected) as refused:
        frame_from_csv(path, sites_definition())
    (problem,) = refused.value.problems
    assert problem.line == 3
    assert "site: 'dyfed' is not a site of trial 'small-trial'" in problem.message


def test_a_flat_file_without_a_site_column_says_so() -> None:
    trial = sites_definition()
    frame = frame_from_csv(HERE / "sites.csv", trial).drop(columns="site")
    (outcome,) = report_json(build_report(frame, trial))["outcomes"]
    sites = outcome["sites"]
    assert sites["sites"] == [] and sites["statistic"] is None
    assert sites["notes"] == [
        "the data has no site column: the primary outcome is not shown by site"
    ]
    assert all(arm["pooled_estimate"] is not None for arm in sites["arms"])


def _awkward_sites() -> dict[str, Any]:
    """gwent has every arm; Dyfed-Powys nobody in the letter arm; north-wales one person."""
    frame = small_frame({"control": (30, 12), "sms": (30, 18), "letter": (20, 8)})
    frame["site"] = (
        ["gwent"] * 15
        + ["dyfed-powys"] * 14
        + ["north-wales"]
        + ["gwent"] * 15
        + ["dyfed-powys"] * 15
        + ["gwent"] * 20
    )
    (outcome,) = report_json(build_report(frame, sites_definition()))["outcomes"]
    return dict(outcome["sites"])


def test_a_site_without_an_arm_or_with_one_person_gets_a_reason_not_a_figure() -> None:
    sites = _awkward_sites()
    gwent, dyfed, north = sites["sites"]
    assert gwent["notes"] == [] and all(
        c["adjusted_ci_low"] is not None for c in gwent["comparisons"]
    )
    sms, letter = dyfed["comparisons"]
    assert (
        sms["adjusted_risk_difference"] is not None and letter["adjusted_risk_difference"] is None
    )
    assert dyfed["notes"] == ["letter: nobody at this site"]
    assert north["n"] == 1 and all(
        c["adjusted_risk_difference"] is None for c in north["comparisons"]
    )
    assert north["notes"]
    # One unit in a cell: no heterogeneity test, and the page is told why.
    assert sites["statistic"] is None and sites["p_value"] is None
    assert sites["notes"] == [
        "the test of heterogeneity is not done: only one randomisation unit for control at "
        "north-wales, so the variation between units there cannot be estimated"
    ]
    by_arm = {a["arm"]: a for a in sites["arms"]}
    assert by_arm["sms"]["sites_estimated"] == 2
    assert by_arm["sms"]["note"] == "Cochran's Q uses the 2 of 3 sites with an estimate"
    assert by_arm["letter"]["cochran_q"] is None and by_arm["letter"]["i2"] is None
    assert by_arm["letter"]["note"] == (
        "Cochran's Q needs estimates from two sites or more; one site has one so far"
    )


def test_one_site_with_people_so_far_says_so() -> None:
    frame = small_frame({"control": (10, 4), "sms": (10, 6), "letter": (10, 5)}, site="gwent")
    (outcome,) = report_json(build_report(frame, sites_definition()))["outcomes"]
    sites = outcome["sites"]
    assert sites["statistic"] is None
    assert sites["notes"] == [
        "the test of heterogeneity is not done: only one site has people analysed so far"
    ]
    assert [s["n"] for s in sites["sites"]] == [30, 0, 0]
    assert sites["sites"][1]["notes"] == ["nobody from this site is analysed yet"]
    assert all(a["cochran_q"] is None for a in sites["arms"])


def test_nobody_randomised_yet_is_no_crash() -> None:
    frame = small_frame({"control": (0, 0), "sms": (0, 0), "letter": (0, 0)}, site=[])
    (outcome,) = report_json(build_report(frame, sites_definition()))["outcomes"]
    sites = outcome["sites"]
    assert sites["statistic"] is None
    assert all(s["n"] == 0 for s in sites["sites"])
    assert all(a["pooled_estimate"] is None and a["cochran_q"] is None for a in sites["arms"])


def test_sites_are_named_by_the_organisations_names_where_the_definition_gives_none() -> None:
    frame = small_frame({"control": (10, 4), "sms": (10, 6), "letter": (10, 5)}, site="gwent")
    names = {"gwent": "Gwent Police", "dyfed-powys": "Ignored", "north-wales": "North Wales"}
    report = report_json(build_report(frame, sites_definition(), site_names=names))
    shown = [s["name"] for s in report["outcomes"][0]["sites"]["sites"]]
    assert shown == ["Gwent Police", "Dyfed-Powys", "North Wales"]


def test_only_the_primary_outcome_is_shown_by_site() -> None:
    trial = sites_definition(
        outcomes=[{"id": "attended", "primary": True}, {"id": "withdrawn", "better": "lower"}]
    )
    frame = small_frame({"control": (10, 4), "sms": (10, 6), "letter": (10, 5)}, site="gwent")
    frame["withdrawn"] = 0.0
    first, second = report_json(build_report(frame, trial))["outcomes"]
    assert "sites" in first and "sites" not in second


@pytest.mark.parametrize(
    ("unit", "name", "said"),
    [
        ("participant", "sites.csv", "It differed between sites (p = 0.038): SMS reminder against"),
        (
            "case",
            "sites_cases.csv",
            "The effect did not differ detectably between sites (p = 0.47).",
        ),
    ],
)
def test_the_verdict_comes_first_in_plain_words(unit: str, name: str, said: str) -> None:
    trial = sites_definition(unit)
    report = report_json(build_report(frame_from_csv(HERE / name, trial), trial))
    shown = disclose({"report": report, **EMPTY_BODY}, exact=True)
    (outcome,) = shown["report"]["outcomes"]
    view = sites_view(outcome, trial, Labels.of(trial))
    assert view is not None and view["verdict"].startswith(said)
    assert [row["name"] for row in view["rows"]] == ["gwent", "Dyfed-Powys", "north-wales"]
    assert len(view["forests"]) == 2 and "<svg" in str(view["forests"][0]["chart"])


def test_a_trial_without_sites_has_no_sites_view() -> None:
    report = report_json(
        build_report(
            small_frame({"control": (9, 3), "sms": (9, 5)}),
            definition(
                arms=[
                    {"id": "control", "title": "Business as usual", "control": True},
                    {"id": "sms", "title": "SMS reminder"},
                ]
            ),
        )
    )
    assert sites_view(report["outcomes"][0], definition(), Labels.of(definition())) is None


def test_notes_name_arms_by_their_titles() -> None:
    trial = sites_definition()
    block = {
        "p_value": None,
        "notes": [
            "the test of heterogeneity is not done: only one randomisation unit for control at "
            "gwent, sms at north-wales, so the variation between units there cannot be estimated"
        ],
    }
    assert verdict(block, trial, Labels.of(trial)) == (
        "Whether the effect differs between sites cannot be tested yet: only one randomisation "
        "unit for Business as usual at gwent, SMS reminder at north-wales, so the variation "
        "between units there cannot be estimated."
    )


def test_the_text_report_gives_the_sites_after_the_primary_outcome() -> None:
    trial = sites_definition()
    report = report_json(build_report(frame_from_csv(HERE / "sites.csv", trial), trial))
    text = render_text(report, trial)
    assert "  Sites: It differed between sites (p = 0.038)" in text
    assert "    Dyfed-Powys: SMS reminder: +19.5 (" in text
    assert "    All sites (pooled): SMS reminder: +9.2 (" in text
    assert "Cochran's Q = 9.02 on 2 degrees of freedom (p = 0.011), I\u00b2 = 78%" in text
    plain = render_text(
        report_json(build_report(frame_from_csv(HERE / "sites.csv", definition()), definition())),
        definition(),
    )
    assert "Sites:" not in plain


def test_after_an_arm_was_excluded_the_sites_say_whose_estimates_they_are() -> None:
    frame = small_frame({"control": (60, 30), "sms": (90, 40), "letter": (60, 30)})
    frame["site"] = ["gwent", "dyfed-powys", "north-wales"] * 70
    frame["open_arms"] = [None] * 180 + ["control,sms"] * 30
    frame.loc[180:, "arm"] = "sms"
    (outcome, *_) = report_json(build_report(frame, sites_definition()))["outcomes"]
    assert outcome["sites"]["notes"][-1].startswith(
        "the sites compare all arms at once: the pooled and site estimates here use only the "
        "people allocated while every arm was open (180)"
    )
