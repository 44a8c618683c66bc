"""When the database goes away mid-flight, a push answers 503 with Retry-After and applies nothing."""

import uuid

import asyncpg
import pytest

from tests.pipeline_builders import make_sales_org
from tests.sync.phone import Phone


async def test_database_outage_answers_503_then_the_retry_applies_once(client, db):
    if db.is_sqlite:
        pytest.skip("a SQLite file cannot be taken away from under a running process here")
    org = await make_sales_org()
    phone = await Phone(client, org.rep).login()
    batch = [phone.mutation("tasks", "insert", uuid.uuid4(), {"title": "Call back"})]
    name = db.url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(db.url.rsplit("/", 1)[0] + "/postgres")
    try:
        # The database goes away: no new connections, every open one cut.
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
        down = await phone.push_raw(batch)
        assert down.status_code == 503, down.text
        assert down.headers["retry-after"] and down.json()["code"] == "unavailable"
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
    up = await phone.push_raw(batch)  # the phone retries the same batch
    assert up.status_code == 200 and up.json()["results"][0]["status"] == "applied"
    listed = await client.get("/api/v1/tasks", headers=phone.headers)
    assert len(listed.json()["items"]) == 1
