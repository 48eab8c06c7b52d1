"""A reproduction bundle: the primary analysis in a zip that anyone with R can check.

`nudge analyse TRIAL --bundle out.zip`, and the researchers' download on the results page,
write one folder holding:

- `analysis.csv`: the pseudonymised analysis file (analysis/pseudonymise.py);
- `trial.yaml`: the definition of the trial's current version as frozen (the seed concealed
  while the trial is live, as everywhere else);
- `model.json`: the primary model the plan fixes, and the type and levels of every column;
- `nudge_primary.json`: Nudge's primary table (each arm against control, adjusted);
- `reproduce.R` (analysis/bundle_template): estimatr's `lm_robust` fits the same model and the
  script compares its estimates with Nudge's;
- `README.txt`: what each file is and how to run it.

The analysis file and Nudge's estimates come from the one frame, read once, so they cannot
drift apart. The zip is written to a temporary file beside the target and renamed into place:
a failure leaves nothing half-written.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from string import Template
from typing import IO, Any
from zoneinfo import ZoneInfo

import pandas as pd
from ruamel.yaml import YAML
from sqlmodel import Session

from analysis.bundle_text import column_descriptions, model_description
from analysis.concurrent import OPEN_ARMS
from analysis.frame import frame_from_db
from analysis.pseudonymise import AnalysisFile, pseudonymised_file
from analysis.report import TrialReport, build_report, model_spec, report_json
from analysis.time_to_event import analysis_date
from experiments import trials
from experiments.definition import TrialDefinition
from nudge.errors import NudgeError

BUNDLE_FORMAT = 1
TEMPLATES = Path(__file__).with_name("bundle_template")
# Nudge's primary table as the results JSON names it → as the bundle names it.
PRIMARY_FIELDS = {
    "estimate": "adjusted_risk_difference",
    "std_error": "adjusted_std_error",
    "ci_low": "adjusted_ci_low",
    "ci_high": "adjusted_ci_high",
    "p_value": "adjusted_p_value",
}

MEASURED_FIELDS = PRIMARY_FIELDS | {"estimate": "adjusted_difference"}


@dataclass(frozen=True)
class Bundle:
    """The files of a reproduction bundle (name → content), and the report they came from."""

    trial: str
    version: int
    participants: int
    built_at: datetime
    files: dict[str, bytes] = field(repr=False, compare=False)
    report: TrialReport = field(repr=False, compare=False)
    definition: TrialDefinition = field(repr=False, compare=False)

    @property
    def folder(self) -> str:
        """The one folder the zip unpacks into."""
        return f"{self.trial}-v{self.version}-reproduction"


@dataclass(frozen=True)
class FrozenVersion:
    """The trial version a bundle reproduces; the seed is concealed while the trial is live."""

    number: int
    sha256: str
    seed_concealed: bool


def build_bundle(session: Session, trial_id: str, *, built_at: datetime) -> Bundle:
    """Read the trial once and assemble its bundle (see the module docstring).

    Raises NotFound for an unknown trial and NudgeError when nobody is randomised yet.
    """
    trial = trials.get_trial(session, trial_id)
    version = trials.current_version(session, trial)
    definition = trials.current_definition(session, trial)
    shown = trials.shown_definition(session, trial)
    frozen = FrozenVersion(
        version.version, version.sha256, shown["randomisation"]["seed"] == trials.CONCEALED
    )
    frame = frame_from_db(session, trial_id)
    if frame.empty:
        raise NudgeError(f"trial '{trial_id}' has nobody randomised yet: nothing to reproduce")
    as_of = analysis_date(built_at, definition.timezone, trial.closed_at)
    return assemble_bundle(frame, definition, frozen, built_at=built_at, as_of=as_of)


def assemble_bundle(
    frame: pd.DataFrame,
    definition: TrialDefinition,
    frozen: FrozenVersion,
    *,
    built_at: datetime,
    as_of: date | None = None,
) -> Bundle:
    """Every file of the bundle from the analysis frame: Nudge's report and the pseudonymised
    rows come from this one frame; `as_of` is the analysis date of outcomes with dates."""
    report = build_report(frame, definition, as_of=as_of)
    analysis_file = pseudonymised_file(frame, definition)
    primary = nudge_primary(report_json(report))
    model = primary_model(definition, analysis_file, frozen.number, primary["analysed"])
    concealed = frozen.seed_concealed
    files = {
        "README.txt": _readme(definition, analysis_file, model, built_at, concealed),
        "analysis.csv": _csv(analysis_file),
        "trial.yaml": frozen_yaml(definition, frozen),
        "model.json": _json(model),
        "nudge_primary.json": _json(primary),
        "reproduce.R": (TEMPLATES / "reproduce.R").read_bytes(),
    }
    return Bundle(definition.id, frozen.number, len(frame), built_at, files, report, definition)


def nudge_primary(report: dict[str, Any]) -> dict[str, Any]:
    """Nudge's primary table from the results JSON: each arm against control, adjusted."""
    outcome = next(o for o in report["outcomes"] if o["primary"])
    measures = outcome.get("measures")
    # A scale, count or measurement: the same linear model gives its difference in means.
    fields = MEASURED_FIELDS if measures else PRIMARY_FIELDS
    estimates = [
        {"arm": c["arm"], "versus": c["versus"]} | {name: c[key] for name, key in fields.items()}
        for c in (measures or outcome)["comparisons"]
    ]
    # After an arm was excluded from enrolment each comparison is its own model on its
    # concurrent people (analysis/concurrent.py): how many it analysed, for R to check.
    concurrent = {c["arm"]: c for c in outcome.get("concurrent", ())}
    for estimate in estimates:
        if (counts := concurrent.get(estimate["arm"])) is not None:
            estimate["analysed"] = counts["arm_analysed"] + counts["control_analysed"]
    return {
        "trial": report["trial"],
        "outcome": outcome["id"],
        "analysed": sum(arm["n"] for arm in (measures or outcome)["arms"]),
        "covariates_used": outcome["covariates_used"],
        "estimates": estimates,
        "notes": outcome["notes"],
    }


