"""The SMTP email provider: the message it builds, the URL it reads, and how it talks to a real server."""

from __future__ import annotations

import email
import email.policy
import uuid
from datetime import UTC, datetime

import pytest

from server.comms.providers import Outgoing, ProviderError
from server.comms.providers.smtp import (
    SmtpMailer,
    SmtpTarget,
    build_email,
    parse_smtp_url,
)
from tests.comms.smtp_sink import SmtpSink, free_port, smtp_sink  # noqa: F401


def outgoing(to: str = "buyer@shop.example", **fields) -> Outgoing:
    activity_id = uuid.uuid4()
    base = {"activity_id": activity_id, "channel": "email", "key": f"<{activity_id}@acme.example>", "to": to,
            "sender": "sales@acme.example", "subject": "Your quote", "body": "Hello, here is the quote.",
            "rep_name": "Dana Rep", "rep_email": "dana@acme.example"}
    return Outgoing(**{**base, **fields})


def reparse(item: Outgoing) -> email.message.EmailMessage:
    return email.message_from_bytes(build_email(item).as_bytes(), policy=email.policy.default)


def text_of(msg: email.message.EmailMessage) -> str:
    """The body as the reader sees it (the wire has CRLF line ends)."""
    return "\n".join(msg.get_content().splitlines())


# -- the message ---------------------------------------------------------------------------------
def test_the_message_carries_the_key_the_rep_and_the_activity():
    item = outgoing()
    msg = reparse(item)
    assert msg["Message-ID"] == item.key
    assert msg["From"] == "sales@acme.example" and msg["To"] == "buyer@shop.example"
    assert msg["Reply-To"].addresses[0].addr_spec == "dana@acme.example"
    assert msg["Reply-To"].addresses[0].display_name == "Dana Rep"
    assert msg["X-Fieldsales-Activity"] == str(item.activity_id)
    sent = msg["Date"].datetime.replace(tzinfo=UTC)  # "-0000": UTC, no local zone revealed
    assert abs((datetime.now(UTC) - sent).total_seconds()) < 60
    assert msg.get_content_type() == "text/plain"
    assert text_of(msg) == "Hello, here is the quote."
    assert b"\r\n" in build_email(item).as_bytes()  # SMTP line endings


def test_the_same_item_builds_the_same_message_id_every_time():
    item = outgoing()
    assert build_email(item)["Message-ID"] == build_email(item)["Message-ID"] == item.key


def test_non_ascii_subject_body_and_names_round_trip():
    item = outgoing(subject="Angebot für Zoë – 20 % Rabatt", body="Grüße aus Köln\nСпасибо! 👍",
                    rep_name="Zoë Müller")
    raw = build_email(item).as_bytes()
    raw.split(b"\r\n\r\n", 1)[0].decode("ascii")  # headers are RFC 2047-encoded
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == item.subject
    assert msg.get_content_charset() == "utf-8"
    assert text_of(msg) == item.body
    assert msg["Reply-To"].addresses[0].display_name == "Zoë Müller"


def test_no_rep_email_means_no_reply_to_and_empty_parts_are_allowed():
    msg = reparse(outgoing(rep_email=None, subject=None, body=None))
    assert msg["Reply-To"] is None
    assert msg["Subject"] == ""
    assert text_of(msg) == ""


# -- the URL ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("url,target", [
    ("smtp://mail.example.com", SmtpTarget(host="mail.example.com", port=25)),
    ("smtp://user:secret@mail.example.com", SmtpTarget(host="mail.example.com", port=587, username="user",
                                                       password="secret")),
    ("smtp://127.0.0.1:2525", SmtpTarget(host="127.0.0.1", port=2525)),
    ("smtps://mail.example.com", SmtpTarget(host="mail.example.com", port=465, use_tls=True, start_tls=False)),
    ("SMTPS://u@mail.example.com:1465", SmtpTarget(host="mail.example.com", port=1465, username="u",
                                                   use_tls=True, start_tls=False)),
    ("smtp://apikey:p%40ss%3Aword%2F@smtp.esp.example:587?starttls=require",
     SmtpTarget(host="smtp.esp.example", port=587, username="apikey", password="p@ss:word/", start_tls=True)),
    ("smtp://a%40b.example:x@h?starttls=never", SmtpTarget(host="h", port=587, username="a@b.example",
                                                          password="x", start_tls=False)),
    ("smtp://[::1]:25", SmtpTarget(host="::1", port=25)),
])
def test_smtp_urls(url, target):
    assert parse_smtp_url(url) == target


@pytest.mark.parametrize("url,words", [
    ("http://mail.example.com", "smtp://"),
    ("mail.example.com:25", "smtp://"),
    ("smtp://", "no host"),
    ("smtp://:25", "no host"),
    ("smtp://host:port", "port"),
    ("smtp://host:99999", "port"),
    ("smtp://host/path", "path"),
    ("smtp://host?starttls=maybe", "starttls"),
    ("smtp://host?tls=1", "unknown"),
    ("smtps://host?starttls=require", "starttls"),
])
def test_bad_smtp_urls_say_what_is_wrong(url, words):
    with pytest.raises(ValueError, match=words):
        parse_smtp_url(url)


