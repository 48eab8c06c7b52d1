"""The Twilio provider on the real twilio client, against the local fake Twilio server."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
import requests
from twilio.rest import Client

from messages.providers.base import OutgoingSms
from messages.providers.twilio import RebasedHttpClient, TwilioProvider
from nudge.errors import ConfigError, ProviderError
from tests.fakes.twilio_server import FakeTwilioServer, control
from tests.fakes.twilio_state import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN

SENDER = "+447700900000"
SERVICE = "MG" + "ab" * 16
NOW = datetime(2027, 2, 25, 18, tzinfo=UTC)


def text(
    to: str = "+447700900123", validity: int | None = 3600, **overrides: object
) -> OutgoingSms:
    values: dict[str, object] = {
        "message_id": 7,
        "to": to,
        "body": "Reminder: your court date is Thursday 4 March at 10am.",
        "sender": SENDER,
        "status_callback": "https://nudge.example/webhooks/twilio/status?m=7",
        "validity_seconds": validity,
    }
    values.update(overrides)
    return OutgoingSms(**values)  # type: ignore[arg-type]


def provider(fake: FakeTwilioServer, **options: object) -> TwilioProvider:
    settings: dict[str, object] = {"base_url": fake.url, "timeout": 1.0}
    settings.update(options)
    return TwilioProvider(FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, **settings)  # type: ignore[arg-type]


def test_a_text_goes_with_its_sender_status_callback_and_validity(
    fake_twilio: FakeTwilioServer,
) -> None:
    receipt = provider(fake_twilio).send(text())
    [accepted] = fake_twilio.state.messages
    assert receipt.provider_id == accepted["sid"] and accepted["sid"].startswith("SM")
    assert len(accepted["sid"]) == 34 and receipt.status == "queued"
    assert accepted["from"] == SENDER and accepted["to"] == "+447700900123"
    assert accepted["_status_callback"] == "https://nudge.example/webhooks/twilio/status?m=7"
    assert accepted["_validity_period"] == "3600"
    assert accepted["body"].startswith("Reminder: your court date")


def test_a_messaging_service_replaces_the_trials_sender(fake_twilio: FakeTwilioServer) -> None:
    receipt = provider(fake_twilio, messaging_service_sid=SERVICE).send(text())
    [accepted] = fake_twilio.state.messages
    assert accepted["messaging_service_sid"] == SERVICE and accepted["from"] is None
    assert receipt.status == "accepted"  # as Twilio answers a send through a service


@pytest.mark.parametrize(("window", "sent_as"), [(0, "1"), (3600, "3600"), (90_000, "36000")])
def test_the_validity_period_is_clamped_to_what_twilio_accepts(
    fake_twilio: FakeTwilioServer, window: int, sent_as: str
) -> None:
    provider(fake_twilio).send(text(validity=window))
    assert fake_twilio.state.messages[0]["_validity_period"] == sent_as


def test_without_a_sender_or_service_nothing_is_sent_and_it_can_be_retried(
    fake_twilio: FakeTwilioServer,
) -> None:
    with pytest.raises(ProviderError) as raised:
        provider(fake_twilio).send(text(sender=None))
    assert raised.value.code == "21603" and raised.value.transient
    assert fake_twilio.state.requests["total"] == 0


@pytest.mark.parametrize(
    ("fault", "code", "transient", "ambiguous"),
    [
        ("429", "20429", True, False),
        ("500", "20500", True, False),
        ("503", "20503", True, False),
        ("hang", None, True, True),
        ("drop", None, True, True),
        ("lost_reply", None, True, True),
        ("malformed", None, True, True),
    ],
)
def test_server_faults_are_retried_or_left_to_reconciliation(
    fake_twilio: FakeTwilioServer,
    fault: str,
    code: str | None,
    transient: bool,
    ambiguous: bool,
) -> None:
    fake_twilio.state.faults.script = [fault]
    fake_twilio.state.faults.hang_seconds = 1.5  # longer than the client's 1 s timeout
    with pytest.raises(ProviderError) as raised:
        provider(fake_twilio).send(text())
    error = raised.value
    assert (error.code, error.transient, error.ambiguous) == (code, transient, ambiguous)
    recorded = fake_twilio.state.accepted_per_to["+447700900123"]
    assert recorded == (1 if fault in ("lost_reply", "malformed") else 0)


@pytest.mark.parametrize("code", ["21610", "21614", "30005", "30006"])
def test_a_refused_number_is_a_permanent_error_with_twilios_code(
    fake_twilio: FakeTwilioServer, code: str
) -> None:
    fake_twilio.state.reject("+447700900123", code)
    with pytest.raises(ProviderError) as raised:
        provider(fake_twilio).send(text())
    assert raised.value.code == code and not raised.value.transient
    assert not raised.value.ambiguous


def test_an_unreachable_handset_is_worth_another_try_later(fake_twilio: FakeTwilioServer) -> None:
    fake_twilio.state.reject("+447700900123", "30003")
    with pytest.raises(ProviderError) as raised:
        provider(fake_twilio).send(text())
    assert raised.value.code == "30003" and raised.value.transient


@pytest.mark.parametrize("to", ["07700 900123", "+44", "not a number"])
def test_a_number_twilio_cannot_parse_is_refused_as_invalid(
    fake_twilio: FakeTwilioServer, to: str
) -> None:
    with pytest.raises(ProviderError) as raised:
        provider(fake_twilio).send(text(to=to))
    assert raised.value.code == "21211" and not raised.value.transient


def test_wrong_credentials_hold_messages_back_instead_of_failing_them(
    fake_twilio: FakeTwilioServer,
) -> None:
    wrong = TwilioProvider(FAKE_ACCOUNT_SID, "not-the-token", base_url=fake_twilio.url)
    with pytest.raises(ProviderError) as raised:
        wrong.send(text())
    assert raised.value.code == "20003" and raised.value.transient
    assert "TWILIO_AUTH_TOKEN" in raised.value.message and not fake_twilio.state.messages


def test_a_server_that_cannot_be_reached_sent_nothing() -> None:
    with FakeTwilioServer() as gone:
        url = gone.url
    with pytest.raises(ProviderError) as raised:
        TwilioProvider(FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, base_url=url).send(text())
    assert raised.value.transient and not raised.value.ambiguous


def test_a_base_url_without_a_scheme_is_a_clear_configuration_error() -> None:
    with pytest.raises(ConfigError, match="NUDGE_TWILIO_BASE_URL"):
        TwilioProvider(FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, base_url="127.0.0.1:9999")


def test_find_sent_reads_every_page_and_only_what_came_since(
    fake_twilio: FakeTwilioServer,
) -> None:
    now = [NOW - timedelta(hours=2)]
    fake_twilio.state.now = lambda: now[0]
    twilio = provider(fake_twilio)
    twilio.send(text(body="an older reminder"))
    now[0] = NOW
    for n in range(130):
        twilio.send(text(body=f"reminder {n}"))
    twilio.send(text(to="+447700900124"))
    gets = fake_twilio.state.requests["GET Messages"]
    found = twilio.find_sent("+447700900123", NOW - timedelta(minutes=5))
    assert sorted(r.body for r in found) == sorted(f"reminder {n}" for n in range(130))
    assert {r.to for r in found} == {"+447700900123"} and all(r.created_at == NOW for r in found)
    assert fake_twilio.state.requests["GET Messages"] - gets == 2  # 100 a page


def test_find_sent_sees_a_text_still_in_twilios_queue(fake_twilio: FakeTwilioServer) -> None:
    fake_twilio.state.hold_queued = True
    client = Client(
        FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, http_client=RebasedHttpClient(fake_twilio.url, 5)
    )
    provider(fake_twilio).send(text())
    since = datetime.now(UTC) - timedelta(minutes=5)
    assert client.messages.list(to="+447700900123", date_sent_after=since) == []
    [record] = provider(fake_twilio).find_sent("+447700900123", since)
    assert record.status == "queued"


def test_a_list_that_fails_is_an_error_not_an_empty_answer(
    fake_twilio: FakeTwilioServer,
) -> None:
    wrong = TwilioProvider(FAKE_ACCOUNT_SID, "not-the-token", base_url=fake_twilio.url)
    with pytest.raises(ProviderError):
        wrong.find_sent("+447700900123", NOW)


def test_the_fake_filters_and_pages_the_list_as_twilio_does(
    fake_twilio: FakeTwilioServer,
) -> None:
    day = [datetime(2027, 2, 24, 9, tzinfo=UTC)]
    fake_twilio.state.now = lambda: day[0]
    twilio = provider(fake_twilio)
    for hours in range(0, 72, 12):
        day[0] = datetime(2027, 2, 24, 9, tzinfo=UTC) + timedelta(hours=hours)
        twilio.send(text())
    client = Client(
        FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, http_client=RebasedHttpClient(fake_twilio.url, 5)
    )
    after = client.messages.list(
        to="+447700900123", date_sent_after=datetime(2027, 2, 25, 9, tzinfo=UTC), page_size=2
    )
    assert [m.date_sent for m in after] == [
        datetime(2027, 2, 26, 21, tzinfo=UTC),
        datetime(2027, 2, 26, 9, tzinfo=UTC),
        datetime(2027, 2, 25, 21, tzinfo=UTC),
        datetime(2027, 2, 25, 9, tzinfo=UTC),
    ]
    before = client.messages.list(date_sent_before=datetime(2027, 2, 24, 21, tzinfo=UTC))
    assert len(before) == 2
    page = client.messages.page(to="+447700900123", page_size=4)
    assert len(list(page)) == 4 and page.next_page_url and "PageToken=PA" in page.next_page_url


def test_the_fake_refuses_wrong_credentials_with_twilios_error(
    fake_twilio: FakeTwilioServer,
) -> None:
    url = f"{fake_twilio.url}/2010-04-01/Accounts/{FAKE_ACCOUNT_SID}/Messages.json"
    reply = requests.post(url, data={"To": "+447700900123"}, auth=(FAKE_ACCOUNT_SID, "x"))
    assert reply.status_code == 401 and reply.headers["WWW-Authenticate"].startswith("Basic")
    assert reply.json()["code"] == 20003 and reply.json()["status"] == 401


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"Body": "hello", "From": SENDER}, 21604),
        ({"To": "+447700900123", "From": SENDER}, 21602),
        ({"To": "+447700900123", "Body": "hello"}, 21603),
        ({"To": "+447700900123", "Body": "x" * 1601, "From": SENDER}, 21617),
        ({"To": "+447700900123", "Body": "hi", "From": SENDER, "ValidityPeriod": "0"}, 21624),
    ],
)
def test_the_fake_validates_parameters_with_twilios_codes(
    fake_twilio: FakeTwilioServer, form: dict[str, str], code: int
) -> None:
    url = f"{fake_twilio.url}/2010-04-01/Accounts/{FAKE_ACCOUNT_SID}/Messages.json"
    reply = requests.post(url, data=form, auth=(FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN))
    assert reply.status_code == 400 and reply.json()["code"] == code
    assert not fake_twilio.state.messages


def test_the_fake_can_be_steered_from_another_process(fake_twilio: FakeTwilioServer) -> None:
    control(fake_twilio.url, "/_fake/faults", {"script": ["503"], "delay": 0})
    control(fake_twilio.url, "/_fake/reject", {"to": "+447700900124", "code": "21610"})
    twilio = provider(fake_twilio)
    with pytest.raises(ProviderError):
        twilio.send(text())
    twilio.send(text())
    with pytest.raises(ProviderError):
        twilio.send(text(to="+447700900124"))
    stats = control(fake_twilio.url, "/_fake/stats")
    assert stats["requests"]["POST Messages"] == 3 and stats["accepted"] == 1
    assert stats["accepted_per_to"] == {"+447700900123": 1}


def test_the_provider_logs_no_numbers_or_texts(
    fake_twilio: FakeTwilioServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # urllib3's own DEBUG lines show URLs: never switch it on
    with caplog.at_level(logging.DEBUG, logger="messages.providers.twilio"):
        twilio = provider(fake_twilio)
        twilio.send(text())
        twilio.find_sent("+447700900123", NOW)
    assert "Twilio accepted message 7" in caplog.text
    assert "7700" not in caplog.text and "court date" not in caplog.text
