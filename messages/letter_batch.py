"""A day's print run of letters: one merged PDF and its manifest, and the letters marked posted.

Every letter of the trial due on the posting day that is still `scheduled` is checked again
with the dispatcher's own last-moment checks, rendered into one PDF and listed in a manifest
CSV, and marked `sent` (posted) in one transaction with the files: they are written under
temporary names and flushed to disk, given their final names just before the commit, and
removed again if the commit fails. A second run for the same day finds nothing left to print.

What a letter is, whichever way it goes, is here and used by GOV.UK Notify's path too
(messages/notify_letters.py): the waiting letters with their people (`waiting_letters`), the
last check before one goes (`last_check`), and the letter itself in its own language
(`make_letter`, or why it cannot be made).
"""

from __future__ import annotations

import io
import itertools
from collections import Counter
from collections.abc import Container
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from sqlalchemy import ColumnElement, Exists, exists, true
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from experiments import trials
from experiments.dates import in_range, refusal
from experiments.definition import TrialDefinition
from messages.letter_check import RuleBroken
from messages.letter_files import check_out_dir, published
from messages.letter_layout import LetterProblem, fit_address, register_fonts
from messages.letters import Letter, LetterBatch, render_batch
from messages.outbox import EventRow, record_events
from messages.render import context, withheld_reason
from messages.returned_letters import returned_people
from messages.schedule import local_instant
from messages.templates import TemplateProblem, choose_language, render
from nudge.clock import Clock
from nudge.csvout import write_rows
from nudge.models import Case, Hearing, Message, MessageStatus, Participant, Reason
from nudge.models.tables import MESSAGES

MANIFEST_HEADER = (
    "message_id",
    "participant_ref",
    "case_ref",
    "template",
    "language",
    "pages",
    "first_page",
    "postcode",
)
REFERENCE_WORD = {"en": "Ref", "cy": "Cyf"}
# Why a letter cannot be made, in words with no personal data: an address's own problem may
# quote the address, so only what is wrong is said.
ADDRESS_UNFIT = "the address does not fit the envelope window"
TEMPLATE_UNFILLED = "its template cannot be filled in"
# A letter still waiting to go, printed or through Notify.
WAITING = (Message.channel == "letter", Message.status == MessageStatus.SCHEDULED)


@dataclass(frozen=True)
class DueLetter:
    """A scheduled letter of the posting day, with the person and hearing it is for."""

    message: Message
    participant: Participant
    hearing: Hearing
    case_ref: str


@dataclass
class BatchSummary:
    """What a print run did (or, for a dry run, would do); holds no personal data."""

    trial_id: str
    posting_day: date
    dry_run: bool
    duplex: bool
    letters: int = 0
    pages: int = 0
    withheld: dict[Reason, int] = field(default_factory=dict)
    unprintable: list[tuple[int, str]] = field(default_factory=list)  # (message id, why)
    pdf: Path | None = None
    manifest: Path | None = None

    @property
    def sheets(self) -> int:
        """Sheets of paper: two pages a sheet when duplex (every letter has an even count)."""
        return self.pages // 2 if self.duplex else self.pages


@dataclass(frozen=True)
class Unmade(RuleBroken):
    """A letter that cannot be made: the reason it fails with and the words recorded with it
    (`detail`), and the words a print run shows its operator (`shown`: for a template, the
    template's own explanation)."""

    shown: str


def run_batch(
    session: Session,
    clock: Clock,
    trial_id: str,
    posting_day: date,
    out_dir: Path,
    *,
    duplex: bool = True,
    dry_run: bool = False,
    site_id: int | None = None,
) -> BatchSummary:
    """Print the posting day's letters and mark them posted; commits (a dry run rolls back).
    With `site_id`, only the letters of that site's people (a multi-site trial: each site
    prints its own people's names and addresses, nudge/cli/letters.py)."""
    trial = trials.get_trial(session, trial_id)
    definition = trials.current_definition(session, trial)
    zone, now = ZoneInfo(definition.timezone), clock.now()
    if not in_range(posting_day):
        raise LetterProblem(f"--date: {refusal(posting_day.isoformat())}")
    if not dry_run:
        _refuse_future_day(posting_day, now, zone)
        check_out_dir(out_dir)
        trial = trials.lock_trial(session, trial_id)  # one print run of a trial at a time
    due = due_letters(session, trial_id, posting_day, zone, lock=not dry_run, site_id=site_id)
    summary = BatchSummary(trial_id, posting_day, dry_run, duplex)
    to_print: list[DueLetter] = []
    withheld: list[tuple[DueLetter, Reason]] = []
    returned = returned_people(session, trial_id)
    for letter in due:
        reason = last_check(session, trial.status, letter, now, returned)
        if reason is None:
            to_print.append(letter)
        else:
            withheld.append((letter, reason))
    summary.withheld = dict(sorted(Counter(reason for _, reason in withheld).items()))
    printable = _printable(definition, to_print, posting_day, now, summary)
    batch = render_batch([letter for _, letter in printable], duplex=duplex) if printable else None
    summary.letters, summary.pages = len(printable), batch.total_pages if batch else 0
    if dry_run:
        session.rollback()
        return summary
    record_events(session, [_cancel(letter, reason, now) for letter, reason in withheld])
    if batch is None:
        session.commit()
        return summary
    summary.pdf, summary.manifest = _free_names(out_dir, trial_id, posting_day, site_id)
    record_events(
        session, _mark_posted([due for due, _ in printable], batch, summary, definition, now)
    )
    session.flush()  # any database error surfaces before the files get their names
    manifest = _manifest([due for due, _ in printable], batch)
    with published({summary.pdf: batch.pdf, summary.manifest: manifest}):
        session.commit()
    return summary


