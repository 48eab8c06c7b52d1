"""`nudge enrol`, `nudge hearings update`, `nudge assignments export`, `nudge balance`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from experiments import assignments, trials
from experiments.enrol import EnrolSummary
from experiments.files import output_problem
from messages.intake import (
    Enrolment,
    enrol_and_plan,
    update_hearings_and_replan,
)
from nudge.cli.runtime import TEXT, InputFile, NudgeGroup, OutputFile, Runtime, pass_runtime
from nudge.csvout import write_file, write_rows
from nudge.errors import NudgeError

CSV = InputFile()


@click.command("enrol")
@click.argument("trial_id", type=TEXT)
@click.argument("file", type=CSV)
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Import the good rows; write the rejected ones, with reasons, beside FILE.",
)
@click.option("--dry-run", is_flag=True, help="Check and report; write nothing.")
@click.option(
    "--site",
    type=TEXT,
    help="In a multi-site trial, the site whose people FILE holds (its organisation's short name).",
)
@pass_runtime
def enrol(
    runtime: Runtime,
    trial_id: str,
    file: Path,
    skip_invalid: bool,
    dry_run: bool,
    site: str | None,
) -> None:
    """Import the people due at court from FILE into a live trial and randomise them."""
    rejects = file.with_name(f"{file.stem}.rejects.csv")
    if skip_invalid and not dry_run:
        _check_rejects_file(rejects)
    with _progress(file) as tick, runtime.session() as session:
        enrolment = enrol_and_plan(
            session,
            runtime.clock,
            trial_id,
            file,
            runtime.actor,
            skip_invalid=skip_invalid,
            progress=tick,
            site=site,
        )
        summary = enrolment.summary
        if dry_run:
            session.rollback()
        elif summary.rejects:
            _write_rejects(rejects, summary)  # before the commit: if it fails, nothing is kept
    _print_summary(enrolment, dry_run)
    if summary.rejects and not dry_run:
        click.echo(f"rejected rows and their reasons: {rejects}")


def _check_rejects_file(rejects: Path) -> None:
    """The rejected rows must have somewhere to go before any good row is imported."""
    problem = output_problem(rejects)
    if problem:
        raise NudgeError(
            f"{rejects}: {problem}; --skip-invalid lists the rejected rows there, so nothing "
            "was imported (move the file to a folder you can write to)"
        )


def _write_rejects(rejects: Path, summary: EnrolSummary) -> None:
    try:
        write_file(
            rejects,
            ["line", "reason", *summary.columns],
            (
                [r.line, r.reason, *((r.values or {}).get(c, "") for c in summary.columns)]
                for r in summary.rejects
            ),
        )
    except OSError as exc:
        raise NudgeError(
            f"{rejects}: could not write the rejected rows ({exc.strerror or exc}), so nothing "
            "was imported"
        ) from None


@contextmanager
def _progress(file: Path) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr, only when a person is watching."""
    if not sys.stderr.isatty():
        yield None
        return
    with file.open("rb") as handle:
        total = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    with click.progressbar(length=max(total - 1, 1), label="importing", file=sys.stderr) as bar:
        yield bar.update


def _print_summary(enrolment: Enrolment, dry_run: bool) -> None:
    summary, outbox = enrolment.summary, enrolment.outbox
    units = summary.randomised - summary.joined_existing_unit
    lines = [
        f"{summary.source}: {'dry run, nothing was written' if dry_run else 'imported'}",
        f"  read                {summary.read:>9}",
        f"  enrolled            {summary.enrolled:>9}",
        f"  randomised          {summary.randomised:>9}  ({units} new unit(s); "
        f"{summary.joined_existing_unit} joined their unit's arm)",
        *_among_fewer(summary),
        f"  ineligible          {sum(summary.ineligible.values()):>9}",
        *(f"    {rule:<30}{count:>7}" for rule, count in summary.ineligible.most_common()),
        f"  already enrolled    {summary.already_enrolled:>9}  ({summary.updated} with changed "
        "contact details)",
        f"  hearings moved      {summary.hearings_moved:>9}",
        f"  rejected            {summary.rejected:>9}",
    ]
    if summary.milestone_columns:  # only a trial whose export carries milestones
        lines.insert(
            -1,
            f"  milestones recorded {summary.milestones_recorded:>9}  (and "
            f"{summary.milestones_corrected} corrected)",
        )
    if summary.ignored_columns:
        lines.append(
            f"  columns not kept (not named by the trial): {', '.join(summary.ignored_columns)}"
        )
    lines.append(
        f"  messages planned    {outbox.planned:>9}  (re-planned {outbox.superseded_and_replanned}"
        f" after moves; cancelled {outbox.cancelled})"
    )
    click.echo("\n".join(lines))


