"""Push notifications through Firebase Cloud Messaging's HTTP v1 API.

One call per message: ``POST {base}/v1/projects/{project}/messages:send`` with
``Authorization: Bearer <token>`` and ``{"message": {...}}``; the answer is the
message with its ``name`` (``projects/{project}/messages/{id}``), our
reference. iOS devices are reached through FCM's APNs bridge, so the message
carries the APNs collapse header beside Android's ``collapse_key``.

The bearer token is an OAuth 2 access token minted from a Google service
account (scope ``https://www.googleapis.com/auth/firebase.messaging``). Minting
and refreshing it is left to the deployment (a sidecar or a secret refreshed
into ``FIELDSALES_FCM_ACCESS_TOKEN``); this client only presents it, and treats
401/403 as transient so pushes wait for a refreshed token rather than fail.

Errors come as ``{"error": {"code", "message", "status", "details": [...]}}``;
FCM's own code is in a detail of type ``...fcm.v1.FcmError`` (``errorCode``).
A token FCM no longer knows (404 / ``UNREGISTERED``, or 400 naming the token)
raises :class:`DeadToken`: permanent, and the sender's record step clears it
from the device. FCM has no idempotency key: a push resent after a crash may
arrive twice, which the collapse key hides on the phone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, Protocol

import httpx

from server.comms.providers import ProviderError
from server.comms.providers.twilio import retry_after

log = logging.getLogger("fieldsales.push")

FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
#: Seconds between two alarms about refused credentials (a batch would raise one per push).
ALARM_EVERY_S = 60.0
_last_alarm = -ALARM_EVERY_S


class Push(Protocol):
    """What the client needs of a queued push (``server.notify.sender.Claimed``)."""

    @property
    def token(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def data(self) -> Mapping[str, str]: ...
    @property
    def collapse_key(self) -> str | None: ...


class DeadToken(ProviderError):
    """The device's token is not valid any more: fail the push and forget the token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, permanent=True)


def message_json(item: Push) -> dict[str, Any]:
    message: dict[str, Any] = {"token": item.token, "notification": {"title": item.title, "body": item.body}}
    if item.data:
        message["data"] = {str(k): str(v) for k, v in item.data.items()}
    if item.collapse_key:
        message["android"] = {"collapse_key": item.collapse_key}
        message["apns"] = {"headers": {"apns-collapse-id": item.collapse_key}}
    return {"message": message}


def _error_parts(response: httpx.Response) -> tuple[str, str, list[dict]]:
    """FCM's error code (``UNREGISTERED``...), the status (``NOT_FOUND``...) and the details."""
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    if not isinstance(error, dict):
        error = {}
    details = [d for d in error.get("details") or [] if isinstance(d, dict)]
    code = next((str(d.get("errorCode")) for d in details
                 if d.get("@type") == FCM_ERROR_TYPE and d.get("errorCode")), "")
    message = str(error.get("message") or response.reason_phrase or "error")
    return code or str(error.get("status") or ""), message, details


def _names_the_token(message: str, details: list[dict]) -> bool:
    """Whether a 400 INVALID_ARGUMENT is about the registration token rather than the payload."""
    for d in details:
        if d.get("@type") == BAD_REQUEST_TYPE:
            for violation in d.get("fieldViolations") or []:
                if isinstance(violation, dict) and str(violation.get("field", "")).endswith("token"):
                    return True
    return "registration token" in message.lower()


def error_from(response: httpx.Response) -> ProviderError:
    """The refusal as a ProviderError (:class:`DeadToken` for a token FCM does not know)."""
    status = response.status_code
    code, message, details = _error_parts(response)
    reason = f"fcm {status} {code}: {message}".replace("  ", " ")
    if status == 404 or code == "UNREGISTERED":
        return DeadToken(reason)
    if status == 400 and code == "INVALID_ARGUMENT" and _names_the_token(message, details):
        return DeadToken(reason)
    if status in (401, 403):
        # Not the device's fault: an expired or wrong access token, or a project mix-up. Every push
        # fails the same way until the deployment fixes it, so say it loudly and keep the pushes.
        _credentials_alarm(reason)
        return ProviderError(reason, permanent=False, retry_after_s=retry_after(response))
    if status == 429 or status >= 500:
        return ProviderError(reason, permanent=False, retry_after_s=retry_after(response))
    return ProviderError(reason, permanent=True)


def _credentials_alarm(reason: str) -> None:
    global _last_alarm
    now = time.monotonic()
    if now - _last_alarm >= ALARM_EVERY_S:
        _last_alarm = now
        log.error("FCM refused our credentials (%s); check FIELDSALES_FCM_ACCESS_TOKEN (minted and refreshed "
                  "by the deployment) and FIELDSALES_FCM_PROJECT_ID; pushes wait and retry", reason)


class FcmClient:
    """Sends push notifications for one Firebase project; one instance serves every org of a sender."""

    def __init__(self, base_url: str, project_id: str, access_token: str, *,
                 http: httpx.AsyncClient | None = None, timeout: float = 10) -> None:
        self.url = f"{base_url.rstrip('/')}/v1/projects/{project_id}/messages:send"
        self.headers = {"Authorization": f"Bearer {access_token}"}
        self.timeout = timeout
        self._owns_http = http is None
        self.http = http if http is not None else httpx.AsyncClient(timeout=timeout)

    async def send(self, item: Push) -> str:
        """Send one push; returns FCM's message name, or raises ProviderError / DeadToken."""
        try:
            response = await self.http.post(self.url, json=message_json(item), headers=self.headers,
                                             timeout=self.timeout)
        except httpx.TransportError as exc:
            raise ProviderError(f"fcm unreachable: {exc!r}", permanent=False) from exc
        if not response.is_success:
            raise error_from(response)
        try:
            name = response.json().get("name")
        except (ValueError, AttributeError):
            name = None
        if not isinstance(name, str) or not name:
            raise ProviderError(f"fcm {response.status_code} without a message name", permanent=False)
        return name

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()
