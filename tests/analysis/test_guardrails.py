"""Safety guardrails: the clustered one-sided test, a breach recorded, audited, mailed once
through a real SMTP server and shown on the trial's pages, and the daily run (both engines)."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import statsmodels.api as sm
from flask import Flask
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from analysis.guardrails import clustered_rate, run_due_guardrails
from messages.replies import handle_reply
from nudge.clock import FixedClock
from nudge.config import load_settings
from nudge.models import (
    Arm,
    Assignment,
    AuditEvent,
    GuardrailBreach,
    GuardrailRun,
    Message,
    Participant,
    Pause,
)
from tests.conftest import Cli
from tests.fakes.smtp_server import SmtpServer
from tests.trial_factories import seed_trial
from tests.web_helpers import logged_in

GUARDRAILS = """
guardrails:
  contacts: [dmc-chair@example.org, trial-manager@example.org]
  checks:
    - {metric: opt_out_rate, max: 0.05, pause: true}
    - {metric: failed_rate, max: 0.9}
    - {metric: outcome, outcome: withdrew, max_excess: 0.5}
"""


def test_the_clustered_variance_is_statsmodels_cluster_robust_one_of_the_mean() -> None:
    """Independent check: the CR1 variance of the intercept of y ~ 1 clustered by unit (Stata's
    small-sample factor, which for one parameter is G / (G - 1)) is the ratio estimator's."""
    rng = np.random.default_rng(20270301)
    sizes = rng.integers(1, 4, size=60)
    units = np.repeat(np.arange(60), sizes)
    y = (rng.random(units.size) < 0.2 + 0.1 * (units % 3)).astype(float)
    fit = sm.OLS(y, np.ones_like(y)).fit(cov_type="cluster", cov_kwds={"groups": units})
    pairs = [(int(y[units == u].sum()), int((units == u).sum())) for u in range(60)]
    rate = clustered_rate(pairs)
    assert rate.value == pytest.approx(y.mean(), abs=1e-15)
    assert rate.variance == pytest.approx(float(fit.bse[0]) ** 2, rel=1e-10)


def test_an_arm_where_everyone_opted_out_is_tested_not_certain() -> None:
    rate = clustered_rate([(1, 1)] * 12)
    assert rate.value == 1.0 and rate.variance is not None and rate.variance > 0


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def guarded(example_dir: Path) -> Path:
    path = example_dir / "witness-reminders.yaml"
    path.write_text(path.read_text(encoding="utf-8") + GUARDRAILS, encoding="utf-8")
    return path


def stop_replies(session: Session, clock: FixedClock, arms: dict[str, str], arm: str) -> int:
    """Four in ten of `arm`'s people with a number reply STOP, through the real reply handling."""
    people = session.exec(select(Participant).where(Participant.phone.is_not(None))).all()  # type: ignore[union-attr]
    chosen = [p for p in people if arms.get(p.participant_ref) == arm][::5]
    chosen += [p for p in people if arms.get(p.participant_ref) == arm][1::5]
    for person in chosen:
        assert person.phone is not None
        handle_reply(
            session,
            clock,
            provider_id=f"SM-stop-{person.id}",
            from_number=person.phone,
            to_number="+447700900000",
            body="STOP",
        )
    session.commit()
    return len(chosen)


