"""SMS encoding and segment counts as carriers bill them (GSM 03.38, UCS-2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from messages.segments import GSM_BASIC, _counted, count_segments


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 0),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # extension characters cost two septets
        ("€" * 81, "GSM-7", 162, 2),
        ("a" * 152 + "€" + "a" * 10, "GSM-7", 164, 2),  # an escape pair is not split
        ("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3),
        ("ŵ" * 70, "UCS-2", 70, 1),
        ("ŵ" * 71, "UCS-2", 71, 2),
        ("ŵ" * 134, "UCS-2", 134, 2),
        ("ŵ" * 135, "UCS-2", 135, 3),
        ("😀" * 35, "UCS-2", 70, 1),  # outside the BMP: two UTF-16 units each
        ("ŵ" * 66 + "😀" + "ŵ", "UCS-2", 69, 1),
        ("ŵ" * 66 + "😀" + "ŵ" * 3, "UCS-2", 71, 2),
    ],
)
def test_segments_follow_the_160_153_and_70_67_rules(
    text: str, encoding: str, units: int, segments: int
) -> None:
    count = count_segments(text)
    assert (count.encoding, count.units, count.segments) == (encoding, units, segments)


def test_a_curly_quote_alone_forces_ucs2_and_is_flagged_as_fixable() -> None:
    count = count_segments("Don\u2019t forget")
    assert count.encoding == "UCS-2" and count.fixable
    assert count.stray == ((3, "\u2019"),)


def test_welsh_circumflexes_are_real_ucs2_not_a_stray_character() -> None:
    count = count_segments("Ffoniwch ni \u2013 diolch yn fawr, ŵyr")
    assert count.encoding == "UCS-2" and not count.fixable


@given(st.text(alphabet=sorted(GSM_BASIC), max_size=700))
def test_the_quick_count_of_plain_gsm_text_agrees_with_the_character_by_character_one(
    text: str,
) -> None:
    assert count_segments(text) == _counted(text)
