"""`nudge trial ...`: validate, create, launch, amend, close, list and show trial definitions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from experiments.loader import load_trial_file
from experiments.outcome_values import describe
from messages.checks import CheckedDefinition, MessageReport, check_definition
from nudge.cli.runtime import TEXT, InputFile, NudgeGroup, Runtime, echo_json, pass_runtime
from nudge.errors import DefinitionError

# The database layer (SQLAlchemy, the models, the trial service) is imported by the commands
# that use it: `nudge trial validate` checks a file without it (a third of its start-up).
if TYPE_CHECKING:
    from experiments.amendments import AllocationChange
    from experiments.definition import TrialDefinition
    from nudge.models import Trial, TrialVersion

FILE = InputFile(exists=False)  # a missing file is reported by the loader, located


@click.group(cls=NudgeGroup)
def trial() -> None:
    """Trial definitions: validate, create, launch, amend, close, list, show."""


def _checked(path: Path) -> CheckedDefinition:
    return check_definition(load_trial_file(path))


def _require_valid(path: Path) -> CheckedDefinition:
    checked = _checked(path)
    if not checked.ok:
        raise DefinitionError(
            f"{path}: {len(checked.errors)} problem(s); fix them and run the command again",
            checked.errors,
        )
    return checked


@trial.command("validate")
@click.argument("file", type=FILE)
def validate(file: Path) -> None:
    """Check a trial definition: print every problem as FILE:LINE:COLUMN: message."""
    checked = _checked(file)
    for problem in checked.problems:
        click.echo(str(problem))
    if not checked.ok:
        click.echo(f"{file}: {len(checked.errors)} problem(s) found", err=True)
        raise SystemExit(1)
    assert checked.loaded is not None and checked.report is not None
    definition = checked.loaded.definition
    click.echo(
        f"{file}: valid: trial '{definition.id}', {len(definition.arms)} arms, "
        f"{len(definition.outcomes)} outcome(s)"
    )
    if definition.sites:
        click.echo("\nSites (each imports its own people; randomised within each site):")
        for site in definition.sites:
            named = f" ({site.name})" if site.name else ""
            click.echo(f"  {site.organisation}{named}")
    _print_outcomes(definition)
    _print_report(checked.report)


def _print_outcomes(definition: TrialDefinition) -> None:
    """Each outcome and what its column of an outcome file holds."""
    click.echo("\nOutcomes (what each column of an outcome file holds):")
    for outcome in definition.outcomes:
        name = outcome.id + (" (primary)" if outcome.id == definition.primary_outcome.id else "")
        click.echo(f"  {name:<24}{describe(outcome)}")
        if outcome.scale is not None and outcome.scale.labels:
            points = sorted(outcome.scale.labels.items())
            words = ", ".join(f"{label} ({point})" for point, label in points)
            click.echo(f"  {'':<24}or a point's words: {words}")


def _print_report(report: MessageReport) -> None:
    if report.sms:
        click.echo("\nSMS templates (rendered for a sample participant):")
        click.echo(
            f"  {'template':<24}{'language':<10}{'encoding':<10}{'characters':>11}{'segments':>10}"
        )
        for sms in report.sms:
            click.echo(
                f"  {sms.template:<24}{sms.language:<10}{sms.encoding:<10}"
                f"{sms.characters:>11}{sms.segments:>10}"
            )
    click.echo(f"\nCost per participant ({report.currency}):")
    for cost in report.costs:
        click.echo(
            f"  {cost.arm:<24}{cost.sms_segments:>3} SMS segment(s), {cost.letters} "
            f"letter(s){cost.cost:>10.2f}"
        )
    if any(cost.event_segments for cost in report.costs):
        extra = ", ".join(
            f"{c.arm} {c.event_segments} SMS segment(s)" for c in report.costs if c.event_segments
        )
        click.echo(
            "  Event texts (on: a hearing moved or vacated, a milestone) are extra, only for "
            f"those it happens to: {extra} if all went."
        )


@trial.command("create")
@click.argument("file", type=FILE)
@click.option(
    "--org",
    type=TEXT,
    help="The organisation that owns it (its short name); needed when there are several.",
)
@pass_runtime
def create(runtime: Runtime, file: Path, org: str | None) -> None:
    """Store a trial definition as a draft."""
    from experiments import trials as service

    loaded = _require_valid(file).loaded
    assert loaded is not None
    with runtime.session() as session:
        created = service.create_trial(
            session, runtime.clock, loaded, service.Actor(runtime.actor), organisation=org
        )
        version = service.current_version(session, created)
    click.echo(f"created draft trial '{created.id}' (version 1, sha256 {version.sha256})")
    click.echo(f"next: nudge trial launch {created.id}")


@trial.command("launch")
@click.argument("trial_id", type=TEXT)
@pass_runtime
def launch(runtime: Runtime, trial_id: str) -> None:
    """Freeze a draft's design and open it for enrolment."""
    from experiments import trials as service

    with runtime.session() as session:
        version = service.launch_trial(
            session, runtime.clock, trial_id, service.Actor(runtime.actor)
        )
    click.echo(
        f"launched '{trial_id}': version {version.version} is frozen (sha256 {version.sha256})"
    )


