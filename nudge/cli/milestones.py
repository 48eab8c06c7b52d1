"""`nudge milestones update`: case milestones (charged, verdict...) from a later export."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import click

from experiments.milestones import MilestoneChange
from messages.intake import MilestonesUpdate, update_milestones_and_replan
from nudge.cli.runtime import TEXT, InputFile, NudgeGroup, Runtime, pass_runtime


@click.group("milestones", cls=NudgeGroup)
def milestones_group() -> None:
    """Case milestones beside the hearing: charged, verdict and the others a trial declares."""


@milestones_group.command("update")
@click.argument("trial_id", type=TEXT)
@click.argument("file", type=InputFile())
@click.option(
    "--dry-run", is_flag=True, help="Check FILE and show what would change; write nothing."
)
@click.option(
    "--site",
    type=TEXT,
    help="In a multi-site trial, the site whose cases FILE lists (its organisation's short "
    "name); leave it out for a file of the whole trial's cases, such as the courts' central "
    "records.",
)
@pass_runtime
def milestones_update(
    runtime: Runtime, trial_id: str, file: Path, dry_run: bool, site: str | None
) -> None:
    """Record FILE (case_ref, milestone, occurred_at): first dates, and corrections with the
    date they replace kept. Any bad row rejects the whole file."""
    with runtime.session() as session:
        update = update_milestones_and_replan(
            session, runtime.clock, trial_id, file, runtime.actor, site=site
        )
        if dry_run:
            session.rollback()
    click.echo("\n".join(_summary_lines(file, update, dry_run)))


def _summary_lines(file: Path, update: MilestonesUpdate, dry_run: bool) -> list[str]:
    summary, outbox = update.summary, update.outbox
    if not summary.changes:
        return [f"{file}: no changes (read {summary.read}; every date was already recorded)"]
    counts = (
        f"recorded {summary.recorded}, corrected {summary.corrected}, unchanged "
        f"{summary.unchanged} (read {summary.read})"
    )
    messages = (
        f"planned {outbox.planned}, re-planned {outbox.superseded_and_replanned}, "
        f"cancelled {outbox.cancelled}"
    )
    if not dry_run:
        return [f"{file}: {counts}", f"messages: {messages}"]
    return [
        f"{file}: dry run, nothing was written; these dates would change "
        f"({summary.zone.key} time):",
        *(_change_line(change, summary.zone) for change in summary.changes),
        f"it would have: {counts}",
        f"messages it would have: {messages}",
    ]


def _change_line(change: MilestoneChange, zone: ZoneInfo) -> str:
    new = f"{change.occurred_at.astimezone(zone):%Y-%m-%d %H:%M}"
    if change.previous is None:
        return f"  {change.case_ref}  {change.name}: {new} (first record)"
    return (
        f"  {change.case_ref}  {change.name}: {change.previous.astimezone(zone):%Y-%m-%d %H:%M}"
        f" -> {new} (correction)"
    )
