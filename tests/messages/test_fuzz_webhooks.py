"""Webhook bodies fuzzed: bad signatures get 403, signed garbage a clean 4xx or is ignored.

Random form fields, missing fields, huge values, NUL and control characters, invalid UTF-8
and wrong content types, against the real app on the engine under test: never a 500, and
a refused request writes nothing.
"""

from __future__ import annotations

import os
import urllib.parse

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from nudge.models import Message
from tests.factories import row_counts
from tests.messages.test_webhooks import PUBLIC, app, post, sent  # noqa: F401  (fixtures)

FUZZ = settings(
    max_examples=int(os.environ.get("NUDGE_FUZZ_EXAMPLES", "60")),
    deadline=None,
    derandomize=os.environ.get("CI", "").lower() == "true",
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PATHS = ["/webhooks/twilio/status", "/webhooks/twilio/inbound"]
NAMES = ["MessageSid", "MessageStatus", "ErrorCode", "From", "To", "Body", "AccountSid"]
TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=0, max_size=3000),
    st.sampled_from(["", "\x00", "SM\x00", "+447700900001", "delivered", "21610", "STOP", "²"]),
    st.integers(-(10**30), 10**30).map(str),
)
FORMS = st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=10), TEXT, max_size=8)
QUERIES = st.one_of(
    st.just(""),
    st.sampled_from(["m=1", "m=²", "m=٣", "m=" + "9" * 40, "m=-1", "m=", "m=1&m=2"]),
    # Percent-encoded, as any HTTP client sends a query: a bare "#" would start a fragment,
    # which never reaches the server, so the signed URL and the received one would differ.
    st.text(max_size=20).map(lambda t: "m=" + urllib.parse.quote(t, safe="")),
)


def counts(session: Session) -> dict[str, int]:
    found = row_counts(session)
    session.rollback()
    return found


@FUZZ
@given(path=st.sampled_from(PATHS), form=FORMS, query=QUERIES, message_id=st.booleans())
def test_signed_garbage_gets_a_clean_answer_never_a_500(
    app: Flask,  # noqa: F811
    session: Session,
    sent: Message,  # noqa: F811
    path: str,
    form: dict[str, str],
    query: str,
    message_id: bool,
) -> None:
    if message_id:
        query, form = f"m={sent.id}", {"MessageSid": sent.provider_id or "", **form}
    url = f"{path}?{query}" if query else path
    before = counts(session)
    response = post(app.test_client(), url, form)
    assert response.status_code in (200, 204, 400), response.get_data(as_text=True)
    if response.status_code == 400:
        assert counts(session) == before, "a refused callback wrote something"
        assert response.mimetype == "text/plain" and response.get_data(as_text=True).strip()


@FUZZ
@given(
    path=st.sampled_from(PATHS),
    form=FORMS,
    signature=st.one_of(
        st.none(),
        st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60),
        st.just("wrong-token"),
    ),
)
def test_a_bad_signature_is_refused_whatever_the_body(
    app: Flask,  # noqa: F811
    session: Session,
    sent: Message,  # noqa: F811
    path: str,
    form: dict[str, str],
    signature: str | None,
) -> None:
    before = counts(session)
    client = app.test_client()
    if signature == "wrong-token":
        response = post(client, path, form, token="not-the-signing-token")
    else:
        headers = {} if signature is None else {"X-Twilio-Signature": signature}
        response = client.post(path, data=form, headers=headers)
    assert response.status_code == 403
    assert counts(session) == before


@FUZZ
@given(
    path=st.sampled_from(PATHS),
    body=st.one_of(
        st.binary(max_size=2000),
        st.sampled_from([b"\xff\xfe\x00", b"MessageSid=%FF%FE&From=%00", b'{"MessageSid": 1}']),
    ),
    content_type=st.sampled_from(
        [
            "application/x-www-form-urlencoded",
            "application/json",
            "multipart/form-data; boundary=x",
            "multipart/form-data",
            "text/plain; charset=utf-16",
            "application/x-www-form-urlencoded; charset=latin-1",
            "",
        ]
    ),
)
def test_raw_bodies_of_any_type_are_refused_without_a_signature(
    app: Flask,  # noqa: F811
    session: Session,
    sent: Message,  # noqa: F811
    path: str,
    body: bytes,
    content_type: str,
) -> None:
    before = counts(session)
    response = app.test_client().post(
        path, data=body, headers={"Content-Type": content_type, "X-Twilio-Signature": "x"}
    )
    assert response.status_code in (400, 403), response.status_code
    assert counts(session) == before


def test_a_huge_body_is_refused_before_it_is_read(
    app: Flask,  # noqa: F811
    session: Session,
    sent: Message,  # noqa: F811
) -> None:
    before = counts(session)
    form = {"MessageSid": "SM1", "From": "+447700900001", "Body": "x" * (6 << 20)}
    response = post(app.test_client(), PATHS[1], form)
    assert response.status_code == 413 and counts(session) == before