@trial.command("amend")
@click.argument("trial_id", type=TEXT)
@click.argument("file", type=FILE)
@click.option(
    "--reason", type=TEXT, required=True, help="Why the definition changes (kept with it)."
)
@click.option(
    "--template-fix",
    is_flag=True,
    help="The change corrects a message's wording (a typo), not its meaning.",
)
@pass_runtime
def amend(runtime: Runtime, trial_id: str, file: Path, reason: str, template_fix: bool) -> None:
    """Store a new version; after launch only operational changes are accepted."""
    from experiments import trials as service

    loaded = _require_valid(file).loaded
    assert loaded is not None
    with runtime.session() as session:
        version = service.amend_trial(
            session,
            runtime.clock,
            trial_id,
            loaded,
            service.Actor(runtime.actor),
            reason=reason,
            template_fix=template_fix,
        )
    click.echo(
        f"amended '{trial_id}': version {version.version} "
        f"(changed: {', '.join(version.changed_fields)})"
    )


@trial.command("close")
@click.argument("trial_id", type=TEXT)
@click.option(
    "--reason",
    type=TEXT,
    required=True,
    help='Why it ends, for the audit log (e.g. "follow-up complete").',
)
@pass_runtime
def close(runtime: Runtime, trial_id: str, reason: str) -> None:
    """Close a live trial: no more enrolment or messages; its personal data may then be purged."""
    from experiments import trials as service

    with runtime.session() as session:
        actor = service.Actor(runtime.actor)
        service.close_trial(session, runtime.clock, trial_id, actor, reason.strip() or None)
    click.echo(f"closed '{trial_id}'")


@trial.command("pause")
@click.argument("trial_id", type=TEXT)
@click.option("--arm", type=TEXT, help="The arm to pause; without it, the whole trial.")
@click.option(
    "--reason",
    type=TEXT,
    required=True,
    help='Why, for the audit log (e.g. "opt-outs above the guardrail; DMC to review").',
)
@pass_runtime
def pause_command(runtime: Runtime, trial_id: str, arm: str | None, reason: str) -> None:
    """Pause an arm (or the whole trial): its messages are held, not cancelled, until resumed."""
    from messages.pausing import pause

    with runtime.session() as session:
        paused = pause(session, runtime.clock, trial_id, arm, reason, runtime.actor)
        session.commit()
    what = f"arm '{arm}' of '{trial_id}'" if arm else f"'{trial_id}'"
    click.echo(f"paused {what}: {paused.held} message(s) held")
    if paused.allocation:
        click.echo(paused.allocation)


@trial.command("resume")
@click.argument("trial_id", type=TEXT)
@click.option("--arm", type=TEXT, help="The arm to resume; without it, the whole trial.")
@pass_runtime
def resume_command(runtime: Runtime, trial_id: str, arm: str | None) -> None:
    """Resume a paused arm (or trial): messages still in time go when due; those whose time
    came while paused follow the trial's late: rule."""
    from messages.pausing import resume

    with runtime.session() as session:
        resumed = resume(session, runtime.clock, trial_id, arm, runtime.actor)
        session.commit()
    what = f"arm '{arm}' of '{trial_id}'" if arm else f"'{trial_id}'"
    click.echo(
        f"resumed {what}: {resumed.released} message(s) released, {resumed.sent_late} to be "
        f"sent late, {resumed.cancelled} cancelled as past their time"
    )
    if resumed.allocation:
        click.echo(resumed.allocation)


@trial.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--org", type=TEXT, help="Only this organisation's trials (its short name).")
@pass_runtime
def list_trials(runtime: Runtime, as_json: bool, org: str | None) -> None:
    """Every trial with its status, version and enrolment."""
    from experiments import trials as service
    from nudge.organisations import organisation_by_slug

    with runtime.session() as session:
        owner = organisation_by_slug(session, org).id if org else None
        found = [
            t for t in service.all_trials(session) if owner is None or t.organisation_id == owner
        ]
        rows = [_summary(session, t) for t in found]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no trials yet: create one with nudge trial create FILE")
        return
    click.echo(f"{'id':<32}{'status':<8}{'version':>8}{'enrolled':>10}  title")
    for row in rows:
        click.echo(
            f"{row['id']:<32}{row['status']:<8}{row['version']:>8}"
            f"{row['enrolled']:>10}  {row['title']}"
        )


