"""`nudge demo`: a whole trial on a simulated clock recovers the effects it was given.

The demo keeps its own SQLite database (it never uses NUDGE_DATABASE_URL), so these tests run
on SQLite whichever engine the suite is under. Size 500 (about 400 randomised, 130 per arm):
the true effect of assignment (+9.8 and +5.9 points) must lie inside the primary model's 95%
interval for each treatment arm, for seeds 1, 2 and 3. The demo's own copy of the example adds
a confidence survey (true effects +0.30 and +0.15 on the 1-5 mean) and an opt-out guardrail
that the social-norm arm, given extra STOP replies, breaches.
"""

from __future__ import annotations

import csv
import json
import logging
import re
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlmodel import Session, col, select

from nudge.cli import main
from nudge.clock import FixedClock
from nudge.db import make_engine
from nudge.demo.events import CONFIDENCE_EFFECT
from nudge.models import (
    Arm,
    Assignment,
    AuditEvent,
    GuardrailBreach,
    Hearing,
    HearingChange,
    Message,
    OptOut,
    Outcome,
    Participant,
    SurveyAnswer,
    User,
)
from tests.conftest import PINNED
from tests.web_helpers import STAFF, add_staff, logged_in, make_app

SIZE = 500
SEEDS = (1, 2, 3)
LONDON = ZoneInfo("Europe/London")


def run_demo(folder: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["demo", "--no-serve", "--size", str(SIZE), "--dir", str(folder), *args]
    )
    return result.exit_code, result.output


@pytest.fixture(scope="module", params=SEEDS)
def demo_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str, str]:
    """One full demo run per seed, with every log record of every logger captured."""
    folder = tmp_path_factory.mktemp(f"seed{request.param}") / "demo"
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    keep, root = Keep(logging.DEBUG), logging.getLogger()
    level = root.level
    root.addHandler(keep)
    root.setLevel(logging.DEBUG)
    try:
        code, output = run_demo(folder, "--seed", str(request.param))
    finally:
        root.removeHandler(keep)
        root.setLevel(level)
    assert code == 0, output
    return folder, output, "\n".join(records)


