"""Reading a survey answer (messages/survey_words.py): each form a person might write, in
English and Welsh, and the replies that must not be read as an answer."""

from __future__ import annotations

import pytest

from messages.survey_words import Accepted, read_answer

SCALE = Accepted(1, 5)
YES_NO = Accepted(words={"yes": True, "no": False, "ie": True, "na": False})
ZERO_TO_TEN = Accepted(0, 10)


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        ("4", 4),
        (" 4 ", 4),
        ("4 - fairly", 4),
        ("4 - eithaf", 4),
        ("4/5", 4),
        ("4 out of 5", 4),
        ("4 allan o 5", 4),
        ("I'd say 3", 3),
        ("one", 1),
        ("Two", 2),
        ("THREE", 3),
        ("four!", 4),
        ("five", 5),
        ("un", 1),
        ("dau", 2),
        ("dwy", 2),
        ("tri", 3),
        ("tair", 3),
        ("pedwar", 4),
        ("pedair", 4),
        ("pump", 5),
        ("pum", 5),
        ("4 four", 4),  # the same answer twice is one answer
    ],
)
def test_a_number_on_the_scale_is_read_in_digits_or_words(body: str, answer: int) -> None:
    assert read_answer(body, SCALE) == answer


@pytest.mark.parametrize(
    ("body", "answer"),
    [("chwech", 6), ("saith", 7), ("wyth", 8), ("naw", 9), ("deg", 10), ("ten", 10), ("0", 0)],
)
def test_the_higher_welsh_and_english_numbers_are_read_on_a_longer_scale(
    body: str, answer: int
) -> None:
    assert read_answer(body, ZERO_TO_TEN) == answer


@pytest.mark.parametrize(
    "body",
    ["", "3 or 4", "three or four", "7", "0", "3.5", "fairly", "dim o gwbl", "4 out of 10"],
)
def test_a_reply_that_is_not_exactly_one_point_of_the_scale_is_not_read(body: str) -> None:
    assert read_answer(body, SCALE) is None


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        ("yes", True),
        ("Yes.", True),
        ("no thanks", False),
        ("NO", False),
        ("Ie", True),
        ("na", False),
        ("Na, dim really", False),
        ("yes, yes!", True),
    ],
)
def test_the_listed_words_are_read_whole_in_either_language(body: str, answer: bool) -> None:
    assert read_answer(body, YES_NO) is answer


@pytest.mark.parametrize("body", ["yes and no", "not sure", "nope", "nothing", "4", "yesterday"])
def test_a_reply_without_exactly_one_listed_answer_is_not_read(body: str) -> None:
    assert read_answer(body, YES_NO) is None


def test_on_a_scale_with_words_the_number_comes_first() -> None:
    worded = Accepted(1, 5, {"very": 5, "not at all": 1})
    assert read_answer("4 - very", worded) == 4
    assert read_answer("Not at all", worded) == 1
    assert read_answer("very", worded) == 5
