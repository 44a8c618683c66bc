"""Contacts over HTTP: round trip with versions, scope, validation, filtered pages."""

import uuid

from server.accounts.tables import Contact
from tests.builders import auth_headers, make_org, make_user
from tests.pipeline_builders import all_pages, make_account, make_contact

URL = "/api/v1/contacts"


async def test_contact_round_trip(client):
    org = await make_org()
    rep = await make_user(org)
    h = await auth_headers(client, rep)
    account = await make_account(rep, name="Lee Bakery")
    contact_id = str(uuid.uuid4())
    r = await client.post(URL, headers=h, json={
        "id": contact_id, "account_id": str(account["id"]), "first_name": "Ann", "last_name": "Lee",
        "phone": "(415) 555-0123", "email": "ann@leebakery.com"})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["id"] == contact_id and created["owner_id"] == str(rep.id)
    assert created["phone_e164"] == "+14155550123" and r.headers["etag"] == f'"{created["version"]}"'
    got = await client.get(f"{URL}/{contact_id}", headers=h)
    assert got.status_code == 200 and got.json() == created
    r = await client.patch(f"{URL}/{contact_id}", headers={**h, "If-Match": got.headers["etag"]},
                           json={"title": "Owner", "mobile": "+44 20 7946 0958"})
    assert r.status_code == 200 and r.json()["title"] == "Owner"
    assert r.json()["mobile_e164"] == "+442079460958" and r.json()["version"] > created["version"]
    stale = await client.patch(f"{URL}/{contact_id}", headers={**h, "If-Match": got.headers["etag"]},
                               json={"title": "CEO"})
    assert stale.status_code == 412 and stale.json()["code"] == "version_mismatch"
    found = await client.get(URL, headers=h, params={"q": "lee", "account_id": str(account["id"])})
    assert [c["id"] for c in found.json()["items"]] == [contact_id]
    assert (await client.delete(f"{URL}/{contact_id}", headers=h)).status_code == 204
    assert (await client.get(f"{URL}/{contact_id}", headers=h)).status_code == 404
    row = await Contact.select().where(Contact.id == uuid.UUID(contact_id)).first()
    assert row["deleted_at"] is not None  # a tombstone for sync


async def test_contacts_outside_scope_are_not_found(client):
    org, other_org = await make_org(), await make_org()
    rep, mate = await make_user(org), await make_user(org)
    stranger = await make_user(other_org)
    contact = await make_contact(rep)
    for person in (mate, stranger):
        h = await auth_headers(client, person)
        url = f"{URL}/{contact['id']}"
        assert (await client.get(url, headers=h)).status_code == 404
        assert (await client.patch(url, headers=h, json={"title": "x"})).status_code == 404
        assert (await client.delete(url, headers=h)).status_code == 404
        assert (await client.get(URL, headers=h)).json()["items"] == []


async def test_invalid_contacts_name_the_field(client):
    org, other_org = await make_org(), await make_org()
    rep, stranger = await make_user(org), await make_user(other_org)
    foreign = await make_account(stranger)
    h = await auth_headers(client, rep)
    cases = [
        ({"last_name": 5}, "last_name", "validation_error"),
        ({"last_name": "Lee", "nickname": "Al"}, None, "validation_error"),
        ({"last_name": "Lee", "email": "not-an-email"}, "email", "validation_error"),
        ({"last_name": "Lee", "phone": "call me"}, "phone", "invalid_phone"),
        ({"first_name": " "}, "last_name", "name_required"),
        ({"last_name": "Lee", "account_id": str(foreign["id"])}, "account_id", "unknown_account"),
        ({"last_name": "Lee", "account_id": "not-a-uuid"}, "account_id", "validation_error"),
    ]
    for body, field, code in cases:
        r = await client.post(URL, headers=h, json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["code"] == code, body
        if field:
            assert r.json()["field"] == field, (body, r.json())
    assert await Contact.count() == 0


async def test_filtered_pages_list_every_contact_once(client):
    org = await make_org()
    rep = await make_user(org)
    here, there = await make_account(rep), await make_account(rep)
    mine = {str((await make_contact(rep, account_id=here["id"], last_name=name))["id"])
            for name in ("Lee", "Lee", "Abe", "Zhu", "Ng")}
    await make_contact(rep, account_id=there["id"], last_name="Lee")
    h = await auth_headers(client, rep)
    for sort in ("name", "-updated_at"):
        items = await all_pages(client, URL, h, [("account_id", str(here["id"])), ("sort", sort)])
        ids = [c["id"] for c in items]
        assert len(ids) == len(set(ids)) and set(ids) == mine, sort
    by_name = await all_pages(client, URL, h, [("account_id", str(here["id"]))])
    assert [c["last_name"] for c in by_name] == ["Abe", "Lee", "Lee", "Ng", "Zhu"]
