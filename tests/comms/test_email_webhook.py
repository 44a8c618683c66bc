"""Inbound email over HTTP (both lanes): signed by the provider, parsed, logged on the right rep once.

Requests are signed with the ``twilio`` package's own validator, so the check is
against the provider's scheme, not our reading of it.
"""

from __future__ import annotations

import hashlib
import uuid
from email.message import EmailMessage

import pytest
from twilio.request_validator import RequestValidator

from server.comms.tables import Activity, InboxItem, WebhookReceipt
from tests.activity_builders import make_activity
from tests.builders import auth_headers, make_org
from tests.pipeline_builders import make_account, make_contact, make_sales_org

SECRET = "inbound-email-secret-for-tests"
BUYER = "jane.buyer@customer.example"


@pytest.fixture
def settings(db, tmp_path):
    from server.config import load_settings

    return load_settings(database_url=db.url, secret_key="test-secret-" + "x" * 40,
                         data_dir=str(tmp_path / "var"), password_time_cost=1,
                         login_attempts_per_minute=5, twilio_auth_token="twilio-token-not-used",
                         inbound_email_secret=SECRET)


def path_of(org_id: uuid.UUID) -> str:
    return f"/api/v1/webhooks/email/{org_id}"


def mime(sender: str = f"Jane Buyer <{BUYER}>", *, message_id: str | None = "<reply-1@customer.example>",
         in_reply_to: str | None = None, subject: str = "Re: your quote",
         body: str = "Yes, two pallets please.") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "rita@fieldsales.example"
    msg["Subject"] = subject
    if message_id:
        msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(body)
    return msg.as_bytes()


async def post_raw(client, org_id: uuid.UUID, raw: bytes, *, signed_body: bytes | None = None,
                   sign: bool = True):
    """POST raw MIME, signed over ``signed_body`` (default: the body sent)."""
    url = path_of(org_id) + "?bodySHA256=" + hashlib.sha256(signed_body or raw).hexdigest()
    headers = {"Content-Type": "message/rfc822"}
    if sign:
        headers["X-Twilio-Signature"] = RequestValidator(SECRET).compute_signature("http://testserver" + url, {})
    return await client.post(url, content=raw, headers=headers)


async def post_fields(client, org_id: uuid.UUID, fields: dict[str, str], files: dict | None = None):
    url = path_of(org_id)
    signature = RequestValidator(SECRET).compute_signature("http://testserver" + url, fields)
    return await client.post(url, data=fields, files=files, headers={"X-Twilio-Signature": signature})


async def stored() -> tuple[int, int, int]:
    return (await Activity.count(), await InboxItem.count(), await WebhookReceipt.count())


async def customer(org):
    """An account owned by ``org.rep`` with the buyer as its contact."""
    account = await make_account(org.admin, owner_id=org.rep.id)
    contact = await make_contact(org.admin, account_id=account["id"], first_name="Jane", email=BUYER)
    return account, contact


async def test_email_from_a_contact_lands_on_the_account_owner(client):
    org = await make_sales_org()
    account, contact = await customer(org)
    r = await post_raw(client, org.org_id, mime(f"Jane Buyer <{BUYER.upper()}>"))
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "logged"
    row = await Activity.select().where(Activity.id == uuid.UUID(r.json()["activity_id"])).first()
    assert row["type"] == "email" and row["direction"] == "in" and row["status"] == "received"
    assert (row["rep_id"], row["account_id"], row["contact_id"]) == (org.rep.id, account["id"], contact["id"])
    assert row["counterpart"] == BUYER and row["subject"] == "Re: your quote"
    assert row["body"].strip() == "Yes, two pallets please."
    assert row["provider_ref"] == "<reply-1@customer.example>"

    timeline = await client.get(f"/api/v1/accounts/{account['id']}/timeline",
                                headers=await auth_headers(client, org.rep))
    assert timeline.status_code == 200
    assert [a["id"] for a in timeline.json()["items"]] == [r.json()["activity_id"]]

    again = await post_raw(client, org.org_id, mime(f"Jane Buyer <{BUYER}>"))
    assert again.status_code == 200 and again.json() == {"outcome": "replay"}
    assert await stored() == (1, 0, 1)


