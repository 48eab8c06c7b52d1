"""One export row checked and normalised: a participant due at a hearing, or what is wrong."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import lru_cache, partial
from operator import attrgetter
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo

from experiments.dates import in_range, refusal
from experiments.eligibility import CompiledRules, RuleParts, parse_flag
from experiments.keys import normalise_key
from experiments.phones import NotAMobile, normalise_mobile
from experiments.randomise import stratum_key
from nudge.jsontext import encode_json

if TYPE_CHECKING:
    from experiments.definition import Rule

REQUIRED_COLUMNS = (
    "participant_ref",
    "case_ref",
    "role",
    "first_name",
    "last_name",
    "phone",
    "address_line_1",
    "postcode",
    "language",
    "contact_sms",
    "contact_letter",
    "safeguarding_flag",
    "court",
    "court_name",
    "hearing_start",
)
ADDRESS_COLUMNS = tuple(f"address_line_{i}" for i in range(1, 6))
CANONICAL_COLUMNS = frozenset(REQUIRED_COLUMNS) | frozenset(ADDRESS_COLUMNS)
# Lengths of the columns a row's values go into (a longer value was a database error on
# PostgreSQL). Written out, not read from the models here: the reader process imports this
# module, and the models cost it ~1.5 s of CPU (SQLAlchemy, SQLModel, pydantic) before its
# first batch, which the writer waits for (BENCHMARKS.md, issue 23).
# tests/experiments/test_row_limits.py holds each to its model's column.
MAX_REF = 100  # Participant.participant_ref and Case.case_ref, the shorter
MAX_ROLE = 50  # Participant.role
MAX_COURT = 100  # Hearing.court
MAX_UNIT = 255  # AllocatedUnit.unit
MAX_STRATUM = 500  # AllocatedUnit.stratum
MAX_TEXT = 200  # names, address lines, court names: unbounded columns, but no real one is longer
LANGUAGE_NAMES = {"english": "en", "welsh": "cy", "cymraeg": "cy"}
POSTCODE = re.compile(r"^([A-Z]{1,2}\d[A-Z\d]?) ?(\d[A-Z]{2})$")
_SPACES = re.compile(r"\s+")
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")
_OFFSET = re.compile(r"[+-]\d\d:?\d\d$")
_LOCAL_FORMATS = (
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
)
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")


class RowError(ValueError):
    """A value that is wrong, with the column it is in."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(f"{column}: {message}")
        self.column = column


class ParsedRow(NamedTuple):
    """A checked row. A tuple, because a large import sends a million of them between
    processes, and tuples pickle several times faster than dataclass instances. A row sent on
    with its whole `Derived` to a writer that stores only their JSON has None for its address
    and attributes (`Derivation.json_only`, rowcheck.CheckedBatch)."""

    line: int
    participant_ref: str
    case_ref: str
    role: str
    first_name: str
    last_name: str
    phone: str | None
    address: list[str]
    postcode: str | None
    language: str
    contact_sms: bool
    contact_letter: bool
    safeguarding_flag: bool
    court: str
    court_name: str
    hearing_start: datetime
    attributes: dict[str, Any]
    milestones: dict[str, datetime]  # the case's milestones given on the row, by name

    def values(self) -> dict[str, Any]:
        """Every value a rule, stratum or unit may name."""
        return {**self.attributes, **dict(zip(VALUE_FIELDS, _row_values(self), strict=True))}


# A ParsedRow from a tuple of its fields, made in C: no length check, so only from its own
# fields in order (a named tuple's own __new__ is a Python function: a call for every row).
as_parsed_row = partial(tuple.__new__, ParsedRow)


# The row's own fields that rules may name; they take precedence over extra columns.
VALUE_FIELDS = (
    "participant_ref",
    "case_ref",
    "role",
    "language",
    "contact_sms",
    "contact_letter",
    "safeguarding_flag",
    "court",
    "court_name",
    "postcode",
    "phone",
)
_row_values = attrgetter(*VALUE_FIELDS)


