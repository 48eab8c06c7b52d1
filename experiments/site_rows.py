"""Files from the courts' records (outcomes, milestones): one site's, or the whole trial's.

A multi-site trial's enrolment export and court lists are always one site's
(`experiments.enrol.import_site` requires the site). Outcomes and milestones may also come
from the courts' central records covering every site, which the platform operator imports
with no site; a site's staff import their own file with the site named, and then a row naming
another site's case or person reads as unknown, as in a court list (experiments/hearings.py):
a site's staff learn nothing of the others' cases. A trial in one area has no site, and one
named is refused, as for enrolment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Select
from sqlmodel import Session

if TYPE_CHECKING:  # enrolment records milestones (experiments/milestones.py imports this)
    from experiments.enrol_store import ImportSite

Query = TypeVar("Query", bound=Select[Any])


def site_or_whole_trial(session: Session, trial_id: str, site: str | None) -> ImportSite | None:
    """The site a file is imported for, or None for the whole trial (no `site` given). A site
    given is checked as for enrolment: refused in a trial in one area, and refused with the
    trial's sites listed when it is not one of them."""
    from experiments.enrol import import_site  # here: enrolment imports the milestones module

    return None if site is None else import_site(session, trial_id, site)


def of_site(query: Query, site_column: Any, own: ImportSite | None) -> Query:
    """`query` kept to the rows of `own`'s site (`site_column` = its organisation), or all of
    the trial's rows when the file is the whole trial's."""
    return query if own is None else query.where(site_column == own.organisation_id)


def not_yours(own: ImportSite | None, what: str) -> str:
    """What a row naming an unknown case or person adds when the file is one site's: it may
    be another site's ("cases", "people"), and the words do not say which."""
    return "" if own is None else f": not one of your site's {what}"
