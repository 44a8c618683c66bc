"""Email through any SMTP server (a relay, an ESP's SMTP endpoint, Postfix next door).

``FIELDSALES_SMTP_URL`` names the server: ``smtp://user:pass@host:587`` talks
plain SMTP and upgrades with STARTTLS when the server offers it (``?starttls=require``
refuses a server that does not, ``?starttls=never`` never tries), ``smtps://host:465``
speaks TLS from the first byte.

One :class:`SmtpMailer` keeps one connection open across its ``send`` calls: a
sender lane sends up to a batch of messages in a row, and a TCP + TLS + AUTH
handshake per message would cost more than the messages. Servers drop idle
connections, so a connection found dropped is reopened once and the message
tried again on it.

The Message-ID is the outbox key, the same on every attempt: when a crash or a
lost ``250`` makes us send a message twice, the copies carry one Message-ID and
mail clients show one message.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from urllib.parse import parse_qsl, unquote, urlsplit

import aiosmtplib
import msgspec

from server.comms.providers import Outgoing, ProviderError

ACTIVITY_HEADER = "X-Fieldsales-Activity"
#: ``?starttls=`` values: None lets aiosmtplib upgrade when the server offers STARTTLS.
STARTTLS = {"require": True, "never": False}


class SmtpTarget(msgspec.Struct, frozen=True, kw_only=True):
    """Where and how to connect, parsed from the SMTP URL."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    #: Implicit TLS (``smtps://``).
    use_tls: bool = False
    #: True: STARTTLS or fail; False: never; None: when the server offers it.
    start_tls: bool | None = None


def parse_smtp_url(url: str) -> SmtpTarget:
    """``smtp://[user[:pass]@]host[:port][?starttls=require|never]`` or ``smtps://...``.

    Default ports: 465 for ``smtps``, 587 (submission) for ``smtp`` with
    credentials, else 25. Credentials are percent-decoded (``%40`` for ``@``).
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps"):
        raise ValueError(f"SMTP URL must start with smtp:// or smtps://, not {scheme or 'nothing'}://")
    if not parts.hostname:
        raise ValueError("SMTP URL has no host: smtp://[user[:pass]@]host[:port]")
    if parts.path not in ("", "/") or parts.fragment:
        raise ValueError("SMTP URL takes no path or fragment: smtp://[user[:pass]@]host[:port]")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"SMTP URL has an invalid port: {url.rsplit(':', 1)[-1]!r}") from None
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    start_tls: bool | None = None
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name != "starttls":
            raise ValueError(f"SMTP URL option {name!r} is unknown (only starttls=require|never)")
        if value not in STARTTLS:
            raise ValueError(f"SMTP URL starttls={value!r}: use starttls=require or starttls=never")
        if scheme == "smtps":
            raise ValueError("smtps:// is TLS from the start: starttls does not apply")
        start_tls = STARTTLS[value]
    if scheme == "smtps":
        return SmtpTarget(host=parts.hostname, port=port or 465, username=username, password=password,
                          use_tls=True, start_tls=False)
    return SmtpTarget(host=parts.hostname, port=port or (587 if username else 25), username=username,
                      password=password, start_tls=start_tls)


def build_email(item: Outgoing) -> EmailMessage:
    """The message as it goes out: the org's From, the rep as Reply-To, the outbox key as Message-ID."""
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = item.sender
    if item.rep_email:
        msg["Reply-To"] = formataddr((item.rep_name or "", item.rep_email))
    msg["To"] = item.to
    msg["Subject"] = item.subject or ""
    msg["Message-ID"] = item.key
    msg["Date"] = formatdate(localtime=False)
    msg[ACTIVITY_HEADER] = str(item.activity_id)
    msg.set_content(item.body or "", charset="utf-8")
    return msg


def _response_error(code: int, message: str) -> ProviderError:
    """5xx is the server's final no; 4xx (and anything odd) asks us to come back later."""
    return ProviderError(f"smtp {code}: {message}", permanent=code >= 500)


def classify(exc: BaseException) -> ProviderError:
    """What a failed send means for the outbox: give up (permanent) or retry with backoff."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        # We send to one recipient, so the refusal of "some" recipients is the refusal of the message.
        first = exc.recipients[0]
        return _response_error(first.code, first.message)
    if isinstance(exc, aiosmtplib.SMTPResponseException):  # sender refused, recipient refused, data refused
        return _response_error(exc.code, exc.message)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):  # e.g. a non-ASCII address and no SMTPUTF8
        return ProviderError(f"smtp: {exc}", permanent=True)
    # Timeouts, a dropped or refused connection, any other I/O error: the next attempt may get through.
    return ProviderError(f"smtp: {type(exc).__name__}: {exc}", permanent=False)


class SmtpMailer:
    """The email provider: one reused SMTP connection, opened on the first ``send``."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self.target = parse_smtp_url(url)
        self.timeout = timeout
        self._smtp: aiosmtplib.SMTP | None = None
        #: ``send`` is not re-entrant on one connection (one SMTP transaction at a time).
        self._lock = asyncio.Lock()
        #: Connections opened so far (a reconnect counts): for logs and tests.
        self.connections = 0

    async def send(self, item: Outgoing) -> str:
        message = build_email(item)
        async with self._lock:
            try:
                try:
                    await self._deliver(message)
                except aiosmtplib.SMTPServerDisconnected:
                    # The server dropped the connection (idle timeout, restart): reopen once, try again.
                    self._drop()
                    await self._deliver(message)
            except ProviderError:
                raise
            except (TimeoutError, aiosmtplib.SMTPException, OSError, ValueError) as exc:
                if not _leaves_connection_usable(exc):
                    self._drop()
                if isinstance(exc, ValueError):  # no usable From or To in the message itself
                    raise ProviderError(f"smtp: {exc}", permanent=True) from exc
                raise classify(exc) from exc
        return item.key

    async def _deliver(self, message: EmailMessage) -> None:
        smtp = await self._connection()
        refused, _ = await smtp.send_message(message)
        if refused:
            code, text = next(iter(refused.values()))
            raise _response_error(code, text)

    async def _connection(self) -> aiosmtplib.SMTP:
        """The open connection, or a new one.

        Failing to connect or log in is transient whatever the code: it is the
        same for every message (a server down, a wrong password), so failing
        each message for good would empty the queue over a fix an operator can
        make; retries with backoff wait for it instead.
        """
        if self._smtp is not None and self._smtp.is_connected:
            return self._smtp
        self._drop()
        t = self.target
        smtp = aiosmtplib.SMTP(hostname=t.host, port=t.port, username=t.username, password=t.password,
                               use_tls=t.use_tls, start_tls=t.start_tls, timeout=self.timeout)
        try:
            await smtp.connect()
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            smtp.close()
            raise ProviderError(f"smtp: cannot connect to {t.host}:{t.port}: {exc}", permanent=False) from exc
        self.connections += 1
        self._smtp = smtp
        return smtp

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    async def aclose(self) -> None:
        """Say QUIT so the server logs a clean end; errors here change nothing."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            with contextlib.suppress(Exception):  # closing politely is best effort
                if smtp.is_connected:
                    await smtp.quit(timeout=min(self.timeout, 5.0))
        finally:
            smtp.close()


def _leaves_connection_usable(exc: BaseException) -> bool:
    """A plain refusal leaves the session in step (aiosmtplib sent RSET); 421 and I/O errors do not."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(r.code != 421 for r in exc.recipients)
    return isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code != 421
