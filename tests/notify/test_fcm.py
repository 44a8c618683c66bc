"""How the FCM adapter reads FCM's answers: which refusals are retried, which kill the token."""

from __future__ import annotations

import uuid

import httpx
import pytest

from server.comms.providers import ProviderError
from server.notify.fcm import DeadToken, FcmClient
from server.notify.sender import Claimed
from tests.notify.fcm_standin import BAD_REQUEST_TYPE, error_body


def push(token: str = "tok") -> Claimed:
    return Claimed(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), "fcm", token, "Title", "Body", {}, None, 1)


async def answer(status: int, body: dict, headers: dict | None = None) -> ProviderError | str:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json=body, headers=headers))
    async with httpx.AsyncClient(transport=transport) as http:
        client = FcmClient("https://fcm.example", "proj", "secret", http=http)
        try:
            return await client.send(push())
        except ProviderError as e:
            return e


async def test_the_message_name_is_the_reference():
    assert await answer(200, {"name": "projects/proj/messages/1"}) == "projects/proj/messages/1"


async def test_a_success_without_a_name_is_retried():
    result = await answer(200, {})
    assert isinstance(result, ProviderError) and not result.permanent


@pytest.mark.parametrize(("status", "code"), [(404, "UNREGISTERED"), (404, None), (400, "UNREGISTERED")])
async def test_an_unknown_token_is_dead(status, code):
    result = await answer(status, error_body(status, "Requested entity was not found.", code))
    assert isinstance(result, DeadToken) and result.permanent


async def test_an_invalid_token_is_dead_but_an_invalid_payload_only_fails_the_push():
    violation = {"@type": BAD_REQUEST_TYPE, "fieldViolations": [{"field": "message.token", "description": "bad"}]}
    token = await answer(400, error_body(400, "Invalid argument", "INVALID_ARGUMENT", [violation]))
    assert isinstance(token, DeadToken)
    named = await answer(400, error_body(400, "The registration token is not a valid FCM registration token",
                                         "INVALID_ARGUMENT"))
    assert isinstance(named, DeadToken)
    payload = await answer(400, error_body(400, "Invalid value at 'message.data'", "INVALID_ARGUMENT"))
    assert isinstance(payload, ProviderError) and payload.permanent and not isinstance(payload, DeadToken)


@pytest.mark.parametrize("status", [401, 403, 429, 500, 503])
async def test_credentials_throttling_and_server_faults_are_retried(status):
    result = await answer(status, error_body(status, "no"), {"Retry-After": "30"})
    assert isinstance(result, ProviderError) and not result.permanent
    assert not isinstance(result, DeadToken)
    assert result.retry_after_s == 30


async def test_a_network_failure_is_retried():
    def fail(request):
        raise httpx.ConnectError("refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(fail)) as http:
        with pytest.raises(ProviderError) as caught:
            await FcmClient("https://fcm.example", "proj", "secret", http=http).send(push())
    assert not caught.value.permanent
