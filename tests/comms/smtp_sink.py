"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, in a thread with its own event loop.

The code under test talks real SMTP to it (TCP, EHLO, MAIL, RCPT, DATA), so
what is checked is what a mail server would get. Every accepted message is
kept (envelope, raw bytes, parsed headers); ``reject`` and ``fail_next`` play a
server that refuses a recipient for good or is busy for a while, and
``disconnect`` one that drops idle connections.

Use it from another test module by importing the fixture::

    from tests.comms.smtp_sink import smtp_sink  # noqa: F401

    async def test_mail(smtp_sink): ...  # noqa: F811
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Delivered:
    """One message the sink accepted."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    message_id: str | None
    parsed: EmailMessage
    #: The client's (host, port): one per SMTP connection.
    peer: tuple[str, int]
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class _Rejection:
    pattern: str
    code: int
    message: str


class SinkHandler:
    """aiosmtpd handler hooks: refuse what is scripted, keep the rest."""

    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        rejection = self.sink._rejection_for(address)
        if rejection is not None:
            return f"{rejection.code} {rejection.message}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        code = self.sink._take_failure()
        if code is not None:
            if code == 421:  # "service closing": a real server hangs up after saying so
                server.loop.call_soon(_close, server)
            return f"{code} Try again later"
        raw = envelope.original_content or envelope.content
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        self.sink._keep(Delivered(mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos), data=raw,
                                  message_id=parsed["Message-ID"], parsed=parsed,  # type: ignore[arg-type]
                                  peer=tuple(session.peer[:2])))
        return "250 Message accepted for delivery"


def _close(server: SMTP) -> None:
    if server.transport is not None and not server.transport.is_closing():
        server.transport.close()


class _Controller(Controller):
    """Remembers each connection's protocol so the sink can hang up on them (and close them on stop)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sessions: list[SMTP] = []

    def factory(self) -> SMTP:
        server = super().factory()
        self.sessions.append(server)
        return server


class SmtpSink:
    def __init__(self, port: int | None = None) -> None:
        self._lock = threading.Lock()
        self._messages: list[Delivered] = []
        self._rejections: list[_Rejection] = []
        self._failures: list[int] = []
        self.port = port or free_port()
        self.url = f"smtp://{HOST}:{self.port}"
        self._controller: _Controller | None = None

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> SmtpSink:
        self._controller = _Controller(SinkHandler(self), hostname=HOST, port=self.port,
                                       server_hostname="sink.test", ident="fieldsales-smtp-sink",
                                       auth_require_tls=True, auth_required=False)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is None:
            return
        self.disconnect()
        self._controller.stop()
        self._controller = None

    def disconnect(self) -> None:
        """Hang up on every open connection, as a server does with idle clients; waits until done."""
        controller = self._controller
        if controller is None:
            return
        done = threading.Event()

        def close_all() -> None:
            for server in controller.sessions:
                _close(server)
            done.set()

        controller.loop.call_soon_threadsafe(close_all)
        done.wait(5)

    # -- scripting ----------------------------------------------------------------------
    def reject(self, pattern: str, code: int = 550, message: str = "Mailbox unavailable") -> None:
        """RCPT TO of any address containing ``pattern`` answers ``code message``."""
        with self._lock:
            self._rejections.append(_Rejection(pattern, code, message))

    def fail_next(self, count: int, code: int = 451) -> None:
        """The next ``count`` DATA commands answer ``code`` (421 also hangs up)."""
        with self._lock:
            self._failures.extend([code] * count)

    def _rejection_for(self, address: str) -> _Rejection | None:
        with self._lock:
            return next((r for r in self._rejections if r.pattern in address), None)

    def _take_failure(self) -> int | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def _keep(self, message: Delivered) -> None:
        with self._lock:
            self._messages.append(message)

    # -- what arrived -------------------------------------------------------------------
    @property
    def messages(self) -> list[Delivered]:
        """A snapshot of the accepted messages, in arrival order."""
        with self._lock:
            return list(self._messages)

    def message_ids(self) -> list[str | None]:
        """Every accepted message's Message-ID, duplicates kept."""
        return [m.message_id for m in self.messages]

    def connections(self) -> int:
        """How many SMTP connections delivered at least one message."""
        return len({m.peer for m in self.messages})

    def wait_for(self, n: int, timeout: float = 10.0) -> list[Delivered]:
        """Block until ``n`` messages have arrived (TimeoutError after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.messages
            if len(got) >= n:
                return got
            if time.monotonic() > deadline:
                raise TimeoutError(f"the SMTP sink got {len(got)} of {n} messages in {timeout} s")
            time.sleep(0.02)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    try:
        yield sink
    finally:
        sink.stop()