def due_letters(
    session: Session,
    trial_id: str,
    posting_day: date,
    zone: ZoneInfo,
    *,
    lock: bool = False,
    site_id: int | None = None,
) -> list[DueLetter]:
    """Letters still scheduled for the local posting day, in postcode order for the post room;
    with `site_id`, only those of that site's people."""
    start = local_instant(posting_day, "00:00", zone)
    end = local_instant(posting_day + timedelta(days=1), "00:00", zone)
    query = waiting_letters(
        Message.trial_id == trial_id,
        Message.due_at >= start,
        Message.due_at < end,
        true() if site_id is None else Participant.site_id == site_id,
    ).order_by(col(Participant.postcode), col(Message.id))
    if lock:
        query = query.with_for_update(of=Message)
    return [DueLetter(*row) for row in session.exec(query).all()]


def waiting_letters(
    *where: ColumnElement[bool] | bool,
) -> Select[Message, Participant, Hearing, str]:
    """Letters still `scheduled` that meet `where`, each with the person, hearing and case
    reference it is for (a DueLetter's fields, in its order): what a print run reads, and what
    a letter through Notify is taken by."""
    return (
        select(Message, Participant, Hearing, Case.case_ref)
        .join(Participant, col(Participant.id) == Message.participant_id)
        .join(Hearing, col(Hearing.id) == Message.hearing_id)
        .join(Case, col(Case.id) == Participant.case_id)
        .where(*WAITING, *where)
    )


def last_check(
    session: Session,
    trial_status: str,
    due: DueLetter,
    now: datetime,
    returned: Container[int] | None = None,
) -> Reason | None:
    """Why the letter must not go after all, at the last moment before it is printed or sent:
    the dispatcher's own checks (messages/render.py: consent, safeguarding, the hearing, the
    trial's status), then a letter of this person's that came back (the address is known to
    be wrong). `returned` holds the trial's people with a returned letter, read once for a
    print run; without it the person's letters are asked about (one query, and only when
    every other check has passed)."""
    reason = withheld_reason(session, trial_status, due.participant, due.hearing, due.message, now)
    if reason is not None:
        return reason
    if returned is None:
        came_back = session.execute(select(_returned(due.message))).scalar()
    else:
        came_back = due.participant.id in returned
    return Reason.LETTER_RETURNED if came_back else None


def _returned(message: Message) -> Exists:
    return exists().where(
        MESSAGES.c.trial_id == message.trial_id,
        MESSAGES.c.participant_id == message.participant_id,
        MESSAGES.c.status == MessageStatus.RETURNED,
    )


def _refuse_future_day(posting_day: date, now: datetime, zone: ZoneInfo) -> None:
    today = now.astimezone(zone).date()
    if posting_day > today:
        raise LetterProblem(
            f"--date {posting_day.isoformat()} is after today ({today.isoformat()} in "
            f"{zone.key}): letters are printed and marked posted on their posting day; "
            "add --dry-run to see what that day will print"
        )


def _printable(
    definition: TrialDefinition,
    due: list[DueLetter],
    posting_day: date,
    now: datetime,
    summary: BatchSummary,
) -> list[tuple[DueLetter, Letter]]:
    """Each letter made ready to print; one that cannot be is noted and stays scheduled."""
    register_fonts()  # a missing font stops the whole run, not one letter
    ready = []
    for letter in due:
        made = make_letter(definition, letter, posting_day, now)
        if isinstance(made, Unmade):
            summary.unprintable.append((letter.message.id or 0, made.shown))
        else:
            ready.append((letter, made))
    return ready


