"""Merging duplicates made offline: history moves, phones get the loser as removed with merged_into."""

import uuid

from tests.activity_builders import make_account
from tests.pipeline_builders import make_sales_org
from tests.sync.phone import Phone


async def test_merge_accounts_moves_history_and_tells_phones(client):
    org = await make_sales_org()
    rep, mate = await Phone(client, org.rep).login(), await Phone(client, org.mate).login()
    keep, dup = uuid.uuid4(), uuid.uuid4()
    contact, visit = uuid.uuid4(), uuid.uuid4()
    await rep.push([rep.mutation("accounts", "insert", keep, {"name": "Corner Bakery", "city": "Utica"})])
    await mate.push([
        mate.mutation("accounts", "insert", dup, {"name": "Corner Bakery Ltd", "website": "bakery.example"}),
        mate.mutation("contacts", "insert", contact, {"account_id": str(dup), "first_name": "Ann", "last_name": "Lee"}),
        mate.mutation("activities", "insert", visit, {"type": "visit", "direction": "out",
                                                      "occurred_at": 1_795_000_000_000, "account_id": str(dup)}),
    ])
    manager = await Phone(client, org.manager).login()
    await manager.pull()
    await mate.pull()
    assert {str(keep), str(dup)} <= manager.ids("accounts")
    r = await client.post(f"/api/v1/accounts/{keep}/merge", json={"duplicate_id": str(dup)},
                          headers=manager.headers)
    assert r.status_code == 200, r.text
    assert r.json()["website"] == "bakery.example" and r.json()["city"] == "Utica"  # blanks filled
    [page] = await manager.pull()
    assert page["changes"]["accounts"]["removed"] == [str(dup)]
    assert page["changes"]["accounts"]["merged_into"] == {str(dup): str(keep)}
    assert manager.tables["contacts"][str(contact)]["account_id"] == str(keep)
    assert manager.tables["activities"][str(visit)]["account_id"] == str(keep)
    assert (await client.get(f"/api/v1/accounts/{dup}", headers=manager.headers)).status_code == 404
    timeline = await client.get("/api/v1/activities", params={"account_id": str(keep)}, headers=manager.headers)
    assert [a["id"] for a in timeline.json()["items"]] == [str(visit)]
    # The mate's phone loses the duplicate (and the contact, now on an account it cannot see).
    [page] = await mate.pull()
    assert page["changes"]["accounts"]["merged_into"] == {str(dup): str(keep)}
    # The mate still owns the contact: it stays, pointing at the survivor.
    assert mate.tables["contacts"][str(contact)]["account_id"] == str(keep)


async def test_merge_refusals(client):
    org = await make_sales_org()
    rep = await Phone(client, org.rep).login()
    mine = await make_account(org.rep, "Mine")
    theirs = await make_account(org.mate, "Theirs")
    other = await make_account(org.loner, "Other team")
    for target, dup, status, code in (
        (mine, mine, 422, "merge_self"),
        (mine, theirs, 404, "not_found"),  # not in the rep's scope
        (mine, other, 404, "not_found"),
    ):
        r = await client.post(f"/api/v1/accounts/{target}/merge", json={"duplicate_id": str(dup)},
                              headers=rep.headers)
        assert (r.status_code, r.json()["code"]) == (status, code)
    manager = await Phone(client, org.manager).login()
    r = await client.post(f"/api/v1/accounts/{mine}/merge", json={"duplicate_id": str(other)},
                          headers=manager.headers)
    assert r.status_code == 404  # outside the manager's team
    r = await client.post(f"/api/v1/accounts/{mine}/merge", json={}, headers=manager.headers)
    assert r.status_code == 422


async def test_merge_contacts_and_leads(client):
    org = await make_sales_org()
    rep = await Phone(client, org.rep).login()
    account = await make_account(org.rep, "Shop")
    a, b, la, lb = (uuid.uuid4() for _ in range(4))
    await rep.push([
        rep.mutation("contacts", "insert", a, {"account_id": str(account), "first_name": "Bo", "last_name": "Ng"}),
        rep.mutation("contacts", "insert", b, {"account_id": str(account), "first_name": "Bo", "last_name": "Ng",
                                               "email": "bo@shop.example"}),
        rep.mutation("leads", "insert", la, {"first_name": "Cy", "last_name": "Do", "company": "Do & Co"}),
        rep.mutation("leads", "insert", lb, {"first_name": "Cy", "last_name": "Do", "company": "Do and Co"}),
    ])
    await rep.pull()
    r = await client.post(f"/api/v1/contacts/{a}/merge", json={"duplicate_id": str(b)}, headers=rep.headers)
    assert r.status_code == 200 and r.json()["email"] == "bo@shop.example"
    r = await client.post(f"/api/v1/leads/{la}/merge", json={"duplicate_id": str(lb)}, headers=rep.headers)
    assert r.status_code == 200
    [page] = await rep.pull()
    assert page["changes"]["contacts"]["merged_into"] == {str(b): str(a)}
    assert page["changes"]["leads"]["merged_into"] == {str(lb): str(la)}