# -- against a real SMTP server ------------------------------------------------------------------------
async def test_fifty_messages_over_one_connection(smtp_sink):  # noqa: F811
    mailer = SmtpMailer(smtp_sink.url, timeout=5)
    items = [outgoing(f"buyer{i}@shop.example") for i in range(50)]
    try:
        refs = [await mailer.send(item) for item in items]
    finally:
        await mailer.aclose()
    assert refs == [item.key for item in items]
    assert smtp_sink.message_ids() == [item.key for item in items]
    assert [m.rcpt_tos for m in smtp_sink.messages] == [[item.to] for item in items]
    assert smtp_sink.messages[0].mail_from == "sales@acme.example"
    assert smtp_sink.connections() == 1 and mailer.connections == 1


async def test_non_ascii_mail_arrives_intact(smtp_sink):  # noqa: F811
    item = outgoing(subject="Angebot für Zoë", body="Grüße aus Köln\nСпасибо! 👍", rep_name="Zoë Müller")
    mailer = SmtpMailer(smtp_sink.url, timeout=5)
    try:
        await mailer.send(item)
    finally:
        await mailer.aclose()
    [got] = smtp_sink.messages
    assert got.parsed["Subject"] == item.subject and text_of(got.parsed) == item.body
    assert got.parsed["Reply-To"].addresses[0].display_name == "Zoë Müller"
    assert got.parsed["X-Fieldsales-Activity"] == str(item.activity_id)


async def test_a_refused_recipient_is_permanent_and_the_next_message_goes_through(smtp_sink):  # noqa: F811
    smtp_sink.reject("nobody@", code=550, message="No such user")
    mailer = SmtpMailer(smtp_sink.url, timeout=5)
    good = outgoing("buyer@shop.example")
    try:
        with pytest.raises(ProviderError) as refused:
            await mailer.send(outgoing("nobody@shop.example"))
        assert await mailer.send(good) == good.key
    finally:
        await mailer.aclose()
    assert refused.value.permanent
    assert refused.value.reason == "smtp 550: No such user"
    assert smtp_sink.message_ids() == [good.key]
    assert mailer.connections == 1


async def test_a_busy_server_is_transient(smtp_sink):  # noqa: F811
    smtp_sink.fail_next(1, code=451)
    mailer = SmtpMailer(smtp_sink.url, timeout=5)
    item = outgoing()
    try:
        with pytest.raises(ProviderError) as busy:
            await mailer.send(item)
        assert await mailer.send(item) == item.key  # the retry, same key
    finally:
        await mailer.aclose()
    assert not busy.value.permanent and busy.value.reason.startswith("smtp 451")
    assert smtp_sink.message_ids() == [item.key]


async def test_a_server_closing_with_421_is_transient_and_the_next_send_reconnects(smtp_sink):  # noqa: F811
    smtp_sink.fail_next(1, code=421)
    mailer = SmtpMailer(smtp_sink.url, timeout=5)
    item = outgoing()
    try:
        with pytest.raises(ProviderError) as closing:
            await mailer.send(item)
        assert await mailer.send(item) == item.key
    finally:
        await mailer.aclose()
    assert not closing.value.permanent and "421" in closing.value.reason
    assert smtp_sink.message_ids() == [item.key]
    assert mailer.connections == 2


async def test_no_server_listening_is_transient():
    mailer = SmtpMailer(f"smtp://127.0.0.1:{free_port()}", timeout=5)
    try:
        with pytest.raises(ProviderError) as down:
            await mailer.send(outgoing())
    finally:
        await mailer.aclose()
    assert not down.value.permanent and "cannot connect" in down.value.reason


async def test_a_dropped_connection_is_reopened_and_the_message_sent(smtp_sink):  # noqa: F811
    mailer = SmtpMailer(smtp_sink.url, timeout=5)
    first, second, third = outgoing(), outgoing(), outgoing()
    try:
        await mailer.send(first)
        smtp_sink.disconnect()  # an idle timeout on the server's side
        await mailer.send(second)
        await mailer.send(third)
    finally:
        await mailer.aclose()
    assert smtp_sink.message_ids() == [first.key, second.key, third.key]
    assert smtp_sink.connections() == 2 and mailer.connections == 2


async def test_a_restarted_server_on_the_same_port_gets_the_next_message():
    sink = SmtpSink().start()
    mailer = SmtpMailer(sink.url, timeout=5)
    try:
        await mailer.send(outgoing())
        sink.stop()
        sink = SmtpSink(port=sink.port).start()
        item = outgoing()
        assert await mailer.send(item) == item.key
        assert sink.message_ids() == [item.key]
    finally:
        await mailer.aclose()
        sink.stop()


async def test_aclose_without_a_connection_or_twice_is_harmless(smtp_sink):  # noqa: F811
    mailer = SmtpMailer(smtp_sink.url, timeout=5)
    await mailer.aclose()
    await mailer.send(outgoing())
    await mailer.aclose()
    await mailer.aclose()
    assert len(smtp_sink.messages) == 1
