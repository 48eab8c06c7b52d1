"""All tables, imported in one place so Alembic and the app see the whole schema."""

from nudge.models.access import ROLES, AuditEvent, PasswordLink, User
from nudge.models.logins import EndedWebSession, LoginFailure
from nudge.models.messaging import (
    MESSAGE_STATUSES,
    InboundMessage,
    Message,
    MessageEvent,
    OptOut,
    SendWindow,
)
from nudge.models.outcomes import Outcome
from nudge.models.people import (
    HEARING_STATUSES,
    AllocatedUnit,
    Assignment,
    Case,
    Hearing,
    HearingChange,
    Participant,
    StratumCounter,
)
from nudge.models.results import ResultsCache
from nudge.models.trials import TRIAL_STATUSES, Arm, Trial, TrialVersion

__all__ = [
    "HEARING_STATUSES",
    "MESSAGE_STATUSES",
    "ROLES",
    "TRIAL_STATUSES",
    "AllocatedUnit",
    "Arm",
    "Assignment",
    "AuditEvent",
    "Case",
    "EndedWebSession",
    "Hearing",
    "HearingChange",
    "InboundMessage",
    "LoginFailure",
    "Message",
    "MessageEvent",
    "OptOut",
    "Outcome",
    "Participant",
    "PasswordLink",
    "ResultsCache",
    "SendWindow",
    "StratumCounter",
    "Trial",
    "TrialVersion",
    "User",
]
