"""`nudge outcomes import`: observed outcomes from court records.

Apart from `nudge analyse`, so that importing outcomes does not wait for the analysis stack.
"""

from __future__ import annotations

from pathlib import Path

import click

from analysis.outcomes import OutcomeSummary, import_outcomes
from nudge.cli.runtime import TEXT, InputFile, NudgeGroup, Runtime, pass_runtime

CSV = InputFile()


@click.group("outcomes", cls=NudgeGroup)
def outcomes_group() -> None:
    """Observed outcomes (attendance, withdrawal) from court records."""


@outcomes_group.command("import")
@click.argument("trial_id", type=TEXT)
@click.argument("file", type=CSV)
@click.option("--dry-run", is_flag=True, help="Check and report; write nothing.")
@click.option(
    "--site",
    type=TEXT,
    help="In a multi-site trial, the site whose people FILE holds (its organisation's short "
    "name); leave it out for a file of the whole trial's people, such as the courts' central "
    "records.",
)
@pass_runtime
def outcomes_import(
    runtime: Runtime, trial_id: str, file: Path, dry_run: bool, site: str | None
) -> None:
    """Record FILE's outcomes (participant_ref, case_ref, one column per outcome: yes/no, or a
    number for a scale, count or continuous outcome, as `nudge trial validate` lists; each
    outcome's date as OUTCOME_on and the charge as charged_on, YYYY-MM-DD, if known)."""
    with runtime.session() as session:
        summary = import_outcomes(session, runtime.clock, trial_id, file, runtime.actor, site=site)
        if dry_run:
            session.rollback()
    _print_summary(summary, dry_run)


def _print_summary(summary: OutcomeSummary, dry_run: bool) -> None:
    click.echo(
        "\n".join(
            [
                f"{summary.source}: {'dry run, nothing was written' if dry_run else 'imported'}"
                f" (outcomes: {', '.join(summary.outcome_columns)}"
                + (f"; dates: {', '.join(summary.date_columns)}" if summary.date_columns else "")
                + ")",
                f"  read        {summary.read:>9}  row(s)",
                f"  recorded    {summary.recorded:>9}  value(s) observed for the first time",
                f"  corrected   {summary.corrected:>9}  value(s) changed (the old ones kept)",
                f"  unchanged   {summary.unchanged:>9}  value(s)",
                f"  rejected    {summary.rejected:>9}  row(s)",
            ]
        )
    )
    if summary.not_randomised:
        click.echo(
            f"  {summary.not_randomised} participant(s) in the file were enrolled but not "
            "randomised: their outcomes are kept but not analysed"
        )
