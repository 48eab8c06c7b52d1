"""The pages a public service must publish: its accessibility statement and privacy notice."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask.typing import ResponseReturnValue

from nudge.web.access import PUBLIC, allow

bp = Blueprint("about", __name__)


def _contact() -> str | None:
    return current_app.extensions["nudge"]["settings"].contact


@bp.get("/accessibility")
@allow(PUBLIC)
def accessibility() -> ResponseReturnValue:
    return render_template("about/accessibility.html", contact=_contact())


@bp.get("/privacy")
@allow(PUBLIC)
def privacy() -> ResponseReturnValue:
    return render_template("about/privacy.html", contact=_contact())
