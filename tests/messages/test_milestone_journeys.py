"""Messages timed from case milestones and sent on them, end to end: dates from the enrolment
export and from `nudge milestones update` (update_milestones_and_replan) plan the practical
arm's texts, once, on the engine under test with the clock pinned."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session

from messages.intake import update_milestones_and_replan
from nudge.clock import FixedClock
from tests.conftest import EXAMPLE, EXAMPLE_TRIAL
from tests.factories import fast_example, launch, person
from tests.messages.journeys import PRACTICAL_1D
from tests.messages.test_outbox import enrol, messages_of, treated
from tests.milestone_factories import MILESTONES, write_people_with_milestones

TEMPLATES = """\
  after_charge:
    en: "Hi {{ first_name }}, the police have charged someone in your case. Call
      {{ care_unit_phone }} for support. Reply STOP to opt out."
  trial_set:
    en: "Hi {{ first_name }}, a date has been set for the trial in your case. Call
      {{ care_unit_phone }}. Reply STOP to opt out."
"""


def milestone_journey(folder: Path) -> Path:
    """The example trial with milestones, whose practical arm texts two days after charge
    (10:00) and when a trial date is listed."""
    path = fast_example(folder, EXAMPLE)
    text = path.read_text().replace(
        PRACTICAL_1D,
        PRACTICAL_1D
        + "      - {channel: sms, template: after_charge,\n"
        + '         send: {days_after: 2, of: charged, at: "10:00"}}\n'
        + '      - {channel: sms, template: trial_set, on: "milestone trial_listed"}\n',
    )
    text = text.replace("  social_norm_letter:\n", TEMPLATES + "  social_norm_letter:\n")
    path.write_text(text + MILESTONES)
    return path


def test_dates_from_the_export_and_from_a_milestones_file_plan_the_arms_texts_once(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    launch(session, clock, milestone_journey(tmp_path))
    rows = [person(i, charge_date="2027-01-10") for i in range(1, 13)]  # charged today
    enrol(session, clock, write_people_with_milestones(tmp_path / "people.csv", rows))
    ref = treated(session, "practical")
    [after_charge] = [m for m in messages_of(session, ref) if m.template == "after_charge"]
    # Two days after the charge (00:00 on the 10th, London), at 10:00 GMT.
    assert (after_charge.status, after_charge.due_at) == (
        "scheduled",
        datetime(2027, 1, 12, 10, tzinfo=UTC),
    )

    clock.set(datetime(2027, 1, 11, 9, tzinfo=UTC))
    listing = tmp_path / "milestones.csv"
    listing.write_text(
        f"case_ref,milestone,occurred_at\n{ref.replace('P', 'C')},trial_listed,2027-01-11T08:30\n"
    )
    update = update_milestones_and_replan(session, clock, EXAMPLE_TRIAL, listing, "test")
    session.commit()
    [told] = [m for m in messages_of(session, ref) if m.template == "trial_set"]
    assert update.outbox.event_messages == 1
    assert (told.status, told.due_at) == ("scheduled", clock.now())  # at once: not quiet hours

    again = update_milestones_and_replan(session, clock, EXAMPLE_TRIAL, listing, "test")
    session.commit()
    assert again.outbox.event_messages == 0  # the same file twice tells them once
    assert len([m for m in messages_of(session, ref) if m.template == "trial_set"]) == 1
