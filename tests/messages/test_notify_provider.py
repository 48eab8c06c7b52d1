"""GOV.UK Notify through its official client against the local fake Notify: settings refused
with what to do, the token checked as Notify checks it, each send carrying our message id as
its reference, and Notify's errors sorted by the one table."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
import requests

from messages.providers.base import STOPS_RUN, OutgoingSms
from messages.providers.notify import NotifyProvider
from messages.providers.notify_errors import NOTIFY_ERRORS, refusal_for
from nudge.config import load_settings
from nudge.errors import ConfigError, ProviderError
from nudge.models.statuses import Reason
from tests.fakes.notify_server import FakeNotifyServer, nudge_env
from tests.fakes.notify_state import (
    FAKE_API_KEY,
    FAKE_SERVICE_ID,
    FAKE_TEMPLATE_ID,
    NotifyFaults,
)

TO = "+447700900123"


@pytest.fixture
def notify() -> Iterator[FakeNotifyServer]:
    with FakeNotifyServer() as fake:
        yield fake


def provider(fake: FakeNotifyServer, **overrides: object) -> NotifyProvider:
    env = nudge_env(fake.url)
    settings = load_settings(env)
    args: dict[str, object] = {
        "sender_id": settings.notify_sms_sender_id,
        "base_url": settings.notify_base_url,
        "timeout": 1.0,
        **overrides,
    }
    return NotifyProvider(env["NOTIFY_API_KEY"], env["NOTIFY_SMS_TEMPLATE_ID"], **args)  # type: ignore[arg-type]


def sms(message_id: int = 41, to: str = TO, body: str = "Your hearing is tomorrow.") -> OutgoingSms:
    return OutgoingSms(message_id, to, body, None, None, None)


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({}, "needs NOTIFY_API_KEY and NOTIFY_SMS_TEMPLATE_ID"),
        ({"NOTIFY_API_KEY": "not-a-key"}, "NOTIFY_API_KEY is not a Notify API key"),
        ({"NOTIFY_SMS_TEMPLATE_ID": "body"}, "NOTIFY_SMS_TEMPLATE_ID='body' is not a Notify id"),
        ({"NOTIFY_SMS_SENDER_ID": "Nudge"}, "NOTIFY_SMS_SENDER_ID='nudge' is not a Notify id"),
        ({"NUDGE_NOTIFY_BASE_URL": "ftp://x"}, "NUDGE_NOTIFY_BASE_URL='ftp://x' must start"),
    ],
)
def test_notify_settings_missing_or_malformed_are_refused_with_what_to_do(
    env: dict[str, str], says: str
) -> None:
    base = nudge_env("http://127.0.0.1:9")
    if not env:
        base = {"NUDGE_SMS_PROVIDER": "notify"}
    with pytest.raises(ConfigError, match=re.escape(says)):
        load_settings({**base, **env})


def test_good_notify_settings_load_with_the_fake_as_the_base_url() -> None:
    settings = load_settings(nudge_env("http://127.0.0.1:9/"))
    assert (settings.sms_provider, settings.notify_base_url) == ("notify", "http://127.0.0.1:9")
    assert settings.notify_api_key == FAKE_API_KEY


def test_a_send_carries_our_message_id_as_the_reference_and_our_words_as_the_body(
    notify: FakeNotifyServer,
) -> None:
    receipt = provider(notify).send(sms(41))
    [stored] = notify.state.notifications
    assert (stored["id"], stored["reference"], stored["body"]) == (
        receipt.provider_id,
        "41",
        "Your hearing is tomorrow.",
    )
    found = provider(notify).find_reference("41")
    assert found is not None and found.provider_id == receipt.provider_id
    assert provider(notify).find_reference("42") is None


def test_the_fake_refuses_a_token_signed_with_another_secret_or_from_a_skewed_clock(
    notify: FakeNotifyServer,
) -> None:
    wrong = FAKE_API_KEY[:-12] + "000000000000"
    with pytest.raises(ProviderError) as refused:
        NotifyProvider(wrong, FAKE_TEMPLATE_ID, base_url=notify.url).send(sms())
    assert refused.value.code == "notify-403" and STOPS_RUN["notify-403"] == (
        Reason.CREDENTIALS_REFUSED
    )
    notify.state.epoch = lambda: time.time() + 31  # the server's clock 31 s ahead of ours
    response = requests.post(notify.url + "/v2/notifications/sms", json={}, timeout=5)
    assert response.status_code == 401
    with pytest.raises(ProviderError, match="HTTP 403 AuthError"):
        provider(notify).send(sms())
    assert notify.state.notifications == []


def test_a_token_for_another_service_is_refused_with_notifys_error_body(
    notify: FakeNotifyServer,
) -> None:
    import jwt

    token = jwt.encode({"iss": "another", "iat": int(time.time())}, notify.state.secret)
    response = requests.get(
        notify.url + "/v2/notifications", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert response.status_code == 403
    assert response.json() == {
        "errors": [{"error": "AuthError", "message": "Invalid token: service not found"}],
        "status_code": 403,
    }
    assert FAKE_SERVICE_ID in FAKE_API_KEY


@pytest.mark.parametrize(
    ("fault", "code", "transient", "ambiguous"),
    [
        ("429", "notify-429", True, False),
        ("500", "notify-5xx", True, False),
        ("403", "notify-403", True, False),
        ("drop", None, True, True),
        ("hang", None, True, True),
        ("lost_reply", None, True, True),
        ("malformed", None, True, True),
    ],
)
def test_each_fault_becomes_the_error_dispatch_needs(
    notify: FakeNotifyServer, fault: str, code: str | None, transient: bool, ambiguous: bool
) -> None:
    notify.state.faults = NotifyFaults(script=[fault], hang_seconds=1.5)
    with pytest.raises(ProviderError) as raised:
        provider(notify).send(sms())
    error = raised.value
    assert (error.code, error.transient, error.ambiguous) == (code, transient, ambiguous)
    kept = 1 if fault in ("lost_reply", "malformed") else 0
    assert len(notify.state.notifications) == kept


def test_a_server_that_is_not_there_is_transient_and_never_ambiguous() -> None:
    with FakeNotifyServer() as gone:
        url = gone.url
    lonely = NotifyProvider(FAKE_API_KEY, FAKE_TEMPLATE_ID, base_url=url, timeout=1.0)
    with pytest.raises(ProviderError) as raised:
        lonely.send(sms())
    assert raised.value.transient and not raised.value.ambiguous


@pytest.mark.parametrize(
    ("to", "body", "code", "reason"),
    [
        ("+15005550006", "Hello", "notify-400-number", Reason.INVALID_NUMBER),
        (TO, "x" * 919, "notify-400", Reason.PROVIDER_REJECTED),
    ],
)
def test_notifys_validation_errors_are_permanent_with_a_reason(
    notify: FakeNotifyServer, to: str, body: str, code: str, reason: Reason
) -> None:
    from messages.dispatch import PERMANENT

    with pytest.raises(ProviderError) as raised:
        provider(notify).send(sms(to=to, body=body))
    assert (raised.value.code, raised.value.transient) == (code, False)
    assert PERMANENT[code] == reason


def test_the_error_table_sorts_every_documented_notify_error() -> None:
    assert refusal_for(400, "ValidationError", "phone_number Too many digits").code == (
        "notify-400-number"
    )
    assert (
        refusal_for(
            400, "BadRequestError", "Can't send to this recipient when service is in trial mode"
        ).reason
        == Reason.PROVIDER_REJECTED
    )
    assert refusal_for(429, "TooManyRequestsError", "Exceeded send limits").code == "notify-429"
    assert refusal_for(503, "", "").transient and refusal_for(418, "Teapot", "").code == (
        "notify-400"
    )
    for refusal in NOTIFY_ERRORS.values():
        assert len(refusal.code) <= 20  # the event's error_code column
        assert refusal.transient or refusal.reason is not None
