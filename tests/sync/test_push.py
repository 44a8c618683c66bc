"""Pushes through HTTP: exactly once, terminal statuses, field merges and policies, groups, limits."""

import uuid

from server.sync.push import MAX_MUTATIONS
from tests.activity_builders import make_account
from tests.pipeline_builders import make_sales_org
from tests.sync.phone import Phone, statuses


async def test_lost_response_retry_applies_once_and_returns_the_same_results(client):
    org = await make_sales_org()
    phone = await Phone(client, org.rep).login()
    account_id, activity_id = uuid.uuid4(), uuid.uuid4()
    batch = [
        phone.mutation("accounts", "insert", account_id, {"name": "Offline Co", "city": "Albany"}),
        phone.mutation("activities", "insert", activity_id, {
            "type": "visit", "direction": "out", "occurred_at": 1_790_000_000_000, "account_id": str(account_id),
            "lat": 42.65, "lng": -73.75, "accuracy_m": 8}),
        phone.mutation("accounts", "update", account_id, {"city": "Troy"}),
    ]
    first = await phone.push_raw(batch)
    assert first.status_code == 200
    assert statuses(first.json()) == ["applied", "applied", "applied"]
    retried = await phone.push_raw(batch)  # the response was lost: the phone sends the same batch again
    assert retried.json()["results"] == first.json()["results"]
    assert retried.json()["last_mutation_id"] == batch[-1]["mutation_id"]
    r = await client.get("/api/v1/activities", headers=phone.headers, params={"account_id": str(account_id)})
    assert len(r.json()["items"]) == 1
    got = await client.get(f"/api/v1/accounts/{account_id}", headers=phone.headers)
    assert got.json()["city"] == "Troy" and got.json()["version"] == first.json()["results"][2]["version"]
    # A retry mixed with new mutations: old ones answered from the log, new ones applied.
    more = [*batch, phone.mutation("accounts", "update", account_id, {"city": "Schenectady"})]
    out = await phone.push(more)
    assert out["results"][:3] == first.json()["results"] and out["results"][3]["status"] == "applied"


async def test_a_rejected_mutation_does_not_block_the_queue(client):
    org = await make_sales_org()
    phone = await Phone(client, org.rep).login()
    foreign = await make_account(org.loner, "Not yours")
    ok1, ok2 = uuid.uuid4(), uuid.uuid4()
    out = await phone.push([
        phone.mutation("accounts", "insert", ok1, {"name": "First"}),
        phone.mutation("accounts", "insert", uuid.uuid4(), {"name": ""}),  # invalid
        phone.mutation("accounts", "update", foreign, {"name": "Mine now"}),  # outside scope
        phone.mutation("gizmos", "insert", uuid.uuid4(), {"name": "x"}),  # unknown table
        phone.mutation("accounts", "insert", uuid.uuid4(), {"name": "x", "colour": "red"}),  # unknown column
        phone.mutation("accounts", "insert", uuid.uuid4(), {"name": "x", "h3_cell": "87"}),  # server's column
        phone.mutation("territories", "insert", uuid.uuid4(), {"name": "x"}),  # read-only table
        phone.mutation("accounts", "insert", ok2, {"name": "Last"}),
    ])
    assert statuses(out) == ["applied"] + ["rejected"] * 6 + ["applied"]
    codes = [r["error"]["code"] for r in out["results"][1:7]]
    assert codes == ["validation_error", "forbidden", "unknown_table", "unknown_column", "read_only_column",
                     "read_only_table"]
    assert out["results"][1]["error"]["field"] == "name"
    assert out["last_mutation_id"] == 8
    # Nothing of the rejected ones was stored, and the queue moved past them.
    r = await client.get("/api/v1/accounts", headers=phone.headers)
    assert sorted(a["name"] for a in r.json()["items"]) == ["First", "Last"]
    assert (await client.get(f"/api/v1/accounts/{foreign}", headers=phone.headers)).status_code == 404


