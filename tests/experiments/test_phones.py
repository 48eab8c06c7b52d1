"""Phone numbers: UK mobiles to E.164, the Ofcom drama range accepted, landlines refused."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.phones import NotAMobile, is_fictional, normalise_mobile


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("07700 900123", "+447700900123"),
        ("+44 7700 900999", "+447700900999"),
        ("(07700) 900-000", "+447700900000"),
        ("0044 7700 900500", "+447700900500"),
        ("07400 123456", "+447400123456"),
        ("07911 123456", "+447911123456"),
    ],
)
def test_mobiles_in_the_usual_formats_become_e164(text: str, e164: str) -> None:
    assert normalise_mobile(text) == e164


def test_the_drama_range_is_accepted_although_phonenumbers_calls_it_invalid() -> None:
    parsed = phonenumbers.parse("07700 900123", "GB")
    assert not phonenumbers.is_valid_number(parsed)
    assert normalise_mobile("07700 900123") == "+447700900123"
    assert is_fictional("+447700900123") and not is_fictional("+447400123456")


@pytest.mark.parametrize(
    "text", ["0117 496 0000", "020 7946 0000", "07700 901000", "999", "+1 202 555 0100"]
)
def test_landlines_short_numbers_and_foreign_numbers_are_refused(text: str) -> None:
    with pytest.raises(NotAMobile):
        normalise_mobile(text)


@settings(max_examples=400, deadline=None)
@given(st.from_regex(r"07[0-9]{9}", fullmatch=True))
def test_the_fast_path_agrees_with_phonenumbers_on_any_07_number(text: str) -> None:
    if text.startswith("07700900"):
        return  # the drama range: accepted on purpose, see above
    parsed = phonenumbers.parse(text, "GB")
    library = phonenumbers.is_valid_number(parsed) and phonenumbers.number_type(parsed) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
    try:
        normalise_mobile(text)
        ours = True
    except NotAMobile:
        ours = False
    assert ours == library


# The zero of each script with ten decimal digits in a row (0 to 9 follow it in Unicode).
_ZEROS = {"ascii": "0", "devanagari": "\u0966", "arabic-indic": "\u0660", "full-width": "\uff10"}


def _in_scripts(text: str, zeros: list[str]) -> str:
    """The text with its n-th digit written in the n-th script (cycling through them)."""
    digits = iter(range(len(text)))
    return "".join(
        chr(ord(zeros[next(digits) % len(zeros)]) + int(c)) if c.isdigit() else c for c in text
    )


@pytest.mark.parametrize(
    "text",
    [
        "\u0966\u096d\u096d\u0966\u0966 \u096f\u0966\u0966\u0967\u0968\u0969",
        "07700 900\u0967\u0968\u0969",
        "07700 900\uff11\uff12\uff13",
    ],
)
def test_a_number_written_in_another_scripts_digits_is_stored_in_ascii_digits(text: str) -> None:
    assert normalise_mobile(text) == "+447700900123"


@settings(max_examples=300, deadline=None)
@given(
    st.from_regex(r"(\+44 ?|0)7[0-9]{3} ?[0-9]{6}", fullmatch=True),
    st.lists(st.sampled_from(list(_ZEROS.values())), min_size=1, max_size=13),
)
def test_any_mix_of_scripts_digits_gives_the_answer_of_ascii_and_stores_only_ascii(
    text: str, zeros: list[str]
) -> None:
    def outcome(value: str) -> str | None:
        try:
            return normalise_mobile(value)
        except NotAMobile:
            return None

    written = outcome(_in_scripts(text, zeros))
    assert written == outcome(text)
    assert written is None or (written.isascii() and written[1:].isdigit())
