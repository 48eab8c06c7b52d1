"""Outcomes that are not yes/no in words: means, differences in means, and their warnings. Pure.

Reads the `measures` block of an outcome in the results JSON (analysis/measures.py), so the
terminal report, the page, the verdict and the CSV say the same. A scale's figures carry the
scale ("3.4 on the 1–5 scale"); differences are in the outcome's own units, never in
percentage points. As for yes/no outcomes, the pre-registered estimate is the adjusted one,
an interval that includes 0 is "no clear evidence of a difference", and a figure that is not
the pre-registered estimate is labelled for what it is.
"""

from __future__ import annotations

from typing import Any

from analysis.numbers import DASH, signed

EN_DASH = "\u2013"


def primary_measured(c: dict[str, Any]) -> bool:
    """True when the comparison has the pre-registered difference in means and its interval."""
    keys = ("adjusted_difference", "adjusted_ci_low", "adjusted_ci_high")
    return all(c.get(k) is not None for k in keys)


def number(value: float | None, places: int = 1) -> str:
    """A mean: "3.4", "27.3"; a true minus; a dash when not available."""
    if value is None:
        return DASH
    text = f"{value:.{places}f}"
    return signed("0" if float(text) == 0 else text)


def difference(value: float | None, places: int = 2) -> str:
    """A difference in means: "+0.32", "−0.41", "0"."""
    if value is None:
        return DASH
    text = f"{value:+.{places}f}"
    return "0" if float(text) == 0 else signed(text)


def ratio(value: float | None) -> str:
    return DASH if value is None else f"{value:.2f}"


def on_scale(measures: dict[str, Any]) -> str:
    """ " on the 1–5 scale" for a scale outcome, else nothing."""
    if measures.get("type") != "scale" or measures.get("scale_min") is None:
        return ""
    return f" on the {measures['scale_min']}{EN_DASH}{measures['scale_max']} scale"


def average(name: str) -> str:
    return name if name.startswith("average ") else f"average {name}"


def arm_lines(measures: dict[str, Any], titles: dict[str, str], level: str) -> list[str]:
    """The per-arm table of the terminal report: n, responded, mean and interval."""
    lines = [f"  {'arm':<32}{'n':>8}{'response':>10}  {'mean':>7}  ({level} CI)"]
    for arm in measures["arms"]:
        rate = arm.get("response_rate")
        response = DASH if rate is None else f"{100 * rate:.0f}%"
        mean = (
            f"{number(arm['mean'], 2):>7}  ({number(arm['ci_low'], 2)} to "
            f"{number(arm['ci_high'], 2)})"
            if arm.get("mean") is not None and arm.get("ci_low") is not None
            else f"{number(arm.get('mean'), 2):>7}"
        )
        lines.append(f"  {titles[arm['arm']][:31]:<32}{arm['n']!s:>8}{response:>10}  {mean}")
    return lines


def comparison_sentence(
    c: dict[str, Any],
    measures: dict[str, Any],
    *,
    arm: str,
    control: str,
    outcome: str,
    level: str,
    alpha: float,
    p_text: str,
) -> str:
    """One arm against control on a non-binary outcome, in plain English."""
    scale = on_scale(measures)
    if not primary_measured(c):
        reason = c.get("primary_reason") or "see the notes"
        said = (
            f"{arm} against {control}: the pre-registered analysis could not be computed "
            f"({reason})."
        )
        if c.get("mean_difference") is None:
            return f"{said} No other estimate is available."
        return (
            f"{said} Instead, the plain difference in means is {difference(c['mean_difference'])}"
            f"{scale}; it is not the pre-registered estimate."
        )
    estimate, low, high = c["adjusted_difference"], c["adjusted_ci_low"], c["adjusted_ci_high"]
    interval = f"{level} CI {difference(low)} to {difference(high)}"
    if low <= 0.0 <= high:
        return (
            f"{arm} against {control}: no clear evidence of a difference in {average(outcome)}"
            f"{scale} (difference in means {difference(estimate)}, {interval}{p_text})."
        )
    verb = "raised" if estimate > 0 else "lowered"
    p = c.get("p_value_corrected")
    chance = (
        "this is unlikely to be chance"
        if p is not None and p < alpha
        else "but chance cannot be ruled out"
    )
    return (
        f"{arm} {verb} {average(outcome)}{from_to(measures, c['arm'], c['versus'])}{scale} "
        f"(difference in means {difference(estimate)}, {interval}) compared with {control}; "
        f"{chance}{' (' + p_text[2:] + ')' if p_text else ''}."
    )