def values_getter(names: Sequence[str]) -> Callable[[ParsedRow], tuple[Any, ...]]:
    """A function giving `tuple(row.values().get(n) for n in names)` without building the dict."""
    own = frozenset(VALUE_FIELDS)
    getters = [
        attrgetter(name) if name in own else (lambda row, name=name: row.attributes.get(name))
        for name in names
    ]
    return lambda row: tuple([get(row) for get in getters])


def unit_of(row: ParsedRow, unit: str) -> str:
    """The row's randomisation unit: its participant, its case, or a column's value."""
    if unit == "participant":
        return row.participant_ref
    if unit == "case":
        return row.case_ref
    # A participant column (court, postcode) is a field of the row, not an extra column.
    return str(row.attributes[unit] if unit in row.attributes else getattr(row, unit))


def stratum_values(row: ParsedRow, strata: Sequence[str]) -> tuple[str, ...]:
    """The row's value of each stratification variable, as text, in the order of `strata`."""
    return tuple(str(row.attributes[s] if s in row.attributes else getattr(row, s)) for s in strata)


class Derived(NamedTuple):
    """What storing a checked row needs worked out from it besides its fields. On SQLite a
    large import works it out in its reader process, beside the writer; on PostgreSQL the
    writer does (`enrol_file`, BENCHMARKS.md, issue 23)."""

    failure: str | None  # the first eligibility rule not met (its label); None when eligible
    unit: str | None  # an eligible row's randomisation unit and stratum key; None otherwise
    stratum: str | None
    address: str  # the address and the attributes as JSON text, as nudge.jsontext writes it
    attributes: str


as_derived = partial(tuple.__new__, Derived)  # as `as_parsed_row`


def sent_whole(derived: Derived | None) -> bool:
    """Whether a row must reach the writer with its address and attributes even under
    `Derivation.json_only`: its Derived is missing or lacks what the writer would then work out
    from them (an eligible row's unit or stratum)."""
    return derived is None or (
        derived.failure is None and (derived.unit is None or derived.stratum is None)
    )


# Where a row's address and attributes are among its fields (rowcheck sends rows by column).
ADDRESS, ATTRIBUTES = ParsedRow._fields.index("address"), ParsedRow._fields.index("attributes")


class Derivation:
    """Works out a row's `Derived` for one trial: the same wherever it runs.

    `fixed` attributes are set on every row first: a multi-site trial's site, whose file it is.
    `json_only`: the writer stores a row's address and attributes only as the JSON text worked
    out here, so rows sent on with their whole `Derived` may leave them behind.
    """

    _MEMO_LIMIT = 1 << 16

    def __init__(
        self,
        eligibility: Sequence[Rule | RuleParts],
        strata: Sequence[str],
        unit: str,
        fixed: Mapping[str, str] | None = None,
        *,
        json_only: bool = False,
    ) -> None:
        self.eligibility, self.strata, self.unit = tuple(eligibility), tuple(strata), unit
        self.fixed = dict(fixed or {})
        self.json_only = json_only
        self.rules = CompiledRules(self.eligibility)
        self.rule_values = values_getter(self.rules.fields)
        self.encode = encode_json  # the engine's serializer: the same text as the ORM's
        self.keys: dict[tuple[str, ...], str] = {}  # the stratum key of each set of values
        # Attributes take few combinations of values (an age, a band, a flag): each
        # combination's JSON is written once, up to a limit.
        self.attribute_texts: dict[tuple[tuple[str, Any], ...], str] = {}

    def __reduce__(self) -> tuple[Any, ...]:
        # Sent to the reader process as plain parts; what it remembers is rebuilt there.
        rules = tuple(map(RuleParts.of, self.eligibility))
        return (
            partial(Derivation, json_only=self.json_only),
            (rules, self.strata, self.unit, self.fixed),
        )

    def __call__(self, row: ParsedRow) -> Derived:
        if self.fixed:
            row.attributes.update(self.fixed)
        failure = self.rules.failure_of(self.rule_values(row))
        unit = stratum = None
        if failure is None:
            # A household is worked out by the writer, which sees who is already randomised.
            unit = None if self.unit == "household" else unit_of(row, self.unit)
            values = stratum_values(row, self.strata)
            stratum = self.keys.get(values)
            if stratum is None:
                given = dict(zip(self.strata, values, strict=True))
                try:
                    stratum = self.keys[values] = stratum_key(given, self.strata)
                except ValueError:
                    pass  # left to the writer, which needs it only for a unit new to the trial
        return as_derived((failure, unit, stratum, self.encode(row.address), self._attributes(row)))

    def _attributes(self, row: ParsedRow) -> str:
        """The attributes' JSON; their values are texts (parse_row), so equal keys mean the
        same text."""
        key = tuple(row.attributes.items())
        try:
            return self.attribute_texts[key]
        except KeyError:
            text = self.encode(row.attributes)
        except TypeError:  # a value that cannot be a key
            return self.encode(row.attributes)
        if len(self.attribute_texts) < self._MEMO_LIMIT:
            self.attribute_texts[key] = text
        return text


