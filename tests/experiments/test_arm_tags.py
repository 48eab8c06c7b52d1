"""Arm tags: what an arm tests, for pooling closed trials; optional, validated where written,
amendable after launch, and absent from the canonical form when not given."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session

from experiments import trials
from experiments.loader import LoadedTrial, canonical_form, load_trial_file, sha256_of
from nudge.clock import FixedClock
from tests.experiments.test_definition_rules import BASE, problems_for
from tests.experiments.test_trial_lifecycle import ACTOR, edited, load

TAGGED = BASE.replace(
    "    title: SMS\n", "    title: SMS\n    tags: [practical_information, sms, 7_days_before]\n"
)


def loaded(tmp_path: Path, text: str) -> LoadedTrial:
    path = tmp_path / "trial.yaml"
    path.write_text(text, encoding="utf-8")
    result = load_trial_file(path)
    assert isinstance(result, LoadedTrial), result
    return result


def test_tags_on_an_arm_are_kept_in_the_order_written(tmp_path: Path) -> None:
    assert problems_for(tmp_path, TAGGED) == []
    definition = loaded(tmp_path, TAGGED).definition
    assert definition.arms[1].tags == ["practical_information", "sms", "7_days_before"]
    assert definition.arms[0].tags == []


def test_an_arm_without_tags_has_the_canonical_form_and_hash_it_had_before_tags(
    tmp_path: Path,
) -> None:
    untagged = canonical_form(loaded(tmp_path, BASE))
    assert all("tags" not in arm for arm in untagged["arms"])
    tagged = canonical_form(loaded(tmp_path, TAGGED))
    assert tagged["arms"][1]["tags"] == ["practical_information", "sms", "7_days_before"]
    assert "tags" not in tagged["arms"][0]
    assert sha256_of(untagged) != sha256_of(tagged)
    # an explicitly empty list means the same as none
    empty = canonical_form(
        loaded(tmp_path, BASE.replace("    title: SMS\n", "    title: SMS\n    tags: []\n"))
    )
    assert json.dumps(empty, sort_keys=True) == json.dumps(untagged, sort_keys=True)


BAD = {
    "capitals": ("tags: [SMS]", "tags[0]"),
    "a space": ('tags: ["practical information"]', "tags[0]"),
    "too long": ("tags: [" + "a" * 61 + "]", "tags[0]"),
    "repeated": ("tags: [sms, sms]", "tag 'sms' is given twice: list each tag once"),
    "not a list": ("tags: sms", "tags"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_a_bad_tag_is_refused_at_its_line_naming_the_arm(tmp_path: Path, case: str) -> None:
    tags, expected = BAD[case]
    text = BASE.replace("    title: SMS\n", f"    title: SMS\n    {tags}\n")
    problems = problems_for(tmp_path, text)
    assert len(problems) == 1, problems
    assert problems[0].startswith("trial.yaml:10:"), problems
    assert "arms[1].tags" in problems[0] and expected in problems[0], problems


def test_a_launched_trial_accepts_tags_by_amendment(
    session: Session, clock: FixedClock, example_dir: Path
) -> None:
    trials.create_trial(session, clock, load(example_dir / "witness-reminders.yaml"), ACTOR)
    trials.launch_trial(session, clock, "witness-reminders-2027", ACTOR)
    tagged = edited(
        example_dir,
        "    title: Practical information\n",
        "    title: Practical information\n    tags: [practical_information, sms]\n",
    )
    version = trials.amend_trial(
        session, clock, "witness-reminders-2027", tagged, ACTOR, reason="tag for pooling"
    )
    assert version.changed_fields == ["arms[1].tags"]
    current = trials.current_definition(
        session, trials.get_trial(session, "witness-reminders-2027")
    )
    assert current.arms[1].tags == ["practical_information", "sms"]
