"""A multi-site trial from the command line: validate and show list its sites, create refuses
what cannot run, and `nudge enrol` / `nudge hearings update` take the site whose file it is."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select

from nudge.models import Case, Participant
from tests.conftest import EXAMPLE_TRIAL, Cli
from tests.factories import person, write_people

SITES = "\nsites:\n  - north\n  - {organisation: south, name: Southshire courts}\n"


def multisite(example_dir: Path) -> Path:
    path = example_dir / "witness-reminders.yaml"
    path.write_text(path.read_text(encoding="utf-8") + SITES, encoding="utf-8")
    return path


def areas(cli: Cli, *slugs: str) -> None:
    for slug in slugs:
        assert cli("orgs", "add", slug, "--name", f"{slug.title()}shire Police").exit_code == 0


def test_validate_lists_the_sites_without_a_database(cli: Cli, example_dir: Path) -> None:
    said = cli("trial", "validate", str(multisite(example_dir)))
    assert said.exit_code == 0, said.output
    lines = said.output.splitlines()
    start = lines.index("Sites (each imports its own people; randomised within each site):")
    assert lines[start + 1 : start + 3] == ["  north", "  south (Southshire courts)"]


def test_create_refuses_a_missing_organisation_and_an_owner_that_is_no_site(
    cli: Cli, example_dir: Path
) -> None:
    path = str(multisite(example_dir))
    areas(cli, "north")
    missing = cli.unchanged("trial", "create", path, "--org", "north")
    assert missing.exit_code == 1 and "Traceback" not in missing.output
    assert "there is no organisation 'south': add it first with nudge orgs add south" in (
        missing.output
    )
    areas(cli, "south", "west")
    outsider = cli.unchanged("trial", "create", path, "--org", "west")
    assert outsider.exit_code == 1
    assert "the organisation that runs the trial must be one of its sites" in outsider.output


def test_enrol_per_site_and_show_counts_each_sites_people(
    cli: Cli, example_dir: Path, tmp_path: Path, session: Session
) -> None:
    areas(cli, "north", "south")
    assert cli("trial", "create", str(multisite(example_dir)), "--org", "north").exit_code == 0
    assert cli("trial", "launch", EXAMPLE_TRIAL).exit_code == 0
    north = write_people(tmp_path / "north.csv", [person(1), person(2)])
    south = write_people(tmp_path / "south.csv", [person(3)])
    unsaid = cli.unchanged("enrol", EXAMPLE_TRIAL, str(north))
    assert unsaid.exit_code == 1 and "--site (its sites: north, south)" in unsaid.output
    assert cli("enrol", EXAMPLE_TRIAL, str(north), "--site", "north").exit_code == 0
    done = cli("enrol", EXAMPLE_TRIAL, str(south), "--site", "south")
    assert done.exit_code == 0, done.output
    assert "enrolled                    1" in done.output
    shown = cli("trial", "show", EXAMPLE_TRIAL).output.splitlines()
    start = shown.index("sites:")
    assert shown[start + 1 : start + 3] == [
        "  north: Northshire Police, enrolled 2",
        "  south: Southshire courts, enrolled 1",
    ]
    clash = write_people(tmp_path / "clash.csv", [person(4, case_ref="C00001")])
    refused = cli.unchanged("enrol", EXAMPLE_TRIAL, str(clash), "--site", "south")
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert "case 'C00001' already belongs to another site of this trial" in refused.output
    assert {p.participant_ref for p in session.exec(select(Participant))} == {
        "P00001",
        "P00002",
        "P00003",
    }
    listed = tmp_path / "list.csv"
    listed.write_text("case_ref,hearing_start,status\nC00001,,vacated\n", encoding="utf-8")
    other = cli.unchanged("hearings", "update", EXAMPLE_TRIAL, str(listed), "--site", "south")
    assert other.exit_code == 1 and "not one of your site's cases" in other.output
    own = cli("hearings", "update", EXAMPLE_TRIAL, str(listed), "--site", "north")
    assert own.exit_code == 0, own.output
    assert session.exec(select(Case).where(Case.case_ref == "C00001")).one().site_id is not None


def test_a_trial_in_one_area_refuses_a_site(launched: Cli, tmp_path: Path) -> None:
    path = write_people(tmp_path / "people.csv", [person(1)])
    refused = launched.unchanged("enrol", EXAMPLE_TRIAL, str(path), "--site", "north")
    assert refused.exit_code == 1
    assert "is not multi-site; leave out --site" in refused.output