def report(folder: Path) -> dict:  # type: ignore[type-arg]
    runner = CliRunner()
    env = {"NUDGE_DATABASE_URL": f"sqlite:///{folder / 'nudge-demo.db'}"}
    result = runner.invoke(main, ["analyse", "witness-reminders-2027", "--json"], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_the_estimates_recover_the_true_effects_within_their_intervals(
    demo_run: tuple[Path, str, str],
) -> None:
    folder, output, _ = demo_run
    truths = dict(
        (arm, float(effect))
        for arm, effect in re.findall(
            r"(Practical information|Social norm): true effect ([-+.\d]+)", output
        )
    )
    assert set(truths) == {"Practical information", "Social norm"}
    primary = next(o for o in report(folder)["outcomes"] if o["primary"])
    found = {c["arm"]: c for c in primary["comparisons"]}
    for arm, title in (("practical", "Practical information"), ("social_norm", "Social norm")):
        low, high = found[arm]["adjusted_ci_low"], found[arm]["adjusted_ci_high"]
        assert low * 100 - 0.05 <= truths[title] <= high * 100 + 0.05, (arm, low, high)
        assert 5 <= truths[title] <= 10, "the true effect is the documented one"
    assert "the interval misses it" not in output


def test_the_confidence_survey_recovers_its_true_effects_from_answers_stored_as_numbers(
    demo_run: tuple[Path, str, str],
) -> None:
    folder, output, _ = demo_run
    measures = next(o for o in report(folder)["outcomes"] if o["id"] == "confidence")["measures"]
    found = {c["arm"]: c for c in measures["comparisons"]}
    assert set(found) == {"practical", "social_norm"}
    for arm, truth in (("practical", 0.30), ("social_norm", 0.15)):
        assert CONFIDENCE_EFFECT[arm] == truth, "the true effect is the documented one"
        low, high = found[arm]["adjusted_ci_low"], found[arm]["adjusted_ci_high"]
        assert low <= truth <= high, (arm, low, high)
    arms = {a["arm"]: a for a in measures["arms"]}
    assert "Confidence (survey, 1 to 5)" in output and "the interval misses it" not in output
    engine = make_engine(f"sqlite:///{folder / 'nudge-demo.db'}")
    with Session(engine) as session:
        counted = session.exec(select(SurveyAnswer).where(SurveyAnswer.status == "counted")).all()
        stored = {
            o.participant_id: o.number
            for o in session.exec(
                select(Outcome).where(
                    Outcome.outcome_key == "confidence", col(Outcome.replaced_at).is_(None)
                )
            ).all()
        }
        asked = set(
            session.exec(
                select(Message.participant_id).where(
                    Message.template == "survey:confidence", col(Message.sent_at).is_not(None)
                )
            ).all()
        )
    engine.dispose()
    assert 0.5 <= len(counted) / len(asked) <= 0.7  # about 60% of those asked answer
    assert {a.participant_id: a.number for a in counted} == stored
    assert set(stored.values()) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert sum(n for n in stored.values() if n is not None) / len(stored) == pytest.approx(
        sum(a["mean"] * a["n"] for a in arms.values()) / len(stored)
    )
    # Each form people write was read as its number: digits, "4 - fairly", English and Welsh.
    words = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
    words |= {"un": 1, "dau": 2, "tri": 3, "pedwar": 4, "pump": 5}
    forms = {"digits": 0, "dash": 0, "english": 0, "welsh": 0}
    for answer in counted:
        text = answer.text or ""
        if text in words:
            assert answer.number == words[text], text
            forms["english" if text in ("one", "two", "three", "four", "five") else "welsh"] += 1
        else:
            assert answer.number == int(text.split(" - ")[0]), text
            forms["dash" if " - " in text else "digits"] += 1
    assert all(forms.values()), forms


def test_the_opt_out_guardrail_is_breached_by_the_social_norm_arm_only(
    demo_run: tuple[Path, str, str],
) -> None:
    folder, output, _ = demo_run
    engine = make_engine(f"sqlite:///{folder / 'nudge-demo.db'}")
    with Session(engine) as session:
        breaches = session.exec(select(GuardrailBreach)).all()
        actions = list(session.exec(select(AuditEvent.action)).all())
    engine.dispose()
    assert [(b.arm_key, b.guardrail) for b in breaches] == [("social_norm", "opt_out_rate")]
    assert breaches[0].rate > 0.05 and breaches[0].p_value < 0.05
    assert "guardrail.breached" in actions and "guardrail.mail_failed" in actions
    assert "BREACHED: Social norm, opt-out rate" in output
    assert "Practical information, opt-out rate" not in output
    # The results page carries the warning (every page of the trial does: base.html).
    url = f"sqlite:///{folder / 'nudge-demo.db'}"
    engine = make_engine(url)
    with Session(engine) as session:
        if session.exec(select(User).where(User.email == STAFF["lead"])).first() is None:
            add_staff(session, FixedClock(PINNED))
    engine.dispose()
    page = logged_in(make_app(url), "lead").get("/trials/witness-reminders-2027/results")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "A safety guardrail of this trial has been breached" in text
    assert "Social norm, opt-out rate" in text and "Practical information, opt-out rate" not in text
    # The demo sets up no mail, and the warning says so rather than that anyone was told.
    assert breaches[0].mail == "not_configured"
    assert "The trial&#39;s contacts were not told: mail is not set up" in text


def messages(folder: Path, *where: Any) -> list[Message]:
    """The demo database's messages that match `where`."""
    engine = make_engine(f"sqlite:///{folder / 'nudge-demo.db'}")
    try:
        with Session(engine) as session:
            return list(session.exec(select(Message).where(*where)).all())
    finally:
        engine.dispose()


def test_every_text_went_at_its_scheduled_time_outside_quiet_hours(
    demo_run: tuple[Path, str, str],
) -> None:
    folder, _, _ = demo_run
    sent = messages(folder, Message.channel == "sms", col(Message.sent_at).is_not(None))
    assert len(sent) > SIZE / 2
    for message in sent:
        assert message.sent_at is not None
        assert message.due_at <= message.sent_at <= message.due_at + timedelta(minutes=10)
        local = message.sent_at.astimezone(LONDON)
        assert 9 <= local.hour < 20, f"message {message.id} sent at {local:%H:%M} local"


def test_every_posted_letter_is_in_exactly_one_print_run_on_its_posting_day(
    demo_run: tuple[Path, str, str],
) -> None:
    folder, _, _ = demo_run
    posted = messages(folder, Message.channel == "letter", Message.status == "sent")
    assert len(posted) > SIZE / 10
    printed: list[int] = []
    for manifest in sorted((folder / "letters").glob("*-manifest.csv")):
        assert manifest.with_name(manifest.name.replace("-manifest.csv", ".pdf")).is_file()
        with manifest.open(encoding="utf-8", newline="") as handle:
            printed += [int(row["message_id"]) for row in csv.DictReader(handle)]
    assert sorted(printed) == sorted(m.id for m in posted)  # each once, none missing
    for message in posted:
        assert message.sent_at is not None
        assert message.sent_at.astimezone(LONDON).date() == message.due_at.astimezone(LONDON).date()


def test_stop_replies_are_honoured_and_failed_deliveries_recorded(
    demo_run: tuple[Path, str, str],
) -> None:
    folder, _, _ = demo_run
    engine = make_engine(f"sqlite:///{folder / 'nudge-demo.db'}")
    with Session(engine) as session:
        opt_outs = session.exec(select(OptOut)).all()
        assert opt_outs, "some people replied STOP"
        for opt_out in opt_outs:
            later = session.exec(
                select(Message)
                .join(Participant, col(Participant.id) == Message.participant_id)
                .where(
                    Participant.phone == opt_out.phone,
                    Message.channel == "sms",
                    col(Message.sent_at) > opt_out.opted_out_at,
                )
            ).all()
            assert later == []
        cancelled = session.exec(select(Message).where(Message.reason == "opted_out")).all()
        failed = session.exec(
            select(Message).where(col(Message.status).in_(("failed", "undelivered")))
        ).all()
        moved = session.exec(select(Message).where(Message.status == "superseded")).all()
        actions = set(session.exec(select(AuditEvent.action)).all())
    engine.dispose()
    assert cancelled and failed and moved
    assert {"trial.launched", "participants.enrolled", "hearings.updated"} <= actions
    assert "outcomes.imported" in actions


def test_moved_vacated_and_after_hearing_texts_are_sent_and_counted(
    demo_run: tuple[Path, str, str],
) -> None:
    """The court lists' adjournments and vacated hearings send the example's journey texts
    through the dispatcher, each once, and the summary's counts are the database's."""
    folder, output, _ = demo_run
    found = re.search(
        r"(\d+) hearing-moved texts, (\d+) vacated texts and (\d+) after-hearing texts", output
    )
    assert found, output
    counted = tuple(int(n) for n in found.groups())
    engine = make_engine(f"sqlite:///{folder / 'nudge-demo.db'}")
    with Session(engine) as session:
        hearings = {h.id: h for h in session.exec(select(Hearing)).all()}
        changes = session.exec(select(HearingChange)).all()
        control = set(
            session.exec(
                select(Assignment.participant_id)
                .join(Arm, col(Arm.id) == Assignment.arm_id)
                .where(col(Arm.is_control))
            ).all()
        )
    engine.dispose()
    moved_ids = {c.hearing_id for c in changes if c.status == "adjourned"}
    vacated_ids = {c.hearing_id for c in changes if c.status == "vacated"}
    sent = messages(folder, Message.channel == "sms", col(Message.sent_at).is_not(None))
    moved = [m for m in sent if m.timing == "hearing_moved"]
    vacated = [m for m in sent if m.timing == "hearing_vacated"]
    # The survey's question and reminder are timed after the hearing too, but are measurement.
    after = [m for m in sent if m.timing == "after" and not m.template.startswith("survey:")]
    assert counted == (len(moved), len(vacated), len(after))
    assert moved and vacated and after, counted
    assert {m.hearing_id for m in moved} <= moved_ids
    assert {m.hearing_id for m in vacated} <= vacated_ids
    for group in (moved, vacated):  # once per person and hearing
        assert len({(m.participant_id, m.hearing_id) for m in group}) == len(group)
    for message in after:  # the day after the hearing, at 10:00, never for a vacated one
        hearing = hearings[message.hearing_id]
        assert hearing.status != "vacated"
        assert message.sent_at is not None
        local = message.sent_at.astimezone(LONDON)
        assert local.date() == hearing.starts_at.astimezone(LONDON).date() + timedelta(days=1)
        assert (local.hour, local.minute // 10) == (10, 0)
    assert control and not control & {m.participant_id for m in moved + vacated + after}


def test_the_log_and_terminal_carry_no_synthetic_name_or_phone_number(
    demo_run: tuple[Path, str, str],
) -> None:
    folder, output, records = demo_run
    assert "texts sent" in output and len(records) > 100
    with (folder / "files" / "export.csv").open(newline="") as handle:
        people = list(csv.DictReader(handle))
    secrets = set()
    for row in people:
        digits = row["phone"].replace(" ", "")
        secrets |= {row["first_name"], row["last_name"], row["phone"], digits}
        secrets |= {"+44" + digits[1:], digits[1:], row["address_line_1"]}
    for text in (output, records):
        leaked = sorted(s for s in secrets if s and s in text)
        assert leaked == []


def test_running_twice_starts_afresh(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    for _ in range(2):
        code, output = run_demo(folder, "--size", "60")
        assert code == 0, output
    engine = make_engine(f"sqlite:///{folder / 'nudge-demo.db'}")
    with Session(engine) as session:
        people = session.exec(select(Participant)).all()
    engine.dispose()
    assert len(people) == 60


def test_a_folder_not_made_by_the_demo_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.txt").write_text("precious")
    code, output = run_demo(tmp_path / "mine")
    assert code == 1 and "was not made by `nudge demo`" in output
    assert (tmp_path / "mine" / "thesis.txt").read_text() == "precious"
    assert "Traceback" not in output


def test_a_port_in_use_is_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            main, ["demo", "--port", str(port), "--size", "60", "--dir", str(tmp_path / "d")]
        )
    assert result.exit_code == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "d").exists()
