"""Templates render in a sandbox, strictly, with dates and times as people say them."""

from __future__ import annotations

from datetime import datetime

import pytest

from messages.templates import TemplateProblem, hearing_date_text, hearing_time_text, render


@pytest.mark.parametrize(
    ("hour", "minute", "language", "expected"),
    [
        (10, 0, "en", "10am"),
        (14, 30, "en", "2:30pm"),
        (12, 0, "en", "midday"),
        (0, 15, "en", "12:15am"),
        (10, 0, "cy", "10yb"),
        (14, 0, "cy", "2yh"),
    ],
)
def test_hearing_time_reads_naturally(hour: int, minute: int, language: str, expected: str) -> None:
    assert hearing_time_text(datetime(2027, 3, 4, hour, minute), language) == expected


def test_hearing_date_in_english_and_welsh() -> None:
    day = datetime(2027, 3, 4, 10)
    assert hearing_date_text(day, "en") == "Thursday 4 March"
    assert hearing_date_text(day, "cy") == "Dydd Iau 4 Mawrth"


def test_an_unknown_placeholder_is_an_error_not_a_blank() -> None:
    with pytest.raises(TemplateProblem, match="unknown placeholder 'frist_name'"):
        render("Hi {{ frist_name }}", {"first_name": "Alex"}, channel="sms")


def test_letters_escape_html_and_sms_do_not() -> None:
    context = {"first_name": "<b>Alex</b>"}
    assert render("{{ first_name }}", context, channel="letter") == "&lt;b&gt;Alex&lt;/b&gt;"
    assert render("{{ first_name }}", context, channel="sms") == "<b>Alex</b>"


def test_the_sandbox_refuses_to_reach_python_internals() -> None:
    with pytest.raises(TemplateProblem):
        render("{{ ''.__class__.__mro__[1].__subclasses__() }}", {}, channel="sms")