@trial.command("show")
@click.argument("trial_id", type=TEXT)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@pass_runtime
def show(runtime: Runtime, trial_id: str, as_json: bool) -> None:
    """A trial's status, arms, and every version with its SHA-256 and reason."""
    from experiments import trials as service
    from experiments.allocation import allocation_history

    with runtime.session() as session:
        found = service.get_trial(session, trial_id)
        data = _summary(session, found)
        data["definition"] = service.shown_definition(session, found)
        data["sites"] = _sites(session, trial_id)
        data["versions"] = [_version(v) for v in service.versions(session, trial_id)]
        data["allocation_changes"] = [
            _allocation_change(change)
            for change in allocation_history(
                session, trial_id, service.current_definition(session, found)
            )
        ]
    if as_json:
        echo_json(data)
        return
    definition = data["definition"]
    click.echo(f"{data['id']}: {data['title']}")
    click.echo(f"status {data['status']}, version {data['version']}, enrolled {data['enrolled']}")
    if definition.get("hypothesis"):
        click.echo(f"hypothesis: {definition['hypothesis']}")
    click.echo("arms:")
    for arm in definition["arms"]:
        marker = " (control)" if arm["control"] else ""
        click.echo(
            f"  {arm['id']}{marker}: {arm['title']}, weight {arm['weight']}, "
            f"{len(arm['messages'])} message(s)"
        )
    if data["sites"]:
        click.echo("sites:")
    for site in data["sites"]:
        click.echo(f"  {site['organisation']}: {site['name']}, enrolled {site['enrolled']}")
    click.echo("versions:")
    for version in data["versions"]:
        reason = f": {version['reason']}" if version["reason"] else ""
        click.echo(
            f"  {version['version']} {version['kind']} {version['created_at']} by "
            f"{version['created_by']} sha256 {version['sha256']}{reason}"
        )
    if data["allocation_changes"]:
        click.echo("changes of allocation (design changes: paused arms are excluded):")
    for change in data["allocation_changes"]:
        reason = f" ({change['reason']})" if change["reason"] else ""
        said = f"{change['what']} by {change['by']}{reason}"
        click.echo(f"  {change['at']} {said}: {change['words']}")


def _summary(session: Any, found: Trial) -> dict[str, Any]:
    from experiments import trials as service

    version = service.current_version(session, found)
    return {
        "id": found.id,
        "title": found.title,
        "status": found.status,
        "version": found.current_version,
        "sha256": version.sha256,
        "created_at": found.created_at.isoformat(),
        "launched_at": found.launched_at.isoformat() if found.launched_at else None,
        "closed_at": found.closed_at.isoformat() if found.closed_at else None,
        "arms": [arm["id"] for arm in json.loads(version.canonical_json)["arms"]],
        "enrolled": service.enrolled_count(session, found.id),
        "organisation": _owner(session, found),
    }


def _sites(session: Any, trial_id: str) -> list[dict[str, Any]]:
    """A multi-site trial's sites, in the definition's order, with how many each enrolled."""
    from sqlalchemy import func
    from sqlmodel import col, select

    from experiments import trials as service
    from nudge.models import Participant

    counts = dict(
        session.exec(
            select(Participant.site_id, func.count())
            .where(Participant.trial_id == trial_id)
            .group_by(col(Participant.site_id))
        ).all()
    )
    return [
        {
            "organisation": organisation.slug,
            "name": site.name,
            "enrolled": counts.get(organisation.id, 0),
        }
        for site, organisation in service.trial_sites(session, trial_id)
    ]


def _allocation_change(change: AllocationChange) -> dict[str, Any]:
    return {
        "at": change.at.isoformat(),
        "what": change.what,
        "by": change.by,
        "reason": change.reason,
        "open_arms": list(change.open_arms),
        "words": change.words,
    }


def _owner(session: Any, found: Trial) -> str | None:
    """The short name of the organisation that owns the trial."""
    from nudge.models import Organisation

    owner = found.organisation_id
    organisation = session.get(Organisation, owner) if owner is not None else None
    return organisation.slug if organisation is not None else None


def _version(version: TrialVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "kind": version.kind,
        "reason": version.reason,
        "sha256": version.sha256,
        "changed": version.changed_fields,
        "created_at": version.created_at.isoformat(),
        "created_by": version.created_by,
    }
