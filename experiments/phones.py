"""UK mobile numbers to E.164, with the Ofcom drama range accepted as fictional mobiles.

The common formats (07911 123456, +44 7911 123456) are checked against phonenumbers' own GB
mobile pattern directly: parsing every number in a million-row export costs ~40 s, the pattern
costs ~1 s, and the rules stay the library's. Anything else goes through phonenumbers.parse.
Digits of other scripts (Devanagari, Arabic-Indic, full-width) are first read as the digits
0 to 9 they stand for, and both paths match ASCII digits only, so a stored number is always
ASCII and an opt-out from the same phone matches it.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

# +44 is shared by Great Britain, Guernsey, Jersey and the Isle of Man, each with its own mobiles.
_PLUS_44_REGIONS = ("GB", "GG", "JE", "IM")


def _mobile_pattern() -> re.Pattern[str]:
    patterns = []
    for region in _PLUS_44_REGIONS:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        mobile = metadata.mobile if metadata is not None else None
        assert mobile is not None and mobile.national_number_pattern is not None
        patterns.append(f"(?:{mobile.national_number_pattern})")
    return re.compile("|".join(patterns), re.ASCII)


_MOBILE = _mobile_pattern()
_SEPARATORS = re.compile(r"[\s\-().]")
_UK_NATIONAL = re.compile(r"(?:\+44|0044|44)?0?(7\d{9})", re.ASCII)
# Ofcom reserves 07700 900000 to 07700 900999 for drama: phonenumbers calls them invalid, but
# they are the only numbers tests, examples and rehearsals may use.
_DRAMA = re.compile(r"7700900\d{3}", re.ASCII)


class NotAMobile(ValueError):
    """The text is not a UK mobile number that can receive SMS."""


def is_fictional(e164: str) -> bool:
    return bool(_DRAMA.fullmatch(e164.removeprefix("+44")))


def is_sender_number(text: str) -> bool:
    """A number a text can come from: valid by the library's rules (any country), or fictional."""
    try:
        number = phonenumbers.parse(_ascii_digits(text), "GB")
    except phonenumbers.NumberParseException:
        return False
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return phonenumbers.is_valid_number(number) or is_fictional(e164)


def normalise_mobile(text: str) -> str:
    """'07700 900123' → '+447700900123'; a landline, a short or a foreign number is refused."""
    compact = _SEPARATORS.sub("", _ascii_digits(text))
    match = _UK_NATIONAL.fullmatch(compact)
    if match:
        national = match.group(1)
        if _DRAMA.fullmatch(national) or _MOBILE.fullmatch(national):
            return "+44" + national
        raise NotAMobile(f"'{text}' is not a UK mobile number (mobiles start 07)")
    return _parse_slowly(text)


def _ascii_digits(text: str) -> str:
    """Each decimal digit of any script as its ASCII digit; everything else unchanged."""
    if text.isascii():
        return text
    return "".join(
        str(digit) if (digit := unicodedata.decimal(c, None)) is not None else c for c in text
    )


def _parse_slowly(text: str) -> str:
    try:
        number = phonenumbers.parse(_ascii_digits(text), "GB")
    except phonenumbers.NumberParseException:
        raise NotAMobile(f"'{text}' is not a phone number") from None
    if number.country_code != 44:
        raise NotAMobile(f"'{text}' is not a UK number; SMS reminders go to UK mobiles only")
    if not phonenumbers.is_valid_number(number):
        raise NotAMobile(f"'{text}' is not a valid UK number")
    kind = phonenumbers.number_type(number)
    if kind not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise NotAMobile(f"'{text}' is not a UK mobile number (mobiles start 07)")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if not (e164.startswith("+") and e164[1:].isascii() and e164[1:].isdigit()):
        raise NotAMobile(f"'{text}' is not a phone number written in digits 0 to 9")
    return e164
