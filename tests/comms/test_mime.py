"""Inbound email parsing (pure): raw MIME and parsed fields to one shape; what is not an email is refused."""

from __future__ import annotations

import base64
import email.headerregistry
import email.policy
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.comms.mime import (
    MalformedEmail,
    email_ref,
    html_to_text,
    parse_mime,
    parsed_fields,
    received_time,
    replying_to,
)

PLAIN = (
    b"From: Jane Buyer <Jane.Buyer@Customer.example>\r\n"
    b"To: Rita Rep <rita@fieldsales.example>, orders@fieldsales.example\r\n"
    b"Cc: boss@customer.example\r\n"
    b"Subject: Re: Your quote\r\n"
    b"Date: Tue, 14 May 2024 09:30:00 +0200\r\n"
    b"Message-ID: <reply-1@customer.example>\r\n"
    b"In-Reply-To: <out-7@fieldsales.example>\r\n"
    b"References: <first@fieldsales.example>\r\n <out-7@fieldsales.example>\r\n"
    b"\r\n"
    b"Looks good, please send the order form.\r\n"
)


def test_plain_message():
    parsed = parse_mime(PLAIN)
    assert parsed.sender == "jane.buyer@customer.example"
    assert parsed.recipients == ["rita@fieldsales.example", "orders@fieldsales.example",
                                 "boss@customer.example"]
    assert parsed.subject == "Re: Your quote"
    assert parsed.text == "Looks good, please send the order form.\n"
    assert parsed.message_id == "<reply-1@customer.example>"
    assert parsed.in_reply_to == "<out-7@fieldsales.example>"
    assert parsed.references == ["<first@fieldsales.example>", "<out-7@fieldsales.example>"]
    assert parsed.date == datetime(2024, 5, 14, 7, 30, tzinfo=UTC)
    assert replying_to(parsed) == ["<out-7@fieldsales.example>", "<first@fieldsales.example>"]


def test_utf8_quoted_printable_and_encoded_words():
    raw = (
        b"From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <joerg@kunde.example>\n"
        b"Subject: =?utf-8?b?QW5nZWJvdCBmw7xyIEvDpHNl?=\n"
        b"MIME-Version: 1.0\n"
        b"Content-Type: text/plain; charset=utf-8\n"
        b"Content-Transfer-Encoding: quoted-printable\n"
        b"\n"
        b"Gr=C3=BC=C3=9Fe aus K=C3=B6ln =E2=80=94 bis bald =F0=9F=91=8B\n"
    )
    parsed = parse_mime(raw)
    assert parsed.sender == "joerg@kunde.example"
    assert parsed.subject == "Angebot für Käse"
    assert parsed.text == "Grüße aus Köln — bis bald 👋\n"


def test_8bit_utf8_body():
    raw = ("From: kunde@example.de\nSubject: Bestellung\nContent-Type: text/plain; charset=utf-8\n"
           "Content-Transfer-Encoding: 8bit\n\nZwei Stück, ja — danke!\n").encode()
    assert parse_mime(raw).text == "Zwei Stück, ja — danke!\n"


def test_iso_8859_1_base64():
    body = "Très bien, à demain. Ça marche.\n".encode("iso-8859-1")
    raw = (
        b"From: client@exemple.fr\n"
        b"Subject: =?iso-8859-1?q?R=E9ponse?=\n"
        b"Content-Type: text/plain; charset=iso-8859-1\n"
        b"Content-Transfer-Encoding: base64\n"
        b"\n" + base64.encodebytes(body)
    )
    parsed = parse_mime(raw)
    assert parsed.subject == "Réponse"
    assert parsed.text == "Très bien, à demain. Ça marche.\n"


def test_multipart_prefers_plain_and_falls_back_to_html():
    msg = EmailMessage()
    msg["From"] = "buyer@customer.example"
    msg["Subject"] = "Both"
    msg.set_content("the plain part")
    msg.add_alternative("<p>the <b>html</b> part</p>", subtype="html")
    msg.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="quote.pdf")
    assert parse_mime(msg.as_bytes()).text == "the plain part\n"

    only_html = EmailMessage()
    only_html["From"] = "buyer@customer.example"
    only_html.set_content(
        "<html><head><style>p {color: red}</style></head><body><p>Hello&nbsp;there &amp; thanks</p>"
        "<div>Line two</div><script>alert(1)</script></body></html>", subtype="html")
    assert parse_mime(only_html.as_bytes()).text == "Hello there & thanks\n\nLine two"


def test_html_to_text():
    assert html_to_text("<p>a</p><p>b<br>c</p>") == "a\n\nb\nc"
    assert html_to_text("x &lt;y&gt; &#233;") == "x <y> é"


def test_date_without_zone_and_unreadable_date():
    parsed = parse_mime(b"From: a@b.example\nDate: Tue, 14 May 2024 09:30:00 -0000\n\nhi")
    assert parsed.date == datetime(2024, 5, 14, 9, 30, tzinfo=UTC)
    assert parse_mime(b"From: a@b.example\nDate: yesterday-ish\n\nhi").date is None


