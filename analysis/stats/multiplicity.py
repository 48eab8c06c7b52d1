"""Adjust p-values for several arm-versus-control comparisons (R ``p.adjust``).

Our own code, not statsmodels' ``multipletests``, though that gives the same values (a test
checks they agree): its Holm branch runs a full ``gc.collect()`` on every call, which in a
``nudge`` process costs a tenth of a second or more a call, against microseconds here, and
made a 20,000-person report 2.5 to 3.4 times slower (``bench/stats_statsmodels.py``,
BENCHMARKS.md). It also has no equivalent of R's ``n``, the family size below.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

Method = Literal["holm", "bonferroni", "none"]


def adjust_p_values(
    p_values: Sequence[float | None],
    method: Method = "holm",
    *,
    family_size: int | None = None,
) -> tuple[float | None, ...]:
    """Family-wise error adjustment, matching R ``p.adjust`` including its handling of NA.

    ``None`` entries are left as ``None``. By default they do not count towards the family
    size m (R's default). ``family_size`` (R's ``n``) fixes m instead: the report passes the
    pre-registered number of comparisons, so a comparison that cannot be estimated still
    counts, as if its p were 1, and the others are not corrected for a smaller family than
    was planned.

    - ``bonferroni``: ``min(1, m p_i)``.
    - ``holm``: order p ascending; the i-th smallest (1-based) becomes
      ``min(1, max_{j <= i} (m - j + 1) p_(j))``: the running maximum enforces monotonicity,
      so an adjusted p is never below the raw p nor below that of a smaller raw p.
    - ``none``: unchanged.

    References
    ----------
    Holm S (1979) A simple sequentially rejective multiple test procedure. Scand J Stat
    6:65-70. Dmitrienko A et al. (2010) Multiple Testing Problems in Pharmaceutical
    Statistics, chapter 2.
    """
    present = [i for i, p in enumerate(p_values) if p is not None]
    raw = np.array([p_values[i] for i in present], dtype=np.float64)
    if np.any((raw < 0.0) | (raw > 1.0)) or not np.all(np.isfinite(raw)):
        raise ValueError("p-values must lie in [0, 1]")
    m = raw.size if family_size is None else family_size
    if m < raw.size:
        raise ValueError(f"family_size {m} is smaller than the {raw.size} p-values given")
    if method == "none":
        adjusted = raw
    elif method == "bonferroni":
        adjusted = np.minimum(1.0, m * raw)
    elif method == "holm":
        order = np.argsort(raw, kind="stable")
        stepped = np.maximum.accumulate((m - np.arange(raw.size)) * raw[order])
        adjusted = np.empty(raw.size)
        adjusted[order] = np.minimum(1.0, stepped)
    else:
        raise ValueError(f"unknown method {method!r}; use 'holm', 'bonferroni' or 'none'")
    out: list[float | None] = [None] * len(p_values)
    for i, value in zip(present, adjusted, strict=True):
        out[i] = float(value)
    return tuple(out)