def primary_model(
    definition: TrialDefinition, analysis_file: AnalysisFile, version: int, analysed: int
) -> dict[str, Any]:
    """The primary model as the plan fixes it, for reproduce.R (model.json)."""
    spec = model_spec(definition)
    rule = definition.primary_outcome.population
    population = None
    if rule is not None:
        written = rule.model_dump(mode="json", by_alias=True)
        population = {"field": rule.field, "operator": rule.operator}
        population["value"] = written[rule.operator]
    return {
        "format": BUNDLE_FORMAT,
        "trial": definition.id,
        "version": version,
        "outcome": definition.primary_outcome.id,
        "population": population,
        "analysed": analysed,
        "arm": {"control": spec.control, "treatments": list(spec.treatments)},
        "stratified": spec.stratified,
        "covariates": list(spec.covariates),
        "missing": spec.missing,
        "clustered": spec.clustered,
        "se_type": "CR2" if spec.clustered else "HC2",
        "alpha": spec.alpha,
        # Each arm compared with control on its own, among the people allocated while both
        # were open (the `open_arms` column): an arm was excluded from enrolment while paused.
        "concurrent": any(c.name == OPEN_ARMS for c in analysis_file.columns),
        "columns": {
            c.name: {"type": c.kind}
            | ({"levels": list(c.levels)} if c.kind == "categorical" else {})
            for c in analysis_file.columns
        },
    }


