"""Inbound email, parsed: raw MIME or a provider's parsed fields to one :class:`ParsedEmail` (pure).

Two ways an email provider hands us a message: the whole raw MIME
(``message/rfc822``, or the ``email`` field of a form) or fields it already
parsed (SendGrid Inbound Parse style: ``from``, ``to``, ``cc``, ``subject``,
``text``, ``html`` and the raw ``headers`` block). Both end here, so the rest
of the server sees one shape. Only the standard library's ``email`` package
reads MIME: it decodes encoded-words, charsets, quoted-printable and base64.

Anything that is not an email is refused as :class:`MalformedEmail` with a
reason the webhook returns (422 ``malformed_mime``): nothing is stored for it.
Message ids keep their angle brackets (``<abc@host>``), the form the outbox
stores as an outbound email's ``provider_ref``, so a reply's ``In-Reply-To``
compares equal to it.
"""

from __future__ import annotations

import email
import email.errors
import email.policy
import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import HeaderParser
from html.parser import HTMLParser

import msgspec

POLICY = email.policy.default
#: RFC 5321's longest address (also the width of ``sender`` and ``counterpart`` columns).
MAX_ADDRESS = 254
#: How far back a Date header is believed: it is the sender's claim, not ours.
DATE_TRUST = timedelta(days=7)
#: Longest Message-ID kept as the provider reference (``activities.provider_ref`` width);
#: a longer one is replaced by its hash so that replays still match.
MAX_REF = 120
_MSG_ID = re.compile(r"<[^<>\s]+>")
#: Defects that mean the bytes are not an email at all (not merely sloppy).
FATAL_DEFECTS = (email.errors.MissingHeaderBodySeparatorDefect,)
#: What the standard library's lenient parser still raises on some inputs (it has no single error type).
PARSER_ERRORS = (email.errors.MessageError, ValueError, LookupError, IndexError, TypeError, AttributeError)


class MalformedEmail(ValueError):
    """Not an email we can take in; ``str(exc)`` says why."""


class ParsedEmail(msgspec.Struct, frozen=True, kw_only=True):
    #: The From address, lower-cased.
    sender: str
    #: To and Cc addresses, lower-cased, in header order.
    recipients: list[str] = []
    subject: str | None = None
    #: The text/plain part, or the text/html part reduced to text when there is no plain one.
    text: str = ""
    message_id: str | None = None
    in_reply_to: str | None = None
    #: The ``References`` ids, oldest first, each with its angle brackets.
    references: list[str] = []
    #: The Date header, timezone-aware (UTC when it named none), or None.
    date: datetime | None = None


# -- raw MIME ------------------------------------------------------------------------------
def parse_mime(raw: bytes) -> ParsedEmail:
    """The email in ``raw`` (RFC 5322 bytes); :class:`MalformedEmail` if it is not one."""
    if not raw or not raw.strip():
        raise MalformedEmail("empty message")
    try:
        msg = email.message_from_bytes(raw, policy=POLICY)
    except PARSER_ERRORS as exc:
        raise MalformedEmail(f"not an email: {exc}") from None
    assert isinstance(msg, EmailMessage)
    for defect in msg.defects:
        if isinstance(defect, FATAL_DEFECTS):
            raise MalformedEmail("not an email: the header block is broken (no blank line before the body)")
    if not msg.keys():
        raise MalformedEmail("not an email: no headers")
    sender = _from_address(_fetch(msg, "from"))
    recipients = _addresses(_fetch(msg, "to")) + _addresses(_fetch(msg, "cc"))
    return ParsedEmail(
        sender=sender, recipients=recipients, subject=_subject(_header(msg, "subject")),
        text=_body_text(msg), message_id=_first_id(_raw(msg, "message-id")),
        in_reply_to=_first_id(_raw(msg, "in-reply-to")),
        references=_MSG_ID.findall(_raw(msg, "references") or ""), date=_date(msg),
    )


def _fetch(msg: EmailMessage, name: str):
    """Header ``name`` as the policy parses it (defects attached), None when absent."""
    try:
        return msg.get(name)
    except PARSER_ERRORS as exc:  # the header parser fails outright on some values
        raise MalformedEmail(f"unparseable {name} header: {exc}") from None


def _raw(msg: EmailMessage, name: str) -> str | None:
    """Header ``name`` as it arrived (message ids need no decoding, and a sloppy one is still an id)."""
    for key, value in msg.raw_items():
        if key.lower() == name:
            return str(value)
    return None


def _header(msg: EmailMessage, name: str) -> str | None:
    """The decoded value of header ``name`` (None when absent); a header too broken to read is refused."""
    value = _fetch(msg, name)
    return None if value is None else str(value)


def _body_text(msg: EmailMessage) -> str:
    try:
        part = msg.get_body(preferencelist=("plain",))
        if part is not None:
            return _content(part)
        part = msg.get_body(preferencelist=("html",))
        if part is not None:
            return html_to_text(_content(part))
    except MalformedEmail:
        raise
    except PARSER_ERRORS as exc:
        raise MalformedEmail(f"unreadable body: {exc}") from None
    raise MalformedEmail("no text or html body part")


def _content(part: EmailMessage) -> str:
    content = part.get_content()
    if not isinstance(content, str):
        raise MalformedEmail("the body part is not text")
    return content.replace("\r\n", "\n")


