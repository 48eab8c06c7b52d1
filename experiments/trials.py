"""The trial lifecycle: create a draft, launch (freeze the design), amend, close."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from experiments.amendments import (
    FieldChange,
    changed_paths,
    field_changes,
    kind_of_change,
    value_at,
)
from experiments.columns import column_types, completed_columns
from experiments.definition import TrialDefinition
from experiments.loader import LoadedTrial, canonical_form, canonical_json, sha256_of
from nudge import audit
from nudge.clock import Clock
from nudge.errors import NotFound, TrialStateError
from nudge.models import (
    Arm,
    Organisation,
    Participant,
    Trial,
    TrialSite,
    TrialStatus,
    TrialVersion,
)
from nudge.models.types import column_length, fitted
from nudge.organisations import OrganisationError, all_organisations, organisation_for_new


@dataclass(frozen=True)
class Actor:
    """Who is acting, for the audit log and version history (`cli:alice`, `web:3`)."""

    name: str


def get_trial(session: Session, trial_id: str) -> Trial:
    trial = session.get(Trial, trial_id)
    if trial is None:
        known = session.exec(select(Trial.id).order_by(Trial.id)).all()
        hint = f" (trials here: {', '.join(known)})" if known else " (no trials yet)"
        raise NotFound(f"no trial '{trial_id}'{hint}")
    return trial


def versions(session: Session, trial_id: str) -> list[TrialVersion]:
    query = select(TrialVersion).where(TrialVersion.trial_id == trial_id)
    return list(session.exec(query.order_by(col(TrialVersion.version))).all())


def current_version(session: Session, trial: Trial) -> TrialVersion:
    query = select(TrialVersion).where(
        TrialVersion.trial_id == trial.id, TrialVersion.version == trial.current_version
    )
    return session.exec(query).one()


def trial_with_definition(session: Session, trial_id: str) -> tuple[Trial, TrialDefinition]:
    """A trial and the definition in force; NotFound if there is no such trial."""
    trial = get_trial(session, trial_id)
    return trial, current_definition(session, trial)


def current_definition(session: Session, trial: Trial) -> TrialDefinition:
    """The definition in force, rebuilt from the stored canonical form."""
    return TrialDefinition.model_validate(
        json.loads(current_version(session, trial).canonical_json)
    )


def create_trial(
    session: Session,
    clock: Clock,
    loaded: LoadedTrial,
    actor: Actor,
    organisation: str | None = None,
) -> Trial:
    """Store a new trial as a draft (version 1) with its arms, owned by `organisation` (its
    short name; the only organisation when None, refused when there are several)."""
    definition = loaded.definition
    if session.get(Trial, definition.id) is not None:
        raise TrialStateError(
            f"trial '{definition.id}' already exists; to change it run: "
            f'nudge trial amend {definition.id} {loaded.source_name} --reason "..."'
        )
    try:
        owner = organisation_for_new(session, clock, organisation, actor.name)
    except OrganisationError as refused:
        raise TrialStateError(str(refused)) from None
    sites = _site_organisations(session, definition, owner)
    now = clock.now()
    trial = Trial(
        id=definition.id,
        title=definition.title,
        organisation_id=owner.id,
        status=TrialStatus.DRAFT,
        created_at=now,
    )
    session.add(trial)
    session.flush()
    data = canonical_form(loaded)
    _add_version(
        session,
        trial,
        (loaded.source_name, loaded.source_text),
        data,
        kind="created",
        reason=None,
        actor=actor,
        now=now,
    )
    _replace_arms(session, trial, definition)
    _keep_sites(session, trial, sites)
    audit.record(
        session,
        clock,
        actor=actor.name,
        action="trial.created",
        trial_id=trial.id,
        details={"sha256": sha256_of(data), "organisation": owner.slug},
    )
    return trial


def launch_trial(session: Session, clock: Clock, trial_id: str, actor: Actor) -> TrialVersion:
    """Freeze the design: from now on only operational amendments are accepted."""
    trial = lock_trial(session, trial_id)
    if trial.status != TrialStatus.DRAFT:
        raise TrialStateError(f"trial '{trial_id}' is {trial.status}; only a draft can be launched")
    current = current_version(session, trial)
    data = json.loads(current.canonical_json)
    if data["randomisation"]["seed"] is None:
        # Drawn now, from the operating system's generator, so nobody could know it in advance.
        data["randomisation"]["seed"] = secrets.randbits(64)
    inferred = _freeze_column_types(data)
    now = clock.now()
    version = _add_version(
        session,
        trial,
        (current.source_name, current.source_yaml),
        data,
        kind="launched",
        reason=None,
        actor=actor,
        now=now,
    )
    trial.status, trial.launched_at = TrialStatus.LIVE, now
    audit.record(
        session,
        clock,
        actor=actor.name,
        action="trial.launched",
        trial_id=trial.id,
        details={"sha256": version.sha256, "version": version.version, "inferred": inferred},
    )
    return version


def _freeze_column_types(data: dict[str, Any]) -> dict[str, str]:
    """Write every analysed column's type into the version being frozen; return those inferred.

    Like the seed, the types are decided once, at launch, and kept in the canonical form the
    SHA-256 covers: the analysis reads them from there and never infers them again, whatever a
    later Nudge would infer. The version keeps the researcher's YAML as it was written.
    """
    definition = TrialDefinition.model_validate(data)
    completed = completed_columns(definition)
    data["analysis"]["columns"] = {
        name: column.model_dump(mode="json") for name, column in completed.items()
    }
    typed = column_types(definition)
    return {name: t.type for name, t in typed.items() if not t.declared}


def _keep_frozen_column_types(old: dict[str, Any], new: dict[str, Any]) -> None:
    """A launched trial's types stand: an amended file that leaves a column out keeps its type.

    A file that declares a different type changes the design and is refused like any other.
    """
    frozen = old["analysis"].get("columns", {})
    columns = new["analysis"].setdefault("columns", {})
    for name, column in frozen.items():
        columns.setdefault(name, column)


@dataclass(frozen=True)
class Amendment:
    """What a new version would change, worked out before anything is stored."""

    old: dict[str, Any]
    new: dict[str, Any]
    paths: list[str]  # as `changed_paths` says them, kept as the version's changed_fields
    changes: list[FieldChange]

    def refused(self, status: str, template_fix: bool) -> list[FieldChange]:
        """The changes a trial in this status refuses: after launch, design changes, and
        wording changes not declared as typo fixes. A multi-site trial may gain (or lose an
        empty) site after launch: a design change the version lists, allowed by `_sites_check`."""
        if status != TrialStatus.LIVE:
            return []
        return [
            c
            for c in self.changes
            if (c.kind == "design" and not _site_change(c.path, self.old, self.new))
            or (c.kind == "template" and not template_fix)
        ]


def propose_amendment(session: Session, trial: Trial, loaded: LoadedTrial) -> Amendment:
    """The amendment `loaded` would make to the trial's current version; nothing is written.

    The seed drawn at launch, and the column types frozen then, carry over when the file
    leaves them out, as they do when the amendment is stored.
    """
    old = json.loads(current_version(session, trial).canonical_json)
    new = canonical_form(loaded)
    if new["randomisation"]["seed"] is None:
        new["randomisation"]["seed"] = old["randomisation"]["seed"]
    if trial.status != TrialStatus.DRAFT:
        _keep_frozen_column_types(old, new)
    return Amendment(old, new, changed_paths(old, new), field_changes(old, new))


def amend_trial(
    session: Session,
    clock: Clock,
    trial_id: str,
    loaded: LoadedTrial,
    actor: Actor,
    *,
    reason: str,
    template_fix: bool = False,
) -> TrialVersion:
    """Store a new version; after launch, refuse any change to the design, naming the field."""
    trial = lock_trial(session, trial_id)
    if loaded.definition.id != trial_id:
        raise TrialStateError(
            f"{loaded.source_name} defines trial '{loaded.definition.id}', not '{trial_id}'"
        )
    if not reason.strip():
        raise TrialStateError("give the reason for the amendment with --reason")
    if trial.status == TrialStatus.CLOSED:
        raise TrialStateError(f"trial '{trial_id}' is closed and cannot be amended")
    amendment = propose_amendment(session, trial, loaded)
    if not amendment.paths:
        raise TrialStateError(
            f"{loaded.source_name} is the same as version {trial.current_version}; nothing to amend"
        )
    if trial.status == TrialStatus.LIVE:
        _refuse_design_changes(amendment.paths, amendment.old, amendment.new, template_fix)
    sites = _site_organisations(session, loaded.definition, _owner(session, trial))
    _refuse_emptied_sites(session, trial, sites)
    version = _add_version(
        session,
        trial,
        (loaded.source_name, loaded.source_text),
        amendment.new,
        kind="amended",
        reason=reason.strip(),
        actor=actor,
        now=clock.now(),
        changes=amendment,
    )
    trial.title = loaded.definition.title
    if trial.status == TrialStatus.DRAFT:
        _replace_arms(session, trial, loaded.definition)
    _keep_sites(session, trial, sites)
    audit.record(
        session,
        clock,
        actor=actor.name,
        action="trial.amended",
        trial_id=trial.id,
        details={
            "version": version.version,
            "changed": amendment.paths,
            "template_fix": template_fix,
        },
    )
    return version


def shown_changes(trial: Trial, version: TrialVersion) -> list[dict[str, str]]:
    """A version's field changes as people may see them: a live trial's seed stays hidden
    (see `shown_definition`), even where a draft's amendment once set it."""
    if trial.status != TrialStatus.LIVE:
        return list(version.field_changes)
    return [
        {**change, "old": CONCEALED, "new": CONCEALED}
        if change.get("field") == "randomisation.seed"
        else change
        for change in version.field_changes
    ]


