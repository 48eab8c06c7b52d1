"""`unique_first` is `np.unique(codes, return_index=True)`, in one pass for ordered codes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.stats.cells import unique_first

RNG = np.random.default_rng(20261206)


@pytest.mark.parametrize(
    "codes",
    [
        # Numbered in order of first appearance, as pd.factorize numbers them: the fast way.
        np.asarray(pd.factorize(RNG.integers(0, 500, 5_000))[0]),
        np.array([0, 0, 1, 0, 2, 1, 3]),
        # Not in that order: the sort decides.
        RNG.integers(0, 500, 5_000),
        np.array([1, 0, 1, 2]),
        np.array([0, 2, 1, 1]),
        np.array([0, 1, 3, 2]),
        np.array([2, 2, 2]),
        np.array([], dtype=np.intp),
    ],
)
def test_each_code_and_its_first_row_are_numpys(codes: np.ndarray) -> None:
    seen, first = unique_first(codes)
    expected_seen, expected_first = np.unique(codes, return_index=True)
    np.testing.assert_array_equal(seen, expected_seen)
    np.testing.assert_array_equal(first, expected_first)
