"""Migrations apply from an empty database on both engines, and only once."""

import uuid

from server.db.clock import current_version, next_version
from server.db.migrate import migrate, pending
from server.db.tx import unit_of_work
from server.orgs.service import create_org


async def test_migrated_database_has_nothing_pending(db):
    assert await pending() == []
    assert await migrate() == []


async def test_versions_increase_per_org(db):
    async with unit_of_work():
        a = await create_org("Acme Field Sales")
        b = await create_org("Other Co")
    async with unit_of_work():
        assert [await next_version(a) for _ in range(3)] == [1, 2, 3]
        assert await next_version(b) == 1
    assert await current_version(a) == 3
    assert await current_version(uuid.uuid4()) == 0
