"""Issue 17, the web app: no open redirect after login, 405s that name the allowed methods."""

from __future__ import annotations

from urllib.parse import unquote, urljoin, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.routing.converters import NumberConverter
from werkzeug.test import TestResponse

from nudge.web.auth import _safe_next
from tests.web_helpers import STAFF, logged_in, post_login

# How attackers write `next` in the query string (already URL-encoded, as in a phishing link).
BYPASSES = [
    "//evil.example",
    "//evil.example/x",
    "///evil.example",
    "////evil.example",
    "/\\evil.example",
    "/%5Cevil.example",
    "\\\\evil.example",
    "%5C%5Cevil.example",
    "/%09/evil.example",
    "/%0a/evil.example",
    "/%0d/evil.example",
    "/%0d%0aSet-Cookie:x=1",
    "%09//evil.example",
    "/%2F%2Fevil.example",
    "/%252F%252Fevil.example",
    "%2F%2Fevil.example",
    "https://evil.example",
    "http:evil.example",
    "http:/evil.example",
    "https:/\\evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,x",
    "evil.example",
    "/%E2%80%8B/evil.example",  # a zero-width space between the slashes
    "/%EF%BC%8Fevil.example",  # a full-width solidus
    "/%20/evil.example",
    "%00/evil.example",
]


def browser_host(location: str) -> str:
    """Where a browser goes from nudge.example: it drops tabs and newlines, reads \\ as /."""
    cleaned = location.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
    return urlsplit(urljoin("https://nudge.example/login", cleaned.strip())).netloc


def log_in_with_next(client: FlaskClient, raw_next: str) -> TestResponse:
    return post_login(client, STAFF["researcher"], query=f"?next={raw_next}")


@pytest.mark.parametrize("raw_next", BYPASSES)
def test_after_login_a_bypass_of_the_local_path_check_goes_home(
    app: Flask, staff: None, raw_next: str
) -> None:
    response = log_in_with_next(app.test_client(), raw_next)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize(
    "raw_next", ["/trials/witness-reminders", "/trials/t/results?arm=a%26b", "/messages?page=2"]
)
def test_after_login_a_page_on_this_site_is_followed(
    app: Flask, staff: None, raw_next: str
) -> None:
    response = log_in_with_next(app.test_client(), raw_next)
    assert response.headers["Location"] == raw_next.replace("%26", "&")


@given(st.text(max_size=40))
def test_whatever_next_says_the_browser_stays_on_this_site(target: str) -> None:
    location = _safe_next(target)
    assert browser_host(location) == "nudge.example"
    assert not any(ord(c) < 32 or ord(c) == 127 for c in location)


PIECES = ["/", "\\", "%2F", "%5C", "%252F", "%09", "\t", "\n", " ", "\u200b", "http:"]


@settings(max_examples=500)  # a pure function: many examples cost little
@given(st.lists(st.sampled_from(PIECES), max_size=4).map(lambda p: "".join(p) + "evil.ex"))
def test_whatever_next_says_once_decoded_it_stays_on_this_site(target: str) -> None:
    location = _safe_next(target)
    assert browser_host(location) == "nudge.example"
    assert browser_host(unquote(unquote(location))) == "nudge.example"  # a proxy decoding it


METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def example_paths(app: Flask) -> list[tuple[str, set[str]]]:
    """Every URL rule with its variables filled in, and the methods it allows."""
    paths = []
    for rule in app.url_map.iter_rules():
        arguments = {
            name: 1 if isinstance(converter, NumberConverter) else "nudge.css"
            for name, converter in rule._converters.items()
        }
        path = app.url_map.bind("nudge.example").build(rule.endpoint, arguments)
        paths.append((path, set(rule.methods or ())))
    return paths


def test_every_route_answers_a_method_it_does_not_allow_with_405_and_allow(
    app: Flask, staff: None
) -> None:
    client = app.test_client()
    checked = 0
    for path, allowed in example_paths(app):
        for method in sorted(METHODS - allowed):
            response = client.open(path, method=method)
            response.close()
            assert response.status_code == 405, (method, path)
            assert set(response.headers["Allow"].split(", ")) == allowed, (method, path)
            if method != "HEAD":
                assert "does not accept that kind of request" in response.get_data(as_text=True)
            checked += 1
    assert checked > 40  # every route, not an empty map


@pytest.mark.parametrize("role", [None, "researcher"])
def test_head_answers_every_page_as_get_does_without_a_body(
    app: Flask, staff: None, role: str | None
) -> None:
    client = logged_in(app, role) if role else app.test_client()
    for path, allowed in example_paths(app):
        if "GET" not in allowed:
            continue
        got, head = client.get(path), client.head(path)
        got.close()
        head.close()
        assert head.status_code == got.status_code, path
        assert head.data == b"", path
        for name in ("Content-Type", "Location", "Allow", "Cache-Control"):
            assert head.headers.get(name) == got.headers.get(name), (path, name)


def test_head_of_the_login_page_is_its_get_without_a_body(app: Flask) -> None:
    client = app.test_client()
    got, head = client.get("/login"), client.head("/login")
    assert head.status_code == got.status_code == 200
    assert head.headers["Content-Length"] == got.headers["Content-Length"]
    assert head.data == b""