def _among_fewer(summary: EnrolSummary) -> list[str]:
    """How many were randomised among fewer arms, and which were closed (paused and excluded
    from enrolment: paused_arm_enrolment: exclude); nothing when every arm was open."""
    return [
        f"  among fewer arms    {count:>9}  ({summary.among_fewer_units[closed]} new unit(s); "
        f"{closed.replace(',', ', ')} paused and closed to new participants)"
        for closed, count in summary.among_fewer.items()
    ]


@click.group(cls=NudgeGroup)
def hearings() -> None:
    """Hearing dates and outcomes from court lists."""


@hearings.command("update")
@click.argument("trial_id", type=TEXT)
@click.argument("file", type=CSV)
@click.option(
    "--site",
    type=TEXT,
    help="In a multi-site trial, the site whose cases FILE lists (its organisation's short name).",
)
@pass_runtime
def hearings_update(runtime: Runtime, trial_id: str, file: Path, site: str | None) -> None:
    """Apply FILE (case_ref, hearing_start, status): moves, vacations, conclusions."""
    with runtime.session() as session:
        update = update_hearings_and_replan(
            session, runtime.clock, trial_id, file, runtime.actor, site
        )
    summary, outbox = update.summary, update.outbox
    click.echo(
        f"{file}: read {summary.read}, moved {len(summary.moved)}, vacated or concluded "
        f"{len(summary.ended)}, other status changes "
        f"{summary.status_changed - len(summary.ended)}, unchanged {summary.unchanged}"
    )
    click.echo(
        f"messages: re-planned {outbox.superseded_and_replanned}, cancelled {outbox.cancelled}"
    )


@click.group("assignments", cls=NudgeGroup)
def assignments_group() -> None:
    """The allocation record (personal data: researchers only)."""


@assignments_group.command("export")
@click.argument("trial_id", type=TEXT)
@click.option(
    "--out",
    type=OutputFile(),
    help="Write to this file instead of standard output.",
)
@pass_runtime
def assignments_export(runtime: Runtime, trial_id: str, out: Path | None) -> None:
    """One CSV row per randomised participant, with stratum, block, position and arm.

    The last column, open_arms, lists the arms open to new participants when the person's unit
    was allocated (ids separated by commas), empty when every arm was open.
    """
    with runtime.session() as session:
        trial = trials.get_trial(session, trial_id)
        zone = ZoneInfo(trials.current_definition(session, trial).timezone)
        rows = assignments.export_rows(session, trial_id, zone)
        if out is None:
            write_rows(sys.stdout, assignments.EXPORT_HEADER, rows)
            return
        try:
            count = write_file(out, assignments.EXPORT_HEADER, rows)
        except OSError as exc:
            raise NudgeError(f"{out}: could not be written: {exc.strerror or exc}") from None
    click.echo(f"wrote {count} assignment(s) to {out}")


@click.command("balance")
@click.argument("trial_id", type=TEXT)
@pass_runtime
def balance(runtime: Runtime, trial_id: str) -> None:
    """Units and participants per arm and stratum, and the sample-ratio check."""
    from analysis.stats.balance import srm_check  # SciPy and pandas: not for `nudge enrol`
    from experiments.contamination import contamination, contamination_words

    with runtime.session() as session:
        trial = trials.get_trial(session, trial_id)
        definition = trials.current_definition(session, trial)
        rows = assignments.balance(session, trial_id)
        units = assignments.units_per_arm(session, trial_id)
        shared = contamination(session, trial_id)
    click.echo(f"{'stratum':<32}{'arm':<20}{'units':>8}{'participants':>14}")
    for row in rows:
        click.echo(f"{row.stratum:<32}{row.arm:<20}{row.units:>8}{row.participants:>14}")
    click.echo("\nunits per arm: " + ", ".join(f"{arm} {n}" for arm, n in units.items()))
    if sum(units.values()) == 0:
        click.echo("no one is randomised yet")
        return
    weights = {arm.id: arm.weight for arm in definition.arms}
    check = srm_check(units, weights)
    verdict = (
        (
            "MISMATCH: the arms' sizes are unlikely under the planned weights; check the "
            "randomisation and the imports"
        )
        if check.flagged
        else "consistent with the plan"
    )
    click.echo(
        f"sample-ratio check on units: chi-square {check.chi_square:.3f}, "
        f"p = {check.p_value:.4f} ({verdict})"
    )
    click.echo(
        f"shared across arms: {shared.phone.people} people share {shared.phone.keys} mobile "
        f"number(s), {shared.address.people} share {shared.address.keys} address(es)"
    )
    click.echo(contamination_words(shared))
