"""The pause page: a researcher pauses an arm and resumes it in the browser, without
JavaScript too; mistakes are shown in an error summary; 320 px and axe clean."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from playwright.sync_api import expect
from sqlmodel import Session, select

from messages.intake import enrol_and_plan
from nudge.clock import FixedClock
from nudge.models import AuditEvent, Message, Pause
from tests.factories import launch, person, write_people
from tests.web_helpers import csrf_token, logged_in, no_violations, open_as

TRIAL = "witness-reminders-2027"
PAGE = f"/trials/{TRIAL}/pause"


def enrol(session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path) -> None:
    launch(session, clock, example_dir / "witness-reminders.yaml")
    path = write_people(tmp_path / "people.csv", [person(i) for i in range(1, 13)])
    enrol_and_plan(session, clock, TRIAL, path, "test")
    session.commit()


def test_pausing_and_resuming_an_arm_from_the_page(
    site: str,
    browser: Any,
    session: Session,
    clock: FixedClock,
    example_dir: Path,
    tmp_path: Path,
) -> None:
    enrol(session, clock, example_dir, tmp_path)
    for width in (320, 1280):
        page = open_as(browser, site, "researcher", f"/trials/{TRIAL}/manage", width)
        page.get_by_role("link", name="Pause or resume an arm").click()
        expect(page.get_by_role("heading", name="Pause or resume", exact=True)).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        no_violations(page)
        if width == 320:
            page.close()
            continue
        page.get_by_role("button", name="Pause").click()  # nothing chosen: both errors
        summary = page.locator(".govuk-error-summary")
        expect(summary).to_contain_text("Choose the arm to pause, or the whole trial")
        expect(summary).to_contain_text("Enter why it is paused")
        no_violations(page)
        page.get_by_label("Social norm").check()
        page.get_by_label("Why").fill("Opt-outs above the guardrail; the committee meets Monday.")
        page.get_by_role("button", name="Pause").click()
        expect(page.locator(".govuk-notification-banner")).to_contain_text("Social norm is paused")
        expect(page.get_by_role("heading", name="Social norm Paused")).to_be_visible()
        no_violations(page)
        page.get_by_role("button", name="Resume Social norm").click()
        expect(page.locator(".govuk-notification-banner")).to_contain_text("Resumed:")
        expect(page.get_by_text("Nothing is paused.")).to_be_visible()
        page.close()
    session.expire_all()
    (done,) = session.exec(select(Pause)).all()
    assert done.arm_key == "social_norm" and done.resumed_at is not None
    assert done.paused_by.startswith("web:") and done.resumed_by == done.paused_by
    actions = [e.action for e in session.exec(select(AuditEvent)).all()]
    assert actions.count("trial.paused") == 1 and actions.count("trial.resumed") == 1
    assert "held" not in {m.status for m in session.exec(select(Message)).all()}


def test_a_second_pause_of_the_same_arm_is_refused_on_the_page(
    app: Flask,
    staff: None,
    session: Session,
    clock: FixedClock,
    example_dir: Path,
    tmp_path: Path,
) -> None:
    enrol(session, clock, example_dir, tmp_path)
    client = logged_in(app, "researcher")
    form = {"which": "practical", "reason": "checking"}
    first = client.post(PAGE, data={"csrf_token": csrf_token(client, PAGE), **form})
    assert first.status_code == 302
    second = client.post(PAGE, data={"csrf_token": csrf_token(client, PAGE), **form})
    assert second.status_code == 400
    assert "is already paused" in second.get_data(as_text=True)
    assert len(session.exec(select(Pause)).all()) == 1
