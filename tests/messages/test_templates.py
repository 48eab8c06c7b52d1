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


def test_letter_text_stays_plain_and_a_value_cannot_start_a_heading() -> None:
    context = {"first_name": "Smith & Jones", "last_name": "x\n# Heading\n- item"}
    rendered = render("Dear {{ first_name }} {{ last_name }}", context, channel="letter")
    assert rendered == "Dear Smith & Jones x # Heading - item"


def test_a_hostile_name_prints_literally_in_the_letter_pdf() -> None:
    import io

    import pdfplumber

    from messages.letters import render_letter

    body = render(
        "Dear {{ first_name }},\n\nSee you soon.",
        {"first_name": "<b>O'Brien & Co</b>"},
        channel="letter",
    )
    pdf = render_letter(body, address=("1 Example Street", "Exampletown", "BS1 1AA"))
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        text = document.pages[0].extract_text()
    assert "Dear <b>O'Brien & Co</b>," in text


def test_the_sandbox_refuses_to_reach_python_internals() -> None:
    with pytest.raises(TemplateProblem):
        render("{{ ''.__class__.__mro__[1].__subclasses__() }}", {}, channel="sms")