@dataclass(frozen=True)
class RowRules:
    """What a trial needs from each row: its timezone, extra columns, and numeric columns."""

    zone: ZoneInfo
    extra_columns: frozenset[str]
    numeric_columns: frozenset[str]
    required_columns: frozenset[str] = frozenset()  # strata and a custom unit: never blank
    unit_column: str | None = None  # a participant column the trial randomises by
    strata: tuple[str, ...] = ()
    milestone_columns: tuple[tuple[str, str], ...] = ()  # (column, milestone name)
    now: datetime | None = None  # a milestone after it has not happened yet: refused


def parse_row(line: int, raw: dict[str, str], rules: RowRules) -> ParsedRow:
    """Check and normalise one row; raises RowError naming the first wrong column."""
    # The columns are checked in this order (the first wrong one is the one reported), the
    # plain texts inline: a large import parses millions of values.
    get = raw.get
    contact_sms = _flag(raw, "contact_sms", missing=False)
    contact_letter = _flag(raw, "contact_letter", missing=False)
    participant_ref = _reference(raw, "participant_ref")
    case_ref = _reference(raw, "case_ref")
    role = _text(raw, "role", required=True, limit=MAX_ROLE).lower()
    first_name = get("first_name", "")
    if len(first_name) > MAX_TEXT:
        raise RowError("first_name", f"longer than {MAX_TEXT} characters")
    last_name = get("last_name", "")
    if len(last_name) > MAX_TEXT:
        raise RowError("last_name", f"longer than {MAX_TEXT} characters")
    phone = _phone(get("phone", ""), contact_sms)
    address = _address(raw)
    postcode = _postcode(get("postcode", ""), contact_letter)
    language = _language(get("language", ""))
    # Missing contact-safety data counts as not safe: no flag given means flagged.
    safeguarding_flag = _flag(raw, "safeguarding_flag", missing=True)
    court = _text(raw, "court", required=True, limit=MAX_COURT, key=True)
    court_name = get("court_name", "")
    if not court_name:
        raise RowError("court_name", "missing")
    if len(court_name) > MAX_TEXT:
        raise RowError("court_name", f"longer than {MAX_TEXT} characters")
    hearing_start = _hearing_start(get("hearing_start", ""), rules.zone)
    required = rules.required_columns
    attributes = {
        c: normalise_key(get(c, "")) if c in required else get(c, "") for c in rules.extra_columns
    }
    milestones = _milestones(raw, rules) if rules.milestone_columns else {}
    # Made as tuple.__new__ makes it (in C): a named tuple's own __new__ is a Python function.
    row = as_parsed_row(
        (
            line,
            participant_ref,
            case_ref,
            role,
            first_name,
            last_name,
            phone,
            address,
            postcode,
            language,
            contact_sms,
            contact_letter,
            safeguarding_flag,
            court,
            court_name,
            hearing_start,
            attributes,
            milestones,
        )
    )
    if contact_letter and not address:
        raise RowError("address_line_1", "missing, but contact_letter is yes")
    for column in rules.numeric_columns:
        _check_number(raw.get(column, ""), column)
    for column in rules.required_columns:
        if not raw.get(column):
            raise RowError(column, "missing (the trial randomises by it)")
    if rules.unit_column or rules.strata:
        _check_unit_and_stratum(row, rules)
    return row


