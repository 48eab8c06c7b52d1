"""The trial definition: the pydantic schema of a trial's YAML file (extra keys forbidden)."""

from __future__ import annotations

import re
import unicodedata
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    Tag,
    field_validator,
    model_serializer,
    model_validator,
)

if TYPE_CHECKING:
    # Imported where used: nudge.models loads every table (SQLModel, SQLAlchemy), which reading
    # a definition for a flat file's analysis does not need.
    from nudge.models.statuses import Timing

Scalar = bool | int | float | str
RULE_OPERATORS = ("equals", "in", "min", "max", "present")
CANONICAL_UNITS = ("participant", "case", "household")
SLUG = r"^[a-z0-9][a-z0-9_-]*$"
# Each enrolment builds a whole block in memory: the weights bound the default block sizes
# (docs/trial-definition.md).
MAX_TOTAL_WEIGHT = 100
# A label names a thing inside a sentence or a table heading: a phrase, not a paragraph.
MAX_LABEL = 80


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _label_text(value: str) -> str:
    """A label is one short line of text: it is set inside sentences, headings and CSV cells."""
    text = value.strip()
    if not text:
        raise ValueError("a label must not be blank; give a few words, or leave label out")
    if len(text) > MAX_LABEL:
        raise ValueError(
            f"a label is a short phrase of at most {MAX_LABEL} characters (this one has "
            f"{len(text)}); put the longer text in description"
        )
    control = next((c for c in text if unicodedata.category(c) in ("Cc", "Zl", "Zp")), None)
    if control is not None:
        raise ValueError(
            f"a label is one line of plain text: remove the control character U+{ord(control):04X}"
        )
    return text


# Optional everywhere, and left out of the canonical form when not given, so a definition
# launched before labels existed keeps its SHA-256 and still loads.
Label = Annotated[str, AfterValidator(_label_text)]


def _no_label(value: Any) -> bool:
    return value is None


def label_field() -> Any:
    return Field(default=None, exclude_if=_no_label)


