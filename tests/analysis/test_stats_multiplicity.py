"""Multiplicity adjustment against R p.adjust and statsmodels, and Holm's defining properties."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from analysis.stats.multiplicity import Method, adjust_p_values


@pytest.mark.parametrize("method", ["holm", "bonferroni"])
def test_adjustment_matches_p_adjust(stats_reference: dict[str, Any], method: str) -> None:
    ref = stats_reference["p_adjust"]
    assert adjust_p_values(ref["p"], method) == pytest.approx(ref[method], abs=1e-12)


def test_missing_p_values_stay_missing_and_do_not_count(stats_reference: dict[str, Any]) -> None:
    ref = stats_reference["p_adjust"]
    ours = adjust_p_values(ref["p_with_na"], "holm")
    assert ours[1] is None
    assert [ours[i] for i in (0, 2, 3)] == pytest.approx(
        [ref["holm_with_na"][i] for i in (0, 2, 3)]
    )


def test_none_leaves_p_values_unchanged() -> None:
    assert adjust_p_values([0.2, 0.01], "none") == (0.2, 0.01)


def test_unknown_method_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown method"):
        adjust_p_values([0.1], "hochberg")  # type: ignore[arg-type]


@settings(deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=12))
def test_holm_is_at_least_raw_monotone_and_at_most_bonferroni(p: list[float]) -> None:
    holm = adjust_p_values(p, "holm")
    bonferroni = adjust_p_values(p, "bonferroni")
    pairs = sorted(zip(p, holm, strict=True))
    for raw, adjusted, bonf in zip(p, holm, bonferroni, strict=True):
        assert adjusted is not None and bonf is not None
        assert raw <= adjusted <= 1.0
        assert adjusted <= bonf
    for (_, lower), (_, upper) in zip(pairs, pairs[1:], strict=False):
        assert lower is not None and upper is not None
        assert lower <= upper


@pytest.mark.parametrize(
    ("p", "family"),
    [
        ([0.04, 0.001, 0.02, 0.3, 0.02], 5),  # ties keep their running maximum
        ([0.0, 1.0, 0.5], 3),
        ([0.012, None, 0.031], 3),  # a comparison that could not be tested still counts
        ([0.2, 0.01], 6),  # the pre-registered family is larger than the p-values given
    ],
)
@pytest.mark.parametrize("method", ["holm", "bonferroni"])
def test_adjustment_equals_statsmodels_multipletests_with_missing_counted_as_one(
    p: list[float | None], family: int, method: Method
) -> None:
    present = [value for value in p if value is not None]
    padded = present + [1.0] * (family - len(present))
    theirs = iter(multipletests(padded, method=method)[1])
    expected = [None if value is None else float(next(theirs)) for value in p]
    ours = adjust_p_values(p, method, family_size=family)
    assert [value is None for value in ours] == [value is None for value in expected]
    assert [v for v in ours if v is not None] == pytest.approx(
        [v for v in expected if v is not None], rel=1e-12
    )
