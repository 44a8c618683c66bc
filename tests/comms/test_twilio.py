"""The Twilio adapter against the stand-in provider, over real HTTP.

A text reaches the provider with its numbers, body and callback; a
click-to-call rings the rep and dials the customer from TwiML that survives
any characters in numbers and URLs; a resend is recognised by its idempotency
token; throttling, outages and a provider that is down are worth retrying,
a refused number or bad credentials are not.
"""

from __future__ import annotations

import socket
import uuid
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import httpx
import pytest

from server.comms.providers import Outgoing, ProviderError
from server.comms.providers.twilio import TwilioClient
from tests.comms.twilio_standin import TwilioStandin, twilio_standin_server  # noqa: F401

ORG_NUMBER = "+15005550006"
CUSTOMER = "+14155550123"
REP_PHONE = "+14155550199"
CALLBACK = "https://api.example.com/api/v1/webhooks/twilio/status?org=o1&sig=a%2Bb"


def outgoing(channel: str = "text", **fields) -> Outgoing:
    activity_id = uuid.uuid4()
    defaults = {"to": CUSTOMER, "sender": ORG_NUMBER, "body": "See you at 3pm?",
                "rep_name": "Rita Rep", "rep_phone": REP_PHONE, "status_callback": CALLBACK}
    return Outgoing(activity_id=activity_id, channel=channel, key=f"<{activity_id}@example.com>",
                    **(defaults | fields))


def client_for(standin: TwilioStandin, **overrides) -> TwilioClient:
    args = {"base_url": standin.base_url, "account_sid": standin.account_sid,
            "auth_token": standin.auth_token} | overrides
    return TwilioClient(args.pop("base_url"), args.pop("account_sid"), args.pop("auth_token"), **args)


async def send(standin: TwilioStandin, item: Outgoing, **overrides) -> str:
    client = client_for(standin, **overrides)
    try:
        return await client.send(item)
    finally:
        await client.aclose()


async def refusal(standin: TwilioStandin, item: Outgoing, **overrides) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await send(standin, item, **overrides)
    return caught.value


async def test_a_text_reaches_the_provider(twilio_standin: TwilioStandin):
    item = outgoing()
    sid = await send(twilio_standin, item)

    [message] = twilio_standin.messages
    assert sid == message.sid and sid.startswith("SM") and len(sid) == 34
    assert (message["To"], message["From"], message["Body"]) == (CUSTOMER, ORG_NUMBER, item.body)
    assert message["StatusCallback"] == CALLBACK
    assert message.auth == (twilio_standin.account_sid, twilio_standin.auth_token)
    assert message.idempotency_token == item.key
    assert twilio_standin.calls == [] and twilio_standin.duplicates == []


async def test_a_text_without_callback_asks_for_no_reports(twilio_standin: TwilioStandin):
    await send(twilio_standin, outgoing(status_callback=None, body="Ünïcode ✓ & <tags>"))

    [message] = twilio_standin.messages
    assert "StatusCallback" not in message.form
    assert message["Body"] == "Ünïcode ✓ & <tags>"


async def test_click_to_call_rings_the_rep_then_dials_the_customer(twilio_standin: TwilioStandin):
    item = outgoing("call", body=None)
    sid = await send(twilio_standin, item)

    [call] = twilio_standin.calls
    assert sid == call.sid and sid.startswith("CA")
    assert (call["To"], call["From"]) == (REP_PHONE, ORG_NUMBER)
    assert call["StatusCallback"] == CALLBACK
    assert call.getall("StatusCallbackEvent") == ["initiated", "ringing", "answered", "completed"]
    assert call.idempotency_token == item.key
    assert twilio_standin.messages == []

    dial = ElementTree.fromstring(call["Twiml"]).find("Dial")
    assert dial is not None and dial.text == CUSTOMER
    assert dial.get("callerId") == ORG_NUMBER
    action = urlsplit(dial.get("action"))
    assert action._replace(query="").geturl() == urlsplit(CALLBACK)._replace(query="").geturl()
    assert parse_qs(action.query) == {"org": ["o1"], "sig": ["a+b"], "leg": ["dial"]}


async def test_twiml_survives_special_characters(twilio_standin: TwilioStandin):
    odd_number = 'sip:rep&co<1>"x"@example.com'
    await send(twilio_standin, outgoing("call", to=odd_number, sender="+1 (500) 555-0006",
                                        status_callback="https://h.example/cb"))

    [call] = twilio_standin.calls
    dial = ElementTree.fromstring(call["Twiml"]).find("Dial")
    assert dial.text == odd_number
    assert dial.get("callerId") == "+1 (500) 555-0006"
    assert dial.get("action") == "https://h.example/cb?leg=dial"


