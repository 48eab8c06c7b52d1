"""Which messages still make sense once a hearing is off or a case has ended: one pure rule.

Used at planning, by the import that records a change (with everything known about the case),
and at the last check before sending (with only the hearing's status, which dispatch reads with
each message anyway). docs/messages.md, "When a hearing is off or a case ends", has the table.

- A **hearing called off** (vacated) stops the messages timed from it or about its move
  (`hearing_vacated`); the case goes on, so milestones' messages still go.
- A **case that ends** (withdrawn, discontinued, concluded, or a `verdict` recorded) stops
  every message except those about the ending itself or what comes after it (`case_ended`):
  - withdrawn or discontinued: only the `on: hearing_vacated` message ("you no longer need to
    come on ...");
  - concluded or a verdict: messages timed after the hearing (a thank-you), unless it was
    called off, and messages of the ending milestone or one declared after it in `milestones:`
    (an outcome message `of: verdict`, a sentence).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from experiments.definition import HEARING
from nudge.models.statuses import HEARING_ENDED, HearingStatus, Reason, Timing

ENDING_MILESTONES = ("verdict",)  # a case with one of these recorded has ended
_WITHDRAWN = frozenset({HearingStatus.WITHDRAWN, HearingStatus.DISCONTINUED})


def stop_reason(
    anchor: str,
    timing: str,
    hearing_status: str,
    *,
    reached: Collection[str] = (),
    declared: Sequence[str] | None = None,
) -> Reason | None:
    """Why a message of a case must not go now, or None if it still makes sense.

    `anchor` and `timing` are the message's; `reached`, the milestones the case has a date for;
    `declared`, the trial's milestones in their declared order. Without `declared` (the last
    check at sending, which reads no milestones) a milestone's message is left to the import
    that ended the case, which had them.
    """
    if hearing_status in _WITHDRAWN:
        return None if timing == Timing.HEARING_VACATED else Reason.CASE_ENDED
    ended = hearing_status == HearingStatus.CONCLUDED or any(
        name in reached for name in ENDING_MILESTONES
    )
    if anchor == HEARING:
        if timing == Timing.HEARING_VACATED:  # "you need not come": wrong once it is on again
            return None if hearing_status in HEARING_ENDED else Reason.DATES_CHANGED
        if hearing_status == HearingStatus.VACATED:
            return Reason.CASE_ENDED if ended else Reason.HEARING_VACATED
        return Reason.CASE_ENDED if ended and timing != Timing.AFTER else None
    if not ended or declared is None:
        return None
    return None if _at_or_after_the_ending(anchor, declared) else Reason.CASE_ENDED


def _at_or_after_the_ending(milestone: str, declared: Sequence[str]) -> bool:
    """Whether a milestone is the one that ends a case, or declared after it."""
    endings = [declared.index(name) for name in ENDING_MILESTONES if name in declared]
    return bool(endings) and milestone in declared and declared.index(milestone) >= min(endings)
