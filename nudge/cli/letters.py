"""`nudge letters batch`: the posting day's letters as one PDF for the printer, and a manifest;
`nudge letters returned`: the supplier's returned-mail list."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from experiments.dates import parse_day
from messages.letter_batch import BatchSummary, run_batch
from messages.letter_layout import LetterProblem
from nudge.cli.runtime import TEXT, InputFile, NudgeGroup, Runtime, pass_runtime
from nudge.errors import ConfigError


@click.group("letters", cls=NudgeGroup)
def letters_group() -> None:
    """Printed letters."""


@letters_group.command("batch")
@click.argument("trial_id", type=TEXT)
@click.option("--date", "day", required=True, help="The posting day, YYYY-MM-DD (trial's time).")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The directory for the PDF and its manifest.",
)
@click.option("--simplex", is_flag=True, help="No blank backs: for a one-sided printer.")
@click.option("--dry-run", is_flag=True, help="Count what would print; write and mark nothing.")
@pass_runtime
def batch(
    runtime: Runtime, trial_id: str, day: str, out_dir: Path, simplex: bool, dry_run: bool
) -> None:
    """Print the letters due on a posting day into one PDF, and mark them posted."""
    posting_day = _posting_day(day)
    if runtime.settings.letter_provider == "notify" and not dry_run:
        raise ConfigError(
            "NUDGE_LETTER_PROVIDER=notify: letters go through GOV.UK Notify, sent on their "
            "posting day by `nudge dispatch` and the worker; a print run would post them a second "
            "way (add --dry-run to count them, or set NUDGE_LETTER_PROVIDER=print)"
        )
    with runtime.session() as session:
        summary = run_batch(
            session,
            runtime.clock,
            trial_id,
            posting_day,
            out_dir,
            duplex=not simplex,
            dry_run=dry_run,
        )
    click.echo("\n".join(describe(summary)))


def _posting_day(text: str) -> date:
    try:
        return parse_day(text)
    except ValueError as exc:
        raise LetterProblem(f"--date: {exc}") from None


def describe(summary: BatchSummary) -> list[str]:
    """The run on one screen: counts and file names, never a name or an address."""
    day = summary.posting_day
    when = f"{day:%A} {day.day} {day:%B %Y}"
    heading = f"letters of {summary.trial_id} for posting on {when}"
    lines = [heading + (" (dry run: nothing written or marked)" if summary.dry_run else "")]
    verb = "would print" if summary.dry_run else "printed"
    if summary.letters:
        side = "duplex" if summary.duplex else "simplex"
        lines.append(
            f"  {verb} {summary.letters} letter(s): {summary.pages} page(s) on "
            f"{summary.sheets} sheet(s), {side}"
        )
    elif not summary.withheld and not summary.unprintable:
        lines.append("  nothing to print: no letter due that day is still waiting to be posted")
    else:
        lines.append(f"  {verb} no letters")
    if summary.withheld:
        reasons = ", ".join(f"{reason} {n}" for reason, n in summary.withheld.items())
        lines.append(f"  withheld {sum(summary.withheld.values())} at the last check: {reasons}")
    for message_id, why in summary.unprintable:
        lines.append(f"  not printable, still scheduled: message {message_id}: {why}")
    if summary.pdf and summary.manifest:
        lines.append(f"  PDF:      {summary.pdf}")
        lines.append(f"  manifest: {summary.manifest} (personal data: keep it with the print run)")
    return lines


@letters_group.command("returned")
@click.argument("trial_id", type=TEXT)
@click.argument("file", type=InputFile())
@click.option(
    "--dry-run", is_flag=True, help="Check FILE and count what would change; write nothing."
)
@pass_runtime
def returned(runtime: Runtime, trial_id: str, file: Path, dry_run: bool) -> None:
    """Record the print supplier's returned-mail list (participant_ref, returned_on, reason):
    each letter marked returned, the person's waiting letters cancelled. Any bad row rejects
    the whole file."""
    from messages.returned_letters import record_returned

    with runtime.session() as session:
        summary = record_returned(session, runtime.clock, trial_id, file, runtime.actor)
        if dry_run:
            session.rollback()
        else:
            session.commit()
    done = "would be" if dry_run else "were"
    click.echo(
        f"{file}: {summary.returned} letter(s) {done} marked returned ({summary.already} "
        f"already were; read {summary.read}); {summary.cancelled} waiting letter(s) {done} "
        "cancelled" + ("; dry run, nothing was written" if dry_run else "")
    )
