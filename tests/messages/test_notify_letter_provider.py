"""Precompiled letters through Notify's official client against the fake Notify: settings, the
reference, the PDF as sent, and Notify's documented refusals sorted by the one table."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator

import pytest
from notifications_python_client.errors import APIError

from messages.letter_layout import BODY_TOP_NOTIFY
from messages.letters import render_letter
from messages.providers.base import OutgoingLetter
from messages.providers.notify import NotifyProvider
from messages.providers.notify_letters import NotifyLetterProvider
from nudge.config import load_settings
from nudge.errors import ConfigError, ProviderError
from tests.fakes.notify_server import FakeNotifyServer
from tests.fakes.notify_state import FAKE_API_KEY, FAKE_TEMPLATE_ID, NotifyFaults

ADDRESS = ("Testy McTestface", "1 Fictional Street", "Bristol", "BS1 1AA")


@pytest.fixture
def notify() -> Iterator[FakeNotifyServer]:
    with FakeNotifyServer() as fake:
        yield fake


def letters(fake: FakeNotifyServer, key: str = FAKE_API_KEY) -> NotifyLetterProvider:
    return NotifyLetterProvider(key, base_url=fake.url, timeout=2.0)


def pdf(paragraphs: int = 3) -> bytes:
    body = "\n\n".join(["You are due at court on Thursday 4 March 2027. " * 6] * paragraphs)
    return render_letter(body, address=ADDRESS, body_top_first=BODY_TOP_NOTIFY)


def test_letters_through_notify_need_only_the_key_and_print_stays_the_default() -> None:
    assert load_settings({}).letter_provider == "print"
    settings = load_settings({"NUDGE_LETTER_PROVIDER": "notify", "NOTIFY_API_KEY": FAKE_API_KEY})
    assert (settings.letter_provider, settings.sms_provider) == ("notify", "console")
    with pytest.raises(ConfigError, match="NUDGE_LETTER_PROVIDER=notify needs NOTIFY_API_KEY"):
        load_settings({"NUDGE_LETTER_PROVIDER": "notify"})
    with pytest.raises(ConfigError, match=re.escape("NUDGE_LETTER_PROVIDER='post' is not one of")):
        load_settings({"NUDGE_LETTER_PROVIDER": "post"})


def test_a_letter_goes_as_our_pdf_with_our_message_id_as_the_reference(
    notify: FakeNotifyServer,
) -> None:
    sent = pdf()
    receipt = letters(notify).send(OutgoingLetter(57, sent))
    [stored] = notify.state.notifications
    assert (stored["id"], stored["reference"], stored["type"]) == (
        receipt.provider_id,
        "57",
        "letter",
    )
    assert stored["postage"] == "second" and notify.state.letter_pdfs[receipt.provider_id] == sent
    found = letters(notify).find_reference("57")
    assert found is not None and found.provider_id == receipt.provider_id
    texts = NotifyProvider(FAKE_API_KEY, FAKE_TEMPLATE_ID, base_url=notify.url)
    assert texts.find_reference("57") is None  # a text's look-up never finds a letter
    assert letters(notify).find_reference("58") is None


def test_a_key_for_another_service_is_refused_and_stops_the_run(notify: FakeNotifyServer) -> None:
    wrong = FAKE_API_KEY[:-12] + "000000000000"
    with pytest.raises(ProviderError) as refused:
        letters(notify, wrong).send(OutgoingLetter(1, pdf()))
    assert refused.value.code == "notify-403" and refused.value.transient
    assert notify.state.notifications == []


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        ({"reference": "1", "content": "not base64!"}, "BadRequestError", "Cannot decode"),
        (
            {"reference": "1", "content": base64.b64encode(b"not a pdf").decode()},
            "BadRequestError",
            "Letter content is not a valid PDF",
        ),
        ({"content": "JVBERi0="}, "ValidationError", "reference is a required property"),
        (
            {"reference": "1", "content": "JVBERi0=", "postage": "third"},
            "ValidationError",
            "postage invalid",
        ),
    ],
)
def test_the_fake_answers_a_bad_letter_request_with_notifys_documented_400(
    notify: FakeNotifyServer, data: dict[str, str], error: str, message: str
) -> None:
    with pytest.raises(APIError) as refused:
        letters(notify).client.post("/v2/notifications/letter", data=data)
    assert refused.value.status_code == 400
    [first] = refused.value.response.json()["errors"]  # type: ignore[union-attr]
    assert first["error"] == error and first["message"].startswith(message)
    assert notify.state.notifications == []


def test_a_pdf_notify_cannot_read_fails_for_good(notify: FakeNotifyServer) -> None:
    with pytest.raises(ProviderError) as refused:
        letters(notify).send(OutgoingLetter(1, b"%PDF-1.4 not really"))
    assert refused.value.code == "notify-400" and not refused.value.transient


@pytest.mark.parametrize(("fault", "code"), [("429", "notify-429"), ("500", "notify-5xx")])
def test_a_rate_limit_or_server_error_is_worth_trying_again(
    notify: FakeNotifyServer, fault: str, code: str
) -> None:
    notify.state.faults = NotifyFaults(script=[fault])
    with pytest.raises(ProviderError) as refused:
        letters(notify).send(OutgoingLetter(1, pdf()))
    assert refused.value.code == code and refused.value.transient
    assert not refused.value.ambiguous and notify.state.notifications == []


def test_a_reply_that_never_comes_is_ambiguous(notify: FakeNotifyServer) -> None:
    notify.state.faults = NotifyFaults(script=["lost_reply"], hang_seconds=1.0)
    slow = NotifyLetterProvider(FAKE_API_KEY, base_url=notify.url, timeout=0.3)
    with pytest.raises(ProviderError) as unclear:
        slow.send(OutgoingLetter(9, pdf()))
    assert unclear.value.ambiguous
    assert letters(notify).find_reference("9") is not None  # Notify had it after all


def test_the_fake_fails_a_letter_of_more_than_ten_pages_after_accepting_it(
    notify: FakeNotifyServer,
) -> None:
    long = pdf(paragraphs=120)
    letters(notify).send(OutgoingLetter(3, long))
    [stored] = notify.state.notifications
    assert stored["pages"] > 10 and stored["status"] == "validation-failed"
