"""A local stand-in for the parts of Twilio's REST API we use, over real HTTP.

Tests talk to it the way production talks to Twilio: a TwilioClient pointed at
``base_url`` POSTs forms to ``/2010-04-01/Accounts/{sid}/Messages.json`` and
``Calls.json`` with Basic auth, and gets 201 + a JSON resource, or a
Twilio-shaped error. What it received is kept for assertions; ``fail_next``
and ``delay_s`` play an unhealthy provider. It is a raw ASGI app served by
uvicorn on 127.0.0.1 in a thread of its own, so the code under test keeps its
own event loop and its real HTTP stack.

Use it from another test module by importing the fixture, then asking for
``twilio_standin`` (the import's own name differs, so the test parameter does
not shadow it, which ruff would report as F811)::

    from tests.comms.twilio_standin import twilio_standin_server  # noqa: F401

    async def test_texts(twilio_standin): ...
"""

from __future__ import annotations

import base64
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import parse_qs

import pytest

from tests.standin import ThreadedServer

ROUTE = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/(?P<resource>Messages|Calls)\.json$")
SID_PREFIX = {"Messages": "SM", "Calls": "CA"}
IDEMPOTENCY_HEADER = b"i-twilio-idempotency-token"


@dataclass(frozen=True)
class Received:
    """One request the stand-in accepted (or, in ``duplicates``, recognised as a resend)."""

    sid: str
    resource: str  # Messages | Calls
    #: Every form field with all its values, in the order sent.
    form: dict[str, list[str]]
    idempotency_token: str | None
    auth: tuple[str, str] | None = None
    at: float = field(default_factory=time.time)

    def __getitem__(self, name: str) -> str:
        """The single value of a form field (KeyError when absent)."""
        (value,) = self.form[name]
        return value

    def get(self, name: str, default: str | None = None) -> str | None:
        return self[name] if name in self.form else default

    def getall(self, name: str) -> list[str]:
        return list(self.form.get(name, []))


@dataclass(frozen=True)
class _Failure:
    status: int
    code: int | None
    message: str | None
    retry_after: float | str | None


def _error_body(status: int, code: int | None, message: str) -> dict:
    """The JSON Twilio sends with an error status."""
    return {"code": code or status, "message": message, "status": status,
            "more_info": f"https://www.twilio.com/docs/errors/{code or status}"}


def _basic_auth(header: bytes | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith(b"basic "):
        return None
    try:
        user, sep, password = base64.b64decode(header[6:].strip()).decode().partition(":")
    except ValueError:
        return None
    return (user, password) if sep else None


def _missing_field(resource: str, form: dict[str, list[str]]) -> tuple[int, str] | None:
    """Twilio's 400 for a request without what it needs; catches a client that forgets a field."""
    if not form.get("To"):
        return 21604, "A 'To' phone number is required."
    if not form.get("From"):
        return 21603, "A 'From' phone number is required."
    if resource == "Messages" and not any(form.get("Body", [])):
        return 21602, "Message body is required."
    if resource == "Calls" and not (form.get("Url") or form.get("Twiml")):
        return 21205, "Url parameter is required."
    return None


class TwilioStandin(ThreadedServer):
    name = "Twilio stand-in"

    """The stand-in server; ``start()`` before use, ``stop()`` after (the fixture does both)."""

    def __init__(self, account_sid: str = "AC" + "0" * 32, auth_token: str = "standin-token") -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        #: Seconds every response waits before it is sent (after the request was recorded).
        self.delay_s = 0.0
        self._lock = threading.Lock()
        self._messages: list[Received] = []
        self._calls: list[Received] = []
        self._duplicates: list[Received] = []
        self._failures: list[_Failure] = []
        self._by_token: dict[str, str] = {}

    # -- what tests read and steer (from the test thread) --------------------------------------

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._messages)

    @property
    def calls(self) -> list[Received]:
        with self._lock:
            return list(self._calls)

    @property
    def duplicates(self) -> list[Received]:
        with self._lock:
            return list(self._duplicates)

    def fail_next(self, count: int, status: int, code: int | None = None, message: str | None = None,
                  retry_after: float | str | None = None) -> None:
        """Answer the next ``count`` requests with ``status`` and a Twilio-style error body."""
        with self._lock:
            self._failures.extend([_Failure(status, code, message, retry_after)] * count)

    def reset(self) -> None:
        with self._lock:
            self._messages.clear()
            self._calls.clear()
            self._duplicates.clear()
            self._failures.clear()
            self._by_token.clear()
        self.delay_s = 0.0

    # -- the server's side (its own thread and loop) -------------------------------------------

    def _handle(self, method: str, path: str, headers: dict[bytes, bytes],
                body: bytes) -> tuple[int, dict, dict[str, str]]:
        """The status, JSON body and extra headers of the answer; records what was accepted."""
        route = ROUTE.match(path)
        if not route:
            return 404, _error_body(404, 20404, f"The requested resource {path} was not found"), {}
        if method != "POST":
            return 405, _error_body(405, 20004, "Method not allowed"), {}
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure:
            extra = {} if failure.retry_after is None else {"Retry-After": str(failure.retry_after)}
            message = failure.message or ("Too Many Requests" if failure.status == 429 else "Error")
            return failure.status, _error_body(failure.status, failure.code, message), extra
        auth = _basic_auth(headers.get(b"authorization"))
        if auth != (self.account_sid, self.auth_token) or route["account"] != self.account_sid:
            return 401, _error_body(401, 20003, "Authenticate"), {"WWW-Authenticate": 'Basic realm="Twilio API"'}
        resource = route["resource"]
        form = parse_qs(body.decode(), keep_blank_values=True)
        if missing := _missing_field(resource, form):
            return 400, _error_body(400, *missing), {}
        token = headers[IDEMPOTENCY_HEADER].decode() if IDEMPOTENCY_HEADER in headers else None
        with self._lock:
            known = self._by_token.get(token) if token else None
            sid = known or SID_PREFIX[resource] + uuid.uuid4().hex
            received = Received(sid, resource, form, token, auth)
            if known:
                self._duplicates.append(received)
            else:
                (self._messages if resource == "Messages" else self._calls).append(received)
                if token:
                    self._by_token[token] = sid
        return 201, self._resource_json(received), {}

    def _resource_json(self, received: Received) -> dict:
        now = format_datetime(datetime.now(UTC), usegmt=True)
        kind = received.resource
        doc = {"sid": received.sid, "account_sid": self.account_sid, "status": "queued",
               "to": received.get("To"), "from": received.get("From"),
               "date_created": now, "date_updated": now,
               "uri": f"/2010-04-01/Accounts/{self.account_sid}/{kind}/{received.sid}.json"}
        if kind == "Messages":
            doc |= {"body": received.get("Body"), "num_segments": "1", "direction": "outbound-api"}
        else:
            doc |= {"direction": "outbound-api", "parent_call_sid": None}
        return doc


@pytest.fixture(name="twilio_standin")
def twilio_standin_server() -> Iterator[TwilioStandin]:
    """A running stand-in with fresh records, stopped after the test."""
    standin = TwilioStandin().start()
    try:
        yield standin
    finally:
        standin.stop()


#: The same fixture under its own name, for ``from ... import twilio_standin``.
twilio_standin = twilio_standin_server
