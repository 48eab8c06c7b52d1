"""Posterior summaries against numerical integration in R, and their symmetries."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.stats.bayes import bayes_comparison, expected_loss, prob_better


def test_prob_better_and_expected_loss_match_r_integrate(stats_reference: dict[str, Any]) -> None:
    for case in stats_reference["bayes"]:
        counts = (case["events_arm"], case["n_arm"], case["events_control"], case["n_control"])
        assert prob_better(*counts) == pytest.approx(case["prob_better"], rel=1e-6)
        assert expected_loss(*counts) == pytest.approx(case["expected_loss"], rel=1e-6)


def test_no_outcomes_gives_the_prior_values_with_a_note() -> None:
    result = bayes_comparison(0, 0, 0, 0)
    assert result.prob_better == pytest.approx(0.5)
    assert result.expected_loss == pytest.approx(1 / 6)
    assert result.note


@settings(deadline=None)
@given(
    n1=st.integers(min_value=0, max_value=400),
    n2=st.integers(min_value=0, max_value=400),
    data=st.data(),
)
def test_prob_better_is_complementary_and_loss_is_consistent(
    n1: int, n2: int, data: st.DataObject
) -> None:
    x1 = data.draw(st.integers(min_value=0, max_value=n1))
    x2 = data.draw(st.integers(min_value=0, max_value=n2))
    forward = prob_better(x1, n1, x2, n2)
    assert forward + prob_better(x2, n2, x1, n1) == pytest.approx(1.0, abs=1e-9)
    # E[(pc - pa)^+] - E[(pa - pc)^+] = E[pc] - E[pa].
    gap = (1 + x2) / (2 + n2) - (1 + x1) / (2 + n1)
    assert expected_loss(x1, n1, x2, n2) - expected_loss(x2, n2, x1, n1) == pytest.approx(
        gap, abs=1e-9
    )
