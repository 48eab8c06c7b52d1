"""A multi-site trial's reproduction bundle: the site is in the analysis file and in the
stratum the model uses, so reproduce.R gives Nudge's pooled estimate to 1e-6."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from analysis.bundle import FrozenVersion, assemble_bundle, write_zip
from analysis.frame import frame_from_csv
from tests.analysis.test_bundle_r import assert_same_table, rscript, run_bundle
from tests.analysis.test_sites_report import HERE, sites_definition

__all__ = ["rscript"]  # the fixture, used by name


@pytest.mark.parametrize(
    ("unit", "name"), [("participant", "sites.csv"), ("case", "sites_cases.csv")]
)
def test_a_multi_site_bundle_carries_the_site_and_reproduces_in_r(
    rscript: str, tmp_path: Path, unit: str, name: str
) -> None:
    trial = sites_definition(unit)
    frame = frame_from_csv(HERE / name, trial)
    frozen = FrozenVersion(1, "0" * 64, seed_concealed=False)
    bundle = assemble_bundle(frame, trial, frozen, built_at=datetime.now(UTC))
    zipped = tmp_path / "sites.zip"
    with zipped.open("wb") as handle:
        write_zip(bundle, handle)
    with zipfile.ZipFile(zipped) as archive:
        (path,) = [n for n in archive.namelist() if n.endswith("analysis.csv")]
        rows = list(csv.DictReader(io.StringIO(archive.read(path).decode("utf-8-sig"))))
    assert {r["site"] for r in rows} == {"gwent", "dyfed-powys", "north-wales"}
    assert all(r["stratum"] == f"site={r['site']}" for r in rows)
    output, r_table, nudge = run_bundle(rscript, zipped)
    assert_same_table(r_table, nudge)
    sites = bundle.report.outcomes[0].sites
    assert sites is not None
    pooled = {a.arm: a.pooled_estimate for a in sites.arms}
    for estimate in nudge["estimates"]:
        assert estimate["estimate"] == pooled[estimate["arm"]]