def make_letter(
    definition: TrialDefinition, due: DueLetter, posting_day: date, now: datetime
) -> Letter | Unmade:
    """The letter as it will print (`letter_for`), or why it cannot be made."""
    try:
        return letter_for(definition, due, posting_day, now)
    except TemplateProblem as exc:
        return Unmade(Reason.LETTER_UNPRINTABLE, TEMPLATE_UNFILLED, f"the template: {exc}")
    except LetterProblem:  # its text may quote the address: say only what is wrong
        return Unmade(Reason.LETTER_ADDRESS_UNUSABLE, ADDRESS_UNFIT, ADDRESS_UNFIT)


def letter_for(
    definition: TrialDefinition, due: DueLetter, posting_day: date, now: datetime
) -> Letter:
    """The letter as it will print: its body, date line and reference in its own language
    (Welsh as Welsh), to the person's name and address; refused if the address cannot fit."""
    message, participant = due.message, due.participant
    texts = definition.templates[message.template]
    language = choose_language(texts, message.language)
    values = context(definition, participant, due.hearing, now, language, message)
    body = render(str(texts[language]), values, channel="letter")
    name = " ".join(part for part in (participant.first_name, participant.last_name) if part)
    address = tuple(
        line for line in (name, *participant.address, participant.postcode or "") if line
    )
    fit_address(address)  # refuse this letter alone, before the batch is rendered
    word = REFERENCE_WORD.get(language, REFERENCE_WORD["en"])
    return Letter(
        body,
        address,
        date_line=_date_line(posting_day, language),
        reference=f"{word} {message.id}",
        language=language,
    )


def _date_line(day: date, language: str) -> str:
    """The letter's date as written in its language: '12 February 2027', '12 Chwefror 2027'."""
    try:
        locale = Locale.parse("en_GB" if language == "en" else language)
    except (UnknownLocaleError, ValueError):
        locale = Locale.parse("en_GB")
    return format_date(day, "d MMMM y", locale=locale)


def _free_names(
    out_dir: Path, trial_id: str, posting_day: date, site_id: int | None = None
) -> tuple[Path, Path]:
    """The run's PDF and manifest names; a later run the same day never overwrites an earlier
    (nor one site's run another's)."""
    site = f"-site{site_id}" if site_id is not None else ""
    for number in itertools.count(1):
        stem = f"{trial_id}{site}-letters-{posting_day.isoformat()}" + (
            f"-{number}" if number > 1 else ""
        )
        pdf, manifest = out_dir / f"{stem}.pdf", out_dir / f"{stem}-manifest.csv"
        if not pdf.exists() and not manifest.exists():
            return pdf, manifest
    raise AssertionError("unreachable")


def _mark_posted(
    due: list[DueLetter],
    batch: LetterBatch,
    summary: BatchSummary,
    definition: TrialDefinition,
    now: datetime,
) -> list[EventRow]:
    """The printed letters as posted (ORM changes, flushed with the session); their events."""
    assert summary.pdf is not None
    events = []
    for letter, pages in zip(due, batch.letters, strict=True):
        message = letter.message
        message.sent_at, message.cost = now, definition.costs.letter
        detail = {"batch": summary.pdf.name, "first_page": pages.first_page, "pages": pages.pages}
        events.append(_finish(message, now, MessageStatus.SENT, detail))
    return events


def _cancel(letter: DueLetter, reason: Reason, now: datetime) -> EventRow:
    """A letter withheld at the last check: cancelled with its reason."""
    return _finish(letter.message, now, MessageStatus.CANCELLED, {"reason": reason}, reason)


def _finish(
    message: Message,
    now: datetime,
    status: MessageStatus,
    detail: dict[str, object],
    reason: Reason | None = None,
) -> EventRow:
    """A letter's final status (an ORM change on its locked row, flushed with the session), and
    the event that records it."""
    message.status, message.reason, message.updated_at = status, reason, now
    return EventRow(message.id or 0, status, detail, now)


def _manifest(due: list[DueLetter], batch: LetterBatch) -> bytes:
    """One row per letter, formula-safe: personal data, for the print room only."""
    rows = [
        (
            letter.message.id,
            letter.participant.participant_ref,
            letter.case_ref,
            letter.message.template,
            letter.message.language,
            pages.pages,
            pages.first_page,
            letter.participant.postcode,
        )
        for letter, pages in zip(due, batch.letters, strict=True)
    ]
    stream = io.StringIO()
    write_rows(stream, MANIFEST_HEADER, rows)
    return stream.getvalue().encode("utf-8")
