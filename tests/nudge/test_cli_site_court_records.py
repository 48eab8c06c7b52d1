"""`nudge outcomes import` and `nudge milestones update` with --site: a site's own file, another
site's row refused with nothing written, the operator's whole-trial file, and a site refused
where the trial has none; every refusal a message, never a traceback."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, col, select

from nudge.models import CaseMilestone, Outcome
from tests.conftest import EXAMPLE_TRIAL, Cli
from tests.factories import person
from tests.milestone_factories import MILESTONES, write_people_with_milestones
from tests.nudge.test_cli_multisite import SITES, areas

OUTCOMES = "participant_ref,case_ref,attended\n"
DATES = "case_ref,milestone,occurred_at\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def two_sites(cli: Cli, example_dir: Path, tmp_path: Path) -> None:
    """The milestone trial across north and south: north enrols P00001, south P00002."""
    path = example_dir / "witness-reminders.yaml"
    path.write_text(path.read_text(encoding="utf-8") + SITES + MILESTONES, encoding="utf-8")
    areas(cli, "north", "south")
    assert cli("trial", "create", str(path), "--org", "north").exit_code == 0
    assert cli("trial", "launch", EXAMPLE_TRIAL).exit_code == 0
    for site, n in (("north", 1), ("south", 2)):
        people = write_people_with_milestones(tmp_path / f"{site}.csv", [person(n)])
        assert cli("enrol", EXAMPLE_TRIAL, str(people), "--site", site).exit_code == 0


def test_outcomes_for_a_site_and_for_the_whole_trial(
    cli: Cli, example_dir: Path, tmp_path: Path, session: Session
) -> None:
    two_sites(cli, example_dir, tmp_path)
    mixed = write(tmp_path / "mixed.csv", OUTCOMES + "P00002,C00002,yes\nP00001,C00001,no\n")
    other = cli.unchanged("outcomes", "import", EXAMPLE_TRIAL, str(mixed), "--site", "south")
    assert other.exit_code == 1 and "Traceback" not in other.output
    assert (
        f"{mixed}:3: participant_ref: 'P00001' in case 'C00001' is not in this trial: not one "
        "of your site's people"
    ) in other.output
    own = write(tmp_path / "south-outcomes.csv", OUTCOMES + "P00002,C00002,yes\n")
    done = cli("outcomes", "import", EXAMPLE_TRIAL, str(own), "--site", "south")
    assert done.exit_code == 0, done.output
    assert "  recorded            1  value(s) observed for the first time" in done.output
    whole = cli("outcomes", "import", EXAMPLE_TRIAL, str(mixed))
    assert whole.exit_code == 0, whole.output
    assert "  recorded            1" in whole.output and "  unchanged           1" in whole.output
    assert len(session.exec(select(Outcome).where(col(Outcome.replaced_at).is_(None))).all()) == 2
    unknown = cli.unchanged("outcomes", "import", EXAMPLE_TRIAL, str(own), "--site", "west")
    assert unknown.exit_code == 1 and "Traceback" not in unknown.output
    assert "'west' is not a site of trial" in unknown.output
    assert "(its sites: north, south)" in unknown.output


def test_milestones_for_a_site_and_for_the_whole_trial(
    cli: Cli, example_dir: Path, tmp_path: Path, session: Session
) -> None:
    two_sites(cli, example_dir, tmp_path)
    mixed = write(
        tmp_path / "mixed.csv",
        DATES + "C00002,trial_listed,2027-01-05\nC00001,trial_listed,2027-01-06\n",
    )
    other = cli.unchanged("milestones", "update", EXAMPLE_TRIAL, str(mixed), "--site", "south")
    assert other.exit_code == 1 and "Traceback" not in other.output
    assert (
        f"{mixed}:3: case_ref: 'C00001' is not a case enrolled in this trial: not one of your "
        "site's cases"
    ) in other.output
    whole = cli("milestones", "update", EXAMPLE_TRIAL, str(mixed))
    assert whole.exit_code == 0, whole.output
    assert "recorded 2, corrected 0, unchanged 0 (read 2)" in whole.output
    assert len(session.exec(select(CaseMilestone)).all()) == 2
    unknown = cli.unchanged("milestones", "update", EXAMPLE_TRIAL, str(mixed), "--site", "x")
    assert unknown.exit_code == 1 and "Traceback" not in unknown.output
    assert "'x' is not a site of trial" in unknown.output


def test_a_trial_in_one_area_refuses_a_site_for_outcomes_and_milestones(
    launched: Cli, tmp_path: Path
) -> None:
    outcomes = write(tmp_path / "o.csv", OUTCOMES + "P00001,C00001,yes\n")
    refused = launched.unchanged(
        "outcomes", "import", EXAMPLE_TRIAL, str(outcomes), "--site", "north"
    )
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert "is not multi-site; leave out --site" in refused.output
    dates = write(tmp_path / "m.csv", DATES + "C00001,trial_listed,2027-01-05\n")
    refused = launched.unchanged("milestones", "update", EXAMPLE_TRIAL, str(dates), "--site", "n")
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert "is not multi-site; leave out --site" in refused.output