def _address(raw: dict[str, str]) -> list[str]:
    """The address lines given, in order."""
    address = []
    for column in ADDRESS_COLUMNS:
        value = raw.get(column)
        if value:
            if len(value) > MAX_TEXT:
                raise RowError(column, f"longer than {MAX_TEXT} characters")
            address.append(value)
    return address


def _value(row: ParsedRow, name: str) -> Any:
    """`row.values()[name]` without building the dict (KeyError for a name it lacks)."""
    return getattr(row, name) if name in _OWN_VALUES else row.attributes[name]


_OWN_VALUES = frozenset(VALUE_FIELDS)


def _check_unit_and_stratum(row: ParsedRow, rules: RowRules) -> None:
    """A unit or stratum key longer than its column would fail at the database, not here."""
    unit = rules.unit_column
    if unit and len(str(_value(row, unit))) > MAX_UNIT:
        raise RowError(unit, f"longer than {MAX_UNIT} characters (the trial randomises by it)")
    if rules.strata:
        _check_stratum(rules.strata, tuple([str(_value(row, s)) for s in rules.strata]))


@lru_cache(maxsize=4096)  # rows share a few strata: each set of values is checked once
def _check_stratum(strata: tuple[str, ...], values: tuple[str, ...]) -> None:
    # Escaping at most triples a character: only a long row needs the key itself.
    if 3 * sum(len(s) + len(v) + 2 for s, v in zip(strata, values, strict=True)) > MAX_STRATUM:
        if len(stratum_key(dict(zip(strata, values, strict=True)), strata)) > MAX_STRATUM:
            raise RowError(
                strata[0],
                f"the strata's values ({', '.join(strata)}) together are longer than "
                f"{MAX_STRATUM} characters",
            )


def _milestones(raw: dict[str, str], rules: RowRules) -> dict[str, datetime]:
    """The milestones whose columns are filled in; a blank one is not known yet."""
    found = {}
    for column, name in rules.milestone_columns:
        text = raw.get(column, "")
        if text:
            found[name] = _occurred_at(text, rules.zone, column)
            if rules.now is not None:
                check_not_future(found[name], text, column, rules.now, rules.zone)
    return found


def _reference(raw: dict[str, str], column: str) -> str:
    value = normalise_key(raw.get(column, ""))
    if not value:
        raise RowError(column, "missing")
    if len(value) > MAX_REF:
        raise RowError(column, f"longer than {MAX_REF} characters")
    return value


def _text(
    raw: dict[str, str],
    column: str,
    *,
    required: bool = False,
    limit: int = MAX_TEXT,
    key: bool = False,
) -> str:
    value = raw.get(column, "")
    if key:
        value = normalise_key(value)
    if required and not value:
        raise RowError(column, "missing")
    if len(value) > limit:
        raise RowError(column, f"longer than {limit} characters")
    return value


def _flag(raw: dict[str, str], column: str, *, missing: bool) -> bool:
    try:
        value = _parse_flag(raw.get(column, ""))
    except ValueError:
        raise RowError(column, f"'{raw[column]}' is not yes or no") from None
    return missing if value is None else value


def _phone(text: str, contact_sms: bool) -> str | None:
    if not contact_sms:
        return None  # only numbers we may text are kept
    if not text:
        raise RowError("phone", "missing, but contact_sms is yes")
    try:
        return _mobile(text)
    except NotAMobile as exc:
        raise RowError("phone", str(exc)) from None


@lru_cache(maxsize=4096)
def _postcode(text: str, contact_letter: bool) -> str | None:
    if not text:
        if contact_letter:
            raise RowError("postcode", "missing, but contact_letter is yes")
        return None
    compact = _SPACES.sub("", text.upper())
    match = POSTCODE.match(compact)
    if not match:
        raise RowError("postcode", f"'{text}' is not a UK postcode")
    return f"{match.group(1)} {match.group(2)}"


@lru_cache(maxsize=256)
def _language(text: str) -> str:
    code = LANGUAGE_NAMES.get(text.lower(), text.lower()) or "en"
    if not _LANGUAGE_CODE.fullmatch(code):
        raise RowError("language", f"'{text}' is not a language code such as en or cy")
    return code


def _check_number(text: str, column: str) -> None:
    if text:
        try:
            float(text)
        except ValueError:
            raise RowError(column, f"'{text}' is not a number") from None


