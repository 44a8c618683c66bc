"""Records moving between reps: after one pull every phone holds what a fresh full pull would give."""

import uuid

from server.db.tx import unit_of_work
from server.geo.ownership import reassign_territory
from tests.activity_builders import (
    give_territory,
    make_account,
    make_activity,
    scope_of,
)
from tests.pipeline_builders import make_sales_org
from tests.sync.phone import Phone

TABLES = ("accounts", "contacts", "leads", "opportunities", "activities", "tasks", "appointments",
          "territories", "users")


async def assert_same_as_fresh(client, phone: Phone) -> None:
    fresh = await Phone(client, phone.person).login()
    await fresh.pull()
    for table in TABLES:
        assert phone.tables[table] == fresh.tables[table], table


async def test_territory_reassignment_moves_records_between_phones(client):
    org = await make_sales_org()
    accounts = [await make_account(org.manager, f"Store {i}") for i in range(3)]
    territory = await give_territory(org.rep, *accounts)
    contact = uuid.uuid4()
    rep, mate = await Phone(client, org.rep).login(), await Phone(client, org.mate).login()
    manager = await Phone(client, org.manager).login()
    made = await manager.push([manager.mutation("contacts", "insert", contact, {
        "account_id": str(accounts[0]), "first_name": "Grace", "last_name": "Hopper"})])
    assert made["results"][0]["status"] == "applied"
    visit = await make_activity(org.manager, type="visit", account_id=accounts[1])  # someone else's, recent
    await rep.pull()
    await mate.pull()
    assert rep.ids("accounts") == {str(a) for a in accounts} and str(contact) in rep.ids("contacts")
    assert str(visit["id"]) in rep.ids("activities") and str(territory) in rep.ids("territories")
    assert not mate.ids("accounts")

    async with unit_of_work():
        await reassign_territory(await scope_of(org.manager), territory, [org.mate.id])

    [page] = await rep.pull()
    assert set(page["changes"]["accounts"]["removed"]) == {str(a) for a in accounts}
    assert str(contact) in page["changes"]["contacts"]["removed"]
    assert str(territory) in page["changes"]["territories"]["removed"]
    await mate.pull()
    assert mate.ids("accounts") == {str(a) for a in accounts}
    assert str(contact) in mate.ids("contacts") and str(visit["id"]) in mate.ids("activities")
    await assert_same_as_fresh(client, rep)
    await assert_same_as_fresh(client, mate)


async def test_owner_change_moves_the_account_and_its_history(client):
    org = await make_sales_org()
    account = await make_account(org.rep, "Moving Co")
    rep, mate = await Phone(client, org.rep).login(), await Phone(client, org.mate).login()
    manager = await Phone(client, org.manager).login()
    contact, note = uuid.uuid4(), uuid.uuid4()
    made = await manager.push([manager.mutation("contacts", "insert", contact, {
        "account_id": str(account), "first_name": "Alan", "last_name": "Turing"})])
    made2 = await rep.push([rep.mutation("activities", "insert", note, {
        "type": "note", "direction": "out", "occurred_at": 1_795_000_000_000, "account_id": str(account),
        "body": "Likes the blue model"})])
    assert made["results"][0]["status"] == made2["results"][0]["status"] == "applied"
    await rep.pull()
    await mate.pull()
    r = await client.patch(f"/api/v1/accounts/{account}", json={"owner_id": str(org.mate.id)},
                           headers=manager.headers)
    assert r.status_code == 200, r.text
    [page] = await rep.pull()
    assert page["changes"]["accounts"]["removed"] == [str(account)]
    assert page["changes"]["contacts"]["removed"] == [str(contact)]
    # The rep's own note stays theirs: activities by the rep never leave the rep's scope.
    assert str(note) in rep.ids("activities")
    await mate.pull()
    assert str(account) in mate.ids("accounts") and str(contact) in mate.ids("contacts")
    assert str(note) in mate.ids("activities")  # recent history on the account travels with it
    await assert_same_as_fresh(client, rep)
    await assert_same_as_fresh(client, mate)


async def test_team_change_resets_the_managers_view(client):
    org = await make_sales_org()
    await make_account(org.mate, "Team account")
    manager = await Phone(client, org.manager).login()
    await manager.pull()
    admin = await Phone(client, org.admin).login()
    r = await client.patch(f"/api/v1/users/{org.mate.id}", json={"manager_id": None}, headers=admin.headers)
    assert r.status_code == 200, r.text
    r = await client.post("/api/v1/sync/pull", json={"device_id": str(manager.device_id), "schema_version": 2,
                                                     "cursor": manager.cursor}, headers=manager.headers)
    assert r.status_code == 410 and r.json()["reason"] == "scope_changed"
    manager.cursor = None
    await manager.pull()
    await assert_same_as_fresh(client, manager)
    # The rep left behind sees the directory change without a reset.
    rep = org.rep
    rep_phone = await Phone(client, rep).login()
    await rep_phone.pull()
    assert str(org.mate.id) not in rep_phone.ids("users")
