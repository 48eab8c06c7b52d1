"""`nudge analyse`: a trial's results, from the database or a flat file."""

from __future__ import annotations

from pathlib import Path

import click
from sqlmodel import Session

from analysis.analyse import Analysed, analyse_file, analyse_trial
from analysis.bundle import build_bundle, check_target, save_bundle
from analysis.report import report_json
from analysis.text import render_text
from nudge import audit
from nudge.cli.runtime import TEXT, InputFile, Runtime, echo_json, pass_runtime
from nudge.errors import NudgeError

CSV = InputFile()


@click.command("analyse")
@click.argument("trial_id", required=False, type=TEXT)
@click.option("--data", type=CSV, help="A flat file, one row per randomised participant.")
@click.option("--trial", "definition", type=CSV, help="The trial's YAML definition (with --data).")
@click.option("--json", "as_json", is_flag=True, help="Print the results JSON.")
@click.option(
    "--bundle",
    type=click.Path(path_type=Path),
    help="Also write a reproduction bundle (a new zip): pseudonymised row-level data, the "
    "frozen YAML and an R script that reproduces the primary table.",
)
@pass_runtime
def analyse(
    runtime: Runtime,
    trial_id: str | None,
    data: Path | None,
    definition: Path | None,
    as_json: bool,
    bundle: Path | None,
) -> None:
    """Analyse TRIAL in the database, or a flat file with --data FILE.csv --trial FILE.yaml."""
    if (trial_id is None) == (data is None) or (data is None) != (definition is None):
        raise NudgeError(
            "give either TRIAL (a trial in the database) or both --data FILE.csv and "
            "--trial FILE.yaml"
        )
    if bundle is not None and trial_id is None:
        raise NudgeError("--bundle needs TRIAL: it reproduces a trial in the database")
    if data is not None and definition is not None:
        result: Analysed = analyse_file(data, definition)
    else:
        assert trial_id is not None
        with runtime.session() as session:
            if bundle is not None:
                result = _write_bundle(runtime, session, trial_id, bundle)
            else:
                result = analyse_trial(session, trial_id, runtime.clock)
    payload = report_json(result.report)
    if as_json:
        echo_json(payload)
    else:
        click.echo(render_text(payload, result.definition))
    if bundle is not None:
        click.echo(f"reproduction bundle written to {bundle} (row-level data)", err=as_json)


def _write_bundle(runtime: Runtime, session: Session, trial_id: str, path: Path) -> Analysed:
    """The bundle saved (checked before the analysis runs) and its export audited."""
    check_target(path)
    bundle = build_bundle(session, trial_id, built_at=runtime.clock.now())
    audit.record(
        session,
        runtime.clock,
        actor=runtime.actor,
        action="results.bundle_exported",
        trial_id=trial_id,
        details={"version": bundle.version, "participants": bundle.participants},
    )
    save_bundle(bundle, path)
    return Analysed(bundle.definition, bundle.report)
