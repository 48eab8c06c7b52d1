"""One person's timeline in a trial, found by the reference they were imported with.

What a researcher asks when someone calls, or a figure looks odd: was P00042 eligible, which arm
were they given, when did their hearing move, which reminders went, which did not and why, what
did they reply, what was recorded. It lives in `analysis/` because it reads every step of the
flow (enrolment, the outbox, replies, and the outcomes the analysis imports) and says them with
the results' own labels (analysis/labels.py): only this package may import all of them.

A reference can name more than one participant row (a witness in two cases of one trial is
enrolled once per case); the timeline holds them all and names each entry's case.

Nothing here leaves this module as a name, a phone number or an address: people are found by
reference, an opt-out is matched on the number without the number going further, a contact
column used for clustering or strata is shown as hidden, the provider's free-text error (which
can quote the number) is never read, and a reply's words have anything shaped like a phone
number hidden.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, true
from sqlmodel import Session, col, select

from analysis.labels import Labels, humanise
from analysis.overview import LANGUAGE_NAMES
from analysis.timeline_words import (
    REPLIES,
    change_title,
    cluster_words,
    event_words,
    opted_out_how,
    source_words,
    status_words,
    stratum_words,
)
from experiments.definition import TrialDefinition
from experiments.outcome_values import value_words
from messages.words import channel_label
from nudge.audit_log import hide_numbers
from nudge.errors import NotFound
from nudge.models import (
    HEARING_ENDED,
    Arm,
    Assignment,
    Case,
    Hearing,
    HearingChange,
    InboundMessage,
    Message,
    MessageEvent,
    OptOut,
    Outcome,
    Participant,
)

# Entries at the same moment keep the order things happen in: enrolled, the hearing as listed,
# allocated; a reply before the opt-out it caused.
ENROLLED, HEARING, ALLOCATED, MESSAGE, REPLY, OPT_OUT, OUTCOME, PURGED = range(8)

Rows = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Step:
    """One status change of a message, in words."""

    at: datetime  # in the trial's timezone
    words: str


@dataclass(frozen=True)
class Entry:
    """One thing that happened, as the page shows it: a title, a time and what to know."""

    at: datetime  # in the trial's timezone
    order: int
    title: str
    details: Rows = ()
    steps: tuple[Step, ...] = ()  # a message's status changes, oldest first
    reply: str | None = None  # the words of a reply, numbers hidden


@dataclass(frozen=True)
class PersonTimeline:
    reference: str
    participant_ids: tuple[int, ...]  # for the audit log: never the reference
    summary: Rows
    entries: tuple[Entry, ...]  # oldest first


@dataclass(frozen=True)
class _Context:
    """What every part of the timeline needs: the trial's labels and timezone, each row's case."""

    labels: Labels
    zone: ZoneInfo
    cases: dict[int, str]  # participant id -> case reference

    def when(self, value: datetime) -> str:
        return self.local(value).strftime("%a %-d %b %Y %H:%M %Z")

    def local(self, value: datetime) -> datetime:
        return value.astimezone(self.zone)

    def case_of(self, participant_id: int) -> Rows:
        """A "Case" row when the reference is in more than one case, else nothing."""
        return (("Case", self.cases[participant_id]),) if len(self.cases) > 1 else ()


def person_timeline(
    session: Session,
    definition: TrialDefinition,
    reference: str,
    within: ColumnElement[bool] | None = None,
) -> PersonTimeline:
    """Everything recorded about `reference` in this trial, oldest first; of the participants
    `within` admits only (nudge.scope.people_within: in a multi-site trial, the viewer's own
    site's people).

    Raises NotFound when no one in this trial (that `within` admits) has that reference: people
    in other trials, and of other sites, are never looked at, so the answer says nothing about
    them.
    """
    found = session.exec(
        select(Participant, Case.case_ref)
        .join(Case, col(Case.id) == Participant.case_id)
        .where(Participant.trial_id == definition.id, Participant.participant_ref == reference)
        .where(true() if within is None else within)
        .order_by(col(Participant.id))
    ).all()
    if not found:
        raise NotFound(f"no one with reference '{reference}' in trial '{definition.id}'")
    people = [person for person, _ in found]
    ids = [person.id or 0 for person in people]
    context = _Context(
        Labels.of(definition),
        ZoneInfo(definition.timezone),
        {person.id or 0: case_ref for person, case_ref in found},
    )
    assignments = _assignments(session, ids)
    entries = [entry for person in people for entry in _enrolment(person, context)]
    entries += _allocations(assignments, definition, context)
    entries += _hearings(session, people, context)
    entries += _messages(session, ids, context)
    entries += _replies(session, ids, context)
    entries += _opt_outs(session, [p.phone for p in people if p.phone], context)
    entries += _outcomes(session, ids, context)
    entries.sort(key=lambda entry: (entry.at, entry.order))
    summary = _summary(reference, people, assignments, context)
    return PersonTimeline(reference, tuple(ids), summary, tuple(entries))


def _summary(
    reference: str,
    people: Sequence[Participant],
    assignments: Sequence[tuple[Assignment, Arm]],
    context: _Context,
) -> Rows:
    eligibility = [_eligibility(person, context) for person in people]
    if len(people) > 1:
        eligibility = [
            f"case {context.cases[p.id or 0]}: {e}"
            for p, e in zip(people, eligibility, strict=True)
        ]
    arms = [arm.title for _, arm in assignments]
    return (
        ("Reference", reference),
        ("Case" if len(people) == 1 else "Cases", ", ".join(context.cases.values())),
        ("Eligibility", "; ".join(eligibility)),
        ("Arm", ", ".join(arms) if arms else "Not randomised"),
    )


def _eligibility(person: Participant, context: _Context) -> str:
    return "Eligible" if person.eligible else f"Not eligible: {_exclusion(person, context)}"


def _exclusion(person: Participant, context: _Context) -> str:
    """The eligibility rule they failed, in the words the results' participant flow uses."""
    return context.labels.exclusion_reason(person.ineligible_rule or "")


def _enrolment(person: Participant, context: _Context) -> list[Entry]:
    """Enrolled (eligible, or not and why), and the removal of contact details after close."""
    yes_no = {True: "yes", False: "no"}
    details: Rows = (
        ("Case", context.cases[person.id or 0]),
        ("Role", person.role),
        ("Language", LANGUAGE_NAMES.get(person.language, person.language)),
        ("Agreed to texts", yes_no[person.contact_sms]),
        ("Agreed to letters", yes_no[person.contact_letter]),
        ("Safeguarding flag", yes_no[person.safeguarding_flag]),
    )
    title = "Enrolled: eligible" if person.eligible else "Enrolled: not eligible"
    if not person.eligible:
        details = (("Why", _exclusion(person, context)), *details)
    entries = [Entry(context.local(person.enrolled_at), ENROLLED, title, details)]
    if person.purged_at is not None:
        why = (("Why", "The trial closed: names, numbers and addresses were deleted"),)
        entries.append(
            Entry(context.local(person.purged_at), PURGED, "Contact details removed", why)
        )
    return entries


def _assignments(session: Session, ids: list[int]) -> list[tuple[Assignment, Arm]]:
    query = (
        select(Assignment, Arm)
        .join(Arm, col(Arm.id) == Assignment.arm_id)
        .where(col(Assignment.participant_id).in_(ids))
    )
    return list(session.exec(query).all())


def _allocations(
    assignments: Sequence[tuple[Assignment, Arm]], definition: TrialDefinition, context: _Context
) -> list[Entry]:
    """The arm, with the stratum and the cluster where the design has them."""
    population = definition.population
    entries = []
    for assignment, arm in assignments:
        details: Rows = (("Arm", arm.title), *context.case_of(assignment.participant_id))
        if population.strata:
            details += (("Stratum", stratum_words(assignment.stratum, context.labels)),)
        if population.unit != "participant":
            details += (("Randomised with", cluster_words(population.unit, assignment.unit)),)
        at = context.local(assignment.assigned_at)
        entries.append(Entry(at, ALLOCATED, f"Allocated to {arm.title}", details))
    return entries


def _hearings(session: Session, people: Sequence[Participant], context: _Context) -> list[Entry]:
    """Each hearing as it stood when the person was enrolled, then every change after."""
    since: dict[int, datetime] = {}
    for person in people:
        since[person.case_id] = min(
            person.enrolled_at, since.get(person.case_id, person.enrolled_at)
        )
    hearings = session.exec(select(Hearing).where(col(Hearing.case_id).in_(since))).all()
    changes: dict[int, list[HearingChange]] = defaultdict(list)
    for change in session.exec(
        select(HearingChange)
        .where(col(HearingChange.hearing_id).in_([h.id for h in hearings]))
        .order_by(col(HearingChange.recorded_at), col(HearingChange.id))
    ).all():
        changes[change.hearing_id].append(change)
    case_refs = {p.case_id: context.cases[p.id or 0] for p in people}
    entries = []
    for hearing in hearings:
        enrolled, history = since[hearing.case_id], changes[hearing.id or 0]
        status, starts = _as_listed(hearing, history, enrolled)
        details: Rows = (
            ("Case", case_refs[hearing.case_id]),
            ("Court", hearing.court_name),
            ("Status", humanise(status)),
        )
        title = f"Hearing listed for {context.when(starts)}"
        entries.append(Entry(context.local(enrolled), HEARING, title, details))
        entries += [_change(c, context) for c in history if c.recorded_at > enrolled]
    return entries


def _as_listed(
    hearing: Hearing, history: list[HearingChange], enrolled: datetime
) -> tuple[str, datetime]:
    """The hearing's status and start when the person was enrolled, from its history."""
    before = [c for c in history if c.recorded_at <= enrolled]
    if before:
        return before[-1].status, before[-1].starts_at
    if history:
        return history[0].previous_status, history[0].previous_starts_at
    return hearing.status, hearing.starts_at


def _change(change: HearingChange, context: _Context) -> Entry:
    """A hearing moved, vacated, concluded or listed again, with what it was before."""
    details: Rows = (
        ("Was", f"{context.when(change.previous_starts_at)} ({humanise(change.previous_status)})"),
        ("Now", f"{context.when(change.starts_at)} ({humanise(change.status)})"),
        ("Recorded from", source_words(change.source)),
    )
    if change.status in HEARING_ENDED:
        details += (("Reminders", "Nothing more is sent for this hearing"),)
    title = change_title(change)
    return Entry(context.local(change.recorded_at), HEARING, title, details)


def _messages(session: Session, ids: list[int], context: _Context) -> list[Entry]:
    """Each message at its due time, with its status now and every change on the way."""
    messages = session.exec(
        select(Message)
        .where(col(Message.participant_id).in_(ids))
        .order_by(col(Message.due_at), col(Message.id))
    ).all()
    steps: dict[int, list[Step]] = defaultdict(list)
    for event in session.exec(
        select(MessageEvent)
        .where(col(MessageEvent.message_id).in_([m.id for m in messages]))
        .order_by(col(MessageEvent.occurred_at), col(MessageEvent.id))
    ).all():
        steps[event.message_id].append(Step(context.local(event.occurred_at), event_words(event)))
    entries = []
    for message in messages:
        language = LANGUAGE_NAMES.get(message.language, message.language)
        title = f"{channel_label(message.channel)}: {message.template}"
        hearing = "as first listed" if message.hearing_version == 1 else "after it changed"
        details: Rows = (
            ("Due", context.when(message.due_at)),
            ("Status now", status_words(message.status, message.reason)),
            ("Language", language),
            ("For the hearing", hearing),
            *context.case_of(message.participant_id),
        )
        at = context.local(message.due_at)
        entries.append(Entry(at, MESSAGE, title, details, tuple(steps[message.id or 0])))
    return entries


def _replies(session: Session, ids: list[int], context: _Context) -> list[Entry]:
    """Replies from their number: what kind, what Nudge did, and (for staff) who handled it."""
    replies = session.exec(
        select(InboundMessage)
        .where(col(InboundMessage.participant_id).in_(ids))
        .order_by(col(InboundMessage.received_at), col(InboundMessage.id))
    ).all()
    entries = []
    for reply in replies:
        kind, done = REPLIES.get(reply.kind, (reply.kind, ""))
        details: Rows = (("What Nudge did", done),) if done else ()
        if reply.kind == "other":
            handled = "Not yet"
            if reply.handled_at is not None:
                handled = f"{context.when(reply.handled_at)} by {reply.handled_by or 'staff'}"
            details += (("Handled", handled),)
        at = context.local(reply.received_at)
        text = hide_numbers(reply.body)
        entries.append(Entry(at, REPLY, f"Replied {kind}", details, reply=text))
    return entries


def _opt_outs(session: Session, phones: list[str], context: _Context) -> list[Entry]:
    """An opt-out of their number, from whichever trial it came: it stops their texts here too."""
    found = session.exec(select(OptOut).where(col(OptOut.phone).in_(phones))).all()
    return [
        Entry(
            context.local(opt_out.opted_out_at),
            OPT_OUT,
            "Opted out of texts",
            (
                ("How", opted_out_how(opt_out.source)),
                (
                    "Applies to",
                    "Every text to their number, in every trial, until they reply START",
                ),
            ),
        )
        for opt_out in found
    ]


def _outcomes(session: Session, ids: list[int], context: _Context) -> list[Entry]:
    """Each outcome as recorded, corrections included (the value replaced says when)."""
    outcomes = session.exec(
        select(Outcome)
        .where(col(Outcome.participant_id).in_(ids))
        .order_by(col(Outcome.recorded_at), col(Outcome.id))
    ).all()
    defined = {o.id: o for o in context.labels.definition.outcomes}
    entries = []
    for outcome in outcomes:
        value = value_words(defined.get(outcome.outcome_key), outcome.value, outcome.number)
        details: Rows = (
            ("Recorded as", f"{outcome.outcome_key}: {value}"),
            ("Recorded from", source_words(outcome.source)),
            *context.case_of(outcome.participant_id),
        )
        if outcome.replaced_at is not None:
            details += (("Replaced", f"{context.when(outcome.replaced_at)} by a correction"),)
        title = f"Outcome recorded: {context.labels.outcome(outcome.outcome_key)}"
        entries.append(Entry(context.local(outcome.recorded_at), OUTCOME, title, details))
    return entries
