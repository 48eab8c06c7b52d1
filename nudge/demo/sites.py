"""`nudge demo --sites N`: the example trial run by N fictional organisations at once.

Each site is an organisation of its own (`north-shire`, "North Shire Police (fictional)", ...)
with a researcher and a programme lead, who see the trial and, of its people, only their own
site's. The demo's copy of the example lists the sites under `sites:` (the first owns the
trial); the one synthetic export is split by court, so each site has its own courts, and each
site's case and person references carry its prefix (`NS-K0000012`); each file is imported for
its own site. The true effect of being reached differs a little between sites (SITE_FACTORS),
so the test of heterogeneity between sites has something to look at.
"""

from __future__ import annotations

import csv
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from experiments.synthetic import DEMO_COURTS
from nudge.accounts import add_user
from nudge.clock import Clock
from nudge.csvout import write_rows
from nudge.organisations import add_organisation


@dataclass(frozen=True)
class DemoSite:
    """A fictional organisation taking part in the demo's multi-site trial."""

    slug: str
    name: str
    prefix: str  # of its case and person references


SITES = (
    DemoSite("north-shire", "North Shire Police (fictional)", "NS"),
    DemoSite("south-vale", "South Vale Police (fictional)", "SV"),
    DemoSite("east-fenmarsh", "East Fenmarsh Police (fictional)", "EF"),
    DemoSite("west-wolds", "West Wolds Police (fictional)", "WW"),
    DemoSite("mid-moorland", "Mid Moorland Police (fictional)", "MM"),
)
MIN_SITES, MAX_SITES = 2, len(SITES)  # at most one site per demo court: each has its own
ROLES = ("researcher", "lead")
# The true effect of being reached at each site, as a multiple of the whole trial's (so the
# practical texts' +10 points become +7 at the first site and +13 at the last): a modest spread,
# evenly from LOWEST to HIGHEST across the sites.
LOWEST, HIGHEST = 0.7, 1.3


@dataclass(frozen=True)
class Login:
    """An account the demo made, with its password for this run."""

    email: str
    password: str
    role: str
    organisation: str | None = None  # its site's name; None for the one-area demo's account


def demo_sites(count: int) -> tuple[DemoSite, ...]:
    """The first `count` of the demo's fictional sites."""
    if not MIN_SITES <= count <= MAX_SITES:
        raise ValueError(f"the demo runs {MIN_SITES} to {MAX_SITES} sites, not {count}")
    return SITES[:count]


def site_factors(sites: Sequence[DemoSite]) -> dict[str, float]:
    """Each site's true effect as a multiple of the whole trial's, by short name."""
    last = len(sites) - 1
    return {
        site.slug: round(LOWEST + (HIGHEST - LOWEST) * i / last, 6) for i, site in enumerate(sites)
    }


def site_email(site: DemoSite, role: str) -> str:
    return f"{role}@{site.slug}.example.org"


def add_sites(session: Session, clock: Clock, sites: Sequence[DemoSite], actor: str) -> list[Login]:
    """Make each site's organisation and, in it, a researcher and a programme lead, each with
    a password made for this run (the caller commits)."""
    logins = []
    for site in sites:
        add_organisation(session, clock, site.slug, site.name, actor)
    for site in sites:
        for role in ROLES:
            password = secrets.token_urlsafe(12)
            email = site_email(site, role)
            add_user(session, clock, email, role, password, actor, organisation=site.slug)
            logins.append(Login(email, password, role, site.name))
    return logins


def sites_block(sites: Sequence[DemoSite]) -> str:
    """The `sites:` key of the demo's copy of the example (each result goes under the
    organisation's own name)."""
    lines = ["sites:  # the first owns the trial; `nudge demo --sites` made them all"]
    lines += [f"  - {site.slug}" for site in sites]
    return "\n".join(lines) + "\n"


def court_sites(sites: Sequence[DemoSite]) -> dict[str, DemoSite]:
    """Which site each of the synthetic export's courts belongs to: in turn, so every site has
    at least one court and no court is shared."""
    return {code: sites[i % len(sites)] for i, (code, _) in enumerate(DEMO_COURTS)}


def split_export(export: Path, sites: Sequence[DemoSite], folder: Path) -> dict[str, Path]:
    """Split the one synthetic export into a file per site (`export-north-shire.csv`, ...) by
    court, prefixing each row's case and person references with its site's prefix; every row
    goes to exactly one file, and the people of a case (one court) to the same one."""
    by_court = court_sites(sites)
    with export.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    case, person, court = (header.index(c) for c in ("case_ref", "participant_ref", "court"))
    split: dict[str, list[list[str]]] = {site.slug: [] for site in sites}
    for row in rows:
        site = by_court[row[court]]
        row = list(row)
        row[case], row[person] = f"{site.prefix}-{row[case]}", f"{site.prefix}-{row[person]}"
        split[site.slug].append(row)
    paths = {}
    for site in sites:
        path = folder / f"{export.stem}-{site.slug}{export.suffix}"
        with path.open("w", newline="", encoding="utf-8") as handle:
            write_rows(handle, header, split[site.slug])
        paths[site.slug] = path
    return paths