def from_to(measures: dict[str, Any], arm: str, control: str) -> str:
    """ " from 3.1 to 3.4": control's mean answer, then the arm's (unadjusted means)."""
    means = {a["arm"]: a.get("mean") for a in measures["arms"]}
    if not isinstance(means.get(arm), float) or not isinstance(means.get(control), float):
        return ""
    return f" from {number(means[control])} to {number(means[arm])}"


def supporting_lines(measures: dict[str, Any], titles: dict[str, str], level: str) -> list[str]:
    """Hedges' g, the secondary model, and the Lee bounds, one line per arm."""
    lines = []
    for c in measures["comparisons"]:
        arm = titles[c["arm"]]
        parts = []
        if c.get("hedges_g") is not None:
            interval = (
                f" ({level} CI {difference(c['g_ci_low'])} to {difference(c['g_ci_high'])})"
                if c.get("g_ci_low") is not None
                else ""
            )
            parts.append(f"Hedges' g {difference(c['hedges_g'])}{interval}")
        if c.get("odds_ratio") is not None:
            parts.append(
                f"odds of a higher answer x{ratio(c['odds_ratio'])} ({level} CI "
                f"{ratio(c.get('or_ci_low'))} to {ratio(c.get('or_ci_high'))}; "
                "proportional-odds model, secondary)"
            )
        if c.get("rate_ratio") is not None:
            parts.append(
                f"rate ratio {ratio(c['rate_ratio'])} ({level} CI {ratio(c.get('rate_ci_low'))} "
                f"to {ratio(c.get('rate_ci_high'))}; Poisson model, secondary)"
            )
        bounds = lee_words(c, level)
        if bounds:
            parts.append(bounds)
        if parts:
            lines.append(f"  {arm}: {'; '.join(parts)}.")
    return lines


def lee_words(c: dict[str, Any], level: str) -> str | None:
    """The Lee bounds and their interval in plain words, when response differed by arm."""
    if c.get("lee_lower") is None or not c.get("lee_trimmed_arm"):
        return None
    said = (
        f"Lee bounds for differential response {difference(c['lee_lower'])} to "
        f"{difference(c['lee_upper'])} (the effect among those who would answer either way "
        "lies between these"
    )
    if c.get("lee_ci_low") is None or c.get("lee_ci_high") is None:
        return f"{said})"
    return (
        f"{said}; allowing for chance, between {difference(c['lee_ci_low'])} and "
        f"{difference(c['lee_ci_high'])}, a {level} interval)"
    )


def response_warning(measures: dict[str, Any]) -> str | None:
    """The warning when the arms' response rates differ by more than 5 points."""
    if not measures.get("response_flagged"):
        return None
    gap = measures.get("response_gap")
    by = f" (by up to {100 * gap:.0f} points)" if isinstance(gap, float) else ""
    return (
        f"The arms' response rates differ by more than 5 percentage points{by}: "
        "those who answered may not be alike across arms, so the difference in means may be "
        "biased. The Lee bounds show how far it could move if the extra responders in one arm "
        "were the highest or the lowest answers."
    )


def design_words(power: dict[str, Any]) -> str | None:
    """The designed sample of a non-binary primary outcome, after "Designed:"; None when the
    plan gives no difference to detect."""
    means = power.get("means")
    if (
        not means
        or power.get("design_n_per_arm") is None
        or means.get("design_standardised") is None
    ):
        return None
    d = f"{means['design_standardised']:.2f} standard deviations"
    if means.get("design_difference") is not None and means.get("design_sd") is not None:
        size = (
            f"a difference in means of {number(means['design_difference'], 2)} (SD "
            f"{number(means['design_sd'], 2)}, so {d})"
        )
    else:
        size = f"a difference in means of {d}"
    return f"{power['design_n_per_arm']:,} per arm to detect {size} with {power['power']:.0%} power"


def achieved_words(power: dict[str, Any]) -> str | None:
    """What the answers so far can detect, after "Achieved:"; None when not known."""
    means = power.get("means")
    if not means or means.get("achieved_standardised") is None:
        return None
    d = f"{means['achieved_standardised']:.2f} standard deviations"
    if means.get("achieved_difference") is not None:
        sd = "the plan's" if means.get("achieved_sd_source") == "plan" else "the observed"
        size = (
            f"a difference in means of {number(means['achieved_difference'], 2)} ({d}, with "
            f"{sd} SD {number(means['achieved_sd'], 2)})"
        )
    else:
        size = f"a difference in means of {d}"
    n = power["achieved_n_per_arm"]
    return (
        f"with {n:,} answers in the smallest arm the trial can detect {size} with "
        f"{power['power']:.0%} power"
    )