def parse_hearing_start(text: str, zone: ZoneInfo) -> datetime:
    """Local time in the trial's zone, or a timestamp with an offset, as aware UTC."""
    if not text:
        raise RowError("hearing_start", "missing")
    return _instant(text, zone, "hearing_start", _not_a_time)


def parse_occurred_at(text: str, zone: ZoneInfo, column: str) -> datetime:
    """When a milestone happened, as aware UTC: written as a hearing's start is, or as a date
    alone, which means the start of that day in the trial's zone (00:00, or the first moment
    of the day where the clocks jump at midnight)."""
    if not text:
        raise RowError(column, "missing; give the date it happened, e.g. 2027-02-03")
    day = _date_alone(text)
    if day is None:
        return _instant(text, zone, column, _not_a_date)
    if not in_range(day):
        raise RowError(column, refusal(text))
    # fold=0 takes the earlier reading of an ambiguous midnight, and for a midnight the clocks
    # skip, the offset before the jump: either way the instant the local day begins.
    return datetime.combine(day, time(), zone).astimezone(UTC)


def check_not_future(
    value: datetime, text: str, column: str, now: datetime, zone: ZoneInfo
) -> None:
    """A milestone is recorded once it has happened: a time after `now` is a mistake."""
    if value > now:
        raise RowError(
            column,
            f"'{text}' is in the future (it is now {now.astimezone(zone):%Y-%m-%d %H:%M} in "
            f"{zone.key}); record a milestone once it has happened",
        )


def _instant(text: str, zone: ZoneInfo, column: str, not_a_time: Callable[[str], str]) -> datetime:
    """A local time in `zone`, or a timestamp with an offset, as aware UTC."""
    if _has_offset(text):
        try:
            written = datetime.fromisoformat(text)
        except ValueError:
            raise RowError(column, not_a_time(text)) from None
        return _within_range(text, written, column).astimezone(UTC)
    naive = _within_range(text, _parse_local(text, column, not_a_time), column)
    first, second = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        round_trip = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        if round_trip != naive:
            raise RowError(
                column,
                f"'{text}' does not exist in {zone.key}: the clocks go forward that night",
            )
        raise RowError(
            column,
            f"'{text}' happens twice in {zone.key} (the clocks go "
            f"back that night); write it with its offset, e.g. "
            f"{naive:%Y-%m-%dT%H:%M}{_offset(first)}",
        )
    return first.astimezone(UTC)


def _date_alone(text: str) -> date | None:
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


# An export's rows share a few flag words and hearing times: each distinct text is parsed once.
# Only results are remembered (a bad value raises every time), so the outcome is the same.
_parse_flag = lru_cache(maxsize=256)(parse_flag)
_hearing_start = lru_cache(maxsize=4096)(parse_hearing_start)
_occurred_at = lru_cache(maxsize=4096)(parse_occurred_at)
# Numbers and postcodes repeat across an export's rows (a household, a street, a test range).
_mobile = lru_cache(maxsize=4096)(normalise_mobile)


def _has_offset(text: str) -> bool:
    return text.endswith(("Z", "z")) or bool(_OFFSET.search(text[10:]))


def _parse_local(text: str, column: str, not_a_time: Callable[[str], str]) -> datetime:
    if len(text) >= 16 and text[4] == "-":
        try:
            return datetime.fromisoformat(text)  # the common case, an order of magnitude faster
        except ValueError:
            pass
    for pattern in _LOCAL_FORMATS:
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    raise RowError(column, not_a_time(text))


def _within_range(text: str, value: datetime, column: str) -> datetime:
    if not in_range(value.date()):
        raise RowError(column, refusal(text))
    return value


def _not_a_time(text: str) -> str:
    return (
        f"'{text}' is not a real date and time (write it like 2027-03-04T10:00, in the "
        "trial's timezone, or with an offset)"
    )


def _not_a_date(text: str) -> str:
    return (
        f"'{text}' is not a real date, or date and time (write it like 2027-02-03, or "
        "2027-02-03T14:30 in the trial's timezone, or with an offset)"
    )


def _offset(value: datetime) -> str:
    offset = value.utcoffset()
    assert offset is not None
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
