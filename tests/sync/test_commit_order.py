"""Commit order: no change can appear behind a cursor (SYNC.md guarantee 1), and a fuzz of it."""

import asyncio
import random
import uuid
from collections import Counter

import asyncpg
import pytest

from server.accounts.schemas import AccountIn, AccountPatch
from server.accounts.service import create_account, delete_account, update_account
from server.common.errors import DomainError
from server.db.tx import unit_of_work
from tests.activity_builders import scope_of
from tests.pipeline_builders import make_sales_org
from tests.sync.phone import Phone


async def test_interleaved_transactions_never_hide_a_change(client, db):
    """A takes its version, B tries to write, a device pulls, A commits: the device gets A and B."""
    if db.is_sqlite:
        pytest.skip("SQLite serialises whole write transactions (BEGIN IMMEDIATE); the race needs PostgreSQL")
    org = await make_sales_org()
    scope = await scope_of(org.rep)
    phone = await Phone(client, org.rep).login()
    await phone.pull()
    a_has_version, release_a = asyncio.Event(), asyncio.Event()

    async def writer_a():
        async with unit_of_work():
            await create_account(scope, AccountIn(name="A"))
            a_has_version.set()
            await release_a.wait()

    async def writer_b():
        async with unit_of_work():
            await create_account(scope, AccountIn(name="B"))

    task_a = asyncio.create_task(writer_a())
    await a_has_version.wait()
    task_b = asyncio.create_task(writer_b())
    await asyncio.sleep(0.3)
    assert not task_b.done(), "B must wait for A's version to commit before it can take the next one"
    [during] = await phone.pull()
    assert "accounts" not in during["changes"]
    release_a.set()
    await asyncio.gather(task_a, task_b)
    await phone.pull()
    assert sorted(a["name"] for a in phone.tables["accounts"].values()) == ["A", "B"]


async def test_a_plain_sequence_cursor_loses_the_change(db):
    """The same interleaving against a sequence-numbered log: the device never sees A."""
    if db.is_sqlite:
        pytest.skip("needs concurrent PostgreSQL transactions")
    a = await asyncpg.connect(db.url)
    b = await asyncpg.connect(db.url)
    reader = await asyncpg.connect(db.url)
    try:
        await a.execute("CREATE TABLE naive_log (v bigserial PRIMARY KEY, what text)")
        ta = a.transaction()
        await ta.start()
        await a.execute("INSERT INTO naive_log (what) VALUES ('A')")  # A takes v=1
        await b.execute("INSERT INTO naive_log (what) VALUES ('B')")  # B takes v=2 and commits
        cursor = await reader.fetchval("SELECT max(v) FROM naive_log")  # the device pulls: cursor 2
        seen = [r["what"] for r in await reader.fetch("SELECT what FROM naive_log ORDER BY v")]
        await ta.commit()  # A commits with v=1, behind the cursor
        later = [r["what"] for r in await reader.fetch("SELECT what FROM naive_log WHERE v > $1", cursor)]
        assert seen == ["B"] and later == []  # A is never delivered: the bug our clock prevents
    finally:
        for conn in (a, b, reader):
            await conn.close()


async def test_fuzz_concurrent_writers_and_pullers(client, db):
    """8 writers with random delays inside their transactions while phones pull: every phone ends
    with exactly the committed state of its scope, and no (id, version) is delivered twice."""
    rng = random.Random(7)
    org = await make_sales_org()
    people = [org.rep, org.mate, org.manager]
    scopes = {p.id: await scope_of(p) for p in people}
    phones = [await Phone(client, p).login() for p in (org.rep, org.mate, org.manager, org.admin)]
    delivered = {id(p): Counter() for p in phones}
    stop = asyncio.Event()
    writes_per_writer = 12 if db.is_sqlite else 20

    async def writer(n: int):
        mine: list[uuid.UUID] = []
        for _ in range(writes_per_writer):
            person = rng.choice(people)
            scope = scopes[person.id]
            try:
                async with unit_of_work():
                    op = rng.random()
                    if op < 0.5 or not mine:
                        row = await create_account(scope, AccountIn(name=f"W{n}-{rng.randrange(1000)}",
                                                                    owner_id=person.id))
                        mine.append(row["id"])
                    elif op < 0.85:
                        target = rng.choice(mine)
                        owner = rng.choice([org.rep.id, org.mate.id]) if scope.members and len(scope.members) > 1 \
                            else person.id
                        await update_account(scope, target, AccountPatch(city=f"C{rng.randrange(99)}",
                                                                          owner_id=owner))
                    else:
                        target = mine.pop(rng.randrange(len(mine)))
                        await delete_account(scope, target)
                    await asyncio.sleep(rng.random() * 0.02)  # hold the transaction open a while
            except DomainError:
                pass  # out of this person's scope by now: fine, the write did not happen

    async def puller(phone: Phone):
        while not stop.is_set():
            for page in await phone.pull(limit=7):
                for changes in page["changes"].values():
                    for record in changes["upserted"]:
                        delivered[id(phone)][(record["id"], record["version"])] += 1
            await asyncio.sleep(rng.random() * 0.01)

    pullers = [asyncio.create_task(puller(p)) for p in phones]
    await asyncio.gather(*(writer(n) for n in range(8)))
    stop.set()
    await asyncio.gather(*pullers)
    for phone in phones:
        await phone.pull()
        fresh = await Phone(client, phone.person).login()
        await fresh.pull()
        assert phone.tables["accounts"] == fresh.tables["accounts"], phone.person.role
        twice = [k for k, n in delivered[id(phone)].items() if n > 1]
        assert not twice, twice
