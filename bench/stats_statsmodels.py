"""Time statsmodels against the hand-written formulas for the statistics the report repeats.

Run: ``uv run python bench/stats_statsmodels.py``. Issue 18 asks the analysis to use
statsmodels where it implements the same method, keeping our own code only where a benchmark
shows the need. Everything runs in one process holding what a ``nudge`` command holds
(``nudge.cli`` imported, so the garbage collector walks its real heap), and each figure is a
ratio between two implementations measured in the same run (best of several repeats):

- per call: Holm and Bonferroni, ``adjust_p_values`` (ours, kept) against statsmodels'
  ``multipletests``; Wilson, Newcombe and power as committed (statsmodels) against the
  formulas they replaced, copied below as the baseline;
- whole paths, on a simulated trial of 20,000 people in 4 arms (unclustered, so every
  per-arm interval is Wilson's and every difference Newcombe's): ``build_report`` with ours
  against ``multipletests``; ``build_report`` and ``results_over_time`` (52 weekly looks)
  with the statsmodels intervals against the replaced formulas.
"""

from __future__ import annotations

import gc
import math
import tempfile
import timeit
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
from scipy import stats

import nudge.cli  # noqa: F401  (the heap of a nudge command, which the collector walks)
from analysis.frame import frame_from_csv
from analysis.over_time import results_over_time
from analysis.report import build_report
from analysis.stats import newcombe_difference, power_two_proportions, wilson_interval
from analysis.stats.multiplicity import Method, adjust_p_values
from analysis.stats.proportions import IntervalEstimate, ProportionEstimate
from bench.analyse import SEED, definition_yaml, simulate
from experiments.definition import TrialDefinition
from experiments.loader import LoadedTrial, load_trial_file

P_VALUES = [0.012, None, 0.031, 0.2]


def multipletests_adjust(
    p_values: Sequence[float | None], method: Method = "holm", *, family_size: int | None = None
) -> tuple[float | None, ...]:
    """``adjust_p_values`` through ``multipletests``: a missing p counts as 1 in the family."""
    from statsmodels.stats.multitest import multipletests

    present = [p for p in p_values if p is not None]
    padded = present + [1.0] * ((family_size or len(present)) - len(present))
    adjusted = iter(multipletests(padded, method=method)[1])
    return tuple(None if p is None else float(next(adjusted)) for p in p_values)


def formula_wilson(events: int, n: int, alpha: float = 0.05) -> ProportionEstimate:
    """The hand-written Wilson interval that statsmodels' replaced (baseline)."""
    if n == 0:
        return ProportionEstimate(events, n, None, None, None, "no participants with an outcome")
    z, p = float(stats.norm.ppf(1.0 - alpha / 2.0)), events / n
    centre = (events + z * z / 2.0) / (n + z * z)
    half = z * math.sqrt(n) / (n + z * z) * math.sqrt(p * (1.0 - p) + z * z / (4.0 * n))
    low = 0.0 if events == 0 else max(0.0, centre - half)
    return ProportionEstimate(events, n, p, low, 1.0 if events == n else min(1.0, centre + half))


def formula_newcombe(x1: int, n1: int, x2: int, n2: int, alpha: float = 0.05) -> IntervalEstimate:
    """The hand-written Newcombe interval that statsmodels' replaced (baseline)."""
    if n1 == 0 or n2 == 0:
        return IntervalEstimate(None, None, None, "an arm has no participants with an outcome")
    a, c = formula_wilson(x1, n1, alpha), formula_wilson(x2, n2, alpha)
    assert a.proportion is not None and c.proportion is not None
    assert a.ci_low is not None and a.ci_high is not None
    assert c.ci_low is not None and c.ci_high is not None
    d = a.proportion - c.proportion
    low = d - math.hypot(a.proportion - a.ci_low, c.ci_high - c.proportion)
    return IntervalEstimate(
        d, low, d + math.hypot(a.ci_high - a.proportion, c.proportion - c.ci_low)
    )


def formula_power(n: float, p1: float, p2: float, alpha: float = 0.05) -> float:
    """The hand-written power (1:1) that statsmodels' replaced (baseline)."""
    z, pbar = float(stats.norm.ppf(1.0 - alpha / 2.0)), (p1 + p2) / 2.0
    pooled, spread = math.sqrt(pbar * (1 - pbar) * 2.0), math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return float(stats.norm.cdf((math.sqrt(n) * abs(p1 - p2) - z * pooled) / spread))