def close_trial(
    session: Session, clock: Clock, trial_id: str, actor: Actor, reason: str | None = None
) -> Trial:
    """End a live trial: no more enrolment or sending; its data can then be purged."""
    trial = lock_trial(session, trial_id)
    if trial.status != TrialStatus.LIVE:
        raise TrialStateError(f"trial '{trial_id}' is {trial.status}; only a live trial can close")
    trial.status, trial.closed_at = TrialStatus.CLOSED, clock.now()
    audit.record(
        session,
        clock,
        actor=actor.name,
        action="trial.closed",
        trial_id=trial.id,
        details={"reason": reason} if reason else None,
    )
    return trial


def _refuse_design_changes(
    changes: list[str], old: dict[str, Any], new: dict[str, Any], template_fix: bool
) -> None:
    for path in changes:
        kind = kind_of_change(path)
        if kind == "design" and _site_change(path, old, new):
            continue
        if kind == "design":
            raise TrialStateError(
                f"'{path}' is part of the launched design and cannot change "
                f"(was {json.dumps(value_at(old, path))}, now {json.dumps(value_at(new, path))}); "
                "a different design needs a new trial"
            )
        if kind == "template" and not template_fix:
            raise TrialStateError(
                f"'{path}' changes a message's text after launch; if it only fixes a typo, "
                "say so with --template-fix"
            )