async def test_a_reply_goes_to_the_rep_who_sent_the_email(client):
    org = await make_sales_org()
    account, contact = await customer(org)
    sent = await make_activity(org.mate, type="email", direction="out", status="sent",
                               account_id=account["id"], contact_id=contact["id"], counterpart=BUYER,
                               provider_ref="<out-7@fieldsales.example>")
    r = await post_raw(client, org.org_id, mime(in_reply_to="<out-7@fieldsales.example>"))
    assert r.status_code == 200 and r.json()["outcome"] == "logged"
    row = await Activity.select().where(Activity.id == uuid.UUID(r.json()["activity_id"])).first()
    assert row["rep_id"] == org.mate.id != org.rep.id
    assert row["account_id"] == sent["account_id"]


async def test_parsed_fields_work_too(client):
    org = await make_sales_org()
    account, _ = await customer(org)
    fields = {"from": f"Jane <{BUYER}>", "to": "rita@fieldsales.example", "subject": "Order",
              "text": "Ten boxes.", "html": "<p>Ten boxes.</p>",
              "headers": "Message-ID: <fields-1@customer.example>\nFrom: Jane <jane.buyer@customer.example>\n"}
    r = await post_fields(client, org.org_id, fields)
    assert r.status_code == 200, r.text
    row = await Activity.select().where(Activity.id == uuid.UUID(r.json()["activity_id"])).first()
    assert (row["rep_id"], row["account_id"], row["body"]) == (org.rep.id, account["id"], "Ten boxes.")
    assert row["provider_ref"] == "<fields-1@customer.example>"
    assert (await post_fields(client, org.org_id, fields)).json() == {"outcome": "replay"}

    # multipart with an attachment (file parts are neither signed nor kept), the raw MIME in `email`
    raw_field = {"email": mime(message_id="<multi-1@customer.example>").decode()}
    r = await post_fields(client, org.org_id, raw_field, files={"attachment1": ("a.txt", b"hi", "text/plain")})
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "logged"


async def test_unknown_sender_goes_to_the_inbox(client):
    org = await make_sales_org()
    await customer(org)
    r = await post_raw(client, org.org_id, mime("stranger@elsewhere.example", message_id=None))
    assert r.status_code == 200 and r.json()["outcome"] == "inbox"
    item = await InboxItem.select().where(InboxItem.id == uuid.UUID(r.json()["inbox_id"])).first()
    assert item["sender"] == "stranger@elsewhere.example" and item["state"] == "open"
    assert item["provider_ref"].startswith("sha256:")
    assert await Activity.count().where(Activity.direction == "in") == 0


async def test_unsigned_or_tampered_requests_store_nothing(client):
    org = await make_sales_org()
    await customer(org)
    before = await stored()
    unsigned = await post_raw(client, org.org_id, mime(), sign=False)
    assert unsigned.status_code == 403 and unsigned.json()["code"] == "invalid_signature"
    # signed for one body, sent with another: the URL's bodySHA256 no longer matches
    tampered = await post_raw(client, org.org_id, mime(body="Make it twenty pallets."), signed_body=mime())
    assert tampered.status_code == 403 and tampered.json()["code"] == "invalid_signature"
    forged_fields = await client.post(path_of(org.org_id), data={"from": BUYER, "text": "hi"},
                                      headers={"X-Twilio-Signature": "bm9wZQ=="})
    assert forged_fields.status_code == 403
    assert await stored() == before


async def test_malformed_mime_is_refused(client):
    org = await make_sales_org()
    for raw, reason in ((b"this is not an email at all", "not an email"),
                        (b"Subject: no sender\n\nbody", "no From address")):
        r = await post_raw(client, org.org_id, raw)
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "malformed_mime" and reason in r.json()["detail"]
    assert await stored() == (0, 0, 0)


async def test_other_content_types_and_unknown_orgs(client):
    org = await make_org()
    r = await client.post(path_of(org), json={"from": BUYER})
    assert r.status_code == 415 and r.json()["code"] == "unsupported_media_type"
    missing = await post_raw(client, uuid.uuid4(), mime())
    assert missing.status_code == 404
    assert await stored() == (0, 0, 0)