def formulas() -> ExitStack:
    """Patch the replaced formulas in wherever the report and results over time call them."""
    stack = ExitStack()
    for module in ("analysis.summaries", "analysis.stats.proportions"):
        stack.enter_context(mock.patch(f"{module}.wilson_interval", formula_wilson))
        stack.enter_context(mock.patch(f"{module}.newcombe_difference", formula_newcombe))
    return stack


def paired_us(
    first: Callable[[], object], second: Callable[[], object], number: int, repeat: int = 7
) -> tuple[float, float]:
    """Best µs a call of each, timed in turn so that the machine's load falls on both alike.

    Each timing starts from a collected heap, so that neither pays for the other's garbage
    (timeit keeps the collector off while it times, but a ``gc.collect()`` still runs).
    """
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for call, found in zip((first, second), times, strict=True):
            timer = timeit.Timer(call, setup=gc.collect)
            found.append(timer.timeit(number=number) / number * 1e6)
    return min(times[0]), min(times[1])


def ratio_line(name: str, times: tuple[float, float], unit: str = "µs") -> None:
    first, second = times if unit == "µs" else (times[0] / 1e3, times[1] / 1e3)
    print(f"{name}: {first:,.1f} {unit} against {second:,.1f} {unit} (ratio {first / second:,.2f})")


def patched(call: Callable[[], object], patches: Callable[[], ExitStack]) -> Callable[[], object]:
    """``call`` with the patches in place while it runs."""

    def run() -> object:
        with patches():
            return call()

    return run


def per_call() -> None:
    methods: tuple[tuple[Method, int], ...] = (("holm", 20), ("bonferroni", 2000))
    for method, number in methods:
        theirs = partial(multipletests_adjust, P_VALUES, method, family_size=4)
        ours = partial(adjust_p_values, P_VALUES, method, family_size=4)
        ratio_line(f"{method} a call, multipletests / ours (kept)", paired_us(theirs, ours, number))
    pairs = (
        ("Wilson", wilson_interval, formula_wilson, (3271, 4560)),
        ("Newcombe", newcombe_difference, formula_newcombe, (327, 456, 260, 435)),
        ("power", power_two_proportions, formula_power, (1000, 0.75, 0.8)),
    )
    for name, committed, replaced, args in pairs:
        ratio_line(
            f"{name} a call, statsmodels (committed) / formula",
            paired_us(partial(committed, *args), partial(replaced, *args), 2000),
        )


def simulated_trial() -> tuple[pd.DataFrame, pd.Series, TrialDefinition]:
    """The 4-arm unclustered trial of bench/analyse.py at 20,000 people, hearings over 52 weeks."""
    with tempfile.TemporaryDirectory() as folder:
        csv_path, yaml_path = Path(folder) / "data.csv", Path(folder) / "trial.yaml"
        simulate(20_000, 4, True, None).to_csv(csv_path, index=False)
        yaml_path.write_text(definition_yaml(4, True, False), encoding="utf-8")
        loaded = load_trial_file(yaml_path)
        assert isinstance(loaded, LoadedTrial), loaded
        frame = frame_from_csv(csv_path, loaded.definition)
    days = np.random.default_rng(SEED).integers(0, 7 * 52, len(frame))
    start = pd.Timestamp("2027-01-04 10:00", tz="UTC")
    return (
        frame,
        pd.Series(start + pd.to_timedelta(days, unit="D"), index=frame.index),
        loaded.definition,
    )


def multipletests_patched() -> ExitStack:
    stack = ExitStack()
    stack.enter_context(mock.patch("analysis.report.adjust_p_values", multipletests_adjust))
    return stack


def whole_paths() -> None:
    frame, times, definition = simulated_trial()
    report = partial(build_report, frame, definition)
    over_time = partial(results_over_time, frame, times, definition)
    with_multipletests = patched(report, multipletests_patched)
    ratio_line("report, multipletests / ours", paired_us(with_multipletests, report, 1), "ms")
    ratio_line(
        "report, statsmodels / formula intervals",
        paired_us(report, patched(report, formulas), 1),
        "ms",
    )
    ratio_line(
        "results over time (52 weeks), statsmodels / formula intervals",
        paired_us(over_time, patched(over_time, formulas), 1),
        "ms",
    )


def main() -> None:
    np.testing.assert_allclose(  # the two adjusters agree, so the timings compare like with like
        np.array(adjust_p_values(P_VALUES, family_size=4), dtype=float),
        np.array(multipletests_adjust(P_VALUES, family_size=4), dtype=float),
        rtol=1e-15,
    )
    per_call()
    whole_paths()


if __name__ == "__main__":
    main()
