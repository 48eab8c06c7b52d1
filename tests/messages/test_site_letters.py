"""A multi-site trial's letters print one site at a time: a site's print run (PDF and manifest)
holds only its own people's names and addresses, and `nudge letters batch` without --site is
refused, naming the sites, with nothing written."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from io import BytesIO
from pathlib import Path

import pdfplumber
import pytest
from sqlmodel import Session, select

from experiments import trials
from experiments.loader import LoadedTrial, load_trial_file
from messages.intake import enrol_and_plan
from messages.letter_batch import run_batch
from nudge.clock import FixedClock
from nudge.models import Message, Participant
from nudge.organisations import add_organisation
from tests.conftest import Cli
from tests.factories import person, write_people
from tests.nudge.test_organisation_walls import south_person

TRIAL = "witness-reminders-2027"
POSTING_DAY = date(2027, 2, 12)  # hearings on 4 March 2027, letters 14 days before
MORNING = datetime(2027, 2, 12, 9, 30, tzinfo=UTC)
PEOPLE = 5


@pytest.fixture
def sites(session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path) -> dict[str, int]:
    """The example trial run by North (its owner) and South, with five people of each site;
    the sites' organisation ids."""
    ids = {}
    for slug, name in (("north", "Northshire Police"), ("south", "Southshire Victim Service")):
        made = add_organisation(session, clock, slug, name, "test")
        assert made.id is not None
        ids[slug] = made.id
    definition = example_dir / "witness-reminders.yaml"
    text = definition.read_text(encoding="utf-8").rstrip("\n")
    definition.write_text(text + "\nsites: [north, south]\n", encoding="utf-8")
    loaded = load_trial_file(definition)
    assert isinstance(loaded, LoadedTrial), loaded
    trials.create_trial(session, clock, loaded, trials.Actor("test"), organisation="north")
    trials.launch_trial(session, clock, TRIAL, trials.Actor("test"))
    for site, rows in (
        ("north", [person(n) for n in range(1, PEOPLE + 1)]),
        ("south", [south_person(n) for n in range(1, PEOPLE + 1)]),
    ):
        enrol_and_plan(
            session, clock, TRIAL, write_people(tmp_path / f"{site}.csv", rows), "t", site=site
        )
    session.commit()
    clock.set(MORNING)
    return ids


def test_each_sites_print_run_holds_only_its_own_peoples_letters(
    session: Session, clock: FixedClock, sites: dict[str, int], tmp_path: Path
) -> None:
    out = tmp_path / "print"
    north = run_batch(session, clock, TRIAL, POSTING_DAY, out, site_id=sites["north"])
    assert north.letters > 0 and north.pdf is not None and north.manifest is not None
    with north.manifest.open(encoding="utf-8", newline="") as handle:
        refs = {row["participant_ref"] for row in csv.DictReader(handle)}
    assert refs and all(ref.startswith("P") for ref in refs)
    with pdfplumber.open(BytesIO(north.pdf.read_bytes())) as pdf:
        text = "\n".join(page.extract_text() for page in pdf.pages)
    assert "McTestface" in text and "Southerly" not in text and "Southern Road" not in text
    # South's letters wait for South's own run, which prints them into files of its own.
    waiting = session.exec(
        select(Participant.participant_ref)
        .join(Message, Message.participant_id == Participant.id)  # type: ignore[arg-type]
        .where(Message.channel == "letter", Message.status == "scheduled")
    ).all()
    assert waiting and all(ref.startswith("S") for ref in waiting)
    south = run_batch(session, clock, TRIAL, POSTING_DAY, out, site_id=sites["south"])
    assert south.letters > 0 and south.pdf is not None and south.pdf != north.pdf
    with pdfplumber.open(BytesIO(south.pdf.read_bytes())) as pdf:
        text = "\n".join(page.extract_text() for page in pdf.pages)
    assert "Southerly" in text and "McTestface" not in text


def test_the_print_command_asks_which_site_and_refuses_one_that_is_not(
    session: Session, cli: Cli, sites: dict[str, int], tmp_path: Path
) -> None:
    souths = session.exec(
        select(Message.id)
        .join(Participant, Message.participant_id == Participant.id)  # type: ignore[arg-type]
        .where(Message.channel == "letter", Participant.site_id == sites["south"])
    ).all()
    assert souths
    out = str(tmp_path / "print")
    base = ("letters", "batch", TRIAL, "--date", POSTING_DAY.isoformat(), "--out", out)
    refused = cli.unchanged(*base)
    assert refused.exit_code != 0
    assert "multi-site trial" in refused.output and "north, south" in refused.output
    assert "Traceback" not in refused.output
    elsewhere = cli.unchanged(*base, "--site", "east")
    assert elsewhere.exit_code != 0 and "not a site of" in elsewhere.output
    counted = cli.unchanged(*base, "--site", "south", "--dry-run")
    assert counted.exit_code == 0, counted.output
    assert f"would print {len(souths)} letter(s)" in counted.output
