"""Benchmark: import + eligibility + randomisation of a synthetic export, SQLite and PostgreSQL.

    uv run python bench/enrol.py [--size 1000000] [--engines sqlite,postgresql]

Each import runs in a fresh process (so its peak RSS is its own) against a fresh database. The
baseline, measured in the same run on the same engine, is the least any importer must do: read
the same file with csv.reader and bulk-insert the raw rows into one table. The ratio
nudge/baseline is what to compare across runs on this shared, noisy machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Nothing of the project is imported here at the top: the import's reader process is spawned,
# and a spawned process runs its parent's main module (this file) again before it reads a row.
# tests.factories cost it ~0.6 s of CPU there that `nudge enrol` does not pay.

EXAMPLE = ROOT / "experiments" / "examples" / "witness-reminders.yaml"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"
COURTS = [f"C{i:02d}" for i in range(20)]


def generate(path: Path, size: int, seed: int = 1) -> None:
    """N people in about 0.6 N cases across 20 courts over nine months; about 80% eligible."""
    from experiments.synthetic import ExportShape, write_export

    courts = tuple((code, f"Example Court {i}") for i, code in enumerate(COURTS))
    shape = ExportShape(date(2027, 3, 1), 270, courts, 1 / 0.6, weekdays_only=False)
    write_export(path, size, shape, seed)


def child_nudge(url: str, path: str) -> dict[str, float]:
    from sqlmodel import Session

    from experiments import trials
    from experiments.enrol import enrol_file
    from experiments.loader import load_trial_file
    from nudge.clock import SystemClock
    from nudge.db import make_engine, upgrade

    engine = make_engine(url)
    upgrade(engine)
    clock = SystemClock()
    with Session(engine) as session:
        loaded = load_trial_file(EXAMPLE)
        actor = trials.Actor("bench")
        trials.create_trial(session, clock, loaded, actor)  # type: ignore[arg-type]
        trials.launch_trial(session, clock, "witness-reminders-2027", actor)
        session.commit()
    start = time.perf_counter()
    with Session(engine) as session:
        summary = enrol_file(session, clock, "witness-reminders-2027", Path(path), "bench")
        session.commit()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": summary.read, "randomised": summary.randomised}


def child_baseline(url: str, path: str) -> dict[str, float]:
    from sqlalchemy import Column, MetaData, String, Table, insert

    from nudge.db import make_engine
    from tests.factories import PEOPLE_COLUMNS

    engine = make_engine(url)
    metadata = MetaData()
    table = Table("raw_rows", metadata, *(Column(c, String) for c in PEOPLE_COLUMNS))
    metadata.create_all(engine)
    start = time.perf_counter()
    rows = 0
    with engine.begin() as connection, open(path, newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        batch: list[dict[str, str]] = []
        for cells in reader:
            batch.append(dict(zip(PEOPLE_COLUMNS, cells, strict=True)))
            if len(batch) == 2000:
                connection.execute(insert(table), batch)
                rows, batch = rows + len(batch), []
        if batch:
            connection.execute(insert(table), batch)
            rows += len(batch)
    return {"seconds": time.perf_counter() - start, "rows": rows}


def run_child(kind: str, url: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, url, str(path)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def fresh_url(engine: str, folder: Path) -> tuple[str, str | None]:
    if engine == "sqlite":
        return f"sqlite:///{folder / f'{uuid.uuid4().hex}.db'}", None
    from sqlalchemy import create_engine, text

    name = f"nudge_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{POSTGRES}/{name}", name


def drop(name: str | None) -> None:
    if name is None:
        return
    from sqlalchemy import create_engine, text

    admin = create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        export = folder / "people.csv"
        generate(export, args.size)
        print(f"export: {args.size:,} rows, {export.stat().st_size / 1e6:.0f} MB")
        print(
            f"{'engine':<12}{'nudge s':>9}{'rows/s':>10}{'peak MB':>9}{'baseline s':>12}"
            f"{'ratio':>7}"
        )
        for engine in args.engines.split(","):
            url, name = fresh_url(engine, folder)
            nudge = run_child("nudge", url, export)
            drop(name)
            url, name = fresh_url(engine, folder)
            base = run_child("baseline", url, export)
            drop(name)
            print(
                f"{engine:<12}{nudge['seconds']:>9.1f}{nudge['rows'] / nudge['seconds']:>10,.0f}"
                f"{nudge['peak_mb']:>9.0f}{base['seconds']:>12.1f}"
                f"{nudge['seconds'] / base['seconds']:>7.1f}"
            )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, url, path = sys.argv[2:5]
        result = (child_nudge if kind == "nudge" else child_baseline)(url, path)
        result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
    else:
        main()
