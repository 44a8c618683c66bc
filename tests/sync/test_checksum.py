"""Integrity checks: bucket hashes match what a phone holds; a repair pull fixes only bad buckets."""

import uuid

from hypothesis import given
from hypothesis import strategies as st

from server.sync.checksum import BUCKETS, bucket_hashes, bucket_of
from tests.activity_builders import make_account
from tests.pipeline_builders import make_sales_org
from tests.sync.phone import Phone


def local_checksums(phone: Phone, table: str, skip: set[str]) -> dict[int, tuple[int, str]]:
    rows = [(r["id"], r["version"]) for r in phone.tables[table].values() if r["id"] not in skip]
    return {b: (n, f"{h:016x}") for b, (n, h) in bucket_hashes(rows).items()}


async def checksums(client, phone: Phone) -> dict:
    r = await client.get("/api/v1/sync/checksum", headers=phone.headers,
                         params={"device_id": str(phone.device_id), "cursor": phone.cursor, "schema_version": 2})
    assert r.status_code == 200, r.text
    return r.json()


def server_side(body: dict, table: str) -> dict[int, tuple[int, str]]:
    return {b: (n, h) for b, n, h in body["tables"][table]["buckets"]}


async def test_checksums_match_then_a_repair_pull_fixes_a_corrupted_bucket(client):
    org = await make_sales_org()
    for i in range(40):
        await make_account(org.rep, f"Shop {i}")
    phone = await Phone(client, org.rep).login()
    await phone.pull()
    body = await checksums(client, phone)
    assert body["bucket_count"] == BUCKETS and body["tables"]["accounts"]["count"] == 40
    assert server_side(body, "accounts") == local_checksums(phone, "accounts", set())

    # The phone's database lost a record and holds a stale version of another.
    lost, stale = sorted(phone.ids("accounts"))[:2]
    del phone.tables["accounts"][lost]
    phone.tables["accounts"][stale] = {**phone.tables["accounts"][stale], "version": 1}
    local = local_checksums(phone, "accounts", set())
    bad = sorted(b for b in set(local) | set(server_side(body, "accounts"))
                 if local.get(b) != server_side(body, "accounts").get(b))
    assert set(bad) == {bucket_of(lost), bucket_of(stale)}

    # Re-pull only those buckets; the cursor the phone had stays its position.
    kept_cursor = phone.cursor
    pages = []
    cursor = None
    while True:
        page = await phone.pull_page(cursor=cursor, buckets={"accounts": bad})
        pages.append(page)
        for record in page["changes"].get("accounts", {}).get("upserted", []):
            phone.tables["accounts"][record["id"]] = record
        cursor = page["cursor"]
        if not page["has_more"]:
            break
    repaired = {r["id"] for p in pages for r in p["changes"].get("accounts", {}).get("upserted", [])}
    assert {lost, stale} <= repaired and all(bucket_of(i) in bad for i in repaired)
    phone.cursor = kept_cursor
    assert server_side(await checksums(client, phone), "accounts") == local_checksums(phone, "accounts", set())


async def test_changed_after_the_cursor_is_listed_and_a_mid_session_cursor_is_refused(client):
    org = await make_sales_org()
    account = await make_account(org.rep, "Shop")
    await make_account(org.rep, "Other")
    phone = await Phone(client, org.rep).login()
    await phone.pull()
    manager = await Phone(client, org.manager).login()
    await client.patch(f"/api/v1/accounts/{account}", json={"city": "Rome"}, headers=manager.headers)
    body = await checksums(client, phone)
    assert body["tables"]["accounts"]["changed_after"] == [str(account)]
    assert server_side(body, "accounts") == local_checksums(phone, "accounts", {str(account)})
    page = await phone.pull_page(limit=1, cursor=None)
    assert page["has_more"]
    r = await client.get("/api/v1/sync/checksum", headers=phone.headers,
                         params={"device_id": str(phone.device_id), "cursor": page["cursor"], "schema_version": 2})
    assert r.status_code == 409 and r.json()["code"] == "pull_in_progress"


@given(st.lists(st.tuples(st.uuids(), st.integers(1, 10**9)), unique_by=lambda t: t[0], max_size=60),
       st.randoms())
def test_bucket_hashes_do_not_depend_on_order(rows, rnd):
    pairs = [(str(i), v) for i, v in rows]
    shuffled = pairs[:]
    rnd.shuffle(shuffled)
    assert bucket_hashes(pairs) == bucket_hashes(shuffled)
    assert sum(n for n, _ in bucket_hashes(pairs).values()) == len(pairs)
    assert all(0 <= bucket_of(uuid.UUID(i)) < BUCKETS for i, _ in pairs)
