"""Triage of replies: whole words and phrases, in any case, from the trial's list or the default."""

from __future__ import annotations

import pytest

from experiments.definition import DEFAULT_TRIAGE_WORDS
from messages.triage import triage_words_in

WORDS = ("threat", "told me not to", "can't cope", "999")


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("He made a THREAT outside court", ("threat",)),
        ("Someone TOLD   me\nnot to come", ("told me not to",)),
        ("I can\u2019t cope with this", ("can't cope",)),  # a phone's curly apostrophe
        ("Should I ring 999?", ("999",)),
        ("threat. And they told me not to. Threat!", ("threat", "told me not to")),
    ],
)
def test_a_word_or_phrase_is_found_whole_in_any_case_and_spacing(
    text: str, found: tuple[str, ...]
) -> None:
    assert triage_words_in(text, WORDS) == found


@pytest.mark.parametrize(
    "text",
    [
        "We are going to the theatre, a threatre?",  # 'threat' inside another word
        "They told me to come at ten",
        "Call 07700 900999 please",  # 999 inside a number
        "",
    ],
)
def test_a_word_inside_another_word_is_not_found(text: str) -> None:
    assert triage_words_in(text, WORDS) == ()


def test_an_empty_list_flags_nothing() -> None:
    assert triage_words_in("I am scared and threatened", []) == ()


@pytest.mark.parametrize(
    "text",
    [
        "I'm scared to come, his family keep watching me",
        "They threatened me at the shop",
        "I can't cope with going back there",
        "Is it safe? I feel unsafe near him",
        "He said he will hit me if I give evidence",
    ],
)
def test_the_default_list_flags_distress_intimidation_and_safeguarding_concerns(
    text: str,
) -> None:
    assert triage_words_in(text, DEFAULT_TRIAGE_WORDS)


@pytest.mark.parametrize(
    "text",
    [
        "Can I bring my daughter with me?",
        "Where do I park?",
        "What time should I arrive",
        "Thanks, see you then",
    ],
)
def test_the_default_list_leaves_everyday_questions_alone(text: str) -> None:
    assert triage_words_in(text, DEFAULT_TRIAGE_WORDS) == ()
