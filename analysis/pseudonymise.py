"""The analysis file of a reproduction bundle: the report's frame, pseudonymised. Pure.

One row per randomised participant as analysed: arm, randomisation unit, stratum, the columns
the plan names (strata, covariates, subgroups, outcome populations), each outcome, `delivered`
and `cost` where present, and `open_arms` when an arm was ever excluded from enrolment while
paused (the arms open when each was allocated, in declared order, separated by commas; empty
when every arm was open: analysis/concurrent.py restricts each comparison by it). Every
reference (participant, case, and the unit when it is an
identifier such as an officer) is replaced by an id drawn at random for this file alone, from
the operating system's cryptographic generator: unlike a hash, nothing links it back to the
reference, and two bundles of the same trial share no id. Rows are put in the order of their
new ids, so the order of enrolment is not kept either. Contact details (names, phone numbers,
addresses, postcodes) are never written, whatever the plan names.

Each column keeps the type the analysis gave it (a numeric column stays numeric; a categorical
keeps its levels in the analysis's order, the first being the reference), so a second program
that reads the file as described in `columns` fits exactly the model Nudge fitted.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from analysis.concurrent import OPEN_ARMS, excluded_any
from analysis.frame import participant_columns
from analysis.sites import with_site_strata
from experiments.definition import SITE_COLUMN, TrialDefinition
from experiments.rows import ADDRESS_COLUMNS

# "text": free text read as it is (the open arms at allocation), neither a number nor a factor.
ColumnKind = Literal["id", "numeric", "categorical", "text"]
# The export's contact details: never in a bundle, even when a plan names one.
CONTACT_FIELDS = frozenset(
    {"first_name", "last_name", "phone", "address", "postcode", *ADDRESS_COLUMNS}
)
REFERENCES = ("participant_ref", "case_ref")
# Random bits per id; a collision is redrawn, so this only keeps ids short.
ID_BITS = 48


@dataclass(frozen=True)
class AnalysisColumn:
    """One column of the analysis file and how to read it back (levels in Nudge's order)."""

    name: str
    kind: ColumnKind
    levels: tuple[str, ...] = ()


@dataclass(frozen=True)
class AnalysisFile:
    """The pseudonymised rows (all text, missing as "") and the description of each column."""

    rows: pd.DataFrame = field(repr=False, compare=False)
    columns: tuple[AnalysisColumn, ...]

    def column(self, name: str) -> AnalysisColumn:
        return next(c for c in self.columns if c.name == name)


def random_ids(n: int, prefix: str) -> np.ndarray:
    """`n` distinct ids such as `P-3f9a0c2b71de`, from the operating system's CSPRNG."""
    while True:
        drawn = np.frombuffer(secrets.token_bytes(8 * n), np.uint64) >> np.uint64(64 - ID_BITS)
        if n < 2 or np.diff(np.sort(drawn)).all():  # all distinct
            break
    digits = drawn.astype(">u8").tobytes().hex()  # 16 per id, the first ones always 0
    start = 16 - ID_BITS // 4
    ids = [prefix + digits[i + start : i + 16] for i in range(0, 16 * n, 16)]
    return np.array(ids, dtype=object)


def _as_text(values: pd.Series) -> tuple[pd.Series, ColumnKind, tuple[str, ...]]:
    """A column as written (numbers exactly, in their shortest round-trip form; levels as
    text, missing as ""), its kind, and its levels in the analysis's order."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        codes, uniques = pd.factorize(values.astype("float64"), use_na_sentinel=True)
        numbers = np.array([*(_number(float(u)) for u in uniques), ""], dtype=object)
        return pd.Series(numbers[codes], index=values.index), "numeric", ()
    if not isinstance(values.dtype, pd.CategoricalDtype):
        # Text is read as a factor whose levels are its sorted distinct values (design.py).
        text = values.astype(object).map(str, na_action="ignore")
        values = text.astype(pd.CategoricalDtype(sorted(set(text.dropna()))))
    levels = tuple(str(c) for c in values.cat.categories)
    written = np.array([*levels, ""], dtype=object)[values.cat.codes.to_numpy()]
    return pd.Series(written, index=values.index), "categorical", levels


def _number(value: float) -> str:
    if value.is_integer() and abs(value) < 2.0**53:
        return str(int(value))
    return repr(value)


def _identifying(definition: TrialDefinition) -> frozenset[str]:
    """Columns whose values point at people or cases: references, a custom unit, contacts."""
    unit = definition.population.unit
    custom = {unit} if unit not in ("participant", "case") else set()
    return frozenset({*REFERENCES, *custom, *CONTACT_FIELDS})


def pseudonymised_file(frame: pd.DataFrame, definition: TrialDefinition) -> AnalysisFile:
    """The report's frame as a bundle's analysis file (see the module docstring)."""
    rows = pd.DataFrame(index=frame.index)
    rows["participant_ref"] = _replaced(frame["participant_ref"], "P-")
    if "case_ref" in frame:
        rows["case_ref"] = _replaced(frame["case_ref"], "C-")
    unit = definition.population.unit
    if unit in ("participant", "case"):
        rows["unit"] = rows[f"{unit}_ref"]
    else:
        # The unit's own column too (the same ids), so the file also reads as a flat file.
        rows["unit"] = rows[unit] = _replaced(frame["unit"], "U-")
    columns = [AnalysisColumn(name, "id") for name in rows.columns]
    # A multi-site trial's model crosses the stratum with the site (analysis/sites.py): the
    # file carries that stratum, and the site (an organisation's short name, no one's).
    frame = with_site_strata(frame, definition)
    for name in analysed_columns(frame, definition):
        values = frame[name] if name in frame else pd.Series(np.nan, index=frame.index)
        if name == "stratum" and set(definition.population.strata) & _identifying(definition):
            values = _numbered_levels(values, "stratum-")
        rows[name], kind, levels = _as_text(values)
        columns.append(AnalysisColumn(name, kind, levels))
    if excluded_any(frame):
        # Arm ids are slugs: the set names no one, so it is kept as it is stored.
        rows[OPEN_ARMS] = frame[OPEN_ARMS].astype(object).where(frame[OPEN_ARMS].notna(), "")
        columns.append(AnalysisColumn(OPEN_ARMS, "text"))
    order = np.argsort(rows["participant_ref"].to_numpy(dtype=str), kind="stable")
    return AnalysisFile(rows.iloc[order].reset_index(drop=True), tuple(columns))


def analysed_columns(frame: pd.DataFrame, definition: TrialDefinition) -> list[str]:
    """Arm, stratum, the columns the plan names, outcomes, delivery and cost: no identifiers."""
    named = [n for n in participant_columns(definition) if n not in _identifying(definition)]
    names = ["arm", "stratum", *named, *(o.id for o in definition.outcomes)]
    names += [name for name in ("delivered", "cost") if name in frame]
    if definition.sites and SITE_COLUMN in frame:
        names.append(SITE_COLUMN)
    return list(dict.fromkeys(names))


def _replaced(values: pd.Series, prefix: str) -> pd.Series:
    """Each distinct value replaced by a fresh random id (missing stays missing)."""
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    ids = np.array([*random_ids(len(uniques), prefix), ""], dtype=object)
    return pd.Series(ids[codes], index=values.index)


def _numbered_levels(values: pd.Series, prefix: str) -> pd.Series:
    """Levels that would name a person or case replaced by numbers, in the same order."""
    categorical = values.astype("category")
    count = len(categorical.cat.categories)
    width = len(str(count))
    return categorical.cat.rename_categories(
        [f"{prefix}{i:0{width}d}" for i in range(1, count + 1)]
    )
