"""`nudge demo --sites 2`: the example trial run by two fictional organisations, end to end.

For the integrator (branch `sitedemo`): save as tests/nudge/test_demo_multisite.py once the
multi-site branches are merged: `sites` (create_trial keeping trial_site in step,
enrol_file(site=...), update_hearings(site=...)), `siteresults` (the primary outcome's `sites`
section of the report) and `sitewalls` (people_within on the people pages, run_batch(site_id=)).
It needs all of them, so it is not in the sitedemo branch, where it cannot pass yet. Checked:
it passes (4 tests) on sitedemo merged with sites, siteresults and sitewalls as of 04:00 UTC.

The demo keeps its own SQLite database, so this runs on SQLite whichever engine the suite is
under. Size 600 at seed 1: North Shire gets three of the five fictional courts, South Vale two;
the practical texts' true effect of being reached is 0.7 times the trial's (+7 points) at North
Shire and 1.3 times (+13) at South Vale.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlmodel import Session, col, select

from nudge.cli import main
from nudge.db import make_engine
from nudge.models import (
    Case,
    Membership,
    Message,
    Organisation,
    Participant,
    Trial,
    TrialSite,
    User,
)
from tests.web_helpers import _password_hash, make_app, post_login

SIZE = 600
TRIAL = "witness-reminders-2027"
SITES = {
    "north-shire": "North Shire Police (fictional)",
    "south-vale": "South Vale Police (fictional)",
}
PREFIX = {"north-shire": "NS-", "south-vale": "SV-"}


@pytest.fixture(scope="module")
def sited(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("sites") / "demo"
    result = CliRunner().invoke(
        main,
        [
            "demo",
            "--no-serve",
            "--sites",
            "2",
            "--size",
            str(SIZE),
            "--seed",
            "1",
            "--dir",
            str(folder),
        ],
    )
    assert result.exit_code == 0, result.output
    return folder, result.stdout


def url(folder: Path) -> str:
    return f"sqlite:///{folder / 'nudge-demo.db'}"


def report(folder: Path) -> dict[str, Any]:
    result = CliRunner().invoke(
        main, ["analyse", TRIAL, "--json"], env={"NUDGE_DATABASE_URL": url(folder)}
    )
    assert result.exit_code == 0, result.output
    found: dict[str, Any] = json.loads(result.output)
    return found


def test_two_fictional_sites_run_the_trial_each_with_its_own_courts_and_people(
    sited: tuple[Path, str],
) -> None:
    folder, _ = sited
    engine = make_engine(url(folder))
    with Session(engine) as session:
        organisations = {o.id: o for o in session.exec(select(Organisation)).all()}
        slug = {i: o.slug for i, o in organisations.items()}
        trial = session.get(Trial, TRIAL)
        assert trial is not None
        listed = session.exec(
            select(TrialSite).where(TrialSite.trial_id == TRIAL).order_by(col(TrialSite.position))
        ).all()
        people = session.exec(
            select(Participant.participant_ref, Participant.site_id, Case.case_ref, Case.site_id)
            .join(Case, col(Case.id) == Participant.case_id)
            .where(Participant.trial_id == TRIAL)
        ).all()
        staff = session.exec(
            select(User.email, Membership.role, Membership.organisation_id).join(
                Membership, col(Membership.user_id) == User.id
            )
        ).all()
    engine.dispose()
    assert {o.slug: o.name for o in organisations.values()} == SITES
    assert slug[trial.organisation_id] == "north-shire"  # the first site owns the trial
    assert [(slug[s.organisation_id], s.name) for s in listed] == list(SITES.items())
    assert len(people) == SIZE
    per_site: dict[str, int] = {}
    for person_ref, person_site, case_ref, case_site in people:
        site = slug[person_site]
        assert slug[case_site] == site
        assert person_ref.startswith(PREFIX[site]) and case_ref.startswith(PREFIX[site])
        per_site[site] = per_site.get(site, 0) + 1
    assert sorted((email, role, slug[org]) for email, role, org in staff) == sorted(
        (f"{role}@{site}.example.org", role, site)
        for site in SITES
        for role in ("researcher", "lead")
    )
    # One file per site, its own courts, every person of it imported for it.
    courts = {}
    for site in SITES:
        with (folder / "files" / f"export-{site}.csv").open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        assert len(rows) == per_site[site]
        courts[site] = {row["court"] for row in rows}
    assert courts["north-shire"] and courts["south-vale"]
    assert not courts["north-shire"] & courts["south-vale"]


def test_the_summary_gives_each_sites_truth_and_estimate_and_the_heterogeneity_test(
    sited: tuple[Path, str],
) -> None:
    folder, output = sited
    primary = next(o for o in report(folder)["outcomes"] if o["primary"])
    by_site = primary["sites"]
    assert "from 0.7 to 1.3 times the whole trial's" in output
    truths: dict[str, float] = {}
    for level in by_site["sites"]:
        site = level["site"]
        header = re.search(
            rf"{re.escape(SITES[site])} \({site}\): (\d+) enrolled, (\d+) randomised; "
            rf"effects ({'0.70' if site == 'north-shire' else '1.30'}) times",
            output,
        )
        assert header, output
        block = re.split(r"\n  (?! )", output[header.end() :], maxsplit=1)[0]  # to the next site
        found = {c["arm"]: c for c in level["comparisons"]}
        practical = found["practical"]
        shown = re.search(
            r"Practical information: true effect ([-+.\d]+) points, estimated ([-+.\d]+) "
            r"\(95% CI ([-+.\d]+) to ([-+.\d]+)\)\.",
            block,
        )
        assert shown, block
        truth, estimate, low, high = (float(x) for x in shown.groups())
        truths[site] = truth
        assert estimate == pytest.approx(100 * practical["adjusted_risk_difference"], abs=0.05)
        assert low == pytest.approx(100 * practical["adjusted_ci_low"], abs=0.05)
        assert high == pytest.approx(100 * practical["adjusted_ci_high"], abs=0.05)
    # The truth differs by design: about +6.5 points at North Shire, +12 at South Vale (times
    # the share reached); the whole trial's truth lies between them.
    assert 5 <= truths["north-shire"] < truths["south-vale"] <= 13.5, truths
    whole = re.search(r"Practical information: true effect ([-+.\d]+) points \(", output)
    assert whole, output
    assert truths["north-shire"] < float(whole[1]) < truths["south-vale"]
    test = re.search(r"Heterogeneity between sites \((.+?)\): ([.\d]+) on (\d+) df, p ", output)
    assert test, output
    assert float(test[2]) == pytest.approx(by_site["statistic"], abs=0.005)
    assert int(test[3]) == by_site["df"] == 2  # two treatment arms x (2 sites - 1)


def test_each_sites_letters_are_printed_in_its_own_runs(sited: tuple[Path, str]) -> None:
    """A print run holds one site's people's names and addresses only (the site walls)."""
    folder, _ = sited
    engine = make_engine(url(folder))
    with Session(engine) as session:
        site_of = dict(
            session.exec(
                select(Message.id, Participant.site_id).join(
                    Participant, col(Participant.id) == Message.participant_id
                )
            ).all()
        )
        posted = session.exec(
            select(Message.id).where(Message.channel == "letter", Message.status == "sent")
        ).all()
    engine.dispose()
    printed: list[int] = []
    runs: set[int | None] = set()
    for manifest in sorted((folder / "letters").glob(f"{TRIAL}-*-manifest.csv")):
        found = re.match(rf"{TRIAL}-site(\d+)-letters-", manifest.name)
        assert found, manifest.name  # every run of the trial is a site's
        with manifest.open(encoding="utf-8", newline="") as handle:
            ids = [int(row["message_id"]) for row in csv.DictReader(handle)]
        assert {site_of[i] for i in ids} == {int(found[1])}, manifest.name
        runs.add(int(found[1]))
        printed += ids
    assert len(runs) == 2
    assert sorted(printed) == sorted(i for i in posted if i is not None)  # each once


def test_a_sites_researcher_sees_only_that_sites_people(sited: tuple[Path, str]) -> None:
    folder, _ = sited
    engine = make_engine(url(folder))
    with Session(engine) as session:
        for user in session.exec(select(User)).all():  # the test's own password, not the run's
            user.password_hash = _password_hash()
        session.commit()
        refs = {}
        for site, prefix in PREFIX.items():
            refs[site] = session.exec(
                select(Participant.participant_ref)
                .where(col(Participant.participant_ref).startswith(prefix))
                .order_by(col(Participant.id))
            ).first()
    engine.dispose()
    app = make_app(url(folder))
    for site, other in (("north-shire", "south-vale"), ("south-vale", "north-shire")):
        client = app.test_client()
        assert post_login(client, f"researcher@{site}.example.org").status_code == 302
        mine = client.get(f"/trials/{TRIAL}/people/{refs[site]}")
        theirs = client.get(f"/trials/{TRIAL}/people/{refs[other]}")
        assert mine.status_code == 200, site
        assert theirs.status_code == 404, site
        # The results are the whole trial's, with every site's estimate under its name.
        results = client.get(f"/trials/{TRIAL}/results")
        assert results.status_code == 200, site
        assert all(name in results.get_data(as_text=True) for name in SITES.values())
