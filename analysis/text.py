"""The results JSON in plain English, for the terminal. Reads the JSON, so both say the same.

Wording follows the design and nothing more: effects are of being assigned to an arm
(intention to treat); an interval that includes 0 is "no clear evidence of a difference".
"""

from __future__ import annotations

from typing import Any

from experiments.definition import TrialDefinition

NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def render_text(data: dict[str, Any], definition: TrialDefinition) -> str:
    titles = {arm.id: arm.title for arm in definition.arms}
    alpha = definition.analysis.alpha
    level = f"{100 * (1 - alpha):g}%"
    lines = [f"Trial {data['trial']}: {definition.title}", ""]
    lines += _randomisation(data["randomisation"])
    for outcome in data["outcomes"]:
        lines += ["", _heading(outcome), ""]
        lines += _arm_table(outcome["arms"], titles, level)
        lines.append("")
        m = sum(1 for c in outcome["comparisons"] if c["adjusted_p_value"] is not None)
        correction = definition.analysis.correction
        for comparison in outcome["comparisons"]:
            lines.append(
                _sentence(comparison, outcome["id"], titles, (alpha, level), m, correction)
            )
        if outcome["covariates_used"]:
            lines.append(f"Adjusted for: {', '.join(outcome['covariates_used'])}.")
        lines += [f"  note: {note}" for note in outcome["notes"]]
    lines += ["", *_power(data["power"])]
    lines += [f"note: {note}" for note in data["notes"]]
    lines += [
        "",
        "Effects are of being assigned to an arm (intention to treat): differences between "
        f"arms in percentage points, with {level} confidence intervals, from the pre-specified "
        "regression model.",
    ]
    return "\n".join(lines)


def _randomisation(block: dict[str, Any]) -> list[str]:
    units = ", ".join(f"{arm} {count}" for arm, count in block["units"].items())
    lines = [f"Randomised {block['unit']}s per arm: {units}."]
    if block["srm_flagged"]:
        lines.append(
            f"WARNING: sample-ratio mismatch (p = {_p(block['srm_p_value'])}): the arms' sizes "
            "are unlikely under the planned weights. Check the randomisation and the imports "
            "before trusting any result below."
        )
    return lines


def _heading(outcome: dict[str, Any]) -> str:
    kind = "primary outcome" if outcome["primary"] else "secondary outcome"
    return f"Outcome: {outcome['id']} ({kind})"


def _arm_table(arms: list[dict[str, Any]], titles: dict[str, str], level: str) -> list[str]:
    lines = [f"  {'arm':<32}{'n':>8}{'events':>8}  {'rate':>6}  ({level} CI)"]
    for arm in arms:
        rate = (
            f"{_pct(arm['rate']):>6}  ({_pct(arm['ci_low'])} to {_pct(arm['ci_high'])})"
            if arm["rate"] is not None
            else f"{'-':>6}"
        )
        lines.append(f"  {titles[arm['arm']][:31]:<32}{arm['n']:>8}{arm['events']:>8}  {rate}")
    return lines


def _sentence(
    c: dict[str, Any],
    outcome: str,
    titles: dict[str, str],
    alpha_level: tuple[float, str],
    m: int,
    correction: str,
) -> str:
    alpha, level = alpha_level
    arm, control = titles[c["arm"]], titles[c["versus"]]
    estimate, low, high = c["adjusted_risk_difference"], c["adjusted_ci_low"], c["adjusted_ci_high"]
    p = c["p_value_corrected"]
    if estimate is None or low is None or high is None:
        estimate, low, high = c["risk_difference"], c["rd_ci_low"], c["rd_ci_high"]
        p = None
    if estimate is None or low is None or high is None:
        return f"{arm} against {control}: not estimable (see the notes)."
    interval = f"{level} CI {_points(low)} to {_points(high)}"
    p_text = _p_phrase(p, m, correction)
    if low <= 0.0 <= high:
        return (
            f"{arm} against {control}: no clear evidence of a difference in the rate of "
            f"{outcome} (estimate {_signed(estimate)} points, {interval}{p_text})."
        )
    verb = "raised" if estimate > 0 else "lowered"
    chance = (
        "this is unlikely to be chance"
        if p is not None and p < alpha
        else "but chance cannot be ruled out"
    )
    return (
        f"{arm} {verb} the rate of {outcome} by {_points(abs(estimate))} points ({interval}) "
        "compared with "
        f"{control}; {chance}{' (' + p_text[2:] + ')' if p_text else ''}."
    )


def _p_phrase(p: float | None, m: int, correction: str) -> str:
    if p is None:
        return ""
    if correction == "none" or m <= 1:
        return f", p = {_p(p)}" if p >= 0.001 else ", p < 0.001"
    words = NUMBER_WORDS[m] if m < len(NUMBER_WORDS) else str(m)
    value = f"p = {_p(p)}" if p >= 0.001 else "p < 0.001"
    return f", {value} after correction for {words} comparisons"


def _power(block: dict[str, Any]) -> list[str]:
    lines = []
    if block["design_n_per_arm"] is not None:
        lines.append(
            f"Design: {block['design_n_per_arm']} per arm to detect "
            f"{_points(block['minimum_detectable_effect'])} points from a baseline of "
            f"{_pct(block['baseline_rate'])} with {block['power']:.0%} power."
        )
    if block["achieved_minimum_detectable_effect"] is not None:
        lines.append(
            f"Achieved: with {block['achieved_n_per_arm']} in the smallest arm, the trial could "
            f"detect {_points(block['achieved_minimum_detectable_effect'])} points "
            f"with {block['power']:.0%} power."
        )
    return lines


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _points(value: float) -> str:
    return f"{100 * value:.1f}"


def _signed(value: float) -> str:
    return f"{100 * value:+.1f}"


def _p(value: float | None) -> str:
    if value is None:
        return "-"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def comparison_sentence(
    comparison: dict[str, Any], outcome: str, definition: TrialDefinition, tested: int
) -> str:
    """One comparison of the results JSON in plain English, as the terminal report says it.

    `tested` is how many of the outcome's comparisons the correction counted.
    """
    titles = {arm.id: arm.title for arm in definition.arms}
    alpha = definition.analysis.alpha
    level = f"{100 * (1 - alpha):g}%"
    correction = definition.analysis.correction
    return _sentence(comparison, outcome, titles, (alpha, level), tested, correction)
