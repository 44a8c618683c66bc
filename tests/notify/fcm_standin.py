"""A local stand-in for FCM's HTTP v1 ``messages:send``, over real HTTP.

Tests talk to it the way production talks to FCM: an FcmClient pointed at
``base_url`` POSTs ``{"message": {...}}`` to
``/v1/projects/{project}/messages:send`` with a bearer token, and gets the
message back with its ``name``, or a Google-style error
(``{"error": {"code", "message", "status", "details"}}``). It checks the
bearer (401 otherwise) and the project (404), refuses what FCM refuses
(no token, non-string data values: 400 INVALID_ARGUMENT), and keeps what it
accepted for assertions. ``fail_next`` plays an unhealthy FCM,
``unregister`` a phone that uninstalled the app (404 UNREGISTERED for its
token). A raw ASGI app served by uvicorn on 127.0.0.1 in a thread of its own,
like ``tests/comms/twilio_standin.py``.

Use it from another module by importing the fixture, then asking for
``fcm_standin`` (the import's own name differs, so ruff sees no F811)::

    from tests.notify.fcm_standin import fcm_standin_server  # noqa: F401

    async def test_pushes(fcm_standin): ...
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.standin import ThreadedServer

ROUTE = re.compile(r"^/v1/projects/(?P<project>[^/]+)/messages:send$")
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
FCM_CODES = {400: "INVALID_ARGUMENT", 403: "SENDER_ID_MISMATCH", 404: "UNREGISTERED", 429: "QUOTA_EXCEEDED",
             500: "INTERNAL", 503: "UNAVAILABLE"}


@dataclass(frozen=True)
class Received:
    """One message the stand-in accepted."""

    name: str
    message: dict
    authorization: str | None
    at: float = field(default_factory=time.time)

    @property
    def token(self) -> str:
        return self.message["token"]


@dataclass(frozen=True)
class _Failure:
    status: int
    fcm_code: str | None
    retry_after: float | str | None


def error_body(status: int, message: str, fcm_code: str | None = None, extra: list | None = None) -> dict:
    details = [{"@type": FCM_ERROR_TYPE, "errorCode": fcm_code}] if fcm_code else []
    return {"error": {"code": status, "message": message, "status": STATUS_NAMES.get(status, "UNKNOWN"),
                      "details": details + (extra or [])}}


def _invalid(message: object) -> tuple[str, str] | None:
    """FCM's 400 for a malformed message: (field, description), or None when it would be accepted."""
    if not isinstance(message, dict):
        return "message", "Invalid JSON payload received."
    if not isinstance(message.get("token"), str) or not message["token"]:
        return "message.token", "The registration token is not a valid FCM registration token"
    notification = message.get("notification")
    if notification is not None and not all(isinstance(notification.get(k, ""), str) for k in ("title", "body")):
        return "message.notification", "Invalid value"
    data = message.get("data", {})
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        return "message.data", "Invalid value: data values must be strings"
    return None


class FcmStandin(ThreadedServer):
    name = "FCM stand-in"
    content_type = b"application/json; charset=UTF-8"

    """The stand-in server; ``start()`` before use, ``stop()`` after (the fixture does both)."""

    def __init__(self, project_id: str = "fieldsales-test", access_token: str = "standin-access-token") -> None:
        super().__init__()
        self.project_id = project_id
        self.access_token = access_token
        #: Seconds every response waits before it is sent (after the request was recorded).
        self.delay_s = 0.0
        self._lock = threading.Lock()
        self._messages: list[Received] = []
        self._failures: list[_Failure] = []
        self._unregistered: set[str] = set()
        self._requests = 0

    # -- what tests read and steer (from the test thread) --------------------------------------

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._messages)

    @property
    def requests(self) -> int:
        """Every request seen, accepted or not."""
        with self._lock:
            return self._requests

    def fail_next(self, count: int, status: int, fcm_code: str | None = None,
                  retry_after: float | str | None = None) -> None:
        """Answer the next ``count`` requests with ``status`` and a Google-style error body."""
        with self._lock:
            self._failures.extend([_Failure(status, fcm_code, retry_after)] * count)

    def unregister(self, token: str) -> None:
        """From now on, answer 404 UNREGISTERED for messages to ``token``."""
        with self._lock:
            self._unregistered.add(token)

    def reset(self) -> None:
        with self._lock:
            self._messages.clear()
            self._failures.clear()
            self._unregistered.clear()
            self._requests = 0
        self.delay_s = 0.0

    # -- the server's side (its own thread and loop) -------------------------------------------

    def _handle(self, method: str, path: str, headers: dict[bytes, bytes], body: bytes) -> tuple[int, dict, dict]:
        with self._lock:
            self._requests += 1
        route = ROUTE.match(path)
        if not route:
            return 404, error_body(404, f"The requested URL {path} was not found on this server."), {}
        if method != "POST":
            return 405, error_body(405, "Method not allowed"), {}
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure:
            extra = {} if failure.retry_after is None else {"Retry-After": str(failure.retry_after)}
            code = failure.fcm_code or FCM_CODES.get(failure.status)
            return failure.status, error_body(failure.status, "Scripted failure", code), extra
        authorization = headers.get(b"authorization", b"").decode()
        if authorization != f"Bearer {self.access_token}":
            return 401, error_body(401, "Request had invalid authentication credentials."), {
                "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'}
        if route["project"] != self.project_id:
            return 404, error_body(404, "Requested entity was not found."), {}
        try:
            message = json.loads(body).get("message")
        except (ValueError, AttributeError):
            message = None
        if problem := _invalid(message):
            violation = {"@type": BAD_REQUEST_TYPE, "fieldViolations": [
                {"field": problem[0], "description": problem[1]}]}
            return 400, error_body(400, problem[1], "INVALID_ARGUMENT", [violation]), {}
        with self._lock:
            if message["token"] in self._unregistered:
                return 404, error_body(404, "Requested entity was not found.", "UNREGISTERED"), {}
            name = f"projects/{self.project_id}/messages/0:{uuid.uuid4().hex}"
            self._messages.append(Received(name, message, authorization))
        return 200, {"name": name}, {}


@pytest.fixture(name="fcm_standin")
def fcm_standin_server() -> Iterator[FcmStandin]:
    """A running stand-in with fresh records, stopped after the test."""
    standin = FcmStandin().start()
    try:
        yield standin
    finally:
        standin.stop()
