"""The fictional participant every template is rendered against before a trial is created."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from experiments.definition import TrialDefinition
from experiments.rows import MAX_REF, MAX_TEXT
from messages.templates import hearing_date_text, hearing_time_text

SAMPLE_FIELDS: dict[str, Any] = {
    "participant_ref": "P-EXAMPLE-1",
    "case_ref": "C-EXAMPLE-1",
    "role": "witness",
    "first_name": "Alex",
    "last_name": "Example",
    "phone": "+447700900123",
    "address_line_1": "1 Example Street",
    "address_line_2": "Exampletown",
    "address_line_3": "",
    "address_line_4": "",
    "address_line_5": "",
    "postcode": "BS1 1AA",
    "language": "en",
    "contact_sms": True,
    "contact_letter": True,
    "safeguarding_flag": False,
    "court": "BRS",
    "court_name": "Bristol Crown Court",
}
SAMPLE_HEARING_LOCAL = datetime(2027, 3, 4, 10, 0)  # a Thursday
SAMPLE_PREVIOUS_LOCAL = datetime(2027, 2, 25, 14, 0)  # the start before a move
SAMPLE_MILESTONE_LOCAL = datetime(2027, 1, 6, 15, 0)  # the date of a milestone


def sample_context(
    definition: TrialDefinition, *, days_before: int = 7, language: str = "en"
) -> dict[str, Any]:
    """Placeholders for a sample participant, as the dispatcher will fill them for real ones."""
    try:
        zone = ZoneInfo(definition.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")  # the timezone's own check reports it; the texts still get checked
    hearing = SAMPLE_HEARING_LOCAL.replace(tzinfo=zone)
    context: dict[str, Any] = {name: "example" for name in definition.participant_columns()}
    context.update(SAMPLE_FIELDS)
    context["language"] = language
    context.update(
        hearing_date=hearing_date_text(hearing, language),
        hearing_time=hearing_time_text(hearing, language),
        # A moved hearing's text names the start the person knew: a week earlier, at 2pm.
        previous_hearing_date=hearing_date_text(
            SAMPLE_PREVIOUS_LOCAL.replace(tzinfo=zone), language
        ),
        previous_hearing_time=hearing_time_text(
            SAMPLE_PREVIOUS_LOCAL.replace(tzinfo=zone), language
        ),
        milestone_date=hearing_date_text(SAMPLE_MILESTONE_LOCAL.replace(tzinfo=zone), language),
        care_unit_phone=definition.sending.care_unit_phone or "",
        days_until=days_before,
    )
    return context


# Fields whose form is fixed, so their sample is already as long as they get.
_FIXED = frozenset(
    {
        "phone",
        "postcode",
        "language",
        "hearing_date",
        "hearing_time",
        "previous_hearing_date",
        "previous_hearing_time",
        "milestone_date",
        "care_unit_phone",
    }
)


def longest_context(
    definition: TrialDefinition, *, days_before: int = 7, language: str = "en"
) -> dict[str, Any]:
    """The sample participant with every free-text value as long as an import lets it be."""
    context = sample_context(definition, days_before=days_before, language=language)
    for name, value in context.items():
        if isinstance(value, str) and name not in _FIXED:
            context[name] = "x" * (MAX_REF if name.endswith("_ref") else MAX_TEXT)
    return context
