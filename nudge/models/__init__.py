"""All tables, imported in one place so Alembic and the app see the whole schema."""

from nudge.models.access import (
    NATIONAL,
    ROLES,
    AuditEvent,
    Membership,
    Organisation,
    PasswordLink,
    User,
)
from nudge.models.logins import EndedWebSession, LoginFailure
from nudge.models.messaging import InboundMessage, Message, MessageEvent, OptOut, SendWindow
from nudge.models.outcomes import Outcome
from nudge.models.people import (
    AllocatedUnit,
    Assignment,
    Case,
    CaseMilestone,
    Hearing,
    HearingChange,
    Participant,
    StratumCounter,
)
from nudge.models.results import GuardrailBreach, GuardrailRun, InterimLook, ResultsCache
from nudge.models.statuses import (
    HEARING_ENDED,
    HEARING_STATUSES,
    MESSAGE_STATUSES,
    TRIAL_STATUSES,
    EventStatus,
    HearingStatus,
    MessageStatus,
    ProviderStatus,
    Reason,
    TrialStatus,
    provider_reason,
)
from nudge.models.surveys import AnswerStatus, SurveyAnswer
from nudge.models.trials import Arm, Pause, Trial, TrialSite, TrialVersion

__all__ = [
    "HEARING_ENDED",
    "HEARING_STATUSES",
    "MESSAGE_STATUSES",
    "NATIONAL",
    "ROLES",
    "TRIAL_STATUSES",
    "AllocatedUnit",
    "AnswerStatus",
    "Arm",
    "Assignment",
    "AuditEvent",
    "Case",
    "CaseMilestone",
    "EndedWebSession",
    "EventStatus",
    "Hearing",
    "HearingChange",
    "HearingStatus",
    "InboundMessage",
    "LoginFailure",
    "Membership",
    "Message",
    "MessageEvent",
    "MessageStatus",
    "OptOut",
    "Organisation",
    "Outcome",
    "Participant",
    "Pause",
    "PasswordLink",
    "ProviderStatus",
    "Reason",
    "GuardrailBreach",
    "GuardrailRun",
    "InterimLook",
    "ResultsCache",
    "SendWindow",
    "StratumCounter",
    "SurveyAnswer",
    "Trial",
    "TrialStatus",
    "TrialSite",
    "TrialVersion",
    "User",
    "provider_reason",
]
