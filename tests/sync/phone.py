"""A model phone for sync tests: a local copy of its scope, a cursor and a mutation queue.

It follows the client rules the protocol documents: apply a page, then save
its cursor; on ``reset`` replace the local copy with what the session delivers;
``deleted`` and ``removed`` purge; unpushed mutations stay queued until a push
answers them.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from server.sync.registry import SCHEMA_VERSION
from tests.builders import Person, bearer, login


class Phone:
    def __init__(self, client, person: Person, schema_version: int = SCHEMA_VERSION) -> None:
        self.client = client
        self.person = person
        self.device_id = uuid.uuid4()
        self.schema_version = schema_version
        self.headers: dict[str, str] = {}
        self.cursor: str | None = None
        self.tables: dict[str, dict[str, dict]] = defaultdict(dict)
        self.next_id = 1
        self.pages = 0

    async def login(self) -> Phone:
        self.headers = bearer(await login(self.client, self.person, self.device_id))
        return self

    # -- pull ---------------------------------------------------------------
    async def pull_page(self, limit: int | None = None, cursor: Any = ..., **extra) -> dict:
        body = {"device_id": str(self.device_id), "schema_version": self.schema_version,
                "cursor": self.cursor if cursor is ... else cursor, **extra}
        if limit:
            body["limit"] = limit
        r = await self.client.post("/api/v1/sync/pull", json=body, headers=self.headers)
        assert r.status_code == 200, r.text
        return r.json()

    def apply(self, page: dict) -> None:
        if page["reset"]:
            self.tables.clear()
        for name, changes in page["changes"].items():
            local = self.tables[name]
            for record in changes.get("upserted", []):
                local[record["id"]] = record
            for record_id in changes.get("deleted", []) + changes.get("removed", []):
                local.pop(record_id, None)
        self.cursor = page["cursor"]
        self.pages += 1

    async def pull(self, limit: int | None = None) -> list[dict]:
        """A whole session: pages until ``has_more`` is false."""
        pages = []
        while True:
            page = await self.pull_page(limit)
            self.apply(page)
            pages.append(page)
            if not page["has_more"]:
                return pages

    def ids(self, table: str) -> set[str]:
        return set(self.tables[table])

    # -- push ---------------------------------------------------------------
    def mutation(self, table: str, op: str, record_id, fields: dict | None = None, *,
                 base_version: int | None = None, group: str | None = None) -> dict:
        m = {"mutation_id": self.next_id, "table": table, "op": op, "id": str(record_id)}
        self.next_id += 1
        if fields is not None:
            m["fields"] = fields
        if base_version is not None:
            m["base_version"] = base_version
        if group is not None:
            m["group"] = group
        return m

    async def push_raw(self, mutations: list[dict], schema_version: int | None = None):
        body = {"device_id": str(self.device_id), "schema_version": schema_version or self.schema_version,
                "mutations": mutations}
        return await self.client.post("/api/v1/sync/push", json=body, headers=self.headers)

    async def push(self, mutations: list[dict]) -> dict:
        r = await self.push_raw(mutations)
        assert r.status_code == 200, r.text
        out = r.json()
        for result in out["results"]:
            if result.get("record"):
                m = next(m for m in mutations if m["mutation_id"] == result["mutation_id"])
                self.tables[m["table"]][result["record"]["id"]] = result["record"]
        return out


def statuses(push_result: dict) -> list[str]:
    return [r["status"] for r in push_result["results"]]
