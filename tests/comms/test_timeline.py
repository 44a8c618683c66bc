"""The customer timeline through HTTP: what belongs on it, order and pages, filters, scope, bad input."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from server.accounts.tables import Contact
from server.common.records import insert_record, tombstone
from server.common.time import utcnow
from server.comms.tables import Activity
from server.db.tx import unit_of_work
from server.pipeline.tables import Lead, Opportunity
from tests.activity_builders import give_territory, make_account, make_activity
from tests.builders import auth_headers, make_org, make_user

NOW = utcnow()


def ago(minutes: float):
    return NOW - timedelta(minutes=minutes)


async def make_contact(owner, account_id, name="Dana") -> uuid.UUID:
    async with unit_of_work():
        row = await insert_record(Contact, owner.org_id, {"account_id": account_id, "owner_id": owner.id,
                                                          "first_name": name, "last_name": "Buyer"})
    return row["id"]


async def make_deal(owner, account_id, name="Renewal") -> uuid.UUID:
    async with unit_of_work():
        row = await insert_record(Opportunity, owner.org_id, {"account_id": account_id, "owner_id": owner.id,
                                                              "name": name})
    return row["id"]


async def make_lead(owner) -> uuid.UUID:
    async with unit_of_work():
        row = await insert_record(Lead, owner.org_id, {"owner_id": owner.id, "company": "Prospect Inc"})
    return row["id"]


async def delete(row: dict) -> None:
    async with unit_of_work():
        await tombstone(Activity, row)


async def ids(client, path: str, headers, **params) -> list[str]:
    r = await client.get(path, params=params, headers=headers)
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["items"]]


async def test_the_account_timeline_has_its_contacts_and_deals_newest_first(client):
    org = await make_org()
    admin = await make_user(org, "admin")
    acme, other = await make_account(admin, "Acme"), await make_account(admin, "Other")
    dana, deal = await make_contact(admin, acme), await make_deal(admin, acme)
    gone = await make_contact(admin, acme, "Left the company")
    elsewhere = await make_contact(admin, other, "Elsewhere")
    async with unit_of_work():
        await tombstone(Contact, {"id": gone, "org_id": org})
    visit = await make_activity(admin, type="visit", account_id=acme, occurred_at=ago(50),
                                lat=41.9, lng=-87.6, accuracy_m=12.0, verification="verified", distance_m=35.5)
    text = await make_activity(admin, type="text", direction="in", contact_id=dana, occurred_at=ago(40),
                               status="received", counterpart="+13125550142", body="Call me")
    note = await make_activity(admin, type="note", opportunity_id=deal, occurred_at=ago(30))
    both = await make_activity(admin, type="call", contact_id=dana, opportunity_id=deal, occurred_at=ago(20))
    old_contact = await make_activity(admin, type="email", contact_id=gone, occurred_at=ago(60))
    # Same instant: the id breaks the tie, larger first.
    tie = sorted([await make_activity(admin, account_id=acme, occurred_at=ago(10)) for _ in range(2)],
                 key=lambda r: r["id"], reverse=True)
    on_other = await make_activity(admin, account_id=other, contact_id=dana, occurred_at=ago(5))
    theirs = await make_activity(admin, contact_id=elsewhere, occurred_at=ago(6))
    await make_activity(admin, occurred_at=ago(5))  # linked to nothing
    await delete(await make_activity(admin, account_id=acme, occurred_at=ago(1)))
    headers = await auth_headers(client, admin)

    r = await client.get(f"/api/v1/accounts/{acme}/timeline", headers=headers)
    assert r.status_code == 200, r.text
    page = r.json()
    expected = [*tie, both, note, text, visit, old_contact]
    assert [i["id"] for i in page["items"]] == [str(a["id"]) for a in expected]
    assert page["next_cursor"] is None
    shown = page["items"][-2]
    assert (shown["verification"], shown["distance_m"], shown["accuracy_m"], shown["type"]) == (
        "verified", 35.5, 12.0, "visit")
    assert page["items"][-3]["status"] == "received" and page["items"][-3]["direction"] == "in"
    # The activity that names another account is on that account's timeline and the contact's.
    assert await ids(client, f"/api/v1/accounts/{other}/timeline", headers) == [
        str(on_other["id"]), str(theirs["id"])]
    assert await ids(client, f"/api/v1/contacts/{dana}/timeline", headers) == [
        str(on_other["id"]), str(both["id"]), str(text["id"])]
    assert await ids(client, f"/api/v1/opportunities/{deal}/timeline", headers) == [
        str(both["id"]), str(note["id"])]


async def test_lead_timeline(client):
    org = await make_org()
    rep = await make_user(org)
    lead = await make_lead(rep)
    call = await make_activity(rep, type="call", lead_id=lead, occurred_at=ago(3))
    first = await make_activity(rep, type="visit", lead_id=lead, occurred_at=ago(30))
    await make_activity(rep, occurred_at=ago(2))
    headers = await auth_headers(client, rep)
    assert await ids(client, f"/api/v1/leads/{lead}/timeline", headers) == [str(call["id"]), str(first["id"])]


async def test_pages_neither_repeat_nor_skip_while_activities_arrive(client):
    org = await make_org()
    admin = await make_user(org, "admin")
    acme = await make_account(admin)
    dana, deal = await make_contact(admin, acme), await make_deal(admin, acme)
    links = [{"account_id": acme}, {"contact_id": dana}, {"opportunity_id": deal}]
    rows = [await make_activity(admin, occurred_at=ago(100 + i // 2), **links[i % 3]) for i in range(23)]
    expected = [str(r["id"]) for r in sorted(rows, key=lambda r: (r["occurred_at"], r["id"]), reverse=True)]
    headers = await auth_headers(client, admin)
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        r = await client.get(f"/api/v1/accounts/{acme}/timeline", params=params, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["items"]) <= 5
        seen += [i["id"] for i in body["items"]]
        pages += 1
        # New interactions arrive between pages, newer than anything paged so far (through the API too).
        created = await client.post("/api/v1/activities", headers=headers, json={
            "type": "note", "account_id": str(acme), "occurred_at": ago(1 + pages).isoformat()})
        assert created.status_code == 201, created.text
        await make_activity(admin, contact_id=dana, occurred_at=ago(pages))
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == expected and pages == 5
    again = await ids(client, f"/api/v1/accounts/{acme}/timeline", headers, limit=200)
    assert len(again) == 23 + 2 * pages and again[-23:] == expected


async def test_type_and_rep_filters(client):
    org = await make_org()
    admin = await make_user(org, "admin")
    rep, other = await make_user(org), await make_user(org)
    acme = await make_account(admin)
    rows = {}
    for i, (kind, who) in enumerate([("visit", rep), ("call", rep), ("email", other), ("call", other),
                                     ("note", rep)]):
        rows[(kind, who.id)] = await make_activity(who, type=kind, account_id=acme, occurred_at=ago(10 - i))
    headers = await auth_headers(client, admin)
    path = f"/api/v1/accounts/{acme}/timeline"

    def of(*keys):
        return [str(rows[k]["id"]) for k in sorted(keys, key=lambda k: rows[k]["occurred_at"], reverse=True)]

    assert await ids(client, path, headers, type="call") == of(("call", rep.id), ("call", other.id))
    assert await ids(client, path, headers, type=["call", "visit"]) == of(
        ("call", rep.id), ("call", other.id), ("visit", rep.id))
    assert await ids(client, path, headers, type="visit, email") == of(("visit", rep.id), ("email", other.id))
    assert await ids(client, path, headers, rep_id=str(other.id)) == of(("email", other.id), ("call", other.id))
    assert await ids(client, path, headers, rep_id=str(rep.id), type="call,note") == of(
        ("call", rep.id), ("note", rep.id))
    assert await ids(client, path, headers, type="meeting") == []


async def test_a_rep_sees_only_what_their_scope_covers(client):
    org, other_org = await make_org(), await make_org()
    manager = await make_user(org, "manager")
    rep = await make_user(org, manager=manager)
    colleague = await make_user(org, manager=manager)
    stranger = await make_user(other_org, "admin")
    shared = await make_account(colleague, "Shared")
    await give_territory(rep, shared)
    hidden = await make_account(colleague, "Hidden")
    hidden_contact, hidden_lead = await make_contact(colleague, hidden), await make_lead(colleague)
    hidden_deal = await make_deal(colleague, hidden)
    mine = await make_activity(rep, account_id=shared, occurred_at=ago(60 * 24 * 200))
    recent = await make_activity(colleague, account_id=shared, occurred_at=ago(30))
    old = await make_activity(colleague, account_id=shared, occurred_at=ago(60 * 24 * 120))  # beyond 90 days
    shared_contact = await make_contact(colleague, shared)
    # Linked to the account's contact only: not on an account the rep's scope names, so hidden from them.
    on_contact = await make_activity(colleague, contact_id=shared_contact, occurred_at=ago(20))
    rep_headers = await auth_headers(client, rep)

    assert await ids(client, f"/api/v1/accounts/{shared}/timeline", rep_headers) == [
        str(recent["id"]), str(mine["id"])]
    # The colleague sees their own, however old, and the rep's recent ones (none here); the manager the team's.
    assert await ids(client, f"/api/v1/accounts/{shared}/timeline", await auth_headers(client, colleague)) == [
        str(on_contact["id"]), str(recent["id"]), str(old["id"])]
    assert await ids(client, f"/api/v1/accounts/{shared}/timeline", await auth_headers(client, manager)) == [
        str(on_contact["id"]), str(recent["id"]), str(old["id"]), str(mine["id"])]

    for path in (f"/api/v1/accounts/{hidden}/timeline", f"/api/v1/contacts/{hidden_contact}/timeline",
                 f"/api/v1/leads/{hidden_lead}/timeline", f"/api/v1/opportunities/{hidden_deal}/timeline",
                 f"/api/v1/accounts/{uuid.uuid4()}/timeline"):
        r = await client.get(path, headers=rep_headers)
        assert (r.status_code, r.json()["code"]) == (404, "not_found"), path
    r = await client.get(f"/api/v1/accounts/{shared}/timeline", headers=await auth_headers(client, stranger))
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    r = await client.get(f"/api/v1/accounts/{shared}/timeline")
    assert r.status_code == 401


async def test_a_deleted_record_has_no_timeline(client):
    org = await make_org()
    admin = await make_user(org, "admin")
    acme = await make_account(admin)
    await make_activity(admin, account_id=acme)
    headers = await auth_headers(client, admin)
    assert (await client.delete(f"/api/v1/accounts/{acme}", headers=headers)).status_code == 204
    r = await client.get(f"/api/v1/accounts/{acme}/timeline", headers=headers)
    assert r.status_code == 404


@pytest.mark.parametrize("params,field,code", [
    ({"type": "fax"}, "type", "unknown_type"),
    ({"type": "call,smoke-signal"}, "type", "unknown_type"),
    ({"cursor": "not-a-cursor"}, "cursor", "invalid_cursor"),
    ({"limit": 0}, "limit", "invalid"),
    ({"limit": 201}, "limit", "invalid"),
])
async def test_bad_input_is_refused_with_a_code(client, params, field, code):
    org = await make_org()
    admin = await make_user(org, "admin")
    acme = await make_account(admin)
    r = await client.get(f"/api/v1/accounts/{acme}/timeline", params=params,
                         headers=await auth_headers(client, admin))
    assert r.status_code == 422, r.text
    assert (r.json()["code"], r.json()["field"]) == (code, field)


async def test_a_cursor_of_another_list_order_is_refused(client):
    org = await make_org()
    admin = await make_user(org, "admin")
    acme = await make_account(admin)
    for _ in range(3):
        await make_activity(admin, account_id=acme)
    headers = await auth_headers(client, admin)
    r = await client.get("/api/v1/activities", params={"sort": "-updated_at", "limit": 1}, headers=headers)
    cursor = r.json()["next_cursor"]
    r = await client.get(f"/api/v1/accounts/{acme}/timeline", params={"cursor": cursor}, headers=headers)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_cursor")


async def test_timeline_routes_leave_the_record_routes_alone(client):
    org = await make_org()
    admin = await make_user(org, "admin")
    acme = await make_account(admin)
    contact, deal, lead = await make_contact(admin, acme), await make_deal(admin, acme), await make_lead(admin)
    headers = await auth_headers(client, admin)
    for kind, record in (("accounts", acme), ("contacts", contact), ("opportunities", deal), ("leads", lead)):
        assert (await client.get(f"/api/v1/{kind}/{record}", headers=headers)).json()["id"] == str(record)
        r = await client.get(f"/api/v1/{kind}/{record}/timeline", headers=headers)
        assert (r.status_code, r.json()) == (200, {"items": [], "next_cursor": None})
        assert (await client.get(f"/api/v1/{kind}/", headers=headers)).status_code == 200
    r = await client.get(f"/api/v1/opportunities/{deal}/stage-history", headers=headers)
    assert r.status_code == 200
    r = await client.get("/api/v1/accounts/not-a-uuid/timeline", headers=headers)
    assert r.status_code in (404, 405)
