"""Time `flat file → frame → report JSON` on two large simulated trials, against a floor.

Run: ``uv run python bench/analyse.py``. Each data set is simulated (seeded), written as a
flat CSV, then analysed in a fresh subprocess so its peak RSS is its own. The baseline, timed
in the same subprocess, is one ``numpy.linalg.lstsq`` OLS fit of the primary model's design:
the physical floor of any regression analysis of that data, on one BLAS thread as the report
runs its models. CPU seconds are printed too: on a busy shared machine they move far less than
wall-clock seconds.

The set without covariates is also compared with R: ``bench/lm_robust.R`` runs estimatr's
``lm_robust(attended ~ arm)`` with HC2 on the same CSV in a fresh ``Rscript`` process, and the
ratio is the wall time of the whole Python process (start-up, imports, reading, the whole report
as JSON) to that of the whole R process (start-up, ``library(estimatr)``, ``read.csv``, the
fit). R comes from Debian's packages (r-base-core, r-cran-estimatr); without ``Rscript`` the
comparison is left out.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20270110
SETS = {
    "1M participants, 4 arms, 5 covariates, 600k cases": (1_000_000, 4, True, 600_000),
    "700k participants, 23 arms, no covariates": (700_000, 23, False, None),
}


def definition_yaml(arms: int, covariates: bool, clustered: bool) -> str:
    arm_lines = "\n".join(
        f"  - {{id: arm{i}, title: Arm {i}"
        + (", control: true" if i == 0 else "")
        + ("" if i == 0 else ", messages: [{channel: letter, template: t, send: {days_before: 7}}]")
        + "}"
        for i in range(arms)
    )
    plan = (
        "covariates: [age, prior_fta, role, vulnerable, language], "
        "columns: {age: numeric, prior_fta: flag, vulnerable: flag}"
        if covariates
        else ""
    )
    return f"""id: bench
