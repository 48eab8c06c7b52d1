"""`nudge letters batch`: the posting day's letters as one PDF for the printer, and a manifest;
`nudge letters returned`: the supplier's returned-mail list."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from sqlmodel import Session

from experiments import trials
from experiments.dates import parse_day
from messages.letter_batch import BatchSummary, run_batch
from messages.letter_layout import LetterProblem
from nudge.cli.runtime import TEXT, InputFile, NudgeGroup, Runtime, pass_runtime
from nudge.errors import ConfigError
from nudge.organisations import all_organisations
from nudge.scope import site_ids


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
@click.option(
    "--site",
    "site",
    type=TEXT,
    default=None,
    help="A multi-site trial's site (organisation short name): print its people's letters only.",
)
@pass_runtime
def batch(
    runtime: Runtime,
    trial_id: str,
    day: str,
    out_dir: Path,
    simplex: bool,
    dry_run: bool,
    site: str | None,
) -> None:
    """Print the letters due on a posting day into one PDF, and mark them posted.

    A multi-site trial's letters are printed one site at a time (--site ORG): each site's print
    run holds only its own people's names and addresses."""
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
            site_id=_site_id(session, trial_id, site),
        )
    click.echo("\n".join(describe(summary)))


def _site_id(session: Session, trial_id: str, site: str | None) -> int | None:
    """The organisation whose people's letters to print: that of --site, one of a multi-site
    trial's sites; None for a trial in one area (all its letters)."""
    trials.get_trial(session, trial_id)  # no such trial: said as every command says it
    sites = site_ids(session, trial_id)
    slugs = {o.id: o.slug for o in all_organisations(session) if o.id in sites}
    listed = ", ".join(slugs[s] for s in sites if s in slugs)
    if not sites:
        if site is not None:
            raise LetterProblem(
                f"--site {site}: {trial_id} runs in one area, so its letters print together: "
                "leave out --site"
            )
        return None
    if site is None:
        raise LetterProblem(
            f"{trial_id} is a multi-site trial: each site prints only its own people's letters. "
            f"Add --site with one of its sites: {listed}"
        )
    chosen = next((id_ for id_, slug in slugs.items() if slug == site.strip()), None)
    if chosen is None:
        raise LetterProblem(f"--site {site}: not a site of {trial_id}; its sites are {listed}")
    return chosen


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
