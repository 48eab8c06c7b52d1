"""Which randomised participants an outcome's `population` rule takes in, vectorised."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from experiments.definition import Rule
from experiments.eligibility import holds


def in_population(frame: pd.DataFrame, rule: Rule | None) -> pd.Series:
    """True for rows meeting the rule (all rows when there is none), via `eligibility.holds`.

    The rule is evaluated once per distinct value, so a million rows cost a few comparisons.
    """
    if rule is None:
        return pd.Series(True, index=frame.index)
    if rule.field not in frame:
        return pd.Series(holds(rule, None), index=frame.index)
    values = frame[rule.field]
    missing = values.isna().to_numpy()
    result = np.full(len(frame), holds(rule, None), dtype=bool)
    present = values[~missing]
    for value in pd.unique(present):
        result[(values == value).to_numpy() & ~missing] = holds(rule, _plain(value))
    return pd.Series(result, index=frame.index)


def _plain(value: Any) -> Any:
    """A frame value as the rule engine expects it: 1.0 from a yes/no column reads as 1."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return int(value)
    if isinstance(value, np.generic):
        return value.item()
    return value
