"""Matching inbound messages to reps, and receipts, at the service level (the email webhook relies on these)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from server.accounts.tables import Account, Contact
from server.common.records import insert_record
from server.common.time import utcnow
from server.comms import inbound
from server.comms.inbound import Inbound, Match
from server.comms.tables import Activity, InboxItem, WebhookReceipt
from server.db.tx import unit_of_work
from tests.activity_builders import make_activity
from tests.builders import make_org, make_user


def email(sender: str, ref: str = "<m1@example.com>", **kw) -> Inbound:
    fields = {"subject": "Re: quote", "body": "Looks good", "occurred_at": utcnow(), **kw}
    return Inbound(channel="email", sender=sender, provider="email", ref=ref, **fields)


async def test_an_email_reply_follows_the_message_it_answers(db):
    org = await make_org()
    a, b = await make_user(org), await make_user(org)
    sent = await make_activity(b, type="email", counterpart="ada@example.com", status="sent",
                               provider_ref="<quote-1@fieldsales>")
    await make_activity(a, type="email", counterpart="ada@example.com", status="sent")  # later, other rep
    async with unit_of_work():
        match = await inbound.find_match(org, email("ada@example.com",
                                                    replying_to=["<other@x>", "<quote-1@fieldsales>"]))
    assert match == Match(b.id, sent["account_id"], sent["contact_id"])


async def test_contacts_match_by_email_case_insensitively_and_the_latest_updated_wins(db):
    org = await make_org()
    owner, contact_owner = await make_user(org), await make_user(org)
    async with unit_of_work():
        account = await insert_record(Account, org, {"name": "Acme", "owner_id": owner.id})
        await insert_record(Contact, org, {"first_name": "Old", "email": "Ada@Example.com",
                                           "owner_id": contact_owner.id})
        newer = await insert_record(Contact, org, {"first_name": "New", "email": "ada@example.COM",
                                                   "account_id": account["id"]})
    async with unit_of_work():
        match = await inbound.find_match(org, email("ada@example.com"))
    assert match == Match(owner.id, account["id"], newer["id"])


async def test_a_contact_without_an_owned_account_goes_to_its_own_owner(db):
    org = await make_org()
    rep = await make_user(org)
    async with unit_of_work():
        account = await insert_record(Account, org, {"name": "Unowned"})
        contact = await insert_record(Contact, org, {"phone_e164": "+14155550123", "owner_id": rep.id,
                                                     "account_id": account["id"]})
    msg = Inbound(channel="text", sender="+14155550123", occurred_at=utcnow(), provider="twilio", ref="SM1")
    async with unit_of_work():
        assert await inbound.find_match(org, msg) == Match(rep.id, account["id"], contact["id"])


async def test_other_orgs_and_deleted_rows_never_match(db):
    org, other_org = await make_org(), await make_org()
    stranger = await make_user(other_org)
    async with unit_of_work():
        await insert_record(Contact, other_org, {"phone_e164": "+14155550123", "owner_id": stranger.id})
    await make_activity(stranger, type="text", counterpart="+14155550123")
    msg = Inbound(channel="text", sender="+14155550123", occurred_at=utcnow(), provider="twilio", ref="SM1")
    async with unit_of_work():
        assert await inbound.find_match(org, msg) is None
        result = await inbound.receive(org, msg)
    assert result["outcome"] == "inbox"
    assert (await InboxItem.select(InboxItem.org_id).first())["org_id"] == org


async def test_receive_once_then_replay(db):
    org = await make_org()
    rep = await make_user(org)
    async with unit_of_work():
        await insert_record(Contact, org, {"email": "ada@example.com", "owner_id": rep.id})
    future = utcnow() + timedelta(hours=3)  # a sender's clock ahead of ours
    msg = email("ada@example.com", body="x" * 30_000, occurred_at=future)
    async with unit_of_work():
        first = await inbound.receive(org, msg)
    async with unit_of_work():
        again = await inbound.receive(org, msg)
    assert first["outcome"] == "logged" and again == {"outcome": "replay"}
    row = await Activity.select().where(Activity.id == first["activity_id"]).first()
    assert (row["type"], row["direction"], row["status"], len(row["body"])) == ("email", "in", "received", 20_000)
    assert row["occurred_at"] <= utcnow()
    assert await Activity.count() == 1


async def test_concurrent_copies_of_one_event_are_claimed_once(db):
    org = await make_org()

    async def claim() -> bool:
        async with unit_of_work():
            return await inbound.claim_receipt(org, "twilio", "SM42", "received")

    results = await asyncio.gather(*(claim() for _ in range(4)))
    assert sorted(results) == [False, False, False, True]
    assert await WebhookReceipt.count() == 1
