"""Kaplan–Meier and the log-rank test against R's survival package, and where R has no answer.

Reference values: tests/analysis/reference/survival/reference.json, written by
make_reference.R (survfit with its default Greenwood variance and conf.type = "log",
summary(fit, times = c(30, 90, 180)), survdiff) from withdrawal.csv; versions in the JSON.
Tolerances: 1e-8 relative on S(t), its standard error and interval ends, the chi-square and
the p-value (the methods are the same, so only rounding differs); counts exactly.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.stats.survival import kaplan_meier, log_rank
from analysis.time_to_event import follow_up

HERE = Path(__file__).parent / "reference" / "survival"
RELATIVE = 1e-8


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    return json.loads((HERE / "reference.json").read_text(encoding="utf-8"))


def read_withdrawals() -> pd.DataFrame:
    """withdrawal.csv as the frame builder leaves an outcome with dates: 0/1/NaN and days."""
    cells = pd.read_csv(HERE / "withdrawal.csv", dtype=str, keep_default_na=False)
    return pd.DataFrame(
        {
            "participant_ref": cells["participant_ref"],
            "arm": pd.Categorical(cells["arm"], categories=["control", "sms", "letter"]),
            "withdrew": pd.to_numeric(cells["withdrew"].replace("", None)).astype("float64"),
            "withdrew_on": pd.to_datetime(cells["withdrew_on"].replace("", None)),
            "charged_on": pd.to_datetime(cells["charged_on"].replace("", None)),
        }
    )


@pytest.fixture(scope="module")
def followed(reference: dict[str, Any]) -> pd.DataFrame:
    """Days and event of each person R analysed, by the documented follow-up rule."""
    frame = read_withdrawals()
    observed = frame[frame["withdrew"].notna()]
    days, event, kept, _, _ = follow_up(
        observed, "withdrew", date.fromisoformat(reference["as_of"])
    )
    return pd.DataFrame(
        {"arm": observed.loc[kept, "arm"].astype(str), "days": days, "event": event}
    )


def assert_close(ours: list[float | None], theirs: list[float | None]) -> None:
    """Equal to RELATIVE, and missing (R's NA) in the same places."""
    assert [x is None for x in ours] == [x is None for x in theirs]
    known = [(a, b) for a, b in zip(ours, theirs, strict=True) if b is not None]
    assert [a for a, _ in known] == pytest.approx([b for _, b in known], rel=RELATIVE, abs=0)


@pytest.mark.parametrize(("block", "alpha"), [("km", 0.05), ("km_90", 0.10)])
def test_kaplan_meier_at_30_90_and_180_days_is_r_survfit(
    reference: dict[str, Any], followed: pd.DataFrame, block: str, alpha: float
) -> None:
    for arm, expected in reference[block].items():
        rows = followed[followed["arm"] == arm]
        curve = kaplan_meier(rows["days"], rows["event"], reference["times"], alpha)
        assert (curve.n, curve.events) == (
            reference["analysed"][arm],
            reference["events"][arm],
        )
        assert [p.time for p in curve.at] == expected["time"]
        assert [p.at_risk for p in curve.at] == expected["n_risk"]
        assert [p.events for p in curve.at] == expected["events"]
        assert_close([p.survival for p in curve.at], expected["surv"])
        assert_close([p.std_error for p in curve.at], expected["std_err"])
        assert_close([p.ci_low for p in curve.at], expected["lower"])
        assert_close([p.ci_high for p in curve.at], expected["upper"])


def test_log_rank_across_all_arms_and_each_against_control_is_r_survdiff(
    reference: dict[str, Any], followed: pd.DataFrame
) -> None:
    overall = log_rank(followed["days"], followed["event"], followed["arm"])
    expected = reference["log_rank"]
    assert overall.df == expected["df"] == 2
    assert_close([overall.chi_square, overall.p_value], [expected["chisq"], expected["p_value"]])
    for arm, pair in reference["log_rank_pairs"].items():
        rows = followed[followed["arm"].isin(["control", arm])]
        test = log_rank(rows["days"], rows["event"], rows["arm"])
        assert test.df == pair["df"] == 1
        assert_close([test.chi_square, test.p_value], [pair["chisq"], pair["p_value"]])


def test_a_curve_that_reaches_zero_has_no_standard_error_or_interval_as_in_r(
    reference: dict[str, Any],
) -> None:
    edge = reference["edge"]
    curve = kaplan_meier(edge["time"], edge["status"], edge["times"])
    assert [p.at_risk for p in curve.at] == edge["n_risk"]
    assert_close([p.survival for p in curve.at], edge["surv"])
    assert_close([p.std_error for p in curve.at], edge["std_err"])
    assert_close([p.ci_low for p in curve.at], edge["lower"])
    assert_close([p.ci_high for p in curve.at], edge["upper"])
    assert (
        curve.at[-1].note == "everyone still followed had the event: no standard error or interval"
    )


@pytest.mark.parametrize("seed", range(5))
def test_without_censoring_the_curve_is_the_plain_share_and_greenwood_the_binomial_error(
    seed: int,
) -> None:
    """Nobody censored: 1 - S(t) is the share with the event by t, and Greenwood's variance
    reduces to the binomial p(1 - p)/n (Kaplan and Meier 1958)."""
    rng = np.random.default_rng(seed)
    days = rng.integers(0, 60, 200).astype(float)
    curve = kaplan_meier(days, np.ones(200), [10, 25, 40])
    for point in curve.at:
        share = float(np.mean(days <= point.time))
        assert point.survival == pytest.approx(1 - share, rel=1e-12)
        assert point.std_error == pytest.approx(np.sqrt(share * (1 - share) / 200), rel=1e-10)
        low, middle, high = point.ci_low, point.survival, point.ci_high
        assert low is not None and middle is not None and high is not None
        assert low < middle < high <= 1.0


def test_before_any_event_the_curve_is_one_with_an_interval_of_one() -> None:
    curve = kaplan_meier([5, 8, 12, 30], [0, 1, 0, 1], [4])
    (point,) = curve.at
    assert (point.survival, point.std_error, point.ci_low, point.ci_high) == (1.0, 0.0, 1.0, 1.0)
    assert (point.at_risk, point.events) == (4, 0)


def test_a_time_beyond_the_longest_follow_up_has_no_estimate() -> None:
    curve = kaplan_meier([5, 8, 12, 30], [0, 1, 0, 1], [30, 31])
    assert curve.at[0].survival == pytest.approx(0.0)
    assert curve.at[1].survival is None and curve.at[1].at_risk == 0
    assert curve.at[1].note == "nobody in this group is followed as long as 31"


def test_a_group_with_nobody_has_no_curve() -> None:
    curve = kaplan_meier([], [], [30])
    assert (curve.n, curve.at[0].survival) == (0, None)


def test_log_rank_needs_two_groups_and_an_event() -> None:
    one = log_rank([1, 2, 3], [1, 0, 1], ["a", "a", "a"])
    assert (one.chi_square, one.p_value, one.note) == (
        None,
        None,
        "fewer than two groups: nothing to compare",
    )
    none = log_rank([1, 2, 3, 4], [0, 0, 0, 0], ["a", "b", "a", "b"])
    assert (none.p_value, none.note) == (None, "nobody had the event: nothing to compare")


def test_identical_groups_give_a_chi_square_of_zero() -> None:
    days = [1, 3, 3, 7, 9, 12] * 2
    events = [1, 1, 0, 1, 0, 1] * 2
    test = log_rank(days, events, ["a"] * 6 + ["b"] * 6)
    assert test.chi_square == pytest.approx(0.0, abs=1e-12)
    assert test.p_value == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("time", "event", "message"),
    [
        ([1, -1], [1, 0], "every time must be finite and at least 0"),
        ([1, 2], [1, 2], "every event must be 0 (censored) or 1 (the event)"),
        ([1, 2], [1], "time and event must be 1-d arrays of the same length"),
    ],
)
def test_bad_input_is_refused_with_the_reason(
    time: list[float], event: list[float], message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        kaplan_meier(time, event, [1])
