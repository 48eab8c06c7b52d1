"""People in different arms who share a mobile number or an address: counted, never named.

The expected counts are worked out here from the assignments as stored, in Python, by the rule
docs/randomisation.md states; the module counts them in SQL on both engines.
"""

from __future__ import annotations

import html
from collections import defaultdict
from pathlib import Path

from flask import Flask
from sqlmodel import Session, select

from experiments.contamination import contamination, contamination_words
from messages.intake import enrol_and_plan
from nudge.clock import FixedClock
from nudge.models import Arm, Assignment, Participant
from tests.conftest import EXAMPLE, Cli
from tests.factories import launch, person, write_people
from tests.web_helpers import logged_in

TRIAL = "witness-reminders-2027"


def households(n: int) -> list[dict[str, str]]:
    """Pairs of people in different cases: each pair shares a number or an address."""
    rows = []
    for i in range(1, n + 1):
        a, b = 2 * i - 1, 2 * i
        if i % 2:
            # One number, written two ways: stored normalised, so they match.
            rows += [person(a, phone=f"07700 900{i:03d}"), person(b, phone=f"+447700900{i:03d}")]
        else:
            street = f"{i} Shared Road"
            rows += [
                person(
                    a, address_line_1=street, postcode="BS2 0JA", phone=f"07700 900{500 + a:03d}"
                ),
                person(
                    b,
                    address_line_1=street.upper(),
                    postcode="bs20ja",
                    phone=f"07700 900{500 + b:03d}",
                ),
            ]
    return rows


def expected(session: Session) -> tuple[int, int, int, int]:
    rows = session.exec(
        select(Participant.phone, Participant.address, Participant.postcode, Arm.key)
        .join(Assignment, Assignment.participant_id == Participant.id)  # type: ignore[arg-type]
        .join(Arm, Arm.id == Assignment.arm_id)  # type: ignore[arg-type]
    ).all()
    phones: dict[str, list[str]] = defaultdict(list)
    places: dict[tuple[str, str], list[str]] = defaultdict(list)
    for phone, address, postcode, arm in rows:
        if phone:
            phones[phone].append(arm)
        if address and postcode:
            key = ("|".join(address).lower(), postcode.replace(" ", "").upper())
            places[key].append(arm)
    shared_phones = [arms for arms in phones.values() if len(set(arms)) > 1]
    shared_places = [arms for arms in places.values() if len(set(arms)) > 1]
    return (
        len(shared_phones),
        sum(map(len, shared_phones)),
        len(shared_places),
        sum(map(len, shared_places)),
    )


def test_shared_numbers_and_addresses_across_arms_are_counted(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    launch(session, clock, EXAMPLE)
    enrol_and_plan(session, clock, TRIAL, write_people(tmp_path / "p.csv", households(24)), "t")
    session.commit()
    found = contamination(session, TRIAL)
    phone_keys, phone_people, address_keys, address_people = expected(session)
    # 24 pairs in different cases, randomised by case across three arms: many pairs differ.
    assert phone_keys > 0 and address_keys > 0
    assert (found.phone.keys, found.phone.people) == (phone_keys, phone_people)
    assert (found.address.keys, found.address.people) == (address_keys, address_people)
    words = contamination_words(found)
    assert f"{phone_people} people share a mobile number" in words
    assert f"{address_people} people share an address" in words
    assert "07700" not in words and "Shared Road" not in words


def test_a_trial_without_shared_households_says_so(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    launch(session, clock, EXAMPLE)
    enrol_and_plan(
        session,
        clock,
        TRIAL,
        write_people(tmp_path / "p.csv", [person(i) for i in range(1, 9)]),
        "t",
    )
    session.commit()
    found = contamination(session, TRIAL)
    assert not found.any
    assert contamination_words(found).startswith("No one shares a mobile number or an address")


def test_small_counts_are_hidden_from_all_but_researchers() -> None:
    from experiments.contamination import Contamination, Shared

    found = Contamination(phone=Shared(1, 2), address=Shared(0, 0))
    assert contamination_words(found, exact=False).startswith("fewer than 5 people share")
    assert contamination_words(found, exact=True).startswith("2 people share")


def test_nudge_balance_prints_the_counts(cli: Cli, tmp_path: Path) -> None:
    cli.launch_example()
    cli("enrol", TRIAL, str(write_people(tmp_path / "p.csv", households(24))))
    output = cli("balance", TRIAL).output
    assert "shared across arms: " in output
    assert "may see the other arm's messages" in output


def test_the_results_page_gives_the_counts_in_words(
    app: Flask, staff: None, session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    launch(session, clock, EXAMPLE)
    enrol_and_plan(session, clock, TRIAL, write_people(tmp_path / "p.csv", households(24)), "t")
    session.commit()
    found = contamination(session, TRIAL)
    for role, exact in (("researcher", True), ("lead", False)):
        page = logged_in(app, role).get(f"/trials/{TRIAL}/results").get_data(as_text=True)
        assert "Shared phones and addresses</h2>" in page
        assert contamination_words(found, exact=exact) in html.unescape(page)
