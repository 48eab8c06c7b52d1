"""Outcome types in the definition: a scale's points and words checked where they are written,
`better` and `population` for every type, and `nudge trial validate` saying what each holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.experiments.test_definition_rules import BASE, problems_for
from tests.outcome_types import typed_example

SCALE = "  - {id: confidence, type: scale, scale: {min: 1, max: 5, labels: {%s}}}\n"


def with_outcome(line: str) -> str:
    return BASE + line


def test_every_type_takes_better_and_a_population(tmp_path: Path) -> None:
    text = with_outcome(
        "  - {id: calls, type: count, better: lower, population: {field: role, equals: victim}}\n"
        "  - {id: waited, type: continuous, better: lower}\n"
        + SCALE
        % "1: not at all confident, 5: very confident"
    )
    assert problems_for(tmp_path, text) == []


@pytest.mark.parametrize(
    ("labels", "problem"),
    [
        (
            "1: Not at all, 2: not  AT all",
            "points 1 and 2 have the same label 'not  AT all': give each point its own words",
        ),
        (
            "1: not at all, 2: '5'",
            "the label of point 2 ('5') reads as a number: use words, such as 'fairly confident'",
        ),
        ("0: never, 5: very", "labels [0] are outside the scale 1 to 5; label only its points"),
    ],
)
def test_a_scale_whose_words_could_be_read_two_ways_is_refused_where_written(
    tmp_path: Path, labels: str, problem: str
) -> None:
    problems = problems_for(tmp_path, with_outcome(SCALE % labels))
    assert len(problems) == 1, problems
    assert problems[0].startswith("trial.yaml:17:42: outcomes[1].scale: "), problems
    assert problems[0].endswith(problem), problems


def test_validate_says_what_each_outcome_file_column_holds(cli: Cli, tmp_path: Path) -> None:
    result = cli("trial", "validate", str(typed_example(tmp_path)))
    assert result.exit_code == 0, result.output
    start = result.output.index("Outcomes (what each column of an outcome file holds):")
    assert result.output[start:].splitlines()[1:7] == [
        "  attended (primary)      yes or no",
        "  withdrew                yes or no",
        "  confidence              a scale from 1 (not at all confident) to 5 (very confident)",
        "                          or a point's words: not at all confident (1), Fairly "
        "confident (3), very confident (5)",
        "  calls                   a count (a whole number, 0 or more)",
        "  waited                  a number",
    ]
