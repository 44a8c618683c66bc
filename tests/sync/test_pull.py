"""Pulls through HTTP: scope, pages, resume, deltas, tombstones, horizons, cursors, schema versions."""

import uuid

from server.db.tx import unit_of_work
from server.sync.registry import MIN_SCHEMA_VERSION
from tests.activity_builders import make_account, make_activity, make_task
from tests.builders import make_org, make_user
from tests.pipeline_builders import make_sales_org
from tests.sync.phone import Phone


async def test_first_pull_delivers_exactly_the_scope(client):
    org = await make_sales_org()
    mine = {str(await make_account(org.rep, f"Mine {i}")) for i in range(3)}
    theirs = {str(await make_account(org.mate, "Theirs"))}
    await make_account(org.loner, "Elsewhere")
    await make_task(org.rep)
    rep = await Phone(client, org.rep).login()
    pages = await rep.pull()
    assert pages[0]["reset"] is True and pages[-1]["has_more"] is False
    assert rep.ids("accounts") == mine
    assert len(rep.ids("tasks")) == 1
    # The directory: team-mates and managers, never the rep outside the team.
    assert {str(org.rep.id), str(org.mate.id), str(org.manager.id)} <= rep.ids("users")
    assert str(org.loner.id) not in rep.ids("users")
    record = rep.tables["accounts"][next(iter(mine))]
    assert isinstance(record["created_at"], int) and isinstance(record["version"], int)
    assert "org_id" not in record and "field_versions" not in record

    manager = await Phone(client, org.manager).login()
    await manager.pull()
    assert manager.ids("accounts") == mine | theirs
    admin = await Phone(client, org.admin).login()
    await admin.pull()
    assert len(admin.ids("accounts")) == 5


async def test_small_pages_deliver_everything_once_and_resume_after_a_crash(client):
    org = await make_sales_org()
    made = {str(await make_account(org.rep, f"A{i:02}")) for i in range(23)}
    phone = await Phone(client, org.rep).login()
    seen: list[str] = []
    cursors, counts = [], []
    while True:
        page = await phone.pull_page(limit=5)
        seen += [r["id"] for r in page["changes"].get("accounts", {}).get("upserted", [])]
        phone.apply(page)
        cursors.append(phone.cursor)
        counts.append(len(seen))
        if not page["has_more"]:
            break
    assert sorted(seen) == sorted(made) and len(seen) == len(set(seen))
    # Crash after saving the third page's cursor: resuming gives the rest, no gap, no duplicate.
    resumed: list[str] = []
    cursor = cursors[2]
    while True:
        page = await phone.pull_page(limit=5, cursor=cursor)
        resumed += [r["id"] for r in page["changes"].get("accounts", {}).get("upserted", [])]
        cursor = page["cursor"]
        if not page["has_more"]:
            break
    assert resumed == seen[counts[2]:] and counts[2] > 0


async def test_incremental_pull_brings_updates_deletes_and_new_rows(client):
    org = await make_sales_org()
    keep = await make_account(org.rep, "Keep")
    gone = await make_account(org.rep, "Gone")
    phone = await Phone(client, org.rep).login()
    await phone.pull()
    manager = await Phone(client, org.manager).login()
    r = await client.patch(f"/api/v1/accounts/{keep}", json={"name": "Kept"}, headers=manager.headers)
    assert r.status_code == 200
    assert (await client.delete(f"/api/v1/accounts/{gone}", headers=manager.headers)).status_code == 204
    new = await make_activity(org.rep, type="call", outcome="connected")
    [page] = await phone.pull()
    assert page["reset"] is False
    assert [a["name"] for a in page["changes"]["accounts"]["upserted"]] == ["Kept"]
    assert page["changes"]["accounts"]["deleted"] == [str(gone)]
    assert [a["id"] for a in page["changes"]["activities"]["upserted"]] == [str(new["id"])]
    # Nothing new: an empty page with the same position.
    [again] = await phone.pull()
    assert again["changes"] == {}


async def test_own_pushes_are_not_echoed(client):
    org = await make_sales_org()
    phone = await Phone(client, org.rep).login()
    await phone.pull()
    account_id = uuid.uuid4()
    out = await phone.push([phone.mutation("accounts", "insert", account_id, {"name": "Made offline"})])
    assert out["results"][0]["status"] == "applied"
    [page] = await phone.pull()
    assert "accounts" not in page["changes"]
    # Another device of the same rep does get it.
    tablet = await Phone(client, org.rep).login()
    await tablet.pull()
    assert str(account_id) in tablet.ids("accounts")


async def test_cursor_of_another_user_or_tampered_is_refused(client):
    org = await make_sales_org()
    rep = await Phone(client, org.rep).login()
    await rep.pull()
    mate = await Phone(client, org.mate).login()
    r = await client.post("/api/v1/sync/pull", json={"device_id": str(mate.device_id), "schema_version": 2,
                                                     "cursor": rep.cursor}, headers=mate.headers)
    assert r.status_code == 409 and r.json()["code"] == "cursor_invalid"
    forged = rep.cursor[:-3] + ("AAA" if not rep.cursor.endswith("AAA") else "BBB")
    r = await client.post("/api/v1/sync/pull", json={"device_id": str(rep.device_id), "schema_version": 2,
                                                     "cursor": forged}, headers=rep.headers)
    assert r.status_code == 409 and r.json()["code"] == "cursor_invalid"