def lock_trial(session: Session, trial_id: str) -> Trial:
    """Take the trial's row lock for this transaction: imports and changes of one trial queue.

    On SQLite the no-op UPDATE takes the database's write lock first, so a transaction never
    has to upgrade a read lock (which SQLite refuses at once when another writer got in).
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(Trial).where(col(Trial.id) == trial_id).values(status=Trial.status))
    get_trial(session, trial_id)
    return session.exec(select(Trial).where(Trial.id == trial_id).with_for_update()).one()


def _add_version(
    session: Session,
    trial: Trial,
    source: tuple[str, str],
    data: dict[str, Any],
    *,
    kind: str,
    reason: str | None,
    actor: Actor,
    now: datetime,
    changes: Amendment | None = None,
) -> TrialVersion:
    """Store the next immutable version; `source` is the file's (name, text) it came from."""
    number = 1 if kind == "created" else trial.current_version + 1
    version = TrialVersion(
        trial_id=trial.id,
        version=number,
        kind=kind,
        reason=reason,
        source_name=fitted(source[0], column_length(TrialVersion, "source_name")),
        source_yaml=source[1],
        canonical_json=canonical_json(data),
        sha256=sha256_of(data),
        changed_fields=changes.paths if changes else [],
        field_changes=[change.stored() for change in changes.changes] if changes else [],
        created_at=now,
        created_by=actor.name,
    )
    session.add(version)
    trial.current_version = number
    return version


def _replace_arms(session: Session, trial: Trial, definition: TrialDefinition) -> None:
    for stored in session.exec(select(Arm).where(Arm.trial_id == trial.id)).all():
        session.delete(stored)
    session.flush()
    for position, spec in enumerate(definition.arms):
        session.add(
            Arm(
                trial_id=trial.id,
                key=spec.id,
                title=spec.title,
                weight=spec.weight,
                is_control=spec.control,
                position=position,
            )
        )


