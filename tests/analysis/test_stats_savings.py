"""Net saving per 1,000 people: worked examples computed by hand, and what it says when the
effect or its interval is missing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.stats.proportions import IntervalEstimate
from analysis.stats.savings import net_saving


def test_more_attendance_saves_the_cost_of_each_non_attendance_avoided_less_the_texts() -> None:
    # 11 points more attendance (5 to 17): 110 non-attendances avoided per 1,000 (50 to 170),
    # each costing 250, so 27,500 saved (12,500 to 42,500); texts cost 0.12 a person more
    # than control, 120 per 1,000.
    saving = net_saving(
        IntervalEstimate(0.11, 0.05, 0.17),
        cost_of_event=250,
        source="Ministry of Justice (2026), p. 12",
        mean_cost_arm=0.12,
        mean_cost_control=0.0,
    )
    assert saving.events_avoided == pytest.approx(110)
    assert (saving.events_avoided_ci_low, saving.events_avoided_ci_high) == pytest.approx((50, 170))
    assert saving.gross_saving == pytest.approx(27_500)
    assert saving.message_cost == pytest.approx(120)
    assert saving.estimate == pytest.approx(27_380)
    assert (saving.ci_low, saving.ci_high) == pytest.approx((12_380, 42_380))
    assert saving.label == "estimate" and saving.per == 1000
    assert saving.source == "Ministry of Justice (2026), p. 12"
    assert saving.note is None


def test_fewer_withdrawals_count_as_events_avoided_when_lower_is_better() -> None:
    # 5 points fewer withdrawals (1 to 9): 50 avoided per 1,000 (10 to 90) at 1,000 each;
    # letters cost 0.50 against control's 0.10, so 400 per 1,000.
    saving = net_saving(
        IntervalEstimate(-0.05, -0.09, -0.01),
        cost_of_event=1000,
        source="CPS (2025)",
        mean_cost_arm=0.5,
        mean_cost_control=0.1,
        lower_is_better=True,
    )
    assert saving.events_avoided == pytest.approx(50)
    assert (saving.events_avoided_ci_low, saving.events_avoided_ci_high) == pytest.approx((10, 90))
    assert saving.estimate == pytest.approx(49_600)
    assert (saving.ci_low, saving.ci_high) == pytest.approx((9_600, 89_600))


def test_an_arm_that_did_worse_shows_a_net_cost() -> None:
    saving = net_saving(
        IntervalEstimate(-0.02, -0.06, 0.02),
        cost_of_event=250,
        source="x",
        mean_cost_arm=0.12,
        mean_cost_control=0.0,
    )
    assert saving.events_avoided == pytest.approx(-20)
    assert saving.estimate == pytest.approx(-5_120)
    assert (saving.ci_low, saving.ci_high) == pytest.approx((-15_120, 4_880))


def test_no_effect_gives_no_saving_with_the_reason_but_still_the_message_cost() -> None:
    saving = net_saving(
        IntervalEstimate(None, None, None, "no participants in control"),
        cost_of_event=250,
        source="x",
        mean_cost_arm=0.12,
        mean_cost_control=0.0,
    )
    assert saving.estimate is None and saving.ci_low is None and saving.gross_saving is None
    assert saving.message_cost == pytest.approx(120)
    assert saving.note == "no net saving: no participants in control"


def test_an_effect_without_an_interval_gives_a_saving_without_one_and_says_so() -> None:
    saving = net_saving(
        IntervalEstimate(0.1, None, None),
        cost_of_event=250,
        source="x",
        mean_cost_arm=0.0,
        mean_cost_control=0.0,
    )
    assert saving.estimate == pytest.approx(25_000)
    assert saving.ci_low is None and saving.ci_high is None
    assert saving.note == "the effect has no interval, so neither has the net saving"


def test_a_negative_cost_of_an_event_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        net_saving(
            IntervalEstimate(0.1, 0.0, 0.2),
            cost_of_event=-1,
            source="x",
            mean_cost_arm=0.0,
            mean_cost_control=0.0,
        )


rates = st.floats(-1, 1, allow_nan=False)


@given(
    st.lists(rates, min_size=3, max_size=3).map(sorted),
    st.floats(0, 1e5),
    st.floats(0, 10),
    st.booleans(),
)
def test_the_saving_interval_holds_the_saving_and_is_the_effect_interval_carried_through(
    effect: list[float], cost: float, extra: float, lower: bool
) -> None:
    low, rd, high = effect
    saving = net_saving(
        IntervalEstimate(rd, low, high),
        cost_of_event=cost,
        source="x",
        mean_cost_arm=extra,
        mean_cost_control=0.0,
        lower_is_better=lower,
    )
    assert saving.estimate is not None and saving.ci_low is not None
    assert saving.ci_high is not None and saving.gross_saving is not None
    slack = 1e-9 * (1 + abs(saving.estimate))
    assert saving.ci_low - slack <= saving.estimate <= saving.ci_high + slack
    gross_less_messages = saving.gross_saving - saving.message_cost
    assert saving.estimate == pytest.approx(gross_less_messages, rel=1e-9, abs=1e-6)
    width = (high - low) * 1000 * cost
    assert saving.ci_high - saving.ci_low == pytest.approx(width, rel=1e-9, abs=1e-6)