async def test_atomic_group_applies_all_or_nothing(client):
    org = await make_sales_org()
    phone = await Phone(client, org.rep).login()
    lead = uuid.uuid4()
    await phone.push([phone.mutation("leads", "insert", lead, {"first_name": "Ada", "last_name": "Byron",
                                                              "company": "Engines Ltd"})])
    account, opportunity = uuid.uuid4(), uuid.uuid4()
    bad = await phone.push([
        phone.mutation("accounts", "insert", account, {"name": "Engines Ltd"}, group="convert-1"),
        phone.mutation("opportunities", "insert", opportunity, {"account_id": str(account), "name": "First order",
                                                                "amount": "-5"}, group="convert-1"),
        phone.mutation("leads", "update", lead, {"status": "contacted"}, group="convert-1"),
        phone.mutation("tasks", "insert", uuid.uuid4(), {"title": "Follow up"}),
    ])
    assert statuses(bad) == ["rejected", "rejected", "rejected", "applied"]
    assert bad["results"][0]["error"]["code"] == "group_failed"
    assert bad["results"][1]["error"]["field"] == "amount"
    assert (await client.get(f"/api/v1/accounts/{account}", headers=phone.headers)).status_code == 404
    good = await phone.push([
        phone.mutation("accounts", "insert", account, {"name": "Engines Ltd"}, group="convert-2"),
        phone.mutation("opportunities", "insert", opportunity, {"account_id": str(account), "name": "First order",
                                                                "amount": "5000"}, group="convert-2"),
        phone.mutation("leads", "update", lead, {"status": "contacted"}, group="convert-2"),
    ])
    assert statuses(good) == ["applied"] * 3


async def test_disjoint_offline_edits_merge(client):
    org = await make_sales_org()
    account = await make_account(org.rep, "Shared")
    a, b = await Phone(client, org.rep).login(), await Phone(client, org.manager).login()
    await a.pull()
    await b.pull()
    base = a.tables["accounts"][str(account)]["version"]
    out_a = await a.push([a.mutation("accounts", "update", account, {"city": "Utica"}, base_version=base)])
    out_b = await b.push([b.mutation("accounts", "update", account, {"industry": "Retail"}, base_version=base)])
    assert statuses(out_a) == statuses(out_b) == ["applied"]
    await a.pull()
    await b.pull()
    for phone in (a, b):
        record = phone.tables["accounts"][str(account)]
        assert (record["city"], record["industry"]) == ("Utica", "Retail")


async def test_same_field_last_writer_wins_and_everyone_converges(client):
    org = await make_sales_org()
    account = await make_account(org.rep, "Shared")
    a, b = await Phone(client, org.rep).login(), await Phone(client, org.manager).login()
    await a.pull()
    await b.pull()
    base = a.tables["accounts"][str(account)]["version"]
    await a.push([a.mutation("accounts", "update", account, {"name": "From A"}, base_version=base)])
    out = await b.push([b.mutation("accounts", "update", account, {"name": "From B"}, base_version=base)])
    assert statuses(out) == ["applied"]  # accounts: last writer (by server receipt) wins
    await a.pull()
    await b.pull()
    assert a.tables["accounts"][str(account)]["name"] == b.tables["accounts"][str(account)]["name"] == "From B"


async def test_money_and_stage_conflicts_are_refused_with_the_server_record(client):
    org = await make_sales_org()
    a, b = await Phone(client, org.rep).login(), await Phone(client, org.manager).login()
    account, deal = uuid.uuid4(), uuid.uuid4()
    await a.push([a.mutation("accounts", "insert", account, {"name": "Buyer"}),
                  a.mutation("opportunities", "insert", deal, {"account_id": str(account), "name": "Deal",
                                                               "amount": "1000"})])
    await b.pull()
    base = b.tables["opportunities"][str(deal)]["version"]
    await a.push([a.mutation("opportunities", "update", deal, {"amount": "1500"}, base_version=base)])
    out = await b.push([b.mutation("opportunities", "update", deal, {"amount": "900", "name": "Deal v2"},
                                   base_version=base)])
    [result] = out["results"]
    assert result["status"] == "conflict" and result["conflict_fields"] == ["amount"]
    assert result["record"]["amount"] == "1500.00" and result["record"]["name"] == "Deal"  # nothing applied
    await a.pull()
    await b.pull()
    assert a.tables["opportunities"][str(deal)]["amount"] == b.tables["opportunities"][str(deal)]["amount"] == "1500.00"


async def test_server_wins_on_the_directory(client):
    org = await make_sales_org()
    me, admin = await Phone(client, org.rep).login(), await Phone(client, org.admin).login()
    await me.pull()
    base = me.tables["users"][str(org.rep.id)]["version"]
    r = await client.patch(f"/api/v1/users/{org.rep.id}", json={"full_name": "Set By Admin"}, headers=admin.headers)
    assert r.status_code == 200, r.text
    out = await me.push([me.mutation("users", "update", org.rep.id, {"full_name": "Set On Phone",
                                                                      "timezone": "Europe/Paris"},
                                     base_version=base)])
    [result] = out["results"]
    assert result["status"] == "conflict" and result["conflict_fields"] == ["full_name"]
    assert result["record"]["full_name"] == "Set By Admin" and result["record"]["timezone"] == "Europe/Paris"
    await me.pull()
    await admin.pull()
    assert me.tables["users"][str(org.rep.id)]["full_name"] == "Set By Admin"
    assert admin.tables["users"][str(org.rep.id)]["full_name"] == "Set By Admin"


