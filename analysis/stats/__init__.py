"""Pure statistics for trial analysis: arrays in, frozen dataclasses out.

No database, clock, environment or file access happens in this package; the report assembler
calls these functions with plain numpy arrays or pandas frames. See docs/analysis-methods.md.
"""

from __future__ import annotations

from analysis.stats.balance import (
    SampleRatioCheck,
    StandardisedDifference,
    srm_check,
    standardised_mean_differences,
)
from analysis.stats.bayes import BayesComparison, bayes_comparison, expected_loss, prob_better
from analysis.stats.cost import CostPerEvent, cost_per_additional_event
from analysis.stats.design import DesignMatrix, build_design
from analysis.stats.iv import iv_robust
from analysis.stats.logistic import LogisticFit, OddsRatio, logistic_regression
from analysis.stats.meta import MetaAnalysis, TrialEffect, random_effects
from analysis.stats.multiplicity import adjust_p_values
from analysis.stats.power import (
    DetectableEffect,
    SampleSize,
    minimum_detectable_effect,
    power_two_proportions,
    sample_size_two_proportions,
)
from analysis.stats.proportions import (
    IntervalEstimate,
    ProportionEstimate,
    TwoArmComparison,
    compare_two_arms,
    newcombe_difference,
    wilson_interval,
)
from analysis.stats.regression import Coefficient, RobustFit, lm_robust
from analysis.stats.savings import NetSaving, net_saving

__all__ = [
    "BayesComparison",
    "Coefficient",
    "CostPerEvent",
    "DesignMatrix",
    "DetectableEffect",
    "IntervalEstimate",
    "LogisticFit",
    "MetaAnalysis",
    "NetSaving",
    "OddsRatio",
    "ProportionEstimate",
    "RobustFit",
    "SampleRatioCheck",
    "SampleSize",
    "StandardisedDifference",
    "TrialEffect",
    "TwoArmComparison",
    "adjust_p_values",
    "bayes_comparison",
    "build_design",
    "compare_two_arms",
    "cost_per_additional_event",
    "expected_loss",
    "iv_robust",
    "lm_robust",
    "logistic_regression",
    "minimum_detectable_effect",
    "net_saving",
    "newcombe_difference",
    "power_two_proportions",
    "prob_better",
    "random_effects",
    "sample_size_two_proportions",
    "srm_check",
    "standardised_mean_differences",
    "wilson_interval",
]
