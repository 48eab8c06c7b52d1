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
