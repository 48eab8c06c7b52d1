"""The message log's filters, read from the query string so that a filtered view is a link.

A filter that cannot be used is reported at its field and left out; the others still apply,
so one mistyped date does not turn a narrow view into every message of the trial.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import DateField, StringField
from wtforms.validators import AnyOf, Length, Optional, ValidationError

from experiments.dates import RANGE_TEXT, in_range
from experiments.keys import normalise_key
from messages.log import LogFilters
from nudge.models import MESSAGE_STATUSES, MessageStatus, Reason

CHANNELS = ("sms", "letter")
MAX_REF = 100
REASON_CODES = frozenset(reason.value for reason in Reason)


class LogDateField(DateField):
    """A date filter whose error says what to type, naming the field."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(f"{self.label.text} must be a real date, like 2027-03-10") from None

    def pre_validate(self, form: Any) -> None:
        # A day past 9999-12-31 cannot be built, so the log's end of day would overflow.
        if self.data and not in_range(self.data):
            raise ValidationError(f"{self.label.text} must be a date {RANGE_TEXT}")


def _reference(value: str | None) -> str | None:
    """A reference as imports store it (experiments/keys.py), so a pasted one matches."""
    return normalise_key(value) if value else value


class LogFilterForm(FlaskForm):
    """The filters; `arm_titles` and `reasons` are set from the trial before validating."""

    class Meta:
        csrf = False  # a GET form that changes nothing

    status = StringField(
        "Status",
        validators=[Optional(), AnyOf(MESSAGE_STATUSES, message="Choose a status from the list")],
    )
    channel = StringField(
        "Channel",
        validators=[Optional(), AnyOf(CHANNELS, message="Choose a channel from the list")],
    )
    arm = StringField("Arm", validators=[Optional()])
    reason = StringField("Reason", validators=[Optional()])
    due_from = LogDateField("Due from", validators=[Optional()])
    due_to = LogDateField("Due to", validators=[Optional()])
    ref = StringField(
        "Participant reference",
        filters=[_reference],
        validators=[
            Optional(),
            Length(
                max=MAX_REF, message=f"Participant reference must be {MAX_REF} characters or fewer"
            ),
        ],
    )
    arm_titles: dict[str, str] = {}  # key: title, in the trial's order
    reasons: tuple[str, ...] = ()  # the codes this trial's messages carry

    def validate_arm(self, field: Any) -> None:
        if field.data not in self.arm_titles:
            raise ValidationError(
                f"Choose an arm from the list: this trial has no arm '{field.data}'"
            )

    def validate_reason(self, field: Any) -> None:
        # Any reason Nudge knows, even one no message has yet, so a saved link stays valid.
        if field.data not in self.reasons and field.data not in REASON_CODES:
            raise ValidationError("Choose a reason from the list")

    def validate_due_to(self, field: Any) -> None:
        start = None if self.due_from.errors else self.due_from.data
        if field.data and start and field.data < start:
            raise ValidationError("Due to must be the same as or after Due from")

    def filters(self) -> LogFilters:
        """The filters that can be used; one with an error is left out."""
        kept = {name: self[name].data or None for name in self._fields if not self[name].errors}
        status = kept.get("status")
        return LogFilters(
            status=MessageStatus(status) if status else None,
            channel=kept.get("channel"),
            arm=kept.get("arm"),
            reason=kept.get("reason"),
            due_from=kept.get("due_from"),
            due_to=kept.get("due_to"),
            participant_ref=kept.get("ref"),
        )

    def refused(self) -> list[str]:
        """The names of the filters left out, in the form's order."""
        return [name for name in self._fields if self[name].errors]