async def test_batch_limits_and_bad_batches(client):
    org = await make_sales_org()
    phone = await Phone(client, org.rep).login()
    too_many = [phone.mutation("tasks", "insert", uuid.uuid4(), {"title": "t"}) for _ in range(MAX_MUTATIONS + 1)]
    r = await phone.push_raw(too_many)
    assert r.status_code == 413 and r.json()["code"] == "batch_too_large"
    m1, m2 = phone.mutation("tasks", "insert", uuid.uuid4(), {"title": "a"}), \
        phone.mutation("tasks", "insert", uuid.uuid4(), {"title": "b"})
    r = await phone.push_raw([m2, m1])
    assert r.status_code == 422 and r.json()["code"] == "mutation_ids_out_of_order"
    r = await phone.push_raw([{"mutation_id": 1, "table": "tasks", "op": "upsert", "id": str(uuid.uuid4())}])
    assert r.status_code == 422
    r = await client.post("/api/v1/sync/push", content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                          headers={**phone.headers, "content-type": "application/json"})
    assert r.status_code == 413
    # Nothing of the refused batches was applied.
    assert (await client.get("/api/v1/tasks", headers=phone.headers)).json()["items"] == []


async def test_insert_of_an_existing_id_is_a_duplicate_and_deletes_are_idempotent(client):
    org = await make_sales_org()
    phone = await Phone(client, org.rep).login()
    account = uuid.uuid4()
    r = await client.post("/api/v1/accounts", json={"id": str(account), "name": "Made online"},
                          headers=phone.headers)
    assert r.status_code == 201
    out = await phone.push([phone.mutation("accounts", "insert", account, {"name": "Made online"}),
                            phone.mutation("accounts", "delete", account),
                            phone.mutation("accounts", "delete", account)])
    assert statuses(out) == ["duplicate", "applied", "duplicate"]
    foreign = await make_account(org.loner)
    taken = await phone.push([phone.mutation("accounts", "insert", foreign, {"name": "Clash"})])
    assert taken["results"][0]["error"]["code"] == "id_taken"


async def test_a_run_of_activities_is_written_in_bulk_with_per_item_answers(client):
    org = await make_sales_org()
    phone = await Phone(client, org.rep).login()
    account = await make_account(org.rep, "Visited")
    foreign = await make_account(org.loner, "Not mine")
    call = {"type": "call", "direction": "out", "occurred_at": 1_795_000_000_000, "outcome": "connected",
            "duration_s": 60, "account_id": str(account)}
    ids = [uuid.uuid4() for _ in range(6)]
    first = await phone.push([phone.mutation("activities", "insert", ids[0], call)])
    batch = [
        phone.mutation("activities", "insert", ids[0], call),  # pushed before (by REST or another batch)
        phone.mutation("activities", "insert", ids[1], call),
        phone.mutation("activities", "insert", ids[2], {**call, "outcome": "exploded"}),  # invalid
        phone.mutation("activities", "insert", ids[3], {**call, "account_id": str(foreign)}),  # not visible
        phone.mutation("activities", "insert", ids[4], {**call, "verification": "verified"}),  # server's column
        phone.mutation("activities", "insert", ids[5], call),
    ]
    out = await phone.push(batch)
    assert statuses(out) == ["duplicate", "applied", "rejected", "rejected", "rejected", "applied"]
    assert [r.get("error", {}).get("code") for r in out["results"]][2:5] == [
        "invalid_outcome", "unknown_account", "read_only_column"]
    assert out["results"][0]["version"] == first["results"][0]["version"]
    versions = [out["results"][i]["version"] for i in (1, 5)]
    assert versions[0] < versions[1]
    listed = await client.get("/api/v1/activities", params={"account_id": str(account)}, headers=phone.headers)
    assert {a["id"] for a in listed.json()["items"]} == {str(ids[0]), str(ids[1]), str(ids[5])}
    again = await phone.push_raw(batch)  # the whole batch retried after a lost response
    assert again.json()["results"] == out["results"]
