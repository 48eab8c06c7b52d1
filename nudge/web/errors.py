"""Error pages in the site's own layout, so a refusal is as readable and accessible as any page."""

from __future__ import annotations

from flask import Flask, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.exceptions import HTTPException, NotFound

from nudge import errors

EXPLANATIONS = {
    400: "The request could not be understood. Go back, reload the page and try again.",
    403: "Your account's role does not allow this page. Ask an admin if you need it.",
    404: "There is nothing at this address. Check it, or start again from the trials list.",
    405: "This address does not accept that kind of request.",
    413: "The upload is too large.",
}


def init_app(app: Flask) -> None:
    for code in EXPLANATIONS:
        app.register_error_handler(code, _page)
    # A trial or record named in the address that does not exist: the 404 page, whichever
    # view looked it up (its own message may list what does exist, so it is not shown).
    app.register_error_handler(errors.NotFound, lambda _error: _page(NotFound()))


# An admin has no one to ask: say what their role does, and where they can do it.
ADMIN_403 = (
    "Your account's role does not allow this page. Admins manage accounts and read the "
    "audit log; trials are run by researchers, and results read by researchers and leads. "
    "To work on a trial, add an account with the researcher role for it."
)
Links = tuple[tuple[str, str], ...]
ADMIN_LINKS: Links = (("/admin/users", "Go to accounts"), ("/admin/audit", "Go to the audit log"))
HOME_LINKS: Links = (("/", "Go to the trials list"),)


def _page(error: HTTPException) -> ResponseReturnValue:
    code = error.code or 500
    explanation = EXPLANATIONS.get(code, "")
    links = HOME_LINKS
    if code == 403 and current_user.is_authenticated and current_user.role == "admin":
        explanation, links = ADMIN_403, ADMIN_LINKS
    page = render_template("error.html", error=error, explanation=explanation, links=links)
    # Keep what the error says besides its page: `Allow` on a 405, `Retry-After` on a 429...
    headers = [(name, value) for name, value in error.get_headers() if name != "Content-Type"]
    return page, code, headers