def _date(msg: EmailMessage) -> datetime | None:
    try:
        header = msg.get("date")
        value = getattr(header, "datetime", None)
    except PARSER_ERRORS:  # a Date we cannot read is as good as none: the receive time stands in
        return None
    return _aware(value)


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:  # "-0000": no zone information, read as UTC
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# -- parsed fields -------------------------------------------------------------------------
def parsed_fields(form: Mapping[str, str]) -> ParsedEmail:
    """The email in a provider's parsed-fields POST (``from``, ``to``, ``cc``, ``subject``, ``text``,
    ``html``, ``headers``), or in its ``email`` field when it carries the raw MIME."""
    raw = form.get("email")
    if raw:
        return parse_mime(raw.encode("utf-8", "surrogateescape"))
    headers = _header_block(form.get("headers") or "")
    sender = _from_address(_field_header("from", form.get("from")))
    recipients = (_addresses(_field_header("to", form.get("to")))
                  + _addresses(_field_header("cc", form.get("cc"))))
    text, html = form.get("text"), form.get("html")
    if text is not None and (text or not html):
        body = text.replace("\r\n", "\n")
    elif html is not None:
        body = html_to_text(html)
    else:
        raise MalformedEmail("no text or html body")
    date = None
    if headers is not None:
        try:
            date = _aware(getattr(headers.get("date"), "datetime", None))
        except PARSER_ERRORS:
            date = None
    subject = _decoded(_field_header("subject", form.get("subject")))
    if subject is None and headers is not None:
        subject = _header(headers, "subject")

    def raw(name: str) -> str | None:
        return None if headers is None else _raw(headers, name)

    return ParsedEmail(
        sender=sender, recipients=recipients, subject=_subject(subject), text=body,
        message_id=_first_id(raw("message-id")), in_reply_to=_first_id(raw("in-reply-to")),
        references=_MSG_ID.findall(raw("references") or ""), date=date,
    )


def _header_block(block: str) -> EmailMessage | None:
    if not block.strip():
        return None
    try:
        parsed = HeaderParser(policy=POLICY).parsestr(block)
    except PARSER_ERRORS as exc:
        raise MalformedEmail(f"unreadable headers field: {exc}") from None
    assert isinstance(parsed, EmailMessage)
    return parsed


def _field_header(name: str, value: str | None):
    """A header value as a form sent it, parsed like a MIME header (encoded-words decoded)."""
    if value is None:
        return None
    try:
        return POLICY.header_factory(name, value)
    except PARSER_ERRORS as exc:
        raise MalformedEmail(f"unparseable {name}: {exc}") from None


def _decoded(header) -> str | None:
    return None if header is None else str(header)


# -- addresses, ids, subject ---------------------------------------------------------------
def _from_address(header) -> str:
    """The sender's address; the From header must name one plausible mailbox, without defects."""
    if header is None or not str(header).strip():
        raise MalformedEmail("no From address")
    addresses = _parse_addresses(header)
    if not addresses:
        raise MalformedEmail(f"unparseable From address: {str(header)!r}")
    return addresses[0]


def _addresses(header) -> list[str]:
    """Addresses in a To/Cc header; an unreadable one gives none (recipients are informational)."""
    if header is None:
        return []
    try:
        return _parse_addresses(header)
    except MalformedEmail:
        return []


def _parse_addresses(header) -> list[str]:
    """``local@domain`` of each address in a parsed address header; a defect or odd address is refused."""
    if any(isinstance(d, email.errors.InvalidHeaderDefect) for d in getattr(header, "defects", ())):
        raise MalformedEmail(f"unparseable {header.name} address: {str(header)!r}")
    found: list[str] = []
    for address in getattr(header, "addresses", ()):
        spec = _spec(address)
        if spec is None:
            raise MalformedEmail(f"unparseable {header.name} address: {str(header)!r}")
        found.append(spec)
    return found


def _spec(address: Address) -> str | None:
    """``local@domain`` lower-cased, or None when it is not a plausible mailbox."""
    local, domain = address.username, address.domain
    if not local or not domain or any(c.isspace() for c in local + domain):
        return None
    spec = f"{local}@{domain}".lower()
    return spec if len(spec) <= MAX_ADDRESS else None


def _first_id(value: str | None) -> str | None:
    if not value:
        return None
    found = _MSG_ID.search(value)
    return found.group(0) if found else None


def _subject(value: str | None) -> str | None:
    if value is None:
        return None
    subject = " ".join(value.split())  # folded or multi-line subjects: one line
    return subject or None


# -- what the inbound pipeline takes from an email ------------------------------------------
def email_ref(parsed: ParsedEmail, payload: bytes) -> str:
    """The provider reference a replay repeats: the Message-ID, else a hash of what was received."""
    if parsed.message_id and len(parsed.message_id) <= MAX_REF:
        return parsed.message_id
    basis = parsed.message_id.encode() if parsed.message_id else payload
    return "sha256:" + hashlib.sha256(basis).hexdigest()


def fields_payload(form: Mapping[str, str]) -> bytes:
    """Canonical bytes of a parsed-fields POST (for :func:`email_ref` when there is no Message-ID)."""
    return msgspec.json.encode(dict(sorted(form.items())))


def received_time(date: datetime | None, now: datetime) -> datetime:
    """When the email happened: its Date if within the last week and not ahead of ``now``, else ``now``."""
    if date is None or date > now or date < now - DATE_TRUST:
        return now
    return date


def replying_to(parsed: ParsedEmail) -> list[str]:
    """Ids of the messages this one answers, nearest first, without repeats."""
    ids = ([parsed.in_reply_to] if parsed.in_reply_to else []) + list(reversed(parsed.references))
    return list(dict.fromkeys(ids))


# -- html ----------------------------------------------------------------------------------
_BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre",
           "table", "ul", "ol", "hr"}
_HIDDEN = {"script", "style", "head", "title"}


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Readable text of an HTML body: tags dropped, entities decoded, blocks on their own lines."""
    parser = _TextOf()
    parser.feed(markup)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
