"""The admins' inbox over HTTP (both lanes): who sees it, assigning to a customer, dismissing."""

from __future__ import annotations

import uuid

from server.accounts.tables import Contact
from server.audit.tables import AuditEvent
from server.common.time import utcnow
from server.comms import inbound
from server.comms.inbound import Inbound
from server.comms.tables import Activity, InboxItem
from server.db.tx import unit_of_work
from tests.builders import auth_headers
from tests.pipeline_builders import make_account, make_contact, make_sales_org

URL = "/api/v1/inbox"


async def unmatched(org_id: uuid.UUID, channel: str = "email", sender: str = "stranger@elsewhere.example",
                    body: str = "Do you ship to Ohio?") -> dict:
    """An inbox item, as the inbound pipeline leaves one that matched nobody."""
    ref = f"<{uuid.uuid4().hex}@elsewhere.example>" if channel == "email" else f"SM{uuid.uuid4().hex}"
    msg = Inbound(channel=channel, sender=sender, recipient="sales@fieldsales.example", subject="Question",
                  body=body, occurred_at=utcnow(), provider="email" if channel == "email" else "twilio",
                  ref=ref)
    async with unit_of_work():
        return await inbound.to_inbox(org_id, msg)


async def test_admins_list_and_read_the_inbox(client):
    org = await make_sales_org()
    first = await unmatched(org.org_id)
    text = await unmatched(org.org_id, channel="text", sender="+14155550123", body="Call me")
    last = await unmatched(org.org_id)
    admin = await auth_headers(client, org.admin)

    r = await client.get(URL, headers=admin)
    assert r.status_code == 200, r.text
    assert [i["id"] for i in r.json()["items"]] == [str(last["id"]), str(text["id"]), str(first["id"])]
    item = r.json()["items"][1]
    assert (item["channel"], item["sender"], item["body"], item["state"]) == ("text", "+14155550123",
                                                                              "Call me", "open")
    assert item["activity_id"] is None and item["resolved_by_id"] is None

    texts = await client.get(URL, headers=admin, params={"channel": "text"})
    assert [i["id"] for i in texts.json()["items"]] == [str(text["id"])]

    seen, cursor = [], None
    while True:
        page = await client.get(URL, headers=admin, params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200
        seen += [i["id"] for i in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [str(last["id"]), str(text["id"]), str(first["id"])]

    got = await client.get(f"{URL}/{first['id']}", headers=admin)
    assert got.status_code == 200 and got.json()["subject"] == "Question"
    bad = await client.get(URL, headers=admin, params={"state": "lost"})
    assert bad.status_code == 422 and bad.json()["code"] == "validation_error", bad.text


async def test_only_admins_of_the_org(client):
    org = await make_sales_org()
    item = await unmatched(org.org_id)
    for person in (org.rep, org.manager):
        headers = await auth_headers(client, person)
        for r in (await client.get(URL, headers=headers),
                  await client.get(f"{URL}/{item['id']}", headers=headers),
                  await client.post(f"{URL}/{item['id']}/dismiss", headers=headers)):
            assert r.status_code == 403 and r.json()["code"] == "admin_only", r.text

    other = await make_sales_org()
    stranger = await auth_headers(client, other.admin)
    assert (await client.get(URL, headers=stranger)).json()["items"] == []
    assert (await client.get(f"{URL}/{item['id']}", headers=stranger)).status_code == 404
    account = await make_account(other.admin, owner_id=other.rep.id)
    r = await client.post(f"{URL}/{item['id']}/assign", headers=stranger, json={"account_id": str(account["id"])})
    assert r.status_code == 404
    assert (await client.post(f"{URL}/{item['id']}/dismiss", headers=stranger)).status_code == 404
    assert (await InboxItem.select(InboxItem.state).where(InboxItem.id == item["id"]).first())["state"] == "open"


async def test_assign_to_a_contact_logs_the_activity_on_the_account_owner(client):
    org = await make_sales_org()
    account = await make_account(org.admin, owner_id=org.rep.id)
    contact = await make_contact(org.admin, account_id=account["id"], first_name="Sam")
    item = await unmatched(org.org_id, sender="sam.private@home.example")
    admin = await auth_headers(client, org.admin)

    r = await client.post(f"{URL}/{item['id']}/assign", headers=admin, json={"contact_id": str(contact["id"])})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["state"] == "assigned" and out["resolved_by_id"] == str(org.admin.id)
    assert out["resolved_at"] is not None and out["activity_id"] is not None
    activity = await Activity.select().where(Activity.id == uuid.UUID(out["activity_id"])).first()
    assert (activity["rep_id"], activity["account_id"], activity["contact_id"]) == (
        org.rep.id, account["id"], contact["id"])
    assert (activity["type"], activity["direction"], activity["status"]) == ("email", "in", "received")
    assert activity["counterpart"] == "sam.private@home.example"
    assert activity["body"] == "Do you ship to Ohio?"

    timeline = await client.get(f"/api/v1/accounts/{account['id']}/timeline",
                                headers=await auth_headers(client, org.rep))
    assert [a["id"] for a in timeline.json()["items"]] == [out["activity_id"]]
    assert (await client.get(f"{URL}/{item['id']}", headers=admin)).json() == out
    assigned = await client.get(URL, headers=admin, params={"state": "assigned"})
    assert [i["id"] for i in assigned.json()["items"]] == [str(item["id"])]
    assert (await client.get(URL, headers=admin, params={"state": "open"})).json()["items"] == []
    audit = await AuditEvent.select().where(AuditEvent.entity_id == item["id"]).first()
    assert audit["action"] == "inbox_item.assigned" and audit["actor_id"] == org.admin.id

    again = await client.post(f"{URL}/{item['id']}/assign", headers=admin, json={"contact_id": str(contact["id"])})
    assert again.status_code == 409 and again.json()["code"] == "already_resolved"
    assert await Activity.count().where(Activity.direction == "in") == 1


async def test_assign_to_an_account_with_a_chosen_rep(client):
    org = await make_sales_org()
    unowned = await make_account(org.admin, owner_id=None)
    item = await unmatched(org.org_id, channel="text", sender="+14155550123")
    admin = await auth_headers(client, org.admin)
    r = await client.post(f"{URL}/{item['id']}/assign", headers=admin,
                          json={"account_id": str(unowned["id"]), "rep_id": str(org.mate.id)})
    assert r.status_code == 200, r.text
    activity = await Activity.select().where(Activity.id == uuid.UUID(r.json()["activity_id"])).first()
    assert (activity["rep_id"], activity["account_id"], activity["contact_id"]) == (org.mate.id, unowned["id"], None)
    assert activity["type"] == "text" and activity["counterpart"] == "+14155550123"

    # nobody owns the account: the contact's owner gets it, as inbound matching would have done
    contact = await make_contact(org.admin, account_id=unowned["id"], first_name="Kim", owner_id=org.loner.id)
    second = await unmatched(org.org_id)
    r = await client.post(f"{URL}/{second['id']}/assign", headers=admin, json={"contact_id": str(contact["id"])})
    assert r.status_code == 200, r.text
    activity = await Activity.select().where(Activity.id == uuid.UUID(r.json()["activity_id"])).first()
    assert (activity["rep_id"], activity["account_id"]) == (org.loner.id, unowned["id"])


async def test_bad_assignments_are_refused(client):
    org = await make_sales_org()
    other = await make_sales_org()
    owned = await make_account(org.admin, owner_id=org.rep.id)
    unowned = await make_account(org.admin, owner_id=None)
    elsewhere = await make_account(other.admin, owner_id=other.rep.id)
    contact_elsewhere = await make_contact(other.admin, account_id=elsewhere["id"], first_name="Out")
    stray_contact = await make_contact(org.admin, account_id=unowned["id"], first_name="Stray")
    async with unit_of_work():
        await Contact.update({Contact.owner_id: None}).where(Contact.id == stray_contact["id"])
    item = await unmatched(org.org_id)
    admin = await auth_headers(client, org.admin)
    cases = [
        ({}, "contact_or_account_required"),
        ({"rep_id": str(org.rep.id)}, "contact_or_account_required"),
        ({"contact_id": str(uuid.uuid4())}, "unknown_contact"),
        ({"contact_id": str(contact_elsewhere["id"])}, "unknown_contact"),
        ({"account_id": str(elsewhere["id"])}, "unknown_account"),
        ({"account_id": str(unowned["id"])}, "no_rep"),
        ({"contact_id": str(stray_contact["id"])}, "no_rep"),
        ({"contact_id": str(stray_contact["id"]), "account_id": str(owned["id"])}, "contact_not_at_account"),
        ({"account_id": str(owned["id"]), "rep_id": str(other.rep.id)}, "unknown_rep"),
        ({"account_id": str(owned["id"]), "rep_id": str(uuid.uuid4())}, "unknown_rep"),
    ]
    for body, code in cases:
        r = await client.post(f"{URL}/{item['id']}/assign", headers=admin, json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["code"] == code, (body, r.json())
    unknown_field = await client.post(f"{URL}/{item['id']}/assign", headers=admin,
                                      json={"account_id": str(owned["id"]), "owner": "x"})
    assert unknown_field.status_code == 422
    missing = await client.post(f"{URL}/{uuid.uuid4()}/assign", headers=admin, json={"account_id": str(owned["id"])})
    assert missing.status_code == 404
    assert await Activity.count().where(Activity.direction == "in") == 0
    assert (await InboxItem.select(InboxItem.state).where(InboxItem.id == item["id"]).first())["state"] == "open"


async def test_dismiss(client):
    org = await make_sales_org()
    account = await make_account(org.admin, owner_id=org.rep.id)
    item = await unmatched(org.org_id)
    admin = await auth_headers(client, org.admin)
    r = await client.post(f"{URL}/{item['id']}/dismiss", headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "dismissed" and r.json()["activity_id"] is None
    assert r.json()["resolved_by_id"] == str(org.admin.id)
    again = await client.post(f"{URL}/{item['id']}/dismiss", headers=admin)
    assert again.status_code == 409 and again.json()["code"] == "already_resolved"
    late = await client.post(f"{URL}/{item['id']}/assign", headers=admin, json={"account_id": str(account["id"])})
    assert late.status_code == 409
    dismissed = await client.get(URL, headers=admin, params={"state": "dismissed"})
    assert [i["id"] for i in dismissed.json()["items"]] == [str(item["id"])]
    assert await Activity.count().where(Activity.direction == "in") == 0