def frozen_yaml(definition: TrialDefinition, frozen: FrozenVersion) -> bytes:
    """The version's canonical definition as YAML; a live trial's seed left out (null)."""
    data = definition.model_dump(mode="json", by_alias=True)
    header = [
        f"# Trial {definition.id}, version {frozen.number}, as frozen by Nudge: every default",
        "# filled in and template files inlined (the canonical form).",
        f"# SHA-256 of the canonical form: {frozen.sha256}",
    ]
    if frozen.seed_concealed:
        data["randomisation"]["seed"] = None
        header += [
            "# The randomisation seed is concealed until the trial closes, so it reads null",
            "# here and the SHA-256 can be checked only with the seed put back.",
        ]
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]  # schema order
    yaml.allow_unicode = True
    yaml.width = 100
    stream = io.StringIO()
    yaml.dump(data, stream)
    return ("\n".join(header) + "\n" + stream.getvalue()).encode("utf-8")


def _csv(analysis_file: AnalysisFile) -> bytes:
    """The rows as CSV (RFC 4180, "\n" line ends). Ids and numbers never need quotes, so only
    the header, text cells and the levels that hold a comma, quote or line break are quoted."""
    rows = analysis_file.rows
    columns = []
    for column in analysis_file.columns:
        values = rows[column.name]
        if column.kind == "text":
            columns.append(values.map(_quoted).to_numpy(dtype=object))
            continue
        quoted = {level: _quoted(level) for level in column.levels if _quoted(level) != level}
        columns.append((values.replace(quoted) if quoted else values).to_numpy(dtype=object))
    lines = [",".join(_quoted(c.name) for c in analysis_file.columns)]
    lines += map(",".join, zip(*columns, strict=True))
    return ("\n".join(lines) + "\n").encode("utf-8")


def _quoted(cell: str) -> str:
    if any(c in cell for c in ',"\r\n'):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def _json(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()


def _readme(
    definition: TrialDefinition,
    analysis_file: AnalysisFile,
    model: dict[str, Any],
    built_at: datetime,
    concealed: bool,
) -> bytes:
    local = built_at.astimezone(ZoneInfo(definition.timezone))
    seed_note = (
        "\n                    The randomisation seed is left out (null) until the trial closes."
        if concealed
        else ""
    )
    text = Template((TEMPLATES / "README.txt").read_text(encoding="utf-8")).substitute(
        trial=definition.id,
        title=definition.title,
        version=model["version"],
        built_at=f"{local:%d %B %Y at %H:%M} ({definition.timezone})",
        participants=f"{len(analysis_file.rows):,}",
        seed_note=seed_note,
        columns=column_descriptions(definition, analysis_file),
        model=model_description(definition, model),
    )
    return text.encode("utf-8")


def write_zip(bundle: Bundle, stream: IO[bytes]) -> None:
    """The bundle as a zip of one folder, dated when it was built."""
    stamp = bundle.built_at.astimezone(ZoneInfo(bundle.definition.timezone))
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in bundle.files.items():
            info = zipfile.ZipInfo(f"{bundle.folder}/{name}", stamp.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16  # row-level data: readable by its owner only
            archive.writestr(info, content)


def check_target(path: Path) -> None:
    """Refuse, with a one-line reason, a path the bundle cannot be written to as a new file."""
    if path.is_dir():
        raise NudgeError(f"{path} is a folder: give a file name for the bundle, such as bundle.zip")
    if path.exists() or path.is_symlink():
        raise NudgeError(
            f"{path} already exists: the bundle never replaces a file; give a new name"
        )
    folder = path.parent
    if not folder.is_dir():
        raise NudgeError(f"{path}: there is no folder {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise NudgeError(f"{path}: the folder {folder} is not writable")


def save_bundle(bundle: Bundle, path: Path) -> None:
    """Write the zip to `path` through a temporary file beside it; on failure, leave nothing."""
    check_target(path)
    try:
        handle = tempfile.NamedTemporaryFile(  # closed below on every path
            dir=path.parent, prefix=f".{path.name}.", suffix=".part", delete=False
        )
    except OSError as exc:
        raise NudgeError(f"{path}: cannot write in {path.parent} ({exc.strerror})") from None
    temporary = Path(handle.name)
    try:
        with handle:
            write_zip(bundle, handle)
        check_target(path)
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise NudgeError(f"{path}: the bundle could not be written ({exc.strerror})") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