async def test_a_call_without_callback_dials_without_action(twilio_standin: TwilioStandin):
    await send(twilio_standin, outgoing("call", status_callback=None))

    [call] = twilio_standin.calls
    dial = ElementTree.fromstring(call["Twiml"]).find("Dial")
    assert "action" not in dial.attrib and dial.text == CUSTOMER
    assert "StatusCallback" not in call.form and "StatusCallbackEvent" not in call.form


async def test_a_call_needs_the_reps_phone(twilio_standin: TwilioStandin):
    error = await refusal(twilio_standin, outgoing("call", rep_phone=None))

    assert error.permanent and "no phone number" in error.reason
    assert twilio_standin.calls == [] and twilio_standin.duplicates == []


async def test_a_resend_is_recognised_by_its_token(twilio_standin: TwilioStandin):
    item = outgoing()
    first = await send(twilio_standin, item)
    second = await send(twilio_standin, item)

    assert first == second
    assert len(twilio_standin.messages) == 1
    [duplicate] = twilio_standin.duplicates
    assert duplicate.sid == first and duplicate.idempotency_token == item.key


async def test_a_lost_response_then_a_retry_sends_once(twilio_standin: TwilioStandin):
    """The provider accepted but we timed out: the retry with the same key does not text twice."""
    item = outgoing()
    twilio_standin.delay_s = 2.0
    error = await refusal(twilio_standin, item, timeout=0.2)
    assert not error.permanent
    twilio_standin.delay_s = 0.0

    sid = await send(twilio_standin, item)

    [message] = twilio_standin.messages
    assert sid == message.sid and len(twilio_standin.duplicates) == 1


async def test_a_server_error_is_worth_retrying(twilio_standin: TwilioStandin):
    twilio_standin.fail_next(1, 500)
    error = await refusal(twilio_standin, outgoing())

    assert not error.permanent and error.retry_after_s is None
    assert twilio_standin.messages == []
    assert await send(twilio_standin, outgoing())  # the provider is back


async def test_throttling_is_worth_retrying_after_the_given_delay(twilio_standin: TwilioStandin):
    twilio_standin.fail_next(1, 429, code=20429, message="Too Many Requests", retry_after=7)
    error = await refusal(twilio_standin, outgoing())

    assert not error.permanent and error.retry_after_s == 7.0
    assert "20429" in error.reason


async def test_an_invalid_number_is_final(twilio_standin: TwilioStandin):
    twilio_standin.fail_next(1, 400, code=21211, message="The 'To' number is not a valid phone number")
    error = await refusal(twilio_standin, outgoing(to="+1555"))

    assert error.permanent and error.retry_after_s is None
    assert error.reason == "twilio 21211: The 'To' number is not a valid phone number"


async def test_a_missing_body_is_refused_by_the_provider(twilio_standin: TwilioStandin):
    error = await refusal(twilio_standin, outgoing(body=None))

    assert error.permanent and "twilio 21602" in error.reason
    assert twilio_standin.messages == []


async def test_wrong_credentials_are_final(twilio_standin: TwilioStandin):
    error = await refusal(twilio_standin, outgoing(), auth_token="not-the-token")

    assert error.permanent and error.reason == "twilio 20003: Authenticate"
    assert twilio_standin.messages == []


async def test_a_provider_that_is_down_is_worth_retrying():
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = TwilioClient(f"http://127.0.0.1:{port}", "AC" + "1" * 32, "token", timeout=2)
    try:
        with pytest.raises(ProviderError) as caught:
            await client.send(outgoing())
    finally:
        await client.aclose()
    assert not caught.value.permanent


async def test_a_shared_http_client_stays_open(twilio_standin: TwilioStandin):
    async with httpx.AsyncClient() as http:
        client = TwilioClient(twilio_standin.base_url, twilio_standin.account_sid,
                              twilio_standin.auth_token, http=http)
        await client.send(outgoing())
        await client.aclose()
        assert not http.is_closed
        await client.send(outgoing())
    assert len(twilio_standin.messages) == 2


async def test_email_is_not_its_business(twilio_standin: TwilioStandin):
    with pytest.raises(ValueError):
        await send(twilio_standin, outgoing("email", to="c@example.com"))
    assert twilio_standin.messages == [] and twilio_standin.calls == []