class Rule(Strict):
    """A declarative test on one participant column: exactly one of the operators.

    Its `label` says in words why someone fails an eligibility rule ("did not agree to texts");
    on an outcome's population it names who is analysed ("victims").
    """

    field: str
    equals: Scalar | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in")
    min: float | None = None
    max: float | None = None
    present: bool | None = None
    label: Label | None = label_field()

    @model_validator(mode="after")
    def _one_operator(self) -> Rule:
        given = [op for op in RULE_OPERATORS if _field_name(op) in self.model_fields_set]
        empty = [op for op in given if getattr(self, _field_name(op)) is None]
        if empty:
            raise ValueError(
                f"'{empty[0]}' needs a value to compare {self.field} with (it is empty here)"
            )
        if len(given) != 1:
            raise ValueError(
                f"a rule needs exactly one of {', '.join(RULE_OPERATORS)} "
                f"(this one has {', '.join(given) if given else 'none'})"
            )
        return self

    @property
    def operator(self) -> str:
        return next(op for op in RULE_OPERATORS if _field_name(op) in self.model_fields_set)

    @model_serializer(mode="wrap")
    def _field_and_operator(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A rule stored as written: its field and its one operator, not four empty ones."""
        data = handler(self)
        key = self.operator if self.operator in data else _field_name(self.operator)
        written = {"field": data["field"], key: data[key]}
        return written | ({"label": self.label} if self.label is not None else {})

    def describe(self) -> str:
        """The rule as a researcher wrote it: `age min 18.0`, the key each participant's
        failed rule is stored under (analysis/labels.py says it in words)."""
        value = getattr(self, _field_name(self.operator))
        return f"{self.field} {self.operator} {value}"


def _field_name(operator: str) -> str:
    return "in_" if operator == "in" else operator


def _not_given(value: Any) -> bool:
    return value is None


def _absent() -> Any:
    """An optional key left out of the canonical form when not given, so that definitions
    written before it existed keep their SHA-256."""
    return Field(default=None, exclude_if=_not_given)


HouseholdKey = Literal["phone", "address"]


class Population(Strict):
    unit: str = "participant"
    strata: list[str] = []
    eligibility: list[Rule] = []
    # With `unit: household`, what makes people one household: a shared mobile number, a
    # shared address, or either (docs/randomisation.md). Left out of the canonical form when
    # not given, so earlier trials keep their SHA-256.
    household: list[HouseholdKey] | None = _absent()

    @model_validator(mode="after")
    def _household_with_its_unit(self) -> Population:
        if self.household is not None and self.unit != "household":
            raise ValueError(
                "household says what makes a household, for unit: household; set that unit "
                "or remove household"
            )
        if self.household is not None and not self.household:
            raise ValueError("household: list phone, address, or both")
        return self

    @property
    def household_keys(self) -> tuple[HouseholdKey, ...]:
        """What links people into one household (both, unless the trial says otherwise)."""
        return tuple(dict.fromkeys(self.household or ("phone", "address")))


PausedArmEnrolment = Literal["allocate", "exclude"]


class Randomisation(Strict):
    method: Literal["simple", "permuted_blocks"] = "permuted_blocks"
    block_sizes: list[int] | None = None
    seed: int | None = None
    # While an arm is paused: go on allocating to it (its messages held), or allocate new units
    # among the open arms only (experiments/allocation.py). Left out of the canonical form when
    # not given, so earlier trials keep their SHA-256.
    paused_arm_enrolment: PausedArmEnrolment | None = _absent()

    @property
    def excludes_paused_arms(self) -> bool:
        return self.paused_arm_enrolment == "exclude"


HEARING = "hearing"  # the built-in anchor: the hearing's start
OFFSETS = ("days_before", "days_after", "hours_before", "hours_after")
HEARING_EVENTS = ("hearing_moved", "hearing_vacated")
MILESTONE_EVENT = "milestone "  # `on: "milestone charged"`
MAX_DAYS = 365


def _is_hearing(value: str) -> bool:
    return value == HEARING


class SendTime(Strict):
    """When a timed message goes: exactly one offset from its anchor, `of` (the hearing unless
    named; docs/trial-definition.md). Whole days keep the local time `at`; hours are hours."""

    days_before: int | None = Field(default=None, ge=0, le=MAX_DAYS, exclude_if=_not_given)
    days_after: int | None = Field(default=None, ge=0, le=MAX_DAYS, exclude_if=_not_given)
    hours_before: int | None = Field(default=None, ge=0, le=24 * MAX_DAYS, exclude_if=_not_given)
    hours_after: int | None = Field(default=None, ge=0, le=24 * MAX_DAYS, exclude_if=_not_given)
    # `of: hearing` is what `send:` always meant: written or not, the canonical form is the same.
    of: str = Field(default=HEARING, min_length=1, max_length=100, exclude_if=_is_hearing)
    at: str | None = None

    @model_validator(mode="after")
    def _one_offset(self) -> SendTime:
        given = [key for key in OFFSETS if getattr(self, key) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of {', '.join(OFFSETS)} "
                f"(this one has {', '.join(given) if given else 'none'})"
            )
        return self

    # Cached: planning asks for each of these once a message, for every person enrolled.
    @cached_property
    def offset_key(self) -> str:
        return next(key for key in OFFSETS if getattr(self, key) is not None)

    @cached_property
    def offset(self) -> int:
        value: int = getattr(self, self.offset_key)
        return value

    @cached_property
    def after(self) -> bool:
        return self.offset_key.endswith("_after")

    @cached_property
    def in_hours(self) -> bool:
        return self.offset_key.startswith("hours_")


class MessageSpec(Strict):
    """One message of an arm: timed from an anchor (`send:`) or sent when something happens
    (`on:`: hearing_moved, hearing_vacated, or "milestone NAME"), exactly one of the two."""

    channel: Literal["sms", "letter"]
    template: str
    send: SendTime | None = _absent()
    on: str | None = _absent()

    @model_validator(mode="after")
    def _timed_or_on_an_event(self) -> MessageSpec:
        if (self.send is None) == (self.on is None):
            raise ValueError(
                "a message needs exactly one of send: (a time, e.g. {days_before: 7, at: "
                '"18:00"}) or on: (hearing_moved, hearing_vacated, or "milestone NAME")'
            )
        if self.on is not None and not (
            self.on in HEARING_EVENTS
            or (self.on.startswith(MILESTONE_EVENT) and self.on.removeprefix(MILESTONE_EVENT))
        ):
            raise ValueError(
                f"on: '{self.on}' is not an event; use hearing_moved, hearing_vacated, or "
                '"milestone NAME" with a milestone the trial declares'
            )
        return self

    @cached_property
    def anchor(self) -> str:
        """The date its time counts from, or that its event happens to: the hearing, or a
        milestone's name."""
        if self.send is not None:
            return self.send.of
        assert self.on is not None
        return self.on.removeprefix(MILESTONE_EVENT) if self.on not in HEARING_EVENTS else HEARING

    @cached_property
    def timing(self) -> Timing:
        """How it relates to its anchor: before, after, or on one of the events."""
        from nudge.models.statuses import Timing

        if self.send is not None:
            return Timing.AFTER if self.send.after else Timing.BEFORE
        assert self.on is not None
        return Timing(self.on) if self.on in HEARING_EVENTS else Timing.MILESTONE


def _empty(value: Any) -> bool:
    return not value


def declared_milestones(definition: TrialDefinition) -> list[str]:
    """The names of the trial's milestones in their declared order (the order a case reaches
    them): `of:` and `on: milestone NAME` are checked against it, and a case's ending reads its
    order."""
    return list(definition.milestone_names)


def anchor_names(definition: TrialDefinition) -> list[str]:
    """What `send: {of: ...}` may name: the hearing, then the declared milestones."""
    return [HEARING, *declared_milestones(definition)]


MAX_TAG = 60
MAX_TAGS = 20
# What an arm tests, for pooling trials that share an outcome and a tag (docs/trial-definition.md).
ArmTag = Annotated[str, StringConstraints(pattern=SLUG, max_length=MAX_TAG)]


class Arm(Strict):
    id: str = Field(pattern=SLUG, max_length=100)
    title: str
    description: str | None = None
    control: bool = False
    weight: int = 1
    messages: list[MessageSpec] = []
    # Left out of the canonical form when none are given, so earlier trials keep their SHA-256.
    tags: list[ArmTag] = Field(default_factory=list, max_length=MAX_TAGS, exclude_if=_empty)

    @field_validator("tags")
    @classmethod
    def _tags_once(cls, value: list[str]) -> list[str]:
        repeated = sorted({tag for tag in value if value.count(tag) > 1})
        if repeated:
            raise ValueError(f"tag '{repeated[0]}' is given twice: list each tag once")
        return value


class TemplateFile(Strict):
    """A template kept in its own file, relative to the YAML (for letters)."""

    file: str


def _template_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "text-template"
    if isinstance(value, dict | TemplateFile):
        return "file-template"
    return None


TemplateText = Annotated[
    Annotated[str, Tag("text-template")] | Annotated[TemplateFile, Tag("file-template")],
    Discriminator(
        _template_kind,
        custom_error_type="template_text",
        custom_error_message="should be the text itself or {file: path/to/file}",
    ),
]


class QuietHours(Strict):
    start: str
    end: str


class Sending(Strict):
    quiet_hours: QuietHours | None = QuietHours(start="21:00", end="08:00")
    late: Literal["skip", "next_window"] = "skip"
    max_per_second: float = Field(default=10, gt=0, le=1000)
    sms_from: str | None = None
    # GOV.UK Notify's id of the text sender to use (NUDGE_SMS_PROVIDER=notify), instead of
    # NOTIFY_SMS_SENDER_ID; left out of the canonical form when not given, so earlier trials
    # keep their SHA-256.
    notify_sms_sender_id: str | None = Field(default=None, exclude_if=_no_label)
    care_unit_phone: str | None = None
    help_text: str = "Court date reminders. Reply STOP to opt out."


# Words and phrases that may mean a reply tells of distress, intimidation or a safeguarding
# concern: such a reply is flagged and put first in the replies queue (docs/trial-definition.md,
# `replies`). Matched as whole words, so each form a person might write is listed.
DEFAULT_TRIAGE_WORDS = (
    # distress
    "scared",
    "frightened",
    "afraid",
    "terrified",
    "panic",
    "panicking",
    "can't cope",
    "cannot cope",
    "not coping",
    "desperate",
    "suicide",
    "suicidal",
    "kill myself",
    "end it all",
    "end my life",
    "self harm",
    "self-harm",
    "hurt myself",
    "overdose",
    # intimidation
    "threat",
    "threats",
    "threaten",
    "threatened",
    "threatening",
    "intimidated",
    "intimidation",
    "intimidating",
    "harassed",
    "harassing",
    "harassment",
    "stalking",
    "stalked",
    "followed me",
    "following me",
    "watching me",
    "warned me",
    "told me not to",
    "pressured",
    "bribe",
    "bribed",
    "revenge",
    # safeguarding
    "unsafe",
    "not safe",
    "danger",
    "hurt me",
    "hit me",
    "beat me",
    "attacked",
    "assaulted",
    "abuse",
    "abused",
    "abusive",
    "violence",
    "violent",
    "weapon",
    "knife",
    "999",
    "help me",
)
MAX_TRIAGE_WORD = 60


def _triage_word(value: str) -> str:
    """One word or short phrase, its spaces tidied, with a letter or digit to match on."""
    text = " ".join(value.split())
    if not any(c.isalnum() for c in text):
        raise ValueError("a triage word needs at least one letter or digit")
    if len(text) > MAX_TRIAGE_WORD:
        raise ValueError(
            f"a triage word is a word or short phrase of at most {MAX_TRIAGE_WORD} characters "
            f"(this one has {len(text)})"
        )
    control = next((c for c in text if unicodedata.category(c) == "Cc"), None)
    if control is not None:
        raise ValueError(f"a triage word is plain text: remove the character U+{ord(control):04X}")
    return text


def _number_as_word(value: Any) -> Any:
    """`999` written bare in YAML is a number; as a triage word it is the digits."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


TriageWord = Annotated[str, BeforeValidator(_number_as_word), AfterValidator(_triage_word)]


class Replies(Strict):
    """How staff are shown the free-text replies people send back."""

    triage_words: list[TriageWord] = Field(
        default_factory=lambda: list(DEFAULT_TRIAGE_WORDS), max_length=500
    )


GuardrailMetric = Literal[
    "opt_out_rate", "failed_rate", "distress_rate", "returned_letter_rate", "outcome"
]
# An address mail can be sent to; whether it exists only the mail server can tell.
EmailAddress = Annotated[
    str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=255)
]


class Guardrail(Strict):
    """One safety threshold (docs/trial-definition.md, "guardrails"): an arm breaches it when
    a one-sided test shows its rate above `max`, or above control's by more than `max_excess`."""

    metric: GuardrailMetric
    outcome: str | None = _absent()  # with metric: outcome, the outcome's id
    max: float | None = Field(default=None, ge=0, le=1, exclude_if=_not_given)
    max_excess: float | None = Field(default=None, ge=0, le=1, exclude_if=_not_given)
    # The one-sided test's level: a guardrail is a safety signal, checked daily.
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    pause: bool = False  # pause the breaching arm at once (messages/pausing.py)

    @model_validator(mode="after")
    def _one_threshold(self) -> Guardrail:
        if (self.max is None) == (self.max_excess is None):
            raise ValueError(
                f"guardrail {self.metric}: give exactly one of max (a rate no arm may exceed) "
                "or max_excess (how far above control an arm may be)"
            )
        if (self.metric == "outcome") != (self.outcome is not None):
            raise ValueError(
                "a guardrail on an outcome names it (metric: outcome, outcome: withdrew); "
                "other metrics take no outcome"
            )
        return self


class Guardrails(Strict):
    """The trial's safety monitoring: who is told of a breach, and the thresholds."""

    contacts: list[EmailAddress] = Field(min_length=1, max_length=20)
    checks: list[Guardrail] = Field(min_length=1, max_length=20)


# The hearing's date is built in (every case has one): a milestone of that name would be two.
RESERVED_MILESTONES = ("hearing",)
MAX_MILESTONE_NAME = 100
_MILESTONE_NAME = re.compile(SLUG)


def _no_milestones(value: Any) -> bool:
    return not value


class Milestone(Strict):
    """A case milestone the trial uses (`charged`, `verdict`), and the enrolment column that
    carries its date, when the export has one. `verdict` is short for `{name: verdict}`."""

    name: str
    column: str | None = Field(default=None, exclude_if=_no_label)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @field_validator("name")
    @classmethod
    def _milestone_name(cls, value: str) -> str:
        if value in RESERVED_MILESTONES:
            raise ValueError(
                f"'{value}' is the built-in hearing, which every case has (its date comes from "
                "hearing_start and nudge hearings update); give this milestone another name, "
                "such as trial_listed"
            )
        if not _MILESTONE_NAME.match(value) or len(value) > MAX_MILESTONE_NAME:
            raise ValueError(
                f"'{value}' is not a milestone name: use lower-case letters, digits, - and _ "
                f"(at most {MAX_MILESTONE_NAME} characters), e.g. charged or trial_listed"
            )
        return value

    @field_validator("column")
    @classmethod
    def _column_named(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError(
                "a column must not be blank; name the export's column, or leave it out"
            )
        return value


OutcomeType = Literal["binary", "scale", "count", "continuous"]


def _binary(value: Any) -> bool:
    return value == "binary"


def _reads_as_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


class Scale(Strict):
    """The answers a `scale` outcome takes: whole numbers from `min` to `max`, lowest first,
    each optionally with its meaning in words (`labels: {1: not at all confident, ...}`)."""

    min: int
    max: int
    labels: dict[int, Label] = {}

    @model_validator(mode="after")
    def _ordered(self) -> Scale:
        if self.max <= self.min:
            raise ValueError(
                f"a scale runs from min to max: max ({self.max}) must be above min ({self.min})"
            )
        if not 2 <= self.max - self.min + 1 <= 11:
            raise ValueError("a scale has between 2 and 11 points; use type: count or continuous")
        outside = sorted(k for k in self.labels if not self.min <= k <= self.max)
        if outside:
            raise ValueError(
                f"labels {outside} are outside the scale {self.min} to {self.max}; "
                "label only its points"
            )
        # An outcome file may give a point by its words (experiments/outcome_values.py), so
        # each label must name one point, and none may read as a number.
        seen: dict[str, int] = {}
        for point, label in sorted(self.labels.items()):
            words = " ".join(label.split()).casefold()
            if words in seen:
                raise ValueError(
                    f"points {seen[words]} and {point} have the same label '{label}': "
                    "give each point its own words"
                )
            if _reads_as_number(words):
                raise ValueError(
                    f"the label of point {point} ('{label}') reads as a number: use words, "
                    "such as 'fairly confident'"
                )
            seen[words] = point
        return self


class Outcome(Strict):
    id: str = Field(pattern=SLUG, max_length=100)
    # binary (yes/no, the default), scale (whole numbers min to max: `scale:`), count (whole
    # numbers from 0) or continuous (any number). Left out of the canonical form when binary,
    # so a trial launched before types existed keeps its SHA-256.
    type: OutcomeType = Field(default="binary", exclude_if=_binary)
    scale: Scale | None = _absent()
    # A noun phrase for sentences: "Practical information raised attendance from 71% to 82%".
    label: Label | None = label_field()
    primary: bool = False
    description: str | None = None
    population: Rule | None = None
    # Which way is good: attendance is better higher, withdrawal lower. It decides what
    # "probability better" and "cost per event gained" mean, never an estimate or a test.
    better: Literal["higher", "lower"] = "higher"

    @model_validator(mode="after")
    def _scale_with_scale(self) -> Outcome:
        if self.type == "scale" and self.scale is None:
            raise ValueError(
                f"outcome '{self.id}' is a scale: give its points, e.g. "
                "scale: {min: 1, max: 5, labels: {1: not at all, 5: very}}"
            )
        if self.type != "scale" and self.scale is not None:
            raise ValueError(
                f"outcome '{self.id}' has a scale but is {self.type}: "
                "set type: scale, or remove the scale"
            )
        return self


SURVEY_ID_LENGTH = 60  # "survey:ID:reminder" fits a message's template column
SurveyTexts = dict[str, str]  # language code -> the text


def _no_words(value: Any) -> bool:
    return not value


class SurveyReminder(Strict):
    """One reminder, `after_hours` after the question was due, if no answer has come."""

    after_hours: int = Field(ge=1, le=24 * 30)
    text: SurveyTexts | None = _absent()


class SurveyClose(Strict):
    """When a question stops taking answers: whole days after it was sent."""

    days_after_sent: int = Field(ge=1, le=90)


class Survey(Strict):
    """A question sent by text to every randomised person who agreed to texts, whatever their
    arm (docs/trial-definition.md, `surveys`): its answers are the values of one outcome."""

    id: str = Field(pattern=SLUG, max_length=SURVEY_ID_LENGTH)
    outcome: str
    text: SurveyTexts
    send: SendTime
    # The words accepted, per language, with the value each means (`en: {yes: true, no:
    # false}`): required for a yes/no outcome; a scale's numbers are always accepted.
    words: dict[str, dict[str, bool | int]] = Field(default_factory=dict, exclude_if=_no_words)
    reminder: SurveyReminder | None = _absent()
    closes: SurveyClose
    # The text sent once after an answer that cannot be read; a plain default otherwise.
    clarify: SurveyTexts | None = _absent()

    @cached_property
    def spec(self) -> MessageSpec:
        """The question as a message every arm sends: planned, checked and sent like one."""
        return MessageSpec(channel="sms", template=f"survey:{self.id}", send=self.send)


ColumnType = Literal["numeric", "categorical", "flag"]


class Column(Strict):
    """How the analysis reads one covariate, stratum or subgroup column.

    ``bins`` (numeric columns used as subgroups) are the cut points between the subgroup's
    levels, ascending; ``label`` names the column for people ("previous failure to attend").
    """

    type: ColumnType
    bins: list[float] | None = None
    label: Label | None = label_field()

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        """`age: numeric` is short for `age: {type: numeric}`; a label needs its type beside it."""
        if isinstance(value, str):
            return {"type": value}
        if isinstance(value, dict) and "type" not in value and "label" in value:
            raise ValueError(
                "give the column's type with its label, e.g. "
                "{type: flag, label: previous failure to attend} (numeric, categorical or flag)"
            )
        return value


class Interim(Strict):
    """Planned interim looks (docs/trial-definition.md): the information fractions of the
    designed sample at which the `on` comparison is looked at, and how alpha is spent."""

    looks: list[float] = Field(min_length=1, max_length=10)
    spending: Literal["obrien_fleming", "pocock"] = "obrien_fleming"
    on: str = "primary"  # an outcome id, or the primary outcome
    # The designed sample: randomised participants whose `on` outcome is known at the end.
    sample_size: int = Field(ge=2)

    @field_validator("looks")
    @classmethod
    def _fractions(cls, value: list[float]) -> list[float]:
        if any(not 0 < t <= 1 for t in value):
            raise ValueError(
                "each look is a share of the designed sample, above 0 and at most 1 "
                "(0.5 is halfway)"
            )
        if any(b <= a for a, b in zip(value, value[1:], strict=False)):
            raise ValueError("looks must be listed in increasing order, each once")
        if value[-1] != 1:
            raise ValueError("the last look is the final analysis: end the list with 1.0")
        return value


PositiveNumber = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class AnalysisPlan(Strict):
    alpha: float = Field(default=0.05, gt=0, le=0.5)
    correction: Literal["holm", "bonferroni", "none"] = "holm"
    continuity: Literal["none", "yates"] = "none"
    missing: Literal["drop", "indicator"] = "drop"
    covariates: list[str] = []
    subgroups: list[str] = []
    minimum_detectable_effect: float | None = Field(default=None, gt=0, lt=1)
    baseline_rate: float | None = Field(default=None, gt=0, lt=1)
    # For a scale, count or measurement primary outcome instead: the difference in means to
    # detect, in the outcome's units, with the outcome's SD; or that difference in SDs
    # (standardised). Left out of the canonical form when not given.
    minimum_detectable_difference: PositiveNumber | None = _absent()
    outcome_sd: PositiveNumber | None = _absent()
    minimum_detectable_standardised: PositiveNumber | None = _absent()
    # Intracluster correlation of the primary outcome for the design's power calculation
    # when the unit is not the participant (the observed one is used when absent).
    icc: float | None = Field(default=None, ge=0, lt=1)
    # Below this many randomisation units in an arm, a clustered trial's intervals carry a
    # warning that they are unreliable.
    min_clusters_per_arm: int = Field(default=10, ge=2)
    # The type of each covariate, stratum and subgroup column (see docs/trial-definition.md).
    columns: dict[str, Column] = {}
    # Planned interim looks; left out of the canonical form when not planned, so a trial
    # launched before they existed keeps its SHA-256.
    interim: Interim | None = _absent()

    @property
    def design_standardised(self) -> float | None:
        """The design's difference in means in SDs (Cohen's d), for a non-binary primary."""
        if self.minimum_detectable_standardised is not None:
            return self.minimum_detectable_standardised
        if self.minimum_detectable_difference is not None and self.outcome_sd is not None:
            return self.minimum_detectable_difference / self.outcome_sd
        return None


MAX_SOURCE = 500


def _source_text(value: str) -> str:
    """Where a cost comes from, in words a reader can follow up: one short paragraph."""
    text = " ".join(value.split())
    if not text:
        raise ValueError(
            "say where the figure comes from (a report, its year and page), so a reader can "
            "check it"
        )
    if len(text) > MAX_SOURCE:
        raise ValueError(
            f"a source is at most {MAX_SOURCE} characters (this one has {len(text)}); cite the "
            "document and put the working in it"
        )
    return text


# A multi-site trial's site column: each person's site (its organisation's short name) is a
# stratum of the randomisation and a column of the analysis under this name.
SITE_COLUMN = "site"
_SITE_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")  # nudge.organisations.SLUG
MAX_SITES = 50


class Site(Strict):
    """One organisation taking part in a multi-site trial (`avon-somerset`), and the name its
    results go under (the organisation's own name when not given). `gwent` is short for
    `{organisation: gwent}`."""

    organisation: str = Field(max_length=50)
    name: str | None = Field(default=None, exclude_if=_no_label, max_length=200)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"organisation": value} if isinstance(value, str) else value

    @field_validator("organisation")
    @classmethod
    def _a_short_name(cls, value: str) -> str:
        if not _SITE_SLUG.fullmatch(value):
            raise ValueError(
                f"'{value}' is not an organisation's short name: use lower-case letters, digits "
                "and single hyphens, as `nudge orgs list` shows them (such as avon-somerset)"
            )
        return value


def _sites_apart(sites: list[Site]) -> list[Site]:
    if not sites:
        return sites
    if len(sites) < 2:
        raise ValueError(
            "a multi-site trial has at least two sites; for a trial in one area, remove sites "
            "(the trial belongs to the organisation that creates it)"
        )
    if len(sites) > MAX_SITES:
        raise ValueError(f"at most {MAX_SITES} sites")
    seen: set[str] = set()
    for site in sites:
        if site.organisation in seen:
            raise ValueError(f"'{site.organisation}' is listed twice: list each site once")
        seen.add(site.organisation)
    return sites


class EventCost(Strict):
    """What one unwanted result of a yes/no outcome costs the system (a non-attendance when
    higher is better, a withdrawal when lower is better), and where the figure comes from."""

    amount: float = Field(ge=0, allow_inf_nan=False)
    source: Annotated[str, AfterValidator(_source_text)]


class Costs(Strict):
    currency: str = Field(default="GBP", pattern=r"^[A-Z]{3}$")
    sms_segment: float = Field(default=0.0, ge=0)
    letter: float = Field(default=0.0, ge=0)
    # Per outcome id (docs/trial-definition.md, `costs`); left out of the canonical form when
    # none are given, so earlier trials keep their SHA-256.
    cost_of_event: dict[str, EventCost] = Field(default_factory=dict, exclude_if=_empty)


class TrialDefinition(Strict):
    """Everything a researcher pre-registers about one trial."""

    id: str = Field(pattern=SLUG, max_length=100)
    title: str
    hypothesis: str | None = None
    registration: str | None = None
    timezone: str
    population: Population = Population()
    randomisation: Randomisation = Randomisation()
    arms: list[Arm] = Field(min_length=2)
    templates: dict[str, dict[str, TemplateText]] = {}
    sending: Sending = Sending()
    mapping: dict[str, str] = {}
    outcomes: list[Outcome] = Field(min_length=1)
    analysis: AnalysisPlan = AnalysisPlan()
    costs: Costs = Costs()
    # Left out of the canonical form when not given, as labels are, so a trial launched before
    # it existed keeps its SHA-256.
    replies: Replies | None = Field(default=None, exclude_if=_no_label)
    # The case milestones beside the hearing (docs/trial-definition.md); left out of the
    # canonical form when none are declared, so earlier trials keep their SHA-256.
    milestones: list[Milestone] = Field(default_factory=list, exclude_if=_no_milestones)
    # Questions asked by text of everyone randomised, whatever their arm; left out of the
    # canonical form when there are none, so earlier trials keep their SHA-256.
    surveys: list[Survey] = Field(default_factory=list, exclude_if=_no_milestones)
    # Safety monitoring (docs/trial-definition.md); left out of the canonical form when absent.
    guardrails: Guardrails | None = _absent()
    # The organisations a multi-site trial runs in (docs/trial-definition.md, `sites`); left
    # out of the canonical form when absent, so earlier trials keep their SHA-256.
    sites: Annotated[list[Site], AfterValidator(_sites_apart)] = Field(
        default_factory=list, exclude_if=_no_milestones
    )

    @field_validator("title")
    @classmethod
    def _title_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the title must not be blank")
        return value

    @model_validator(mode="after")
    def _site_column_free(self) -> TrialDefinition:
        if self.sites and SITE_COLUMN in self._named_columns():
            raise ValueError(
                f"with sites, '{SITE_COLUMN}' is each person's site, made by Nudge: rename the "
                f"export's column '{SITE_COLUMN}' (in mapping, strata, covariates, subgroups and "
                "rules) to something else, such as court_site"
            )
        return self

    def _named_columns(self) -> set[str]:
        return self.participant_columns() | set(self.mapping.values())

    @property
    def site_slugs(self) -> tuple[str, ...]:
        """The sites' organisations' short names, in the order listed; () for one area."""
        return tuple(site.organisation for site in self.sites)

    @property
    def control_arm(self) -> Arm:
        return next(arm for arm in self.arms if arm.control)

    @property
    def primary_outcome(self) -> Outcome:
        marked = [o for o in self.outcomes if o.primary]
        return marked[0] if marked else self.outcomes[0]

    @property
    def triage_words(self) -> tuple[str, ...]:
        """The words that flag a reply: the trial's own list, or the default one."""
        return tuple(self.replies.triage_words) if self.replies else DEFAULT_TRIAGE_WORDS

    @property
    def milestone_names(self) -> tuple[str, ...]:
        """The declared milestones' names, in the order the definition lists them."""
        return tuple(m.name for m in self.milestones)

    def milestone_columns(self) -> dict[str, str]:
        """Each enrolment column that carries a milestone's date, and the milestone's name."""
        return {m.column: m.name for m in self.milestones if m.column is not None}

    @property
    def total_weight(self) -> int:
        return sum(arm.weight for arm in self.arms)

    def participant_columns(self) -> set[str]:
        """Export columns the definition names (strata, covariates, rules, unit), to be kept."""
        names = set(self.population.strata) | set(self.analysis.covariates)
        names |= set(self.analysis.subgroups)
        names |= {rule.field for rule in self.population.eligibility}
        names |= {o.population.field for o in self.outcomes if o.population}
        if self.population.unit not in CANONICAL_UNITS:
            names.add(self.population.unit)
        return names

    @property
    def block_sizes(self) -> list[int]:
        """The declared block sizes, or the documented default: one and two times the weights."""
        if self.randomisation.block_sizes:
            return list(self.randomisation.block_sizes)
        return [self.total_weight, 2 * self.total_weight]
