"""Error pages in the site's own layout, so a refusal is as readable and accessible as any page."""

from __future__ import annotations

from flask import Flask, render_template
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

EXPLANATIONS = {
    400: "The request could not be understood. Go back, reload the page and try again.",
    403: "Your account's role does not allow this page. Ask an administrator if you need it.",
    404: "There is nothing at this address. Check it, or start again from the trials list.",
    405: "This address does not accept that kind of request.",
    413: "The upload is too large.",
}


def init_app(app: Flask) -> None:
    for code in EXPLANATIONS:
        app.register_error_handler(code, _page)


def _page(error: HTTPException) -> ResponseReturnValue:
    code = error.code or 500
    explanation = EXPLANATIONS.get(code, "")
    page = render_template("error.html", error=error, explanation=explanation)
    # Keep what the error says besides its page: `Allow` on a 405, `Retry-After` on a 429...
    headers = [(name, value) for name, value in error.get_headers() if name != "Content-Type"]
    return page, code, headers
