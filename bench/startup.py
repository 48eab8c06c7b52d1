"""Benchmark: how long the `nudge` commands and the web app take to start (issue 23).

Each command runs as a user's shell runs it, in a fresh process with the bytecode cache on
(PYTHONDONTWRITEBYTECODE is removed from the child's environment: this machine sets it, a
user's Python does not). The baseline, measured in the same run, is `python -c pass`: the
interpreter's own start, which no command can beat.

Every command first runs once as a warm-up (it writes the bytecode cache and, for the
database, migrates a fresh SQLite file), then the commands take turns for `--repeat` rounds
(5 unless told), so a burst of load from the other processes on this shared machine falls on
all of them alike. Each figure is the median of its rounds; the ratio is to the baseline's.
The CPU time (user + system) of each run is given too: on a busy machine it moves less than
the wall time, which includes the time spent waiting for a core.

    nice -n -15 uv run python bench/startup.py [--root OTHER_CHECKOUT]

`--root` measures another checkout with its own `.venv` (for example main at the branch
point, from `git worktree add`), so the code before and after a change can be compared.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = Path("experiments") / "examples" / "witness-reminders.yaml"
TARGETS_S = {"nudge --help": 0.3, "nudge dispatch": 0.8, "nudge trial validate": 1.0}
TARGETS_S["import app"] = 1.5


def commands(root: Path) -> dict[str, list[str]]:
    """What to time, each as argv; the first is the baseline."""
    bin_dir = root / ".venv" / "bin"
    python = str(bin_dir / "python") if (bin_dir / "python").exists() else sys.executable
    nudge = str(bin_dir / "nudge")
    return {
        "python -c pass": [python, "-c", "pass"],
        "nudge --help": [nudge, "--help"],
        "nudge dispatch": [nudge, "dispatch"],
        "nudge trial validate": [nudge, "trial", "validate", str(root / EXAMPLE)],
        "import app": [python, "-c", "import app"],
    }


def child_env(folder: Path) -> dict[str, str]:
    """A fresh SQLite database and the console provider, with the bytecode cache on."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUDGE_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        NUDGE_DATABASE_URL=f"sqlite:///{folder / 'startup.db'}",
        NUDGE_SMS_PROVIDER="console",
        NUDGE_OUTBOX_DIR=str(folder / "outbox"),
    )
    return env


class Run(NamedTuple):
    wall: float
    cpu: float


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(argv: list[str], root: Path, env: dict[str, str]) -> Run:
    """Seconds of wall and CPU time for one run; a failing command stops the benchmark."""
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return Run(took, _children_cpu() - cpu)


def measure(root: Path, repeat: int) -> dict[str, list[Run]]:
    with tempfile.TemporaryDirectory(prefix="nudge-startup-") as tmp:
        env = child_env(Path(tmp))
        todo = commands(root)
        for argv in todo.values():
            run(argv, root, env)  # warm-up: bytecode cache written, database migrated
        times: dict[str, list[Run]] = {name: [] for name in todo}
        for _ in range(repeat):
            for name, argv in todo.items():
                times[name].append(run(argv, root, env))
    return times


def table(times: dict[str, list[Run]]) -> str:
    baseline = statistics.median(run.wall for run in next(iter(times.values())))
    lines = [
        "| command | wall, median | wall, range | ratio to `python -c pass` | CPU, median "
        "| target (wall) |",
        "|---|---|---|---|---|---|",
    ]
    for name, runs in times.items():
        walls = [run.wall for run in runs]
        median = statistics.median(walls)
        target = TARGETS_S.get(name)
        lines.append(
            f"| `{name}` | {median:.3f} s | {min(walls):.3f}-{max(walls):.3f} s "
            f"| {median / baseline:.1f} | {statistics.median(run.cpu for run in runs):.3f} s "
            f"| {f'under {target} s' if target else 'baseline'} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="The checkout to measure.")
    parser.add_argument("--repeat", type=int, default=5, help="Timed rounds after the warm-up.")
    args = parser.parse_args()
    root = args.root.resolve()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
    ).stdout.strip()
    load_before = os.getloadavg()
    times = measure(root, args.repeat)
    load_after = os.getloadavg()
    print(f"{date.today()} {root} at {commit}, nice {os.nice(0)}")
    print(
        "load average (1, 5, 15 min) before "
        + ", ".join(f"{x:.2f}" for x in load_before)
        + "; after "
        + ", ".join(f"{x:.2f}" for x in load_after)
    )
    print(table(times))


if __name__ == "__main__":
    main()
