"""A multi-site trial's primary outcome by site: the pooled estimate, each site's, and whether
the effect differs between sites. Pure. See docs/analysis-methods.md, "Sites".

- The pooled estimate is the trial's own pre-registered estimate. The site is a stratum of the
  randomisation, so the model's stratum fixed effects are crossed with the site
  (:func:`with_site_strata`): the pooled estimate compares people within a site, whatever the
  stored stratum key holds.
- Each site's estimate is the same model on that site's people only (HC2, or CR2 by unit when
  whole units were randomised): analysis/subgroups.py's per-level fit, with the site as the
  subgroup. A site gets a reason, not a figure, when nobody from it is analysed yet, when an
  arm or control has nobody there, or fewer than two randomisation units there, or when the
  outcome is the same for everyone there.
- The test of heterogeneity is subgroups' interaction test: every arm x site product added to
  the primary model on everyone analysed, tested jointly by a robust Wald chi-square.
- Cochran's Q (inverse-variance weights from each site's robust standard error) and
  I^2 = max(0, (Q - df) / Q) describe, for each arm against control, how much the sites'
  estimates spread beyond what chance would give; only sites with an estimate count.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.effects import ModelSpec
from analysis.stats.meta import cochran_q
from analysis.subgroups import INTERACTION_TEST, SubgroupComparison, subgroup_results
from experiments.definition import SITE_COLUMN, TrialDefinition

HETEROGENEITY_TEST = INTERACTION_TEST.replace("subgroup", "site")
SPREAD = (
    "Cochran's Q of the sites' estimates (inverse-variance weights, robust standard errors), "
    "with I^2"
)
NO_SITE_COLUMN = "the data has no site column: the primary outcome is not shown by site"


@dataclass(frozen=True)
class SiteLevel:
    """One site: its short name, the name its results go under, the people analysed there and
    each arm's estimate against control (None, with a note saying why, where there is none)."""

    site: str
    name: str
    n: int
    comparisons: tuple[SubgroupComparison, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class SiteArm:
    """One arm against control: the pooled (pre-registered) estimate and the spread of the
    sites' estimates around it."""

    arm: str
    versus: str
    pooled_estimate: float | None
    pooled_std_error: float | None
    pooled_ci_low: float | None
    pooled_ci_high: float | None
    pooled_p_value: float | None
    sites_estimated: int
    cochran_q: float | None
    q_df: int | None
    q_p_value: float | None
    i2: float | None
    note: str | None


@dataclass(frozen=True)
class SiteResults:
    heterogeneity_test: str
    statistic: float | None
    df: int | None
    p_value: float | None
    spread: str
    arms: tuple[SiteArm, ...]
    sites: tuple[SiteLevel, ...]
    notes: tuple[str, ...]


def with_site_strata(frame: pd.DataFrame, definition: TrialDefinition) -> pd.DataFrame:
    """The frame with its stratum crossed with the site, for the models: randomisation is
    stratified by site, so the model compares people within a site even where a stored stratum
    key leaves the site out (`site=gwent|court=BRS`). Where every stratum lies within one site
    already, the frame is returned as it is, so the estimates are untouched. Without sites, or
    without a site column, the frame as it is."""
    if not definition.sites or SITE_COLUMN not in frame or frame.empty:
        return frame
    site = frame[SITE_COLUMN].astype(object).where(frame[SITE_COLUMN].notna(), "")
    stratum = frame["stratum"].astype(str)
    if (site.groupby(stratum).nunique() <= 1).all():
        return frame
    crossed: pd.Series = "site=" + site.astype(str) + np.where(stratum == "all", "", "|" + stratum)
    return frame.assign(stratum=pd.Categorical(crossed))


def site_results(
    data: pd.DataFrame,
    outcome: str,
    spec: ModelSpec,
    names: Mapping[str, str],
    pooled: Mapping[str, tuple[float | None, ...]],
) -> SiteResults:
    """The primary outcome by site (module docstring). `names`: slug → name, in the
    definition's order; `pooled`: arm → the trial's (estimate, std error, ci low, ci high, p)."""
    if SITE_COLUMN not in data:
        arms = tuple(_pooled(arm, spec, pooled, [], NO_SITE_COLUMN) for arm in spec.treatments)
        return SiteResults(
            HETEROGENEITY_TEST, None, None, None, SPREAD, arms, (), (NO_SITE_COLUMN,)
        )
    (found,) = subgroup_results(data, outcome, spec, [SITE_COLUMN], {SITE_COLUMN: "site"})
    by_slug = {level.level: level for level in found.levels}
    listed = [*names, *(slug for slug in by_slug if slug not in names)]
    sites = []
    for slug in listed:
        level = by_slug.get(slug)
        name = names.get(slug, slug)
        if level is None:
            empty = tuple(
                SubgroupComparison(arm, spec.control, None, None, None, None, None)
                for arm in spec.treatments
            )
            sites.append(
                SiteLevel(slug, name, 0, empty, ("nobody from this site is analysed yet",))
            )
            continue
        said = tuple(_at_site(note, names) for note in level.notes)
        sites.append(SiteLevel(slug, name, level.n, level.comparisons, said))
    notes = [_at_site(note, names) for note in found.notes]
    unknown = [slug for slug in by_slug if slug not in names]
    if unknown:
        notes.append(
            f"people at {', '.join(unknown)}, not a site the definition lists, are shown as "
            "their own site"
        )
    arms = tuple(_pooled(arm, spec, pooled, sites) for arm in spec.treatments)
    return SiteResults(
        HETEROGENEITY_TEST,
        found.interaction_statistic,
        found.interaction_df,
        found.interaction_p_value,
        SPREAD,
        arms,
        tuple(sites),
        tuple(notes),
    )


def _at_site(note: str, names: Mapping[str, str]) -> str:
    """Subgroups' words for a level, said of a site, by its name."""
    if note == "not observed":
        return "nobody analysed has a site"
    if note == "interaction test not done: one level only":
        return "the test of heterogeneity is not done: only one site has people analysed so far"
    note = note.replace("interaction test not done", "the test of heterogeneity is not done")
    note = note.replace("with no site: in no level", "with no site: in no site's estimate")
    for slug, name in names.items():
        # "only one randomisation unit for sms in gwent, control in dyfed-powys, so ..."
        note = re.sub(rf" in {re.escape(slug)}(?=,|$)", f" at {name}".replace("\\", "\\\\"), note)
    return note.replace("in this level", "at this site")


def _pooled(
    arm: str,
    spec: ModelSpec,
    pooled: Mapping[str, tuple[float | None, ...]],
    sites: list[SiteLevel],
    reason: str | None = None,
) -> SiteArm:
    estimate, se, low, high, p = pooled.get(arm, (None,) * 5)
    rows = [
        c
        for site in sites
        for c in site.comparisons
        if c.arm == arm and c.adjusted_std_error is not None and c.adjusted_std_error > 0
        if c.adjusted_risk_difference is not None
    ]
    common = (arm, spec.control, estimate, se, low, high, p, len(rows))
    if len(rows) < 2:
        why = reason or (
            "Cochran's Q needs estimates from two sites or more; "
            f"{'no site has one' if not rows else 'one site has one'} so far"
        )
        return SiteArm(*common, None, None, None, None, why)
    y = np.array([c.adjusted_risk_difference for c in rows], dtype=np.float64)
    v = np.array([c.adjusted_std_error for c in rows], dtype=np.float64) ** 2
    q = cochran_q(y, v)
    assert q.q is not None and q.df is not None
    i2 = 100 * max(0.0, (q.q - q.df) / q.q) if q.q > 0 else 0.0
    note = None
    if len(rows) < len(sites):
        note = f"Cochran's Q uses the {len(rows)} of {len(sites)} sites with an estimate"
    return SiteArm(*common, q.q, q.df, q.p_value, i2, note)