def test_a_breach_is_recorded_audited_mailed_once_and_shown(
    app: Flask,
    staff: None,
    session: Session,
    clock: FixedClock,
    tmp_path: Path,
    example_dir: Path,
    db_url: str,
    smtp: SmtpServer,
) -> None:
    seeded = seed_trial(session, clock, tmp_path, definition=guarded(example_dir))
    stop_replies(session, clock, seeded.arms, "social_norm")
    cli = Cli(db_url, tmp_path)
    cli.env |= {"NUDGE_SMTP_URL": smtp.url, "NUDGE_MAIL_FROM": "nudge@example.org"}
    result = cli("guardrails", "check", seeded.trial_id)
    assert result.exit_code == 0, result.output
    assert "Social norm, opt-out rate: " in result.output and "BREACHED" in result.output
    assert "Practical information, opt-out rate: 0.0%" in result.output
    assert "1 new breach(es) recorded; mail: sent" in result.output
    ((recipients, mail),) = smtp.received
    assert recipients == ["dmc-chair@example.org", "trial-manager@example.org"]
    assert mail["Subject"] == f"Nudge: safety guardrail breached in {seeded.trial_id}"
    body = mail.get_payload()
    assert "Social norm, opt-out rate:" in body and "BREACHED" in body
    assert "07700" not in body and "+44" not in body and "Testy" not in body
    session.expire_all()
    (breach,) = session.exec(select(GuardrailBreach)).all()
    assert (breach.arm_key, breach.guardrail, breach.threshold) == (
        "social_norm",
        "opt_out_rate",
        0.05,
    )
    assert breach.rate > 0.3 and breach.p_value < 0.05
    actions = [e.action for e in session.exec(select(AuditEvent)).all()]
    assert actions.count("guardrail.breached") == 1 and actions.count("guardrail.mailed") == 1
    # The guardrail pauses the arm it found: its waiting messages are held, audited as such.
    (paused,) = session.exec(select(Pause)).all()
    assert (paused.arm_key, paused.paused_by, paused.resumed_at) == (
        "social_norm",
        "guardrail",
        None,
    )
    assert paused.reason.startswith("guardrail breached: Social norm, opt-out rate")
    statuses = session.exec(
        select(Message.status)
        .join(Assignment, col(Assignment.participant_id) == Message.participant_id)
        .join(Arm, col(Arm.id) == Assignment.arm_id)
        .where(Arm.key == "social_norm")
    ).all()
    assert "held" in statuses and "scheduled" not in statuses
    assert "trial.paused" in actions
    # A second check still finds it, but it is not new: no second mail.
    again = cli("guardrails", "check", seeded.trial_id)
    assert "no new breach" in again.output and len(smtp.received) == 1
    for role in ("lead", "researcher"):
        page = html.unescape(
            logged_in(app, role).get(f"/trials/{seeded.trial_id}/results").get_data(as_text=True)
        )
        assert "A safety guardrail of this trial has been breached." in page
        assert breach.words in page


def test_without_mail_settings_the_breach_is_still_recorded_and_says_so(
    session: Session, clock: FixedClock, tmp_path: Path, example_dir: Path, db_url: str
) -> None:
    seeded = seed_trial(session, clock, tmp_path, definition=guarded(example_dir))
    stop_replies(session, clock, seeded.arms, "social_norm")
    result = Cli(db_url, tmp_path)("guardrails", "check", seeded.trial_id)
    assert "mail: not configured: NUDGE_SMTP_URL and NUDGE_MAIL_FROM are not set" in result.output
    session.expire_all()
    assert len(session.exec(select(GuardrailBreach)).all()) == 1
    failed = session.exec(select(AuditEvent).where(AuditEvent.action == "guardrail.mail_failed"))
    assert len(failed.all()) == 1


def test_the_daily_run_checks_each_live_trial_once_a_local_day(
    engine: Engine,
    session: Session,
    clock: FixedClock,
    tmp_path: Path,
    example_dir: Path,
    smtp: SmtpServer,
) -> None:
    seeded = seed_trial(session, clock, tmp_path, definition=guarded(example_dir))
    stop_replies(session, clock, seeded.arms, "social_norm")
    settings = load_settings(
        {
            "NUDGE_DATABASE_URL": "sqlite://",
            "NUDGE_SMTP_URL": smtp.url,
            "NUDGE_MAIL_FROM": "n@example.org",
        }
    )
    assert run_due_guardrails(engine, clock, settings, "worker") == 1
    assert run_due_guardrails(engine, clock, settings, "worker") == 0  # same day: done
    clock.advance(timedelta(hours=24))
    assert run_due_guardrails(engine, clock, settings, "worker") == 1
    session.expire_all()
    runs = session.exec(select(GuardrailRun)).all()
    assert [run.breaches for run in runs] == [1, 0]
    assert len(smtp.received) == 1


def test_guardrails_a_trial_cannot_check_are_refused_where_written(
    example_dir: Path, cli: Cli
) -> None:
    path = example_dir / "witness-reminders.yaml"
    path.write_text(
        path.read_text(encoding="utf-8")
        + "guardrails:\n  contacts: [dmc@example.org]\n  checks:\n"
        + "    - {metric: opt_out_rate, max_excess: 0.02}\n"
        + "    - {metric: outcome, outcome: attendance, max: 0.5}\n",
        encoding="utf-8",
    )
    result = cli("trial", "validate", str(path))
    assert result.exit_code == 1
    assert "control sends no texts" in result.output and "give max" in result.output
    assert "'attendance' is not an outcome of this trial" in result.output
    assert "Traceback" not in result.output


def test_a_guardrail_needs_exactly_one_limit(example_dir: Path, cli: Cli) -> None:
    path = example_dir / "witness-reminders.yaml"
    path.write_text(
        path.read_text(encoding="utf-8")
        + "guardrails:\n  contacts: [dmc@example.org]\n  checks:\n"
        + "    - {metric: failed_rate, max: 0.1, max_excess: 0.02}\n",
        encoding="utf-8",
    )
    result = cli("trial", "validate", str(path))
    assert result.exit_code == 1 and "give exactly one of max" in result.output
