"""`costs.cost_of_event`: what an unwanted result costs, per yes/no outcome, with its source;
validated where it is written and absent from the canonical form when not given."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.loader import LoadedTrial, canonical_form, load_trial_file, sha256_of
from tests.experiments.test_definition_rules import BASE, problems_for

COSTED = BASE + (
    "costs:\n"
    "  sms_segment: 0.04\n"
    "  cost_of_event:\n"
    "    attended: {amount: 250, source: 'Ministry of Justice (2026) Ineffective trials, p. 12'}\n"
)


def loaded(tmp_path: Path, text: str) -> LoadedTrial:
    path = tmp_path / "trial.yaml"
    path.write_text(text, encoding="utf-8")
    result = load_trial_file(path)
    assert isinstance(result, LoadedTrial), result
    return result


def test_a_cost_of_event_with_its_source_is_accepted(tmp_path: Path) -> None:
    assert problems_for(tmp_path, COSTED) == []
    cost = loaded(tmp_path, COSTED).definition.costs.cost_of_event["attended"]
    assert cost.amount == 250
    assert cost.source == "Ministry of Justice (2026) Ineffective trials, p. 12"


def test_costs_without_cost_of_event_keep_the_canonical_form_they_had_before(
    tmp_path: Path,
) -> None:
    before = canonical_form(loaded(tmp_path, BASE))
    assert "cost_of_event" not in before["costs"]
    after = canonical_form(loaded(tmp_path, COSTED))
    assert after["costs"]["cost_of_event"]["attended"]["amount"] == 250
    assert sha256_of(before) != sha256_of(after)


BAD = {
    "a negative amount": (
        "attended: {amount: -5, source: x}",
        "trial.yaml:19:24: costs.cost_of_event.attended.amount: must be at least 0 "
        "(not the number -5)",
    ),
    "no source": (
        "attended: {amount: 250}",
        "trial.yaml:19:15: costs.cost_of_event.attended: missing required key 'source'",
    ),
    "a blank source": (
        "attended: {amount: 250, source: '  '}",
        "trial.yaml:19:37: costs.cost_of_event.attended.source: say where the figure comes "
        "from (a report, its year and page), so a reader can check it",
    ),
    "an unknown outcome": (
        "attnded: {amount: 250, source: x}",
        "trial.yaml:19:5: costs.cost_of_event.attnded: 'attnded' is not an outcome of this "
        "trial; name one of attended",
    ),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_a_bad_cost_of_event_is_refused_where_it_is_written(tmp_path: Path, case: str) -> None:
    entry, expected = BAD[case]
    text = BASE + f"costs:\n  cost_of_event:\n    {entry}\n"
    assert problems_for(tmp_path, text) == [expected]


def test_a_cost_of_event_on_a_numeric_outcome_is_refused(tmp_path: Path) -> None:
    text = (
        BASE.replace(
            "  - {id: attended, primary: true}\n",
            "  - {id: attended, primary: true}\n  - {id: calls, type: count}\n",
        )
        + "costs:\n  cost_of_event:\n    calls: {amount: 3, source: x}\n"
    )
    problems = problems_for(tmp_path, text)
    assert problems == [
        "trial.yaml:20:5: costs.cost_of_event.calls: 'calls' is count; a cost of an event goes "
        "with a yes/no outcome, whose events can be counted"
    ]