async def test_tombstone_horizon_answers_410_and_a_full_pull_recovers_keeping_local_changes(client):
    from datetime import timedelta

    from server.common.time import utcnow
    from server.sync.horizon import purge

    org = await make_sales_org()
    old = await make_account(org.rep, "Old")
    task = await make_task(org.rep)
    phone = await Phone(client, org.rep).login()
    await phone.pull()
    offline_edit = phone.mutation("accounts", "update", old, {"city": "Edited offline"},
                                  base_version=phone.tables["accounts"][str(old)]["version"])
    manager = await Phone(client, org.manager).login()
    assert (await client.delete(f"/api/v1/tasks/{task['id']}", headers=manager.headers)).status_code == 204
    fresh = await make_account(org.rep, "New")
    async with unit_of_work():  # months later: the task's tombstone is purged
        purged = await purge(org.org_id, now=utcnow() + timedelta(days=400))
    assert purged > 0
    r = await client.post("/api/v1/sync/pull", json={"device_id": str(phone.device_id), "schema_version": 2,
                                                     "cursor": phone.cursor}, headers=phone.headers)
    assert r.status_code == 410 and r.json()["code"] == "cursor_expired"
    phone.cursor = None
    pages = await phone.pull()
    assert pages[0]["reset"] and phone.ids("accounts") == {str(old), str(fresh)}
    assert str(task["id"]) not in phone.ids("tasks")  # the delete was not missed
    out = await phone.push([offline_edit])  # the unpushed change survives the reset
    assert out["results"][0]["status"] == "applied" and out["results"][0]["record"]["city"] == "Edited offline"


async def test_schema_versions_old_gets_known_columns_too_old_gets_426(client):
    org = await make_sales_org()
    await make_account(org.rep)
    old = await Phone(client, org.rep, schema_version=MIN_SCHEMA_VERSION).login()
    await old.pull()
    record = next(iter(old.tables["accounts"].values()))
    assert "merged_into_id" not in record and "territories" not in old.tables
    current = await Phone(client, org.rep).login()
    await current.pull()
    assert "merged_into_id" in next(iter(current.tables["accounts"].values()))
    # An old phone's pushes are accepted, and answered in its shapes.
    out = await old.push([old.mutation("accounts", "insert", uuid.uuid4(), {"name": "From an old app"})])
    assert out["results"][0]["status"] == "applied" and "merged_into_id" not in out["results"][0]["record"]
    for path, body in (("pull", {}), ("push", {"mutations": []})):
        r = await client.post(f"/api/v1/sync/{path}", json={"device_id": str(old.device_id), "schema_version": 0,
                                                            **body}, headers=old.headers)
        assert r.status_code == 426 and r.json()["min_schema_version"] == MIN_SCHEMA_VERSION


async def test_device_checks(client):
    org = await make_sales_org()
    rep = await Phone(client, org.rep).login()
    mate = await Phone(client, org.mate).login()
    # Pulling or pushing as a device registered to someone else: 403.
    for path, body in (("pull", {}), ("push", {"mutations": []})):
        r = await client.post(f"/api/v1/sync/{path}", json={"device_id": str(mate.device_id), "schema_version": 2,
                                                            **body}, headers=rep.headers)
        assert r.status_code == 403 and r.json()["code"] == "device_not_owned"
    # A revoked device's token stops working at once: 401.
    r = await client.post(f"/api/v1/devices/{rep.device_id}/revoke", headers=rep.headers)
    assert r.status_code == 200
    r = await client.post("/api/v1/sync/pull", json={"device_id": str(rep.device_id), "schema_version": 2},
                          headers=rep.headers)
    assert r.status_code == 401
    assert (await client.post("/api/v1/sync/pull", json={})).status_code == 401


async def test_other_orgs_rows_never_arrive(client):
    org = await make_sales_org()
    other_org = await make_org()
    stranger = await make_user(other_org, "admin")
    await make_account(stranger, "Other org")
    admin = await Phone(client, org.admin).login()
    await admin.pull()
    assert not admin.ids("accounts")
    assert all(u["id"] != str(stranger.id) for u in admin.tables["users"].values())


async def test_page_byte_limit_splits_pages(db):
    from server.sync.pull import pull
    from tests.pipeline_builders import scope_of

    org = await make_sales_org()
    for i in range(12):
        await make_account(org.rep, "N" * 150 + str(i))
    scope = await scope_of(org.rep)
    page = await pull(scope, uuid.uuid4(), b"k", None, 2, 1000, max_bytes=2000)
    delivered = sum(len(c.upserted) for c in page.changes.values())
    assert page.has_more and 0 < delivered < 15
