"""The sites of a multi-site trial that a file is imported for.

A multi-site trial's enrolment export and court lists are always one site's (`import_site`
requires the site). Outcomes and milestones may also come from the courts' central records
covering every site, which the platform operator imports with no site
(`site_or_whole_trial`); a site's staff import their own file with the site named, and then a
row naming another site's case or person reads as unknown (`of_site`, `not_yours`): a site's
staff learn nothing of the others' cases. A trial in one area has no site, and one named is
refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Self, TypeVar

from sqlmodel import Session

from experiments import trials
from nudge.errors import TrialStateError


class _Filterable(Protocol):
    def where(self, *whereclause: Any) -> Self: ...


Query = TypeVar("Query", bound=_Filterable)


@dataclass(frozen=True)
class ImportSite:
    """The site of a multi-site trial a file is imported for: its organisation's id and short
    name, and the name its results go under."""

    organisation_id: int
    slug: str
    name: str


def import_site(session: Session, trial_id: str, site: str | None) -> ImportSite | None:
    """The site a file is imported for: required (one of the trial's) in a multi-site trial,
    refused in a trial in one area."""
    sites = trials.trial_sites(session, trial_id)
    slugs = ", ".join(organisation.slug for _, organisation in sites)
    if not sites:
        if site:
            raise TrialStateError(
                f"trial '{trial_id}' is not multi-site; leave out --site (got '{site}')"
            )
        return None
    if not site:
        raise TrialStateError(
            f"trial '{trial_id}' is multi-site: say which site's people this file holds with "
            f"--site (its sites: {slugs})"
        )
    for trial_site, organisation in sites:
        if organisation.slug == site.strip():
            assert organisation.id is not None
            return ImportSite(organisation.id, organisation.slug, trial_site.name)
    raise TrialStateError(f"'{site}' is not a site of trial '{trial_id}' (its sites: {slugs})")


def site_or_whole_trial(session: Session, trial_id: str, site: str | None) -> ImportSite | None:
    """The site a file is imported for, or None for the whole trial (no `site` given). A site
    given is checked as for enrolment: refused in a trial in one area, and refused with the
    trial's sites listed when it is not one of them."""
    return None if site is None else import_site(session, trial_id, site)


def of_site(query: Query, site_column: Any, own: ImportSite | None) -> Query:
    """`query` kept to the rows of `own`'s site (`site_column` = its organisation), or all of
    the trial's rows when the file is the whole trial's."""
    return query if own is None else query.where(site_column == own.organisation_id)


def not_yours(own: ImportSite | None, what: str) -> str:
    """What a row naming an unknown case or person adds when the file is one site's: it may
    be another site's ("cases", "people"), and the words do not say which."""
    return "" if own is None else f": not one of your site's {what}"
