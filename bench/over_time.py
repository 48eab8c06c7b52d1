"""Time the results over time (analysis/over_time.py) beside the report it is cached with.

Run: ``uv run python bench/over_time.py [n_rows] [weeks]`` (default 200,000 rows, 26 weeks).
Simulates the clustered 4-arm trial of bench/analyse.py, gives each row a hearing in one of
`weeks` weeks, and prints the seconds of `build_report` and of `results_over_time` on it.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.frame import frame_from_csv
from analysis.over_time import results_over_time
from analysis.report import build_report
from bench.analyse import SEED, definition_yaml, simulate
from experiments.loader import LoadedTrial, load_trial_file


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    weeks = int(sys.argv[2]) if len(sys.argv) > 2 else 26
    with tempfile.TemporaryDirectory() as folder:
        csv_path, yaml_path = Path(folder) / "data.csv", Path(folder) / "trial.yaml"
        simulate(n, 4, True, int(n * 0.6)).to_csv(csv_path, index=False)
        yaml_path.write_text(definition_yaml(4, True, True), encoding="utf-8")
        loaded = load_trial_file(yaml_path)
        assert isinstance(loaded, LoadedTrial), loaded
        definition = loaded.definition
        frame = frame_from_csv(csv_path, definition)
    rng = np.random.default_rng(SEED)
    start = pd.Timestamp("2027-01-04 10:00", tz="UTC")
    hearings = start + pd.to_timedelta(rng.integers(0, 7 * weeks, len(frame)), unit="D")
    times = pd.Series(hearings, index=frame.index)
    began = time.perf_counter()
    build_report(frame, definition)
    report_s = time.perf_counter() - began
    began = time.perf_counter()
    found = results_over_time(frame, times, definition)
    over_time_s = time.perf_counter() - began
    print(f"rows {n:,}, weeks {len(found.weeks)}")
    print(f"build_report {report_s:.2f} s; results_over_time {over_time_s:.2f} s")


if __name__ == "__main__":
    main()
