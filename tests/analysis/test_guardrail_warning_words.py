"""The guardrail warning on every page of a trial says whether the trial's contacts were told:
the mail sent, not set up, or failed, as the breach records it (both engines)."""

from __future__ import annotations

import html
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlmodel import Session, select

from analysis.guardrail_notice import MailOutcome, breach_notice
from nudge.clock import FixedClock
from nudge.models import GuardrailBreach
from tests.analysis.test_guardrails import guarded, stop_replies
from tests.conftest import Cli
from tests.fakes.smtp_server import SmtpServer
from tests.trial_factories import seed_trial
from tests.web_helpers import logged_in

TOLD = "The trial's contacts were told by email"
NOT_SET_UP = "The trial's contacts were not told: mail is not set up on this service"
FAILED = (
    "The trial's contacts were not told: the email to them failed (the audit log has the error)"
)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def closed_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def breach_and_page(
    app: Flask,
    session: Session,
    clock: FixedClock,
    tmp_path: Path,
    example_dir: Path,
    db_url: str,
    mail: dict[str, str],
) -> tuple[GuardrailBreach, str]:
    seeded = seed_trial(session, clock, tmp_path, definition=guarded(example_dir))
    stop_replies(session, clock, seeded.arms, "social_norm")
    cli = Cli(db_url, tmp_path)
    cli.env |= mail
    result = cli("guardrails", "check", seeded.trial_id)
    assert result.exit_code == 0, result.output
    session.expire_all()
    (breach,) = session.exec(select(GuardrailBreach)).all()
    page = logged_in(app, "researcher").get(f"/trials/{seeded.trial_id}/results")
    return breach, " ".join(html.unescape(page.get_data(as_text=True)).split())


def test_mail_sent_the_warning_says_the_contacts_were_told(
    app: Flask,
    staff: None,
    session: Session,
    clock: FixedClock,
    tmp_path: Path,
    example_dir: Path,
    db_url: str,
    smtp: SmtpServer,
) -> None:
    mail = {"NUDGE_SMTP_URL": smtp.url, "NUDGE_MAIL_FROM": "nudge@example.org"}
    breach, page = breach_and_page(app, session, clock, tmp_path, example_dir, db_url, mail)
    assert breach.mail == MailOutcome.SENT and len(smtp.received) == 1
    assert TOLD in page and "not told" not in page


def test_without_mail_settings_the_warning_says_they_were_not_told_and_what_to_do(
    app: Flask,
    staff: None,
    session: Session,
    clock: FixedClock,
    tmp_path: Path,
    example_dir: Path,
    db_url: str,
) -> None:
    breach, page = breach_and_page(app, session, clock, tmp_path, example_dir, db_url, {})
    assert breach.mail == MailOutcome.NOT_CONFIGURED
    assert NOT_SET_UP in page and "(NUDGE_SMTP_URL and NUDGE_MAIL_FROM)" in page
    assert "Tell them yourself now" in page and TOLD not in page


def test_a_failed_mail_the_warning_says_they_were_not_told_and_what_to_do(
    app: Flask,
    staff: None,
    session: Session,
    clock: FixedClock,
    tmp_path: Path,
    example_dir: Path,
    db_url: str,
) -> None:
    mail = {
        "NUDGE_SMTP_URL": f"smtp://127.0.0.1:{closed_port()}",
        "NUDGE_MAIL_FROM": "nudge@example.org",
    }
    breach, page = breach_and_page(app, session, clock, tmp_path, example_dir, db_url, mail)
    assert breach.mail == MailOutcome.FAILED
    assert FAILED in page and "check its mail settings" in page and TOLD not in page


def test_breaches_mailed_differently_each_say_whether_the_contacts_were_told() -> None:
    notice = breach_notice(
        [("Social norm, opt-out rate: BREACHED", "sent"), ("Practical, failed: BREACHED", "failed")]
    )
    assert notice is not None
    assert notice.summary.startswith("Not every breach reached the trial's contacts by email")
    assert notice.items == (
        "Social norm, opt-out rate: BREACHED Contacts told by email.",
        "Practical, failed: BREACHED Contacts not told: the email failed. Tell them yourself.",
    )
    before = breach_notice([("Social norm, opt-out rate: BREACHED", None)])
    assert before is not None and "recorded in the audit log" in before.summary
    assert breach_notice([]) is None
