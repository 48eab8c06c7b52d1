"""The trial overview page: the design as registered, every message as a participant gets it.

It lives in `analysis/` only because it needs both `experiments` and `messages` (the
dependency rule lets a package import only to its right). Nothing here is about real
participants: the messages are rendered for the fictional sample participant.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, g, render_template, request
from flask.typing import ResponseReturnValue

from experiments import trials
from experiments.allocation import allocation_history
from experiments.definition import TrialDefinition
from messages.journey import arm_journey
from messages.preview import PreviewedMessage, preview_arm
from messages.sample import SAMPLE_FIELDS, sample_context
from nudge.errors import NotFound
from nudge.web.access import ALL_STAFF, allow

bp = Blueprint("overview", __name__, template_folder="templates")
SAMPLE_ADDRESS = (
    f"{SAMPLE_FIELDS['first_name']} {SAMPLE_FIELDS['last_name']}",
    SAMPLE_FIELDS["address_line_1"],
    SAMPLE_FIELDS["address_line_2"],
    SAMPLE_FIELDS["postcode"],
)
LANGUAGE_NAMES = {"en": "English", "cy": "Welsh"}


def languages(definition: TrialDefinition) -> list[str]:
    """Every language some template is written in, English first."""
    found = {language for texts in definition.templates.values() for language in texts}
    return sorted(found | {"en"}, key=lambda code: (code != "en", code))


@bp.get("/trials/<trial_id>/overview")
@allow(*ALL_STAFF)
def overview_page(trial_id: str) -> ResponseReturnValue:
    trial, definition = trials.trial_with_definition(g.db, trial_id)
    offered = languages(definition)
    language = request.args.get("language", "en")
    if language not in offered:
        language = "en"
    previews = {arm.id: preview_arm(definition, arm.id, language) for arm in definition.arms}
    return render_template(
        "results/overview.html",
        trial=trial,
        definition=definition,
        previews=previews,
        language=language,
        languages=[(code, LANGUAGE_NAMES.get(code, code)) for code in offered],
        journeys={arm.id: arm_journey(definition, arm) for arm in definition.arms},
        language_names=LANGUAGE_NAMES,
        titles={arm.id: arm.title for arm in definition.arms},
        versions=trials.versions(g.db, trial_id),
        allocation_changes=allocation_history(g.db, trial_id, definition),
        current=trials.current_version(g.db, trial),
        per_participant={
            a: sum(p.cost for p in items if not p.event) for a, items in previews.items()
        },
        sample=_sample_description(definition),
    )


def _sample_description(definition: TrialDefinition) -> str:
    c = sample_context(definition)
    return (
        f"{c['first_name']} {c['last_name']}, a {c['role']} due at {c['court_name']} on "
        f"{c['hearing_date']} at {c['hearing_time']}"
    )


@bp.get("/trials/<trial_id>/arms/<arm_id>/letters/<int:position>.pdf")
@allow(*ALL_STAFF)
def letter_preview(trial_id: str, arm_id: str, position: int) -> ResponseReturnValue:
    """The letter as the sample participant would get it, as the print run renders it."""
    from messages.letters import render_letter  # reportlab: for this view, not at app start

    _, definition = trials.trial_with_definition(g.db, trial_id)
    language = request.args.get("language", "en")
    try:
        previews = preview_arm(definition, arm_id, language)
    except NotFound:
        abort(404)
    chosen: PreviewedMessage | None = next(
        (p for p in previews if p.position == position and p.channel == "letter"), None
    )
    if chosen is None:
        abort(404)
    pdf = render_letter(
        chosen.text,
        address=SAMPLE_ADDRESS,
        reference=SAMPLE_FIELDS["participant_ref"],
        language=chosen.language,
    )
    response = Response(pdf, mimetype="application/pdf")
    name = f"{trial_id}-{arm_id}-letter-{position}-{chosen.language}.pdf"
    response.headers["Content-Disposition"] = f'inline; filename="{name}"'
    return response
