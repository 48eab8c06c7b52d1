"""Texts the provider or a phone would refuse are refused at validation, with their location."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.experiments.test_definition_rules import BASE, assert_refused_at, problems_for

LONG_SMS = "Hi {{ first_name }}, " + "court soon. " * 130

CASES = {
    "an SMS over 1,600 characters": (
        BASE.replace('"Hi {{ first_name }}, court on', f'"{LONG_SMS}'),
        "trial.yaml:14:9: templates.reminder.en: with names and other values at their longest "
        "this SMS is",
    ),
    "an SMS that is short for the sample but long for real names": (
        BASE.replace(
            '"Hi {{ first_name }}, court',
            '"Hi {{ first_name }} {{ last_name }} {{ court_name }} {{ court_name }} '
            "{{ court_name }} {{ court_name }} {{ court_name }} {{ court_name }} {{ court_name }}"
            " {{ court_name }}, court",
        ),
        "trial.yaml:14:9: templates.reminder.en: with names and other values at their longest "
        "this SMS is",
    ),
    "a help text of 10 kB": (
        BASE + f"sending:\n  help_text: {'x' * 10_000}\n",
        "trial.yaml:18:14: sending.help_text: 10,000 characters; the reply to HELP is one text, "
        "at most 320 characters",
    ),
    "an sms_from that is no number": (
        BASE + "sending:\n  sms_from: not a number!\n",
        "trial.yaml:18:13: sending.sms_from: 'not a number!' is neither a phone number",
    ),
    "an sms_from sender id over 11 characters": (
        BASE + "sending:\n  sms_from: CourtReminders\n",
        "trial.yaml:18:13: sending.sms_from: 'CourtReminders' is neither a phone number",
    ),
    "an sms_from of digits that is no number": (
        BASE + "sending:\n  sms_from: '12345'\n",
        "trial.yaml:18:13: sending.sms_from: '12345' is neither a phone number",
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_text_the_provider_would_refuse_is_refused_at_validation(
    tmp_path: Path, case: str
) -> None:
    assert_refused_at(tmp_path, *CASES[case])


@pytest.mark.parametrize("sender", ["+447700900123", "07700 900123", "Court Info", "HMCTS"])
def test_a_phone_number_or_uk_sender_id_is_accepted_as_sms_from(
    tmp_path: Path, sender: str
) -> None:
    assert problems_for(tmp_path, BASE + f"sending:\n  sms_from: '{sender}'\n") == []