title: Benchmark trial
timezone: Europe/London
population: {{unit: {"case" if clustered else "participant"}, strata: [court]}}
arms:
{arm_lines}
templates: {{t: {{en: "Please come to court."}}}}
outcomes: [{{id: attended, primary: true}}]
analysis: {{{plan}}}
costs: {{letter: 0.85}}
"""


def simulate(n: int, arms: int, covariates: bool, cases: int | None) -> pd.DataFrame:
    rng = np.random.default_rng(SEED)
    if cases is None:
        unit = np.arange(n)
    else:
        unit = np.concatenate([np.arange(cases), rng.integers(0, cases, n - cases)])
        rng.shuffle(unit)
    unit_arm = rng.integers(0, arms, unit.max() + 1)
    arm = unit_arm[unit]
    court = rng.integers(0, 10, unit.max() + 1)[unit]
    delivered = np.where(arm == 0, 0, rng.binomial(1, 0.85, n))
    logit = 0.8 + 0.2 * delivered - 0.5 * rng.binomial(1, 0.2, n)
    frame = pd.DataFrame(
        {
            "participant_ref": [f"P{i:07d}" for i in range(n)],
            "case_ref": [f"C{u:07d}" for u in unit],
            "arm": [f"arm{a}" for a in arm],
            "court": [f"court{c}" for c in court],
        }
    )
    if covariates:
        frame["age"] = rng.integers(18, 90, n)
        frame["prior_fta"] = np.where(rng.random(n) < 0.2, "yes", "no")
        frame["role"] = rng.choice(["victim", "witness", "other"], n)
        frame["vulnerable"] = np.where(rng.random(n) < 0.1, "yes", "no")
        frame["language"] = np.where(rng.random(n) < 0.05, "cy", "en")
    frame["attended"] = rng.binomial(1, 1 / (1 + np.exp(-logit)))
    frame["delivered"] = delivered
    frame["cost"] = np.where(arm == 0, 0.0, 0.85)
    return frame


def run_one(csv_path: str, yaml_path: str) -> None:
    """In a fresh process: time the report and the lstsq floor; print JSON."""
    from analysis.analyse import analyse_file
    from analysis.report import report_json

    start, cpu = time.perf_counter(), time.process_time()
    result = analyse_file(Path(csv_path), Path(yaml_path))
    json.dumps(report_json(result.report), allow_nan=False)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    report_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    floor, floor_cpu = _floor(csv_path, result.definition)
    timing = {"report_s": seconds, "report_cpu_s": cpu_seconds, "floor_s": floor}
    print(json.dumps(timing | {"floor_cpu_s": floor_cpu, "peak_rss_mb": report_rss}))


def report_only(csv_path: str, yaml_path: str) -> None:
    """In a fresh process: the report as JSON and nothing else (the process R is timed against)."""
    from analysis.analyse import analyse_file
    from analysis.report import report_json

    json.dumps(report_json(analyse_file(Path(csv_path), Path(yaml_path)).report), allow_nan=False)


def _floor(csv_path: str, definition: object) -> tuple[float, float]:
    """Wall and CPU seconds of one lstsq fit of the primary design, on one BLAS thread."""
    from threadpoolctl import threadpool_limits

    from analysis.effects import design_for
    from analysis.frame import frame_from_csv
    from analysis.report import BLAS_THREADS, model_spec

    frame = frame_from_csv(Path(csv_path), definition)  # type: ignore[arg-type]
    design = design_for(frame, "attended", model_spec(definition))  # type: ignore[arg-type]
    y = frame["attended"].to_numpy(dtype=np.float64)[design.rows]
    with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):  # as the report runs
        start, cpu = time.perf_counter(), time.process_time()
        np.linalg.lstsq(design.x, y, rcond=None)
        return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        for label, (n, arms, covariates, cases) in SETS.items():
            csv_path = Path(folder) / "data.csv"
            yaml_path = Path(folder) / "trial.yaml"
            simulate(n, arms, covariates, cases).to_csv(csv_path, index=False)
            yaml_path.write_text(definition_yaml(arms, covariates, cases is not None))
            out = subprocess.run(
                [sys.executable, __file__, "--one", str(csv_path), str(yaml_path)],
                check=True,
                capture_output=True,
                text=True,
            )
            timing = json.loads(out.stdout.strip().splitlines()[-1])
            ratio = timing["report_s"] / timing["floor_s"]
            cpu_ratio = timing["report_cpu_s"] / timing["floor_cpu_s"]
            print(
                f"{label}: report {timing['report_s']:.2f} s, lstsq floor "
                f"{timing['floor_s']:.2f} s (ratio {ratio:.1f}x); CPU {timing['report_cpu_s']:.2f}"
                f" s against {timing['floor_cpu_s']:.2f} s (ratio {cpu_ratio:.1f}x); peak RSS "
                f"{timing['peak_rss_mb']:.0f} MB"
            )
            if not covariates and shutil.which("Rscript"):
                start = time.perf_counter()
                subprocess.run(
                    [sys.executable, __file__, "--report", str(csv_path), str(yaml_path)],
                    check=True,
                )
                process_s = time.perf_counter() - start
                r_s = r_seconds(csv_path)
                print(
                    f"  the report in a fresh process {process_s:.2f} s against R lm_robust "
                    f"(HC2) {r_s:.2f} s (ratio {process_s / r_s:.2f}, target at most 0.5)"
                )


def r_seconds(csv_path: Path) -> float:
    """Wall seconds of a fresh Rscript reading the CSV and fitting lm_robust(attended ~ arm)."""
    script = Path(__file__).with_name("lm_robust.R")
    start = time.perf_counter()
    subprocess.run(["Rscript", str(script), str(csv_path)], check=True, capture_output=True)
    return time.perf_counter() - start


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        run_one(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "--report":
        report_only(sys.argv[2], sys.argv[3])
    else:
        main()
