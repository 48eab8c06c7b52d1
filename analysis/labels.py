"""Human labels for what the results name: arms, outcomes, columns and exclusion reasons. Pure.

Pages, sentences and downloads name things by their labels, never by their ids: "attendance",
not "attended"; "Business as usual", not "control". Each label comes from the trial's YAML where
the researcher gave one (`title:` for arms, `label:` elsewhere) and otherwise from a readable
default made from the id.
"""

from __future__ import annotations

from dataclasses import dataclass

from experiments.definition import TrialDefinition


def humanise(identifier: str) -> str:
    """`prior_fta` → "prior fta": an id read aloud, for when no label was given."""
    return identifier.replace("_", " ").replace("-", " ").strip()


@dataclass(frozen=True)
class Labels:
    """The labels of one trial definition."""

    definition: TrialDefinition

    @classmethod
    def of(cls, definition: TrialDefinition) -> Labels:
        return cls(definition)

    def arm(self, arm_id: str) -> str:
        """The arm's title, as the researcher wrote it: "Practical information"."""
        return next(a.title for a in self.definition.arms if a.id == arm_id)

    def outcome(self, outcome_id: str) -> str:
        """The outcome as a noun for sentences: "attendance" (lower case unless a name)."""
        return humanise(outcome_id)

    def column(self, name: str) -> str:
        """A participant column (covariate, stratum, subgroup) by its label: "age band"."""
        return humanise(name)