@pytest.mark.parametrize(("raw", "reason"), [
    (b"", "empty"),
    (b"  \r\n \n", "empty"),
    (b"hello, this is not an email", "not an email"),
    (b"\x00\x01\x02\xff\xfe binary", "not an email"),
    (b'{"from": "a@b.example", "text": "json"}', "no From address"),
    (b"From: a@b.example\nSubject: x\nno blank line here\n", "not an email"),
    (b"Subject: no sender\n\nbody", "no From address"),
    (b"From: \n\nbody", "no From address"),
    (b"From: not an address\n\nbody", "unparseable"),
    (b"From: <<<>>>\n\nbody", "unparseable"),
    (b'From: "Jane" <jane@customer.example\n\nbody', "unparseable"),
    (b"From: jane@\n\nbody", "unparseable"),
    (b"From: a@b.example\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\naGVsbG8=\n",
     "no text or html body"),
])
def test_malformed_is_refused_with_a_reason(raw: bytes, reason: str):
    with pytest.raises(MalformedEmail, match=reason):
        parse_mime(raw)


def test_parsed_fields():
    form = {
        "from": "=?utf-8?q?Jane_B=C3=BCyer?= <Jane@Customer.example>",
        "to": "rita@fieldsales.example",
        "cc": "boss@customer.example",
        "subject": "Re: Your quote",
        "text": "Yes please\r\n",
        "html": "<p>Yes please</p>",
        "headers": "Message-ID: <m1@customer.example>\nIn-Reply-To: <out-7@fieldsales.example>\n"
                   "References: <first@fieldsales.example> <out-7@fieldsales.example>\n"
                   "Date: Tue, 14 May 2024 09:30:00 +0000\n",
    }
    parsed = parsed_fields(form)
    assert parsed.sender == "jane@customer.example"
    assert parsed.recipients == ["rita@fieldsales.example", "boss@customer.example"]
    assert parsed.subject == "Re: Your quote" and parsed.text == "Yes please\n"
    assert parsed.message_id == "<m1@customer.example>"
    assert parsed.in_reply_to == "<out-7@fieldsales.example>"
    assert parsed.references == ["<first@fieldsales.example>", "<out-7@fieldsales.example>"]
    assert parsed.date == datetime(2024, 5, 14, 9, 30, tzinfo=UTC)

    html_only = parsed_fields({"from": "a@b.example", "html": "<div>Only <i>html</i></div>"})
    assert html_only.text == "Only html" and html_only.message_id is None

    raw = parsed_fields({"email": PLAIN.decode(), "from": "ignored@else.example"})
    assert raw.sender == "jane.buyer@customer.example" and raw.message_id == "<reply-1@customer.example>"


@pytest.mark.parametrize(("form", "reason"), [
    ({"text": "no sender"}, "no From address"),
    ({"from": "nobody", "text": "x"}, "unparseable"),
    ({"from": "a@b.example"}, "no text or html body"),
    ({"email": "not an email at all"}, "not an email"),
])
def test_malformed_fields_are_refused(form: dict, reason: str):
    with pytest.raises(MalformedEmail, match=reason):
        parsed_fields(form)


def test_ref_and_time():
    parsed = parse_mime(PLAIN)
    assert email_ref(parsed, PLAIN) == "<reply-1@customer.example>"
    no_id = parse_mime(b"From: a@b.example\n\nhi")
    ref = email_ref(no_id, b"From: a@b.example\n\nhi")
    assert ref.startswith("sha256:") and ref == email_ref(no_id, b"From: a@b.example\n\nhi")
    long_id = parse_mime(b"From: a@b.example\nMessage-ID: <" + b"x" * 200 + b"@h>\n\nhi")
    assert email_ref(long_id, b"").startswith("sha256:") and len(email_ref(long_id, b"")) <= 120

    now = datetime(2024, 5, 20, 12, tzinfo=UTC)
    assert received_time(None, now) == now
    assert received_time(now - timedelta(days=2), now) == now - timedelta(days=2)
    assert received_time(now - timedelta(days=8), now) == now  # too old to believe
    assert received_time(now + timedelta(minutes=5), now) == now  # the future


# -- round trip ------------------------------------------------------------------------------
_local = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=1, max_size=20).filter(
    lambda s: not s.startswith(".") and not s.endswith(".") and ".." not in s)
_domain = st.from_regex(r"[a-z][a-z0-9]{0,10}(\.[a-z][a-z0-9]{0,10}){0,2}\.[a-z]{2,6}", fullmatch=True)
#: Unicode text without control characters or surrogates (what people type).
_text = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=200)


@settings(max_examples=150, deadline=None)
@given(local=_local, domain=_domain, name=_text, subject=_text, body=_text)
def test_round_trip(local: str, domain: str, name: str, subject: str, body: str):
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = email.headerregistry.Address(display_name=name.strip(), username=local, domain=domain)
    msg["Subject"] = subject
    msg.set_content(body)
    parsed = parse_mime(msg.as_bytes())
    assert parsed.sender == f"{local}@{domain}".lower()
    assert parsed.subject == (" ".join(subject.split()) or None)
    assert parsed.text.rstrip("\n") == body.rstrip("\n").replace("\r\n", "\n")