def _site_change(path: str, old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether a changed path is a multi-site trial's sites changing while it stays multi-site:
    allowed after launch (a site joins, or one nobody was enrolled from leaves: checked by
    `_refuse_emptied_sites`), unlike a trial in one area becoming multi-site or the reverse,
    which would change the strata of everyone already randomised."""
    sited = path == "sites" or path.startswith(("sites.", "sites["))
    return sited and bool(old.get("sites")) and bool(new.get("sites"))


def _owner(session: Session, trial: Trial) -> Organisation:
    owner = session.get(Organisation, trial.organisation_id)
    assert owner is not None  # a foreign key
    return owner


def _site_organisations(
    session: Session, definition: TrialDefinition, owner: Organisation
) -> list[tuple[Organisation, str]]:
    """Each site's organisation and the name its results go under, in the definition's order;
    refused when one is not an organisation here, or when the owner is not one of them."""
    if not definition.sites:
        return []
    if definition.population.unit == "household":
        raise TrialStateError(
            "a multi-site trial cannot yet randomise by household (a household would link "
            "people of different sites): randomise by participant, case or a column, or run "
            "one trial per site"
        )
    by_slug = {o.slug: o for o in all_organisations(session)}
    found = []
    for i, site in enumerate(definition.sites):
        organisation = by_slug.get(site.organisation)
        if organisation is None:
            raise TrialStateError(
                f"sites[{i}]: there is no organisation '{site.organisation}': add it first with "
                f'nudge orgs add {site.organisation} --name "..." (organisations here: '
                f"{', '.join(sorted(by_slug)) or 'none'}), or correct the short name"
            )
        found.append((organisation, site.name or organisation.name))
    if owner.id not in {organisation.id for organisation, _ in found}:
        raise TrialStateError(
            f"the organisation that runs the trial must be one of its sites: '{owner.slug}' is "
            f"not among {', '.join(definition.site_slugs)}; add it under sites, or create the "
            "trial as one of them (--org)"
        )
    return found


def _refuse_emptied_sites(
    session: Session, trial: Trial, sites: list[tuple[Organisation, str]]
) -> None:
    """A site may leave only while nobody has been enrolled from it."""
    kept = {organisation.id for organisation, _ in sites}
    for stored in _stored_sites(session, trial.id):
        if stored.organisation_id in kept:
            continue
        enrolled = session.exec(
            select(func.count())
            .select_from(Participant)
            .where(
                Participant.trial_id == trial.id,
                Participant.site_id == stored.organisation_id,
            )
        ).one()
        if enrolled:
            slug = _organisation_slug(session, stored.organisation_id)
            raise TrialStateError(
                f"site '{slug}' cannot leave trial '{trial.id}': {enrolled} "
                f"{'person has' if enrolled == 1 else 'people have'} been enrolled from it; "
                "keep it under sites (close the trial to stop enrolment)"
            )


def _organisation_slug(session: Session, organisation_id: int) -> str:
    organisation = session.get(Organisation, organisation_id)
    return organisation.slug if organisation is not None else str(organisation_id)


def _stored_sites(session: Session, trial_id: str) -> list[TrialSite]:
    query = select(TrialSite).where(TrialSite.trial_id == trial_id)
    return list(session.exec(query.order_by(col(TrialSite.position))).all())


def _keep_sites(session: Session, trial: Trial, sites: list[tuple[Organisation, str]]) -> None:
    """Make the trial's `trial_site` rows those of its current definition's sites."""
    stored = {site.organisation_id: site for site in _stored_sites(session, trial.id)}
    wanted = {organisation.id for organisation, _ in sites}
    for organisation_id, site in stored.items():
        if organisation_id not in wanted:
            session.delete(site)
    session.flush()
    for position, (organisation, name) in enumerate(sites):
        assert organisation.id is not None
        kept = stored.get(organisation.id)
        if kept is None:
            session.add(
                TrialSite(
                    trial_id=trial.id,
                    organisation_id=organisation.id,
                    position=position,
                    name=name,
                )
            )
        else:
            kept.position, kept.name = position, name
    session.flush()


def trial_sites(session: Session, trial_id: str) -> list[tuple[TrialSite, Organisation]]:
    """A multi-site trial's sites with their organisations, in the definition's order; [] for
    a trial in one area."""
    query = (
        select(TrialSite, Organisation)
        .join(Organisation, col(Organisation.id) == TrialSite.organisation_id)
        .where(TrialSite.trial_id == trial_id)
        .order_by(col(TrialSite.position))
    )
    return [(site, organisation) for site, organisation in session.exec(query).all()]


def enrolled_count(session: Session, trial_id: str) -> int:
    query = select(func.count()).select_from(Participant).where(Participant.trial_id == trial_id)
    return int(session.exec(query).one())


def all_trials(session: Session) -> list[Trial]:
    return list(session.exec(select(Trial).order_by(col(Trial.created_at), col(Trial.id))).all())


CONCEALED = "concealed until the trial closes"


def shown_definition(session: Session, trial: Trial) -> dict[str, Any]:
    """The definition as people may see it: a live trial's seed stays hidden.

    With the seed and docs/randomisation.md anyone could work out the next allocation, so while
    people are still being enrolled it is shown to no one; once the trial closes it is released
    for re-deriving the allocation.
    """
    data: dict[str, Any] = json.loads(current_version(session, trial).canonical_json)
    if trial.status == TrialStatus.LIVE and data["randomisation"]["seed"] is not None:
        data["randomisation"]["seed"] = CONCEALED
    return data
